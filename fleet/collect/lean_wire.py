"""The wire under fleet's lean HTTP path (``fleet.collect.lean``): one connection per
request on asyncio streams, the request written in one write, the HTTP/1.1 answer parsed here:
a status line, a header block, then a body framed by Content-Length, chunked transfer coding,
or the connection's end.

It raises the httpx exceptions httpx's own transport raises, worded as httpcore and h11 word
them where an operator sees it (the fault lab matches "illegal status line", "bad
Content-Length", "Server disconnected without sending a response", "peer closed connection
without sending complete message body"), so ``fleet.collect.http`` maps errors the same way
whichever transport runs. Timeouts are httpx's: connect (TCP, then the TLS handshake, each
within it), write, and read (each read of the socket, so a phone that drips a byte a second
is cut only by its whole-device deadline, which the crawler owns).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import httpx

__all__ = [
    "HEAD_LIMIT",
    "READ_SIZE",
    "Answer",
    "BodyStream",
    "Timeouts",
    "check_header",
    "exchange",
    "request_head",
]

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
        return BodyStream(self.conn, self.framing).__aiter__()

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
        check_header(name, value, request)
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def check_header(name: bytes, value: bytes, request: httpx.Request | None = None) -> None:
    if _BAD_VALUE.search(name) or _BAD_VALUE.search(value) or not _TOKEN.fullmatch(name):
        # a header that would split the request (CR/LF injection): h11 refuses it too
        raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)


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


class BodyStream(httpx.AsyncByteStream):
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
