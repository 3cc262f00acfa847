"""Misbehaving HTTP and TLS servers on loopback: each fault a real socket server that does one
thing wrong, the way a broken phone, a half-dead web UI or a hostile middlebox does.

``FaultServers`` runs them on an event loop in a thread of its own (the sweep under test runs
its own loop), one server per fault, each on the address the inventory gives that phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Handler = Callable[["Conn"], Awaitable[None]]

HEAD_LIMIT = 64 * 1024
CANARY = "Canary-pw-7f3a"  # a password a hostile server puts in a redirect


@dataclass(slots=True)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    trap: tuple[str, int]  # the other host a redirect points at

    async def request(self) -> bytes:
        """The request head (and a body by Content-Length), as the client sent it."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                await self.reader.readexactly(int(value.strip()))
        return head

    async def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        lines = [f"HTTP/1.1 {status} Fault\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in headers]
        self.writer.write("".join(lines).encode() + b"\r\n" + body)
        await self.writer.drain()


async def _forever() -> None:
    await asyncio.Event().wait()


async def hang(c: Conn) -> None:
    """Accepts and reads the request, then never answers."""
    await c.request()
    await _forever()


async def hang_on_accept(c: Conn) -> None:
    """Accepts and reads nothing at all."""
    await _forever()


async def reset(c: Conn) -> None:
    """Reads the request, then resets the connection (RST, not FIN)."""
    await c.request()
    sock = c.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.writer.transport.abort()


async def accept_close(c: Conn) -> None:
    """Accepts, then closes at once without a byte."""
    c.writer.close()


def status(code: int, *headers: tuple[str, str], body: bytes = b"") -> Handler:
    async def handler(c: Conn) -> None:
        while True:  # keeps answering the same on the same connection, if asked again
            await c.request()
            await c.answer(code, [*headers, ("Content-Length", str(len(body)))], body)

    return handler


async def unauthorised_forever(c: Conn) -> None:
    """401 with a Basic challenge to every request, whatever credentials come with it."""
    await status(401, ("WWW-Authenticate", 'Basic realm="phone"'))(c)


async def unauthorised_digest_forever(c: Conn) -> None:
    challenge = 'Digest realm="phone", nonce="abc", qop="auth", algorithm=MD5'
    await status(401, ("WWW-Authenticate", challenge))(c)


async def redirect_loop(c: Conn) -> None:
    head = await c.request()
    path = head.split(b" ", 2)[1].decode()
    await c.answer(302, [("Location", path), ("Content-Length", "0")], b"")


async def redirect_elsewhere(c: Conn) -> None:
    """A redirect to another host: following it would send the phone's credentials there."""
    await c.request()
    host, port = c.trap
    location = f"http://{host}:{port}/api/v1/mgmt/device/info"
    await c.answer(302, [("Location", location), ("Content-Length", "0")], b"")


async def redirect_with_credentials(c: Conn) -> None:
    """A redirect whose Location carries a user:password@: it must not reach the report."""
    await c.request()
    host, port = c.trap
    location = f"http://admin:{CANARY}@{host}:{port}/api/v1/mgmt/device/info"
    await c.answer(302, [("Location", location), ("Content-Length", "0")], b"")


async def garbage(c: Conn) -> None:
    await c.request()
    c.writer.write(b"\x00\x17\x03 garbage \xff\xfe not http at all\r\n\r\n" * 10)
    await c.writer.drain()


async def garbage_on_accept(c: Conn) -> None:
    """A server that speaks first, and not HTTP (an SSH or telnet daemon on the port)."""
    c.writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
    await c.writer.drain()
    await _forever()


async def huge_body(c: Conn) -> None:
    """A declared 1 GiB body, sent as fast as the client reads."""
    await c.request()
    size = 1 << 30
    await c.answer(200, [("Content-Type", "application/json"), ("Content-Length", str(size))], b"")
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        c.writer.write(chunk)
        await c.writer.drain()


async def endless_chunked(c: Conn) -> None:
    """Chunked transfer encoding that never sends the last chunk."""
    await c.request()
    await c.answer(
        200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], b""
    )
    chunk = b"x" * 8192
    while True:
        c.writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await c.writer.drain()


