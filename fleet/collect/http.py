"""HTTP transport: one shared, tuned ``httpx.AsyncClient`` per sweep and a per-host handle.

Every phone is a new origin, so keep-alive buys nothing and httpx's own pool bookkeeping costs a
lot at fleet scale: keep-alive is off, the pool is not capped by httpx (our semaphore caps it),
and one SSLContext is shared by every connection with the same TLS settings.

The client's transport is ``fleet.collect.lean`` (asyncio streams, no httpcore or anyio per
request). ``FLEET_HTTP_TRANSPORT=httpcore`` selects the previous one, httpcore with no pool
(``fleet.collect.unpooled``), for one release, should a device answer one and not the other.
"""

from __future__ import annotations

import json as jsonlib
import os
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any

import httpx

from fleet.collect.lean import LeanTransport, Session, Timeouts
from fleet.collect.options import CrawlOptions, TlsOptions, fleet_seconds
from fleet.collect.unpooled import UnpooledTransport
from fleet.errors import (
    AuthFailed,
    DeviceError,
    HttpStatusError,
    InputError,
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
TRANSPORT_ENV = "FLEET_HTTP_TRANSPORT"  # "lean" (the default) or "httpcore" (the previous one)


def transport_name() -> str:
    """The transport ``FLEET_HTTP_TRANSPORT`` names; a name fleet does not know is the user's
    error (exit 2), not every device's."""
    name = os.environ.get(TRANSPORT_ENV, "").strip().lower() or "lean"
    if name not in ("lean", "httpcore"):
        raise InputError(
            f"{name!r} is not an HTTP transport (lean or httpcore)", field=TRANSPORT_ENV
        )
    return name


def transport_for(ctx: ssl.SSLContext) -> httpx.AsyncBaseTransport:
    """The transport ``FLEET_HTTP_TRANSPORT`` names, over ``ctx`` for https."""
    return LeanTransport(ctx) if transport_name() == "lean" else UnpooledTransport(ctx)


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
    """The shared client keeps no cookies: a session cookie belongs to one HttpHost.

    Passed to the client as the jar itself: httpx copies an ``httpx.Cookies`` given to a
    client into a plain CookieJar, which kept every phone's session cookie in one jar that
    each request scanned (most of a 5,000-phone sweep's CPU)."""

    def set_cookie(self, cookie: Any) -> None:
        return None

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
    _lean: dict[TlsOptions, tuple[httpx.AsyncClient, ssl.SSLContext, list[Any]]] = field(
        default_factory=dict
    )

    def client(self, tls: TlsOptions) -> httpx.AsyncClient:
        c = self._clients.get(tls)
        if c is None:
            if tls.verify:
                ctx = ssl.create_default_context(cafile=tls.ca)
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            transport = transport_for(ctx)
            c = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(
                    self.read_timeout, connect=self.connect_timeout, pool=self.read_timeout
                ),
                headers={"Connection": "close", "User-Agent": "fleet/0.1"},
                cookies=_NoCookies(),
                trust_env=False,
                follow_redirects=False,
            )
            self._clients[tls] = c
            if isinstance(transport, LeanTransport):
                self._lean[tls] = (c, ctx, Session.defaults(list(c.headers.raw)))
        return c

    def session(
        self, tls: TlsOptions, base_url: str, username: str | None, password: str | None
    ) -> Session | None:
        """The lean direct path to one device, when ``client(tls)`` is fleet's own lean one
        (None for the httpcore transport, or a client a test put in its place)."""
        c = self.client(tls)
        made = self._lean.get(tls)
        if made is None or made[0] is not c or not Session.usable(base_url):
            return None
        timeouts = Timeouts(self.connect_timeout, self.read_timeout, self.read_timeout)
        return Session(base_url, made[1], made[2], timeouts, username, password)

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
        self._lean.clear()

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
        self._connect_timeout, self._read_timeout = pool.connect_timeout, pool.read_timeout
        self._auth = ChallengeAuth(username or "", password or "") if username else None
        self._session = pool.session(tls, self.base_url, username, password)
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
        while True:
            t0, fleet0 = time.monotonic(), fleet_seconds()
            try:
                if self._session is not None:
                    answer = await self._session.send(
                        method,
                        path,
                        params=params,
                        json=json,
                        data=data,
                        content=content,
                        headers=hdrs,
                        auth=auth,
                    )
                    try:
                        body = answer.buffered()
                        if body is None:
                            body = await _read_capped(answer.body(), self._max_body, url)
                        elif len(body) > self._max_body:
                            raise ResponseTooLarge(
                                f"{url}: answer larger than {self._max_body} bytes; stopped reading"
                            )
                    finally:
                        answer.close()
                    status, resp_headers = answer.status, httpx.Headers(answer.headers)
                    cookies = answer.header_list(b"set-cookie")
                    break
                req = self._client.build_request(
                    method, url, params=params, json=json, data=data, content=content, headers=hdrs
                )
                resp = await self._client.send(req, auth=self._auth if auth else None, stream=True)
                try:
                    body = await _read_capped(resp.aiter_raw(), self._max_body, url)
                finally:
                    await resp.aclose()
                status, resp_headers = resp.status_code, resp.headers
                cookies = resp_headers.get_list("set-cookie")
                break
            except httpx.TimeoutException as e:
                if self._fleets_delay(e, method, t0, fleet0):
                    continue  # the timer ran out while fleet was busy, not the device: again
                raise Unreachable(f"{url}: {_why(e)}") from e
            except httpx.ConnectError as e:
                raise Unreachable(f"{url}: {_why(e)}") from e
            except (
                httpx.RemoteProtocolError,
                httpx.LocalProtocolError,
                httpx.DecodingError,
            ) as e:
                raise ProtocolError(f"{url}: not a valid HTTP answer ({_why(e)})") from e
            except httpx.TransportError as e:
                raise DeviceError(f"{url}: {_why(e)}") from e
        for c in cookies:
            name, _, rest = c.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
        reply = HttpReply(status, resp_headers, body, url)
        if reply.status in ok:
            return reply
        if reply.status in (401, 403):
            raise AuthFailed(f"{method} {path}: HTTP {reply.status}: credentials refused")
        raise HttpStatusError(reply)

    def _fleets_delay(self, e: httpx.TimeoutException, method: str, t0: float, f0: float) -> bool:
        """True when a connect or read timer ran out because fleet was busy (its loop or its
        queues, ``fleet_seconds``) while the device had less than its timeout of silence.

        A connect that timed out sent nothing, so it is always sent again; a read only for a
        request that changes nothing on the device. The device's deadline still bounds it."""
        if not isinstance(e, httpx.ConnectTimeout) and method not in ("GET", "HEAD"):
            return False
        limit = self._connect_timeout if isinstance(e, httpx.ConnectTimeout) else self._read_timeout
        own = (time.monotonic() - t0) - (fleet_seconds() - f0)
        return own < 0.8 * limit


