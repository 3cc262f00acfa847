"""One small HTTP/1.1 server per lab device, on the device's own loopback address.

h11 (already under httpx) does the protocol; this module adds the device's auth challenge
(Basic or Digest, RFC 7616 with MD5 as phones use it) and the seeded transport faults, then
hands the request to the vendor's simulator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import ssl
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import h11

from fleet.lab.spec import LabDevice, LabRequest, LabResponse

Handler = Callable[[LabDevice, LabRequest], LabResponse]
REALM = "fleet-lab"
MAX_REQUEST = 1024 * 1024


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()  # RFC 7616 MD5, as phones use it


def _parse_auth_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _split_commas(value):
        k, _, v = part.strip().partition("=")
        out[k.strip().lower()] = v.strip().strip('"')
    return out


def _split_commas(s: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def check_auth(dev: LabDevice, scheme: str, req: LabRequest) -> LabResponse | None:
    """None when the request carries the device's credentials; else the 401 challenge."""
    user, password = dev.spec.admin_user, dev.spec.admin_password
    header = req.headers.get("authorization", "")
    if scheme == "basic" and header.lower().startswith("basic "):
        try:
            u, _, p = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            u, p = "", ""
        if u == user and p == password:
            return None
    if scheme == "digest" and header.lower().startswith("digest "):
        a = _parse_auth_params(header[7:])
        if a.get("username") == user and a.get("nonce") in dev.sessions.get("_nonces", ()):
            ha1 = _md5(f"{user}:{REALM}:{password}")
            ha2 = _md5(f"{req.method}:{a.get('uri', '')}")
            if a.get("qop"):
                expect = _md5(
                    f"{ha1}:{a['nonce']}:{a.get('nc')}:{a.get('cnonce')}:{a['qop']}:{ha2}"
                )
            else:
                expect = _md5(f"{ha1}:{a['nonce']}:{ha2}")
            if a.get("response") == expect:
                return None
    if scheme == "basic":
        challenge = f'Basic realm="{REALM}"'
    else:
        nonce = os.urandom(12).hex()
        nonces = dev.sessions.setdefault("_nonces", [])
        nonces.append(nonce)
        del nonces[:-8]
        challenge = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}"'
    return LabResponse(401, "Unauthorized", headers=[("WWW-Authenticate", challenge)])


class DeviceServer:
    """Serves one device until closed."""

    def __init__(
        self, dev: LabDevice, handler: Handler, auth: str, ssl_ctx: ssl.SSLContext | None
    ) -> None:
        self.dev, self.handler, self.auth, self.ssl_ctx = dev, handler, auth, ssl_ctx
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._conn,
            self.dev.spec.address,
            self.dev.spec.port,
            ssl=self.ssl_ctx,
            backlog=128,
            reuse_address=True,
        )

    async def close(self) -> None:
        # A device stuck mid-answer (the "slow" fault) must not outlive the lab.
        for task in list(self._tasks):
            task.cancel()
        if self.server:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (
            ConnectionError,
            h11.ProtocolError,
            asyncio.IncompleteReadError,
            ssl.SSLError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self.dev.spec.fault
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            got = await _read_request(conn, reader)
            if got is None:
                return
            req, body = got
            self.dev.requests += 1
            if fault == "garbage":
                writer.write(b"\x00\x17\x03garbage \xff\xfe not http at all\r\n\r\n")
                await writer.drain()
                return
            if fault == "slow":
                await asyncio.sleep(3600)
            if fault == "huge":
                await self._huge(conn, writer)
                return
            resp = self._answer(_to_lab_request(req, body))
            payload = resp.body.encode() if isinstance(resp.body, str) else resp.body
            headers = [
                ("Content-Type", resp.content_type),
                ("Content-Length", str(len(payload))),
                ("Server", "fleet-lab"),
                *resp.headers,
            ]
            writer.write(conn.send(h11.Response(status_code=resp.status, headers=headers)))
            writer.write(conn.send(h11.Data(data=payload)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    def _answer(self, req: LabRequest) -> LabResponse:
        """The seeded HTTP status, else the auth challenge, else the simulator's answer."""
        fault = self.dev.spec.fault
        if fault and fault.startswith("http") and fault[4:].isdigit():
            return LabResponse(int(fault[4:]), "fault seeded by the lab")
        if self.auth not in ("session", "none"):
            challenge = check_auth(self.dev, self.auth, req)
            if challenge is not None:
                return challenge
        try:
            return self.handler(self.dev, req)
        except Exception as e:  # a simulator bug must show, not hang the client
            return LabResponse(500, f"simulator error: {e!r}")

    async def _huge(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        size = 256 * 1024 * 1024
        writer.write(
            conn.send(
                h11.Response(
                    status_code=200,
                    headers=[("Content-Type", "application/json"), ("Content-Length", str(size))],
                )
            )
        )
        chunk = b"x" * 65536
        for _ in range(size // len(chunk)):
            writer.write(conn.send(h11.Data(data=chunk)))
            await writer.drain()


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes] | None:
    """The next request and its body; None when the client is gone or sends too much."""
    req: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data and conn.their_state is h11.IDLE:
                return None
            continue
        if isinstance(event, h11.Request):
            req = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_REQUEST:
                return None
        elif isinstance(event, h11.EndOfMessage):
            break
        elif isinstance(event, h11.ConnectionClosed):
            return None
    assert req is not None
    return req, bytes(body)


def _to_lab_request(req: h11.Request, body: bytes) -> LabRequest:
    target = req.target.decode("latin-1")
    parts = urlsplit(target)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in req.headers}
    return LabRequest(
        method=req.method.decode(),
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=body,
    )
