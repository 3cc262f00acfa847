"""The lean HTTP transport (fleet.collect.lean) against real servers on loopback: a device
gets byte for byte the requests httpx's client sent it, Digest and Basic challenges are
answered as before, and every way an HTTP/1.1 answer can be framed reads the same body.

The fault lab (tests/faults) covers what a broken device does to it; this covers what a
working one sees.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

import httpx
import pytest

from fleet.collect.http import TRANSPORT_ENV, HttpHost, HttpPool, HttpTransport, _why
from fleet.collect.lean import LeanTransport, _one_error
from fleet.collect.options import CrawlOptions
from fleet.errors import AuthFailed, DeviceError, InputError

Answer = Callable[[bytes, bytes], Sequence[bytes]]  # (head, body) -> the pieces to write


class Device:
    """A loopback HTTP server: records each connection's request, answers with ``answer``'s
    pieces (each written and flushed apart, so the client reads them in separate reads),
    then closes, as a phone with keep-alive off does."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.seen: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Device:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await r.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?im)^content-length: *(\d+)", head)
            body = await r.readexactly(int(m.group(1))) if m else b""
            self.seen.append(head + body)
            for piece in self.answer(head, body):
                w.write(piece)
                await w.drain()
                await asyncio.sleep(0.005)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()


def ok(body: bytes, *headers: str) -> list[bytes]:
    head = "".join(f"{h}\r\n" for h in headers)
    return [f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body]


def run(transport: str, monkeypatch: pytest.MonkeyPatch, body: Callable[[], Awaitable[Any]]) -> Any:
    monkeypatch.setenv(TRANSPORT_ENV, transport)
    return asyncio.run(body())


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/cgi-bin/api.values.get", {"params": {"request": "P270:P271", "sid": "a b/c"}}),
    ("GET", "/api/v1/mgmt/device/info?x=1", {"params": {"on": True, "off": None}}),
    ("POST", "/api/v1/mgmt/config/get", {"json": {"data": ["voIpProt.server.1.address", "é"]}}),
    ("POST", "/cgi-bin/dologin", {"data": {"username": "admin", "password": "p&w=1"}}),
    ("PUT", "/admin/cfg", {"content": "line 1\nline 2"}),
    ("POST", "/empty", {}),
    ("GET", "/with-headers", {"headers": {"X-CSRFToken": "t0k", "Accept": "application/json"}}),
    ("GET", "/after-login", {}),  # carries the session cookie the first answer set
]


