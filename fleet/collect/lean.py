"""A lean httpx transport on asyncio streams: one connection per request, closed with it.

Every phone is a new origin with keep-alive off, so httpcore's pool, its per-request anyio
cancel scopes and task look-ups, and h11's event machinery bought nothing and cost most of a
sweep's CPU (bench/RESULTS.md). This opens a stream with asyncio, writes the request in one
write, and parses the HTTP/1.1 answer itself: a status line, a header block, then a body
framed by Content-Length, chunked transfer coding, or the connection's end.

It raises the httpx exceptions httpx's own transport raises, worded as httpcore and h11 word
them where an operator sees it (the fault lab matches "illegal status line", "bad
Content-Length", "Server disconnected without sending a response", "peer closed connection
without sending complete message body"), so ``fleet.collect.http`` maps errors the same way
whichever transport runs. Timeouts are httpx's: connect (TCP, then the TLS handshake, each
within it), write, and read (each read of the socket, so a phone that drips a byte a second
is cut only by its whole-device deadline, which the crawler owns).

``LeanTransport`` serves any httpx client. fleet's own HttpHost goes one step further through
``Session``: it builds the request httpx's client would (the same bytes, checked by
tests/test_lean_transport.py) and answers Basic/Digest challenges itself, without httpx's
URL, Request and Response objects, which cost as much again as the transport's own work.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import json as jsonlib
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from urllib.request import parse_http_list, parse_keqv_list

import httpx

__all__ = ["Answer", "Digest", "LeanTransport", "Session", "Timeouts", "exchange", "request_head"]

READ_SIZE = 65536
HEAD_LIMIT = 64 * 1024  # a status line and headers; h11 stops at 16 KiB, phones stay far below
_HEAD_END = re.compile(rb"\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})(?: ([\t \x21-\x7e\x80-\xff]*))?")
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_DIGITS = re.compile(rb"[0-9]+")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # controls other than tab: never valid
_NO_BODY = frozenset({204, 304})


class LeanTransport(httpx.AsyncBaseTransport):
    """One connection per request over ``ssl_context`` for https (shared by every request of
    one TLS setting, so its CA file is read once)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        timeouts = request.extensions.get("timeout") or {}
        https = url.scheme == "https"
        head = request_head(request.method, request.url.raw_path, request.headers.raw, request)
        answer = await exchange(
            url.host,
            url.port or (443 if https else 80),
            self._ssl if https else None,
            request.method,
            head + await _body(request),
            Timeouts(timeouts.get("connect"), timeouts.get("read"), timeouts.get("write")),
            request,
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=_Body(answer.conn, answer.framing),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None
    read: float | None
    write: float | None


@dataclass(slots=True)
class Answer:
    """A device's answer, its body still to read (``body()``) on the open connection;
    ``close()`` closes it, read or not."""

    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    conn: _Conn
    framing: int | str

    def body(self) -> AsyncIterator[bytes]:
        return _Body(self.conn, self.framing).__aiter__()

    def buffered(self) -> bytes | None:
        """The whole body when it came with the head (most answers of a phone: one
        segment), without a read or an iterator; None when more is to be read."""
        framing, buf = self.framing, self.conn._buf
        if isinstance(framing, int) and len(buf) >= framing:
            data = bytes(buf[:framing])
            buf.clear()
            return data
        return None

    def header_list(self, name: bytes) -> list[str]:
        """Every value of one header (``name`` in lower case), as httpx's get_list."""
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == name]

    def close(self) -> None:
        self.conn.close()


async def exchange(
    host: str,
    port: int,
    ctx: ssl.SSLContext | None,
    method: str,
    data: bytes,
    timeouts: Timeouts,
    request: httpx.Request | None = None,
) -> Answer:
    """Connect (TLS over ``ctx`` when given), send ``data`` (the request head and body, as
    ``request_head`` makes it) and read the answer's head. Raises httpx's TransportErrors."""
    conn = _Conn(request, timeouts.read)
    await conn.connect(host, port, ctx, timeouts.connect)
    try:
        await conn.send(data, timeouts.write)
        status, reason, headers = await conn.receive_head()
        framing = _framing(method, status, headers)
    except BaseException:
        conn.close()
        raise
    return Answer(status, reason, headers, conn, framing)