async def endless_chunked_slow(c: Conn) -> None:
    """Endless chunks, small and steady: never large enough for the size cap in time."""
    await c.request()
    await c.answer(
        200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], b""
    )
    while True:
        c.writer.write(b"40\r\n" + b"{" * 64 + b"\r\n")
        await c.writer.drain()
        await asyncio.sleep(0.05)


async def drip(c: Conn) -> None:
    """Slowloris: the answer one byte per second; every read gets a byte well within any
    read timeout, so only the device's deadline ends it."""
    await c.request()
    body = b'{"Status": "2000", "data": {}}' * 100
    raw = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    for i in range(len(raw)):
        c.writer.write(raw[i : i + 1])
        await c.writer.drain()
        await asyncio.sleep(1.0)


async def drip_headers(c: Conn) -> None:
    """Slowloris in the headers: an endless header block, one header per second."""
    await c.request()
    c.writer.write(b"HTTP/1.1 200 OK\r\n")
    n = 0
    while True:
        n += 1
        c.writer.write(f"X-Drip-{n}: {'y' * 10}\r\n".encode())
        await c.writer.drain()
        await asyncio.sleep(0.5)


async def content_length_long(c: Conn) -> None:
    """Declares more than it sends, then closes."""
    await c.request()
    body = b'{"Status": "2000"'
    await c.answer(200, [("Content-Type", "application/json"), ("Content-Length", "5000")], body)
    c.writer.close()


async def content_length_long_open(c: Conn) -> None:
    """Declares more than it sends and keeps the connection open."""
    await c.request()
    body = b'{"Status": "2000"'
    await c.answer(200, [("Content-Type", "application/json"), ("Content-Length", "5000")], body)
    await _forever()


async def content_length_short(c: Conn) -> None:
    """Declares less than it sends: the client reads a cut-off document."""
    await c.request()
    body = b'{"Status": "2000", "data": {"ModelNumber": "VVX 450"}}'
    await c.answer(200, [("Content-Type", "application/json"), ("Content-Length", "12")], body)
    c.writer.close()


async def content_length_bad(c: Conn) -> None:
    await c.request()
    await c.answer(200, [("Content-Length", "-5")], b"{}")


async def not_json(c: Conn) -> None:
    await status(200, ("Content-Type", "application/json"), body=b"<html>login</html>")(c)


async def bad_tls(c: Conn) -> None:
    """Reads the ClientHello, answers with bytes that are not TLS."""
    await c.reader.read(4096)
    c.writer.write(b"\x15\x03\x03\x00\x02garbage after the hello \xff" * 4)
    await c.writer.drain()
    await _forever()


async def stalled_tls(c: Conn) -> None:
    """Accepts and reads the ClientHello, never answers the handshake."""
    await c.reader.read(4096)
    await _forever()


async def plain_http_on_tls(c: Conn) -> None:
    """An HTTPS address answered in plain HTTP (a web UI with TLS turned off)."""
    await c.reader.read(4096)
    await c.answer(400, [("Content-Length", "0")], b"")