def _requests_seen(transport: str, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    async def body() -> list[bytes]:
        answer = ok(b'{"Status": "2000"}', "Set-Cookie: sid=s3ss10n; Path=/; HttpOnly")
        async with Device(lambda h, b: answer) as dev, HttpPool() as pool:
            host = HttpHost(pool, dev.url, None, None)
            for method, path, kw in REQUESTS:
                reply = await host.request(method, path, **kw)
                assert reply.status == 200 and reply.json() == {"Status": "2000"}
            assert host.cookies == {"sid": "s3ss10n"}
            return [s.replace(str(dev.port).encode(), b"PORT") for s in dev.seen]

    return run(transport, monkeypatch, body)


def test_a_device_gets_byte_for_byte_the_requests_httpx_sent_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, lean = (_requests_seen(t, monkeypatch) for t in ("httpcore", "lean"))
    assert len(lean) == len(REQUESTS)
    assert lean == before  # request line, headers in their order, body
    assert lean[0].startswith(
        b"GET /cgi-bin/api.values.get?request=P270%3AP271&sid=a+b%2Fc HTTP/1.1\r\n"
        b"Host: 127.0.0.1:PORT\r\n"
    )
    assert b"Cookie: sid=s3ss10n\r\n" in lean[-1]


# --- challenges -----------------------------------------------------------------------


def _digest_checker(algorithm: str, qop: str | None, password: str) -> Answer:
    """A device that challenges with Digest and checks the answer as RFC 7616 says."""
    nonce, opaque = "n0nce-1", "0paque"
    base = algorithm.upper().removesuffix("-SESS")
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[base]

    def digest(text: str) -> str:
        return h(text.encode()).hexdigest()

    def answer(head: bytes, body: bytes) -> list[bytes]:
        m = re.search(rb"(?im)^authorization: *digest (.+?)\r$", head)
        if m is not None:
            f = parse_keqv_list(parse_http_list(m.group(1).decode()))
            method = head.split(b" ", 1)[0].decode()
            ha1 = digest(f"{f['username']}:{f['realm']}:{password}")
            if algorithm.upper().endswith("-SESS"):
                ha1 = digest(f"{ha1}:{nonce}:{f['cnonce']}")
            ha2 = digest(f"{method}:{f['uri']}")
            if qop:
                want = digest(f"{ha1}:{nonce}:{f['nc']}:{f['cnonce']}:auth:{ha2}")
            else:
                want = digest(f"{ha1}:{nonce}:{ha2}")
            target = head.split(b" ", 2)[1].decode()
            if f["response"] == want and f["uri"] == target and f.get("opaque") == opaque:
                return ok(b"welcome")
        challenge = (
            f'Digest realm="phone", nonce="{nonce}", opaque="{opaque}", algorithm={algorithm}'
        )
        if qop:
            challenge += f', qop="{qop}"'
        return [
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: "
            + challenge.encode()
            + b"\r\n\r\n"
        ]

    return answer


@pytest.mark.parametrize(
    ("algorithm", "qop"),
    [("MD5", "auth"), ("MD5", None), ("SHA-256", "auth,auth-int"), ("MD5-sess", "auth")],
)
@pytest.mark.parametrize("transport", ["lean", "httpcore"])
def test_digest_challenges_are_answered_once_then_every_request_goes_authorised(
    transport: str, algorithm: str, qop: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> tuple[list[int], int]:
        async with Device(_digest_checker(algorithm, qop, "s3cret")) as dev, HttpPool() as pool:
            host = HttpHost(pool, dev.url, "admin", "s3cret")
            paths = ["/a", "/b?x=1", "/c"]
            statuses = [(await host.request("GET", p)).status for p in paths]
            return statuses, len(dev.seen)

    statuses, connections = run(transport, monkeypatch, body)
    assert statuses == [200, 200, 200]
    assert connections == 4  # one challenge, then each request authorised at once


@pytest.mark.parametrize("transport", ["lean", "httpcore"])
def test_a_wrong_password_is_refused_not_retried_forever(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> tuple[BaseException | None, int]:
        async with Device(_digest_checker("MD5", "auth", "right")) as dev, HttpPool() as pool:
            try:
                await HttpHost(pool, dev.url, "admin", "wrong").request("GET", "/")
            except AuthFailed as e:
                return e, len(dev.seen)
            return None, len(dev.seen)

    err, connections = run(transport, monkeypatch, body)
    assert isinstance(err, AuthFailed) and "HTTP 401: credentials refused" in str(err)
    assert connections == 2


@pytest.mark.parametrize("transport", ["lean", "httpcore"])
def test_basic_challenges_are_answered_with_the_credentials(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(head: bytes, body: bytes) -> list[bytes]:
        if b"Authorization: Basic YWRtaW46czNjcmV0\r\n" in head:  # admin:s3cret
            return ok(b"in")
        return [
            b'HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n'
        ]

    async def body() -> tuple[list[bytes], int]:
        async with Device(answer) as dev, HttpPool() as pool:
            host = HttpHost(pool, dev.url, "admin", "s3cret")
            bodies = [(await host.request("GET", p)).body for p in ("/a", "/b")]
            return bodies, len(dev.seen)

    bodies, connections = run(transport, monkeypatch, body)
    assert bodies == [b"in", b"in"] and connections == 3


# --- framing --------------------------------------------------------------------------

FRAMINGS: dict[str, tuple[list[bytes], bytes]] = {
    "content-length in pieces": (
        [b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 11\r\n\r", b"\nhello", b" world"],
        b"hello world",
    ),
    "chunked, extensions and trailers": (
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel",
            b"lo\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        ],
        b"hello world",
    ),
    "until the connection closes": ([b"HTTP/1.0 200 OK\r\n\r\nhello", b" world"], b"hello world"),
    "informational answers first": (
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        b"ok",
    ),
    "bare line feeds and a folded header": (
        [b"HTTP/1.1 200 OK\nX-Long: a\n  b\nContent-Length: 2\n\nok"],
        b"ok",
    ),
    "no content": ([b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"], b""),
}


@pytest.mark.parametrize("case", FRAMINGS, ids=str)
def test_every_framing_of_an_answer_reads_the_same_body(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces, want = FRAMINGS[case]

    async def body() -> tuple[bytes, bytes]:
        async with Device(lambda h, b: pieces) as dev, HttpPool() as pool:
            host = HttpHost(pool, dev.url, None, None)
            via_host = (await host.request("GET", "/", ok=(200, 204))).body
            # the same transport under a plain httpx client, as a profile's test may use it
            ctx = ssl.create_default_context()
            async with httpx.AsyncClient(transport=LeanTransport(ctx)) as client:
                via_httpx = (await client.get(dev.url + "/")).content
            return via_host, via_httpx

    assert run("lean", monkeypatch, body) == (want, want)


def test_a_head_request_reads_no_body_whatever_its_length_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def body() -> tuple[int, bytes]:
        head_only = [b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"]
        async with Device(lambda h, b: head_only) as dev, HttpPool(read_timeout=2) as pool:
            reply = await HttpHost(pool, dev.url, None, None).request("HEAD", "/")
            return reply.status, reply.body

    assert run("lean", monkeypatch, body) == (200, b"")


@pytest.mark.parametrize("transport", ["lean", "httpcore"])
def test_a_header_that_would_split_the_request_never_reaches_the_device(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> tuple[BaseException | None, list[bytes]]:
        async with Device(lambda h, b: ok(b"")) as dev, HttpPool() as pool:
            try:
                await HttpHost(pool, dev.url, None, None).request(
                    "GET", "/", headers={"X-Name": "a\r\nX-Injected: 1"}
                )
            except DeviceError as e:
                return e, dev.seen
            return None, dev.seen

    err, seen = run(transport, monkeypatch, body)
    assert isinstance(err, DeviceError)
    assert not any(b"X-Injected" in s for s in seen)


# --- choosing the transport -------------------------------------------------------------


def test_an_unknown_transport_name_stops_the_sweep_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "curl")
    with pytest.raises(InputError) as e:
        HttpTransport(CrawlOptions())
    assert str(e.value) == f"{TRANSPORT_ENV}: 'curl' is not an HTTP transport (lean or httpcore)"


def test_a_name_whose_addresses_all_refused_is_connection_refused() -> None:
    """asyncio words a name with an IPv6 and an IPv4 address that both failed as one
    errno-less "Multiple exceptions" error; fleet says what the operator needs to know.
    (Without the network: this machine's localhost has one address.)"""
    multiple = OSError(
        "Multiple exceptions: [Errno 101] Connect call failed ('::1', 80, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 80)"
    )
    err = httpx.ConnectError(str(multiple))
    err.__cause__ = _one_error(multiple)
    assert _why(err) == "connection refused"