class _Conn:
    """One connection: a buffer over an asyncio stream, each read under the read timeout."""

    __slots__ = ("_buf", "_read_timeout", "_reader", "_request", "_writer")

    def __init__(self, request: httpx.Request | None, read_timeout: float | None) -> None:
        self._request = request
        self._read_timeout = read_timeout
        self._buf = bytearray()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(
        self, host: str, port: int, ctx: ssl.SSLContext | None, limit: float | None
    ) -> None:
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                self._reader, self._writer = await asyncio.open_connection(host, port)
        except TimeoutError as e:
            if scope.expired():
                raise httpx.ConnectTimeout("connect timed out", request=self._request) from e
            raise httpx.ConnectError(str(e), request=self._request) from e
        except OSError as e:  # refused, unreachable, and the resolver's gaierror
            raise httpx.ConnectError(str(e), request=self._request) from _one_error(e)
        if ctx is not None:
            await self._start_tls(ctx, host, limit)

    async def _start_tls(self, ctx: ssl.SSLContext, host: str, limit: float | None) -> None:
        assert self._writer is not None
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                await self._writer.start_tls(ctx, server_hostname=host)
        except BaseException as e:
            self.close()
            if isinstance(e, TimeoutError) and scope.expired():
                # httpx raises the same ConnectTimeout for both: say which step it was
                raise httpx.ConnectTimeout(
                    f"TLS handshake timed out (connected, but no handshake within {limit:g} s)"
                    if limit
                    else "TLS handshake timed out",
                    request=self._request,
                ) from e
            if isinstance(e, ssl.SSLError):
                raise httpx.ConnectError(str(e), request=self._request) from e
            if isinstance(e, OSError):
                # asyncio reports a peer that hung up mid-handshake as a bare connection
                # error; OpenSSL's word for it is an EOF, which fleet words for the operator
                eof = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
                eof.__cause__ = e
                raise httpx.ConnectError(
                    str(e) or "connection lost", request=self._request
                ) from eof
            raise

    async def send(self, data: bytes, timeout: float | None) -> None:
        assert self._writer is not None
        try:
            self._writer.write(data)
            if self._writer.transport.get_write_buffer_size():
                async with asyncio.timeout(timeout):
                    await self._writer.drain()
        except TimeoutError as e:
            if e.errno is None:
                raise httpx.WriteTimeout("write timed out", request=self._request) from e
            raise httpx.WriteError(str(e), request=self._request) from e
        except OSError as e:
            raise httpx.WriteError(str(e), request=self._request) from e

    async def read(self) -> bytes:
        """The next bytes the device sent (the buffer first); b"" at its end."""
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        assert self._reader is not None
        try:
            async with asyncio.timeout(self._read_timeout):
                return await self._reader.read(READ_SIZE)
        except TimeoutError as e:
            if e.errno is None:
                raise httpx.ReadTimeout("read timed out", request=self._request) from e
            raise httpx.ReadError(str(e), request=self._request) from e
        except OSError as e:  # reset, and TLS failures after the handshake (SSLError)
            raise httpx.ReadError(str(e), request=self._request) from e

    def unread(self, data: bytes | bytearray) -> None:
        self._buf[:0] = data

    async def receive_head(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """The final answer's status, reason and headers; informational (1xx) answers are
        skipped, as h11 does."""
        while True:
            head = await self._head()
            status, reason, headers = _parse_head(head)
            if not 100 <= status < 200 or status == 101:
                return status, reason, headers

    async def _head(self) -> bytes:
        buf = bytearray()
        searched = 0
        while True:
            data = await self.read()
            if not data:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=self._request
                )
            buf += data
            # the last bytes searched may start the blank line that ends the head
            m = _HEAD_END.search(buf, max(0, searched - 2))
            if m is not None:
                self.unread(buf[m.end() :])
                end = m.start()
                return bytes(buf[: end - 1 if buf[end - 1 : end] == b"\r" else end])
            if len(buf) > HEAD_LIMIT:
                raise httpx.RemoteProtocolError(
                    f"answer head larger than {HEAD_LIMIT} bytes", request=self._request
                )
            searched = len(buf)

    async def line(self) -> bytes:
        """One line of a chunked body (its size, or a trailer), without its line end."""
        buf = bytearray()
        while True:
            data = await self.read()
            if not data:
                raise _incomplete(self._request, "incomplete chunked read")
            buf += data
            i = buf.find(b"\n")
            if i >= 0:
                self.unread(buf[i + 1 :])
                return bytes(buf[: i - 1 if i and buf[i - 1] == 13 else i])
            if len(buf) > HEAD_LIMIT:
                raise httpx.RemoteProtocolError("illegal chunk header", request=self._request)

    def close(self) -> None:
        if self._writer is not None:
            # keep-alive is off and the answer is read: nothing is owed to the device
            self._writer.transport.abort()
            self._writer = None