NO_ANSWER = r"^no complete answer within \d+ s$"  # the device's deadline, retries included
# what TLS said, in words; never an OpenSSL error class read as an errno ("operation not
# permitted" was what a server that does not speak TLS got)
TLS_REASON = r"TLS failed: (?!operation not permitted)\w.+$"
UNREACHABLE, ERROR, AUTH = ("unreachable",), ("error",), ("auth-failed",)


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour, and how a sweep must report it: one of ``status``, with an error
    matching ``reason`` (a regular expression)."""

    name: str
    handler: Handler
    status: tuple[str, ...]
    reason: str
    tls: bool = False  # the inventory says https:// for this one
    serve_tls: bool = False  # the server speaks real TLS, then misbehaves inside it


def _code(n: int, *headers: tuple[str, str]) -> Fault:
    return Fault(f"status-{n}", status(n, *headers), ERROR, rf"\bHTTP {n}\b")


FAULTS: tuple[Fault, ...] = (
    Fault("hang-after-accept", hang_on_accept, UNREACHABLE, NO_ANSWER),
    Fault("hang-after-request", hang, UNREACHABLE, NO_ANSWER),
    Fault("reset", reset, ERROR, r"connection reset by peer$"),
    Fault(
        "accept-then-close",
        accept_close,
        ERROR,
        r"not a valid HTTP answer \(Server disconnected without sending a response|broken pipe$",
    ),
    Fault(
        "status-301-no-location",
        status(301),
        ERROR,
        r"HTTP 301(: a redirect without a Location| redirect to '')",
    ),
    Fault(
        "status-302-no-location",
        status(302),
        ERROR,
        r"HTTP 302(: a redirect without a Location| redirect to '')",
    ),
    Fault(
        "status-307-no-location",
        status(307),
        ERROR,
        r"HTTP 307(: a redirect without a Location| redirect to '')",
    ),
    Fault("status-404", status(404), ERROR, r"\b404\b|has no web API"),
    _code(500),
    _code(502),
    Fault("status-503-retry-after", status(503, ("Retry-After", "3600")), ERROR, r"\bHTTP 503\b"),
    _code(504),
    _code(999),
    Fault("status-204-empty", status(204), ERROR, r"\bHTTP 204\b"),
    Fault("status-100-only", status(100), UNREACHABLE, NO_ANSWER),
    Fault("401-forever-basic", unauthorised_forever, AUTH, r"HTTP 401: credentials refused$"),
    Fault(
        "401-forever-digest", unauthorised_digest_forever, AUTH, r"HTTP 401: credentials refused$"
    ),
    Fault("401-no-challenge", status(401), AUTH, r"HTTP 401: credentials refused$"),
    Fault("403", status(403), (*AUTH, *ERROR), r"HTTP 403\b"),
    Fault("redirect-loop", redirect_loop, ERROR, r"HTTP 302:? (a )?redirect to '/"),
    Fault(
        "redirect-other-host",
        redirect_elsewhere,
        ERROR,
        r"HTTP 302:? (a )?redirect to 'http://127\.\d+\.250\.250:8080/",
    ),
    Fault(
        "redirect-with-credentials",
        redirect_with_credentials,
        ERROR,
        rf"HTTP 302:? (a )?redirect to '(?!.*{CANARY}).*127\.\d+\.250\.250:8080/",
    ),
    Fault("garbage", garbage, ERROR, r"not a valid HTTP answer \(illegal status line"),
    Fault("garbage-first", garbage_on_accept, UNREACHABLE, NO_ANSWER),
    Fault(
        "not-json",
        not_json,
        ERROR,
        r"answer is not JSON|not an Avaya settings script|XML answer without a <",
    ),
    Fault("huge-body", huge_body, ERROR, r"answer larger than 4194304 bytes; stopped reading$"),
    Fault(
        "endless-chunked",
        endless_chunked,
        ERROR,
        r"answer larger than 4194304 bytes; stopped reading$",
    ),
    Fault("endless-chunked-slow", endless_chunked_slow, UNREACHABLE, NO_ANSWER),
    Fault("drip-body", drip, UNREACHABLE, NO_ANSWER),
    Fault("drip-headers", drip_headers, UNREACHABLE, NO_ANSWER),
    Fault(
        "content-length-long-close",
        content_length_long,
        ERROR,
        r"peer closed connection without sending complete message body",
    ),
    Fault("content-length-long-open", content_length_long_open, UNREACHABLE, NO_ANSWER),
    Fault(
        "content-length-short",
        content_length_short,
        ERROR,
        r"answer is not JSON|not an Avaya settings script|not well-formed",
    ),
    Fault("content-length-negative", content_length_bad, ERROR, r"bad Content-Length"),
    Fault("bad-tls", bad_tls, UNREACHABLE, TLS_REASON, tls=True),
    Fault("stalled-tls", stalled_tls, UNREACHABLE, NO_ANSWER, tls=True),
    Fault("plain-http-on-tls", plain_http_on_tls, UNREACHABLE, TLS_REASON, tls=True),
    Fault(
        "tls-then-garbage",
        garbage,
        ERROR,
        r"not a valid HTTP answer \(illegal status line",
        tls=True,
        serve_tls=True,
    ),
    Fault("tls-then-drip", drip, UNREACHABLE, NO_ANSWER, tls=True, serve_tls=True),
)


def held(fault: Fault, device: dict[str, object] | None) -> str | None:
    """None when ``device`` (its JSON in the report) shows ``fault`` reported as it must be;
    else what is wrong."""
    import re

    if device is None:
        return "missing from the report"
    error = str(device.get("error") or "")
    if device["status"] not in fault.status:
        return f"status {device['status']!r}, not {'/'.join(fault.status)} ({error})"
    if not re.search(fault.reason, error):
        return f"reason {error!r} does not say /{fault.reason}/"
    if "Traceback" in error or "Error(" in error:
        return f"raw exception text in {error!r}"
    return None


@dataclass(slots=True)
class FaultServers:
    """Faults served at the given places, ``(fault name, address, port)`` each, plus a trap
    host that counts any connection a redirect would lead to; started and stopped with
    ``with``."""

    where: list[tuple[str, str, int]]
    trap: tuple[str, int]
    tls_context: ssl.SSLContext | None = None
    trap_hits: int = 0
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _servers: list[asyncio.Server] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _thread: threading.Thread | None = None

    def __enter__(self) -> FaultServers:
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        except BaseException:  # an address taken: close what did start, then say so
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        by_name = {f.name: f for f in FAULTS}
        for name, host, port in self.where:
            fault = by_name[name]
            ctx = self.tls_context if fault.serve_tls else None
            srv = await asyncio.start_server(
                self._wrap(fault.handler), host, port, ssl=ctx, reuse_address=True
            )
            self._servers.append(srv)
        self._servers.append(await asyncio.start_server(self._trap, *self.trap, reuse_address=True))

    def _wrap(self, handler: Handler) -> Callable[..., Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(Conn(reader, writer, self.trap))
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
                pass  # the client gave up on us: what the fault is for
            except (asyncio.LimitOverrunError, asyncio.CancelledError):
                pass  # an oversized request head, or the lab stopping
            finally:
                self._tasks.discard(task)
                writer.close()

        return serve

    async def _trap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.trap_hits += 1
        writer.close()

    async def _stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for srv in self._servers:
            srv.close()
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1)


def main() -> None:
    """Sweep every fault against every vendor once; print what held: faults survived / tried."""
    import tempfile
    from pathlib import Path

    from tests.faults.conftest import PROFILES, sweep_faults

    cases = [(f.name, p) for f in FAULTS for p in PROFILES]
    with tempfile.TemporaryDirectory() as d:
        result = sweep_faults(Path(d), cases)
    if result.returncode == 2:
        print(result.stderr)
    by_name = {f.name: f for f in FAULTS}
    wrong = {c: why for c in cases if (why := held(by_name[c[0]], result.by_case.get(c)))}
    faults_ok = sum(1 for f in FAULTS if not any(c[0] == f.name for c in wrong))
    for (fault, profile), why in sorted(wrong.items()):
        print(f"FAILED {fault} ({profile}): {why}")
    print(
        f"faults survived / tried: {faults_ok}/{len(FAULTS)} "
        f"(cases {len(cases) - len(wrong)}/{len(cases)} over {len(PROFILES)} vendors); "
        f"sweep exit {result.returncode}, {result.wall_s:.1f} s, redirect trap hits "
        f"{result.trap_hits}"
    )


if __name__ == "__main__":
    main()
