"""An httpx transport with no connection pool: one connection per request, closed with it.

Every phone is a different origin and keep-alive is off, so a pool only costs: httpcore's
pool re-scans every open connection each time a request starts or ends, which at a few
hundred concurrent phones took a fifth of a sweep's CPU (bench/RESULTS.md).

No longer the default: ``fleet.collect.lean`` is (httpcore's per-request anyio machinery was
most of what was left). Kept for one release behind ``FLEET_HTTP_TRANSPORT=httpcore``.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpcore
import httpx

# httpcore's exceptions as the httpx ones callers catch (the same pairs httpx maps).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
)


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as e:
        raise _as_httpx(e, request) from e
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
        httpcore.ProxyError,
    ) as e:
        raise _as_httpx(e, request) from e


def _as_httpx(e: Exception, request: httpx.Request) -> httpx.TransportError:
    for theirs, ours in _EXCEPTIONS:
        if isinstance(e, theirs):
            return ours(str(e), request=request)
    return httpx.TransportError(str(e), request=request)


class _Body(httpx.AsyncByteStream):
    def __init__(
        self,
        stream: AsyncIterator[bytes],
        conn: httpcore.AsyncHTTPConnection,
        request: httpx.Request,
    ) -> None:
        self._stream, self._conn, self._request = stream, conn, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _mapped(self._request):
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()
            await self._conn.aclose()


class _Stream(httpcore.AsyncNetworkStream):
    """A TCP stream that says so when its TLS handshake, not the TCP connect, timed out:
    httpcore raises the same ConnectTimeout for both."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except httpcore.ConnectTimeout as e:
            raise httpcore.ConnectTimeout(
                f"TLS handshake timed out (connected, but no handshake within {timeout:g} s)"
                if timeout
                else "TLS handshake timed out"
            ) from e


class _Backend(httpcore.AnyIOBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await super().connect_tcp(host, port, timeout, local_address, socket_options)
        )


class UnpooledTransport(httpx.AsyncBaseTransport):
    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._backend = _Backend()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = httpcore.Origin(
            url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80)
        )
        conn = httpcore.AsyncHTTPConnection(
            origin=origin, ssl_context=self._ssl, keepalive_expiry=0, network_backend=self._backend
        )
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _mapped(request):
                resp = await conn.handle_async_request(req)
        except BaseException:
            await conn.aclose()
            raise
        assert isinstance(resp.stream, AsyncIterator) or hasattr(resp.stream, "__aiter__")
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream, conn, request),  # type: ignore[arg-type]
            extensions=resp.extensions,
        )