_ERRNO = re.compile(r"\[Errno (\d+)\]")


def _one_error(e: OSError) -> OSError:
    """asyncio (3.11) reports a name whose addresses all failed as one OSError with no errno,
    "Multiple exceptions: [Errno 111] ..., [Errno 101] ...": the refusal when any address
    refused (the host is there, the port closed), else the first, so that fleet words it as
    for one address ("connection refused") and not as Python's text."""
    if e.errno is not None:
        return e
    codes = [int(c) for c in _ERRNO.findall(str(e))]
    if not codes:
        return e
    code = errno.ECONNREFUSED if errno.ECONNREFUSED in codes else codes[0]
    one = OSError(code, os.strerror(code))
    one.__cause__ = e
    return one


def request_head(
    method: str,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    request: httpx.Request | None = None,
) -> bytes:
    """The request line and headers, ending in the blank line."""
    lines = [b"%s %s HTTP/1.1" % (method.encode("ascii"), target)]
    for name, value in headers:
        _check_header(name, value, request)
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def _check_header(name: bytes, value: bytes, request: httpx.Request | None = None) -> None:
    if _BAD_VALUE.search(name) or _BAD_VALUE.search(value) or not _TOKEN.fullmatch(name):
        # a header that would split the request (CR/LF injection): h11 refuses it too
        raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)