class HttpTransport:
    """Hosts read by their profile's ``fetch`` over one shared pool of clients per sweep."""

    host_class: type[HttpHost] = HttpHost  # a test's subclass sees every request a profile makes

    def __init__(self, opts: CrawlOptions) -> None:
        transport_name()  # a misspelt FLEET_HTTP_TRANSPORT stops the sweep before it starts
        self.pool = HttpPool(opts.connect_timeout, opts.read_timeout)

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if profile.fetch is None:
            raise DeviceError(f"profile {profile.name} cannot be read over HTTP")
        http = self.host_class(
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
    if isinstance(e, httpx.TimeoutException):
        return _timeout_why(e)
    inner: BaseException | None = e
    while inner is not None:
        if isinstance(inner, ssl.SSLError):
            # its errno is OpenSSL's error class (1 = SSL_ERROR_SSL), not an OS errno: read
            # as one it said "operation not permitted" for a server that does not speak TLS
            return f"TLS failed: {_tls_why(inner)}"
        if isinstance(inner, socket.gaierror):
            # getaddrinfo's codes are negative EAI_* values: strerror said "unknown error -2"
            return _dns_why(inner)
        if isinstance(inner, OSError) and inner.errno:
            return os.strerror(inner.errno).lower()
        inner = inner.__cause__ or inner.__context__
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:200]


