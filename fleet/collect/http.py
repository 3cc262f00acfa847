"""HTTP transport: one shared, tuned ``httpx.AsyncClient`` per sweep and a per-host handle.

Every phone is a new origin, so keep-alive buys nothing and httpx's own pool bookkeeping costs a
lot at fleet scale: keep-alive is off, the pool is not capped by httpx (our semaphore caps it),
and one SSLContext is shared by every connection with the same TLS settings.
"""

from __future__ import annotations

import json as jsonlib
import os
import ssl
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any

import httpx

from fleet.collect.options import CrawlOptions, TlsOptions
from fleet.collect.unpooled import UnpooledTransport
from fleet.errors import (
    AuthFailed,
    DeviceError,
    HttpStatusError,
    ProtocolError,
    ResponseTooLarge,
    Unreachable,
)

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile

__all__ = [
    "ChallengeAuth",
    "HttpHost",
    "HttpPool",
    "HttpReply",
    "HttpStatusError",
    "HttpTransport",
    "TlsOptions",
]

MAX_BODY = 4 * 1024 * 1024  # a phone's whole configuration is well under 1 MiB


@dataclass(slots=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.body)
        except ValueError as e:
            raise ProtocolError(f"{self.url}: answer is not JSON ({self.body[:60]!r})") from e


class ChallengeAuth(httpx.Auth):
    """Answers whichever challenge the device sends: Basic or Digest."""

    def __init__(self, username: str, password: str) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._digest = httpx.DigestAuth(username, password)
        self._scheme: str | None = None  # remembered after the first challenge of this host

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self._scheme == "digest":
            # DigestAuth reuses the last challenge, so later requests go out authorised at once.
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        offered = [h.lower() for h in response.headers.get_list("www-authenticate")]
        if any(h.startswith("digest") for h in offered):
            self._scheme = "digest"
            flow = self._digest.auth_flow(request)
            next(flow)  # the bare request, already sent above
            try:
                retry = flow.send(response)
            except StopIteration:
                return
            yield retry
        elif any(h.startswith("basic") for h in offered):
            self._scheme = "basic"
            yield next(self._basic.auth_flow(request))


class _NoCookies(CookieJar):
    """The shared client keeps no cookies: a session cookie belongs to one HttpHost."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


@dataclass(slots=True)
class HttpPool:
    """The shared clients of one sweep: one per distinct TLS setting."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_body: int = MAX_BODY
    _clients: dict[TlsOptions, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, tls: TlsOptions) -> httpx.AsyncClient:
        c = self._clients.get(tls)
        if c is None:
            if tls.verify:
                ctx = ssl.create_default_context(cafile=tls.ca)
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            c = httpx.AsyncClient(
                transport=UnpooledTransport(ctx),
                timeout=httpx.Timeout(
                    self.read_timeout, connect=self.connect_timeout, pool=self.read_timeout
                ),
                headers={"Connection": "close", "User-Agent": "fleet/0.1"},
                cookies=httpx.Cookies(_NoCookies()),
                trust_env=False,
                follow_redirects=False,
            )
            self._clients[tls] = c
        return c

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class HttpHost:
    """One device's HTTP(S) endpoint, with its credentials and its session cookies, and what
    the inventory knows of the device (``mac``: 12 lower-case hex digits, ``model``; None when
    unknown) for a profile whose reads depend on it."""

    def __init__(
        self,
        pool: HttpPool,
        base_url: str,
        username: str | None,
        password: str | None,
        tls: TlsOptions = TlsOptions(),
        *,
        mac: str | None = None,
        model: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.mac = mac
        self.model = model
        self._client = pool.client(tls)
        self._max_body = pool.max_body
        self._auth = ChallengeAuth(username or "", password or "") if username else None
        self.cookies: dict[str, str] = {}
        self.requests = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        ok: tuple[int, ...] = (200,),
    ) -> HttpReply:
        """Send one request; answers outside ``ok`` raise the matching DeviceError.

        401/403 raise AuthFailed; pass ``ok=(200, 404)`` etc. to handle a status yourself.
        """
        url = self.base_url + path
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.requests += 1
        try:
            req = self._client.build_request(
                method, url, params=params, json=json, data=data, content=content, headers=hdrs
            )
            resp = await self._client.send(req, auth=self._auth if auth else None, stream=True)
            try:
                body = await _read_capped(resp.aiter_raw(), self._max_body, url)
            finally:
                await resp.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise Unreachable(f"{url}: {_why(e)}") from e
        except httpx.TimeoutException as e:
            raise Unreachable(f"{url}: timed out ({type(e).__name__})") from e
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as e:
            raise ProtocolError(f"{url}: not a valid HTTP answer ({_why(e)})") from e
        except httpx.TransportError as e:
            raise DeviceError(f"{url}: {_why(e)}") from e
        for c in resp.headers.get_list("set-cookie"):
            name, _, rest = c.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
        reply = HttpReply(resp.status_code, resp.headers, body, url)
        if reply.status in ok:
            return reply
        if reply.status in (401, 403):
            raise AuthFailed(f"{method} {path}: HTTP {reply.status}: credentials refused")
        raise HttpStatusError(reply)


class HttpTransport:
    """Hosts read by their profile's ``fetch`` over one shared pool of clients per sweep."""

    def __init__(self, opts: CrawlOptions) -> None:
        self.pool = HttpPool(opts.connect_timeout, opts.read_timeout)

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if profile.fetch is None:
            raise DeviceError(f"profile {profile.name} cannot be read over HTTP")
        http = HttpHost(
            self.pool,
            host.base_url,
            host.username,
            host.password.value if host.password else None,
            host.tls,
            mac=host.mac,
            model=host.model,
        )
        return await profile.fetch(http, wanted)

    async def aclose(self) -> None:
        await self.pool.aclose()


async def _read_capped(chunks: AsyncGenerator[bytes, None] | Any, cap: int, url: str) -> bytes:
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > cap:
            raise ResponseTooLarge(f"{url}: answer larger than {cap} bytes; stopped reading")
    return bytes(buf)


def _why(e: BaseException) -> str:
    # httpx words a refused connection "All connection attempts failed"; the OS error under
    # it says what an operator needs to know.
    inner: BaseException | None = e
    while inner is not None:
        if isinstance(inner, OSError) and inner.errno:
            return os.strerror(inner.errno).lower()
        inner = inner.__cause__ or inner.__context__
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]