async def _body(request: httpx.Request) -> bytes:
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    if request.headers.get("transfer-encoding", "").lower() == "chunked":  # a streamed body
        return (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    return body


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    lines = _LINE_END.split(head)
    m = _STATUS_LINE.fullmatch(lines[0])
    if m is None:
        raise httpx.RemoteProtocolError(f"illegal status line: {lines[0][:120]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding: one value
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise httpx.RemoteProtocolError(f"illegal header line: {line[:120]!r}")
        headers.append((name, value))
    return int(m.group(1)), m.group(2) or b"", headers


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> int | str:
    """How the body ends: a byte count, "chunked", or "close" (the connection's end)."""
    if method == "HEAD" or status in _NO_BODY or status < 200:
        return 0
    lengths: set[bytes] = set()
    for name, value in headers:
        lname = name.lower()
        if lname == b"transfer-encoding":
            if value.lower() != b"chunked":
                raise httpx.RemoteProtocolError("Only Transfer-Encoding: chunked is supported")
            return "chunked"  # it overrides a Content-Length (RFC 9112 6.3)
        if lname == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
    if not lengths:
        return "close"
    if len(lengths) > 1 or not all(_DIGITS.fullmatch(v) for v in lengths):
        raise httpx.RemoteProtocolError("bad Content-Length")
    return int(lengths.pop())


def _incomplete(request: httpx.Request | None, what: str) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        f"peer closed connection without sending complete message body ({what})",
        request=request,
    )


class _Body(httpx.AsyncByteStream):
    """The answer's body as the device sends it; closing it closes the connection."""

    def __init__(self, conn: _Conn, framing: int | str) -> None:
        self._conn, self._framing = conn, framing

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn, framing = self._conn, self._framing
        if framing == "chunked":
            async for chunk in _chunks(conn):
                yield chunk
        elif framing == "close":
            while data := await conn.read():
                yield data
        else:
            assert isinstance(framing, int)
            got = 0
            while got < framing:
                data = await conn.read()
                if not data:
                    raise _incomplete(conn._request, f"received {got} bytes, expected {framing}")
                if got + len(data) > framing:  # more than declared: the rest is not the body
                    data = data[: framing - got]
                got += len(data)
                yield data

    async def aclose(self) -> None:
        self._conn.close()


async def _chunks(conn: _Conn) -> AsyncIterator[bytes]:
    while True:
        line = await conn.line()
        m = _CHUNK_SIZE.fullmatch(line)
        if m is None:
            raise httpx.RemoteProtocolError(f"illegal chunk header: {line[:60]!r}")
        left = int(m.group(1), 16)
        if left == 0:
            while await conn.line():  # trailers, up to the blank line that ends them
                pass
            return
        while left:
            data = await conn.read()
            if not data:
                raise _incomplete(conn._request, "incomplete chunked read")
            if len(data) > left:
                conn.unread(data[left:])
                data = data[:left]
            left -= len(data)
            yield data
        if await conn.line():
            raise httpx.RemoteProtocolError("illegal chunk: no line end after its data")


_HASHES = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-512": hashlib.sha512,
}


class Digest:
    """HTTP Digest authentication (RFC 7616, qop=auth or none) as httpx's DigestAuth answers
    it: the same fields in the same order, and, once challenged, every later request
    authorised at once with the next nonce count."""

    __slots__ = (
        "_algorithm",
        "_count",
        "_ha1",
        "_nonce",
        "_opaque",
        "_qop",
        "_realm",
        "_sess",
        "_user",
    )

    def __init__(self, username: str, password: str, challenge: str) -> None:
        """``challenge``: a WWW-Authenticate value starting "Digest "; ValueError when it
        lacks a realm or nonce or names an algorithm or qop fleet cannot answer."""
        fields = parse_keqv_list(parse_http_list(challenge.partition(" ")[2]))
        try:
            realm, nonce = fields["realm"], fields["nonce"]
        except KeyError as e:
            raise ValueError("Malformed Digest WWW-Authenticate header") from e
        self._algorithm = fields.get("algorithm", "MD5")
        name = self._algorithm.upper()
        sess = name.endswith("-SESS")
        hash_name = name[:-5] if sess else name
        if hash_name not in _HASHES:
            raise ValueError(f"unsupported Digest algorithm {self._algorithm!r}")
        qop = fields.get("qop")
        if qop is not None and "auth" not in re.split(r", ?", qop):
            raise ValueError(f"unsupported Digest qop {qop!r}")
        self._user, self._realm, self._nonce = username, realm, nonce
        self._opaque = fields.get("opaque")
        self._qop = qop
        self._count = 1
        self._ha1 = self._hash(f"{username}:{realm}:{password}")
        self._sess = sess

    def _hash(self, text: str) -> str:
        name = self._algorithm.upper().removesuffix("-SESS")
        return _HASHES[name](text.encode()).hexdigest()

    def _cnonce(self) -> str:
        seed = f"{self._count}{self._nonce}{time.ctime()}".encode() + os.urandom(8)
        return hashlib.sha1(seed).hexdigest()[:16]

    def header(self, method: str, uri: str) -> str:
        """The Authorization value for one request (each takes the next nonce count)."""
        ha2 = self._hash(f"{method}:{uri}")
        nc, cnonce = f"{self._count:08x}", self._cnonce()
        self._count += 1
        ha1 = self._hash(f"{self._ha1}:{self._nonce}:{cnonce}") if self._sess else self._ha1
        if self._qop is None:  # RFC 2069
            response = self._hash(f"{ha1}:{self._nonce}:{ha2}")
        else:
            response = self._hash(f"{ha1}:{self._nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts = [
            f'username="{self._user}"',
            f'realm="{self._realm}"',
            f'nonce="{self._nonce}"',
            f'uri="{uri}"',
            f'response="{response}"',
            f"algorithm={self._algorithm}",
        ]
        if self._opaque:
            parts.append(f'opaque="{self._opaque}"')
        if self._qop is not None:
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