# OpenSSL's certificate verification codes (include/openssl/x509_vfy.h, X509_V_ERR_*), as an
# operator acts on them; the inventory's keys are ``tls.ca`` and ``tls.verify``.
_UNTRUSTED = "the device's certificate is not signed by a CA fleet trusts (give its CA in tls.ca)"
_SELF_SIGNED = (
    "the device's certificate is self-signed (trust it with tls.ca, or set tls.verify: false)"
)
_VERIFY_CODES = {
    2: _UNTRUSTED,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    9: "the device's certificate is not valid yet (check the device's clock)",
    10: "the device's certificate has expired",
    18: _SELF_SIGNED,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: _SELF_SIGNED.replace("certificate is", "certificate chain is"),
    20: _UNTRUSTED,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: _UNTRUSTED,  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    23: "the device's certificate has been revoked",
    62: "the device's certificate is for another host",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "the device's certificate is for another host",  # X509_V_ERR_IP_ADDRESS_MISMATCH
}
# OpenSSL reason codes (the ``reason`` of ssl.SSLError) grouped by what the operator learns.
# Lower case, no punctuation: the fault lab matches these words.
_TLS_REASONS: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST"}),
        "the device answered without encryption",
    ),
    (
        frozenset(
            {
                "UNKNOWN_ALERT_TYPE",
                "RECORD_LAYER_FAILURE",
                "PACKET_LENGTH_TOO_LONG",
                "BAD_PACKET_LENGTH",
                "UNKNOWN_PROTOCOL",
                "WRONG_SSL_VERSION",
                "RECORD_LENGTH_MISMATCH",
                "DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
            }
        ),
        "the device answered with bytes that are not a handshake",
    ),
    (
        frozenset(
            {
                "TLSV1_ALERT_PROTOCOL_VERSION",
                "UNSUPPORTED_PROTOCOL",
                "NO_PROTOCOLS_AVAILABLE",
                "VERSION_TOO_LOW",
                "UNSUPPORTED_SSL_VERSION",
            }
        ),
        "no protocol version in common (the device refused the versions fleet offers or "
        "offered only ones fleet refuses)",
    ),
    (
        frozenset(
            {
                "SSLV3_ALERT_HANDSHAKE_FAILURE",
                "NO_SHARED_CIPHER",
                "NO_CIPHERS_AVAILABLE",
                "TLSV1_ALERT_INSUFFICIENT_SECURITY",
                "NO_SUITABLE_SIGNATURE_ALGORITHM",
                "DH_KEY_TOO_SMALL",
                "EE_KEY_TOO_SMALL",
                "CA_MD_TOO_WEAK",
            }
        ),
        "the handshake was refused (no cipher or key strength in common)",
    ),
    (
        frozenset({"UNEXPECTED_EOF_WHILE_READING", "EOF_OCCURRED_IN_VIOLATION_OF_PROTOCOL"}),
        "the device closed the connection during the handshake (it may refuse the TLS "
        "versions or ciphers fleet offers)",
    ),
)


def _tls_why(e: ssl.SSLError) -> str:
    """What a failed TLS handshake means to an operator, from OpenSSL's verify or reason code."""
    if isinstance(e, ssl.SSLCertVerificationError):
        known = _VERIFY_CODES.get(e.verify_code)
        return known or f"the device's certificate was refused ({e.verify_message})".lower()
    if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError) and not e.reason:
        return _TLS_REASONS[-1][1]
    reason = (e.reason or "").upper()
    for reasons, text in _TLS_REASONS:
        if reason in reasons:
            return text
    return (reason or type(e).__name__).replace("_", " ").lower()


# getaddrinfo's EAI_* codes (POSIX netdb.h; glibc's values, as the socket module exposes them)
_DNS_CODES = {
    getattr(socket, "EAI_NONAME", -2): "name not found (no such host in DNS or /etc/hosts)",
    getattr(socket, "EAI_AGAIN", -3): "name lookup failed: no answer from the DNS server",
    getattr(socket, "EAI_FAIL", -4): "name lookup failed: the DNS server refused or failed",
    getattr(socket, "EAI_NODATA", -5): "name not found: the name has no address",
    getattr(socket, "EAI_ADDRFAMILY", -9): "name not found: the name has no IPv4 or IPv6 address",
}


def _dns_why(e: socket.gaierror) -> str:
    known = _DNS_CODES.get(e.errno) if e.errno is not None else None
    return known or f"name lookup failed ({str(e.strerror or e).lower()})"


def _timeout_why(e: httpx.TimeoutException) -> str:
    if isinstance(e, httpx.ConnectTimeout):
        # unpooled.py marks a connect that timed out after TCP, in the TLS handshake
        return (
            str(e)
            if str(e).startswith("TLS")
            else "no answer to the connection (connect timed out)"
        )
    if isinstance(e, httpx.ReadTimeout):
        return "the device stopped answering (read timed out)"
    if isinstance(e, httpx.WriteTimeout):
        return "the device stopped taking fleet's request (write timed out)"
    return f"timed out ({type(e).__name__})"