# --- the direct path: what httpx.AsyncClient does for fleet's HttpHost, without its models --

_PLAIN_TARGET = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_BODY_METHODS = ("POST", "PUT", "PATCH")


class Session:
    """One device's requests over ``LeanTransport``'s exchange, built as httpx's client
    builds them for fleet (the same headers, target, body encoding and Basic/Digest answers
    to a challenge) with none of its URL, Request and Response objects, which were most of
    what was left of fleet's CPU per request."""

    __slots__ = (
        "_base_path",
        "_base_url",
        "_ctx",
        "_defaults",
        "_digest",
        "_host",
        "_netloc",
        "_password",
        "_port",
        "_scheme",
        "_timeouts",
        "_user",
    )

    def __init__(
        self,
        base_url: str,
        ctx: ssl.SSLContext,
        defaults: list[tuple[bytes, bytes, bytes]],
        timeouts: Timeouts,
        username: str | None,
        password: str | None,
    ) -> None:
        """``defaults``: the client's own headers, as ``Session.defaults`` makes them."""
        url = httpx.URL(base_url)  # once per device: its host, port and Host header as httpx
        https = url.scheme == "https"
        self._base_url = base_url
        self._host, self._port = url.host, url.port or (443 if https else 80)
        self._netloc = url.netloc
        self._base_path = url.path.rstrip("/")
        self._ctx = ctx if https else None
        self._defaults = defaults
        self._timeouts = timeouts
        self._user: str | None = username or None
        self._password = password or ""
        self._scheme: str | None = None  # "basic" or "digest", once the device challenged
        self._digest: Digest | None = None

    @staticmethod
    def defaults(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes, bytes]]:
        """A client's own headers (httpx.AsyncClient.headers.raw), checked once for every
        session of the client: name, value, and the name in lower case."""
        for k, v in raw:
            _check_header(k, v)
        return [(k, v, k.lower()) for k, v in raw]

    @staticmethod
    def usable(base_url: str) -> bool:
        """Whether the direct path serves this address: http(s), and no user:password@ in
        it (httpx's client answers with those itself; the inventory keeps credentials apart)."""
        scheme, sep, rest = base_url.partition("://")
        return bool(sep) and scheme in ("http", "https") and "@" not in rest.split("/", 1)[0]

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        data: Any,
        content: bytes | str | None,
        headers: dict[str, str],
        auth: bool,
    ) -> Answer:
        """The device's final answer, a challenge answered once as httpx's auth flow does;
        its body still to read, the connection the caller's to close."""
        target = self._target(path, params)
        body, body_headers = _encode(json, data, content)
        head = self._headers(method, headers, body_headers)
        user = self._user if auth else None
        authorization = self._authorization(method, target) if user is not None else None
        retried = False
        start = b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)
        while True:
            # fleet's own headers are valid by construction: only the caller's are checked
            lines = head if authorization is None else [*head, (b"Authorization", authorization)]
            data_ = start + b"".join(k + b": " + v + b"\r\n" for k, v in lines) + b"\r\n"
            answer = await exchange(
                self._host, self._port, self._ctx, method, data_ + body, self._timeouts
            )
            if user is None or answer.status != 401 or retried or not self._learn(answer):
                return answer
            answer.close()
            retried = True
            authorization = self._authorization(method, target)
            if "cookie" not in {k.lower() for k in headers}:  # as DigestAuth: its cookies too
                jar = _set_cookies(answer.headers)
                if jar and self._scheme == "digest":
                    cookie = (b"Cookie", jar.encode())
                    _check_header(*cookie)
                    head = [*head, cookie]

    def _learn(self, answer: Answer) -> bool:
        """Take the challenge of a 401; True when it is one to answer (again)."""
        if self._scheme == "basic":
            return False  # Basic credentials were sent and refused: nothing else to try
        offered = [
            v.decode("latin-1") for k, v in answer.headers if k.lower() == b"www-authenticate"
        ]
        digest = next((h for h in offered if h.lower().startswith("digest")), None)
        if digest is not None:
            assert self._user is not None
            try:
                self._digest = Digest(self._user, self._password, digest)
            except ValueError as e:
                answer.close()
                raise httpx.ProtocolError(str(e)) from e
            self._scheme = "digest"
            return True
        if self._scheme is None and any(h.lower().startswith("basic") for h in offered):
            self._scheme = "basic"
            return True
        return False

    def _authorization(self, method: str, target: bytes) -> bytes | None:
        if self._scheme == "digest" and self._digest is not None:
            return self._digest.header(method, target.decode("ascii")).encode()
        if self._scheme == "basic":
            pair = f"{self._user}:{self._password}".encode()
            return b"Basic " + base64.b64encode(pair)
        return None

    def _target(self, path: str, params: dict[str, Any] | None) -> bytes:
        full = self._base_path + path
        if params is not None:  # httpx: given params replace the path's own query
            full = full.partition("?")[0]
            query = urlencode(
                [(k, _primitive(x)) for k, v in params.items() for x in _items(v)], doseq=True
            )
            if query:
                full += "?" + query
        if _PLAIN_TARGET.fullmatch(full) and "/." not in full:
            return full.encode("ascii")
        # anything httpx would quote or normalise: let httpx say what it sends
        return httpx.URL(self._base_url + path, params=params).raw_path

    def _headers(
        self, method: str, given: dict[str, str], body_headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        names = {k.lower().encode() for k in given}
        out = [(b"Host", self._netloc)]
        out += [(k, v) for k, v, lk in self._defaults if lk not in names]
        for k, v in given.items():
            kv = (k.encode(), v.encode())
            _check_header(*kv)
            out.append(kv)
        out += [(k, v) for k, v in body_headers if k.lower() not in names]
        if (
            method in _BODY_METHODS
            and not body_headers
            and b"content-length" not in names
            and b"transfer-encoding" not in names
        ):
            out.insert(1, (b"Content-Length", b"0"))  # httpx's, for a body method sent empty
        return out


def _items(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


def _primitive(v: Any) -> str:
    # httpx's primitive_value_to_str: JSON's spelling of booleans, None as empty
    if v is True:
        return "true"
    if v is False:
        return "false"
    return "" if v is None else str(v)


def _encode(
    json: Any, data: Any, content: bytes | str | None
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and its headers, as httpx's encode_request makes them."""
    if content is not None:
        body = content.encode() if isinstance(content, str) else bytes(content)
        return body, [(b"Content-Length", b"%d" % len(body))] if body else []
    if data:
        form = [(k, _primitive(x)) for k, v in data.items() for x in _items(v)]
        body = urlencode(form, doseq=True).encode()
        return body, [
            (b"Content-Length", b"%d" % len(body)),
            (b"Content-Type", b"application/x-www-form-urlencoded"),
        ]
    if json is not None:
        text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        body = text.encode()
        return body, [
            (b"Content-Length", b"%d" % len(body)),
            (b"Content-Type", b"application/json"),
        ]
    return b"", []


def _set_cookies(headers: list[tuple[bytes, bytes]]) -> str:
    pairs = []
    for k, v in headers:
        if k.lower() == b"set-cookie":
            name, _, rest = v.decode("latin-1").partition("=")
            pairs.append(f"{name.strip()}={rest.split(';', 1)[0].strip()}")
    return "; ".join(pairs)
