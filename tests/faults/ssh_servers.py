"""Misbehaving SSH servers for the fault lab, each a real server on a loopback address.

Each fault is something real boxes and networks do:

- ``banner-then-silence``: the version line arrives, then nothing (a wedged sshd; a middlebox
  that passes the first packet and drops the rest).
- ``garbage-banner``: something else listens on the port (here an HTTP server's 400 answer).
- ``auth-refused``: the account's password was changed on the box.
- ``no-prompt``: the login succeeds, then the box prints a banner and never a prompt.
- ``endless-paging``: the pager ignores ``terminal length 0`` and the output never ends.
- ``max-startups``: OpenSSH's ``MaxStartups N`` (sshd_config(5): "the maximum number of
  concurrent unauthenticated connections to the SSH daemon"; with a single number, connections
  beyond it are dropped). sshd closes the new socket before it writes its version line;
  ``max-startups-after-banner`` closes it right after, as other SSH stacks do;
  ``drops-every-handshake`` closes every one (``MaxStartups 0``, a TCP wrapper's deny).
- ``reset-mid-output``: a TCP reset halfway through ``show running-config``.
- ``huge-output``: ``show running-config`` never ends and is never paged.

Beside the faults: ``healthy`` (the lab's server with counters: the host-key cases, where the
known_hosts file is what is wrong), ``slow-login`` (each password check takes 0.15 s, as with
RADIUS or TACACS+ behind the box) and ``nothing-listens`` (no server: the port is closed).

``ssh_fault_lab`` serves one of them beside a healthy lab SBC and writes the inventory, golden,
secrets and known_hosts a `fleet sweep` needs. The healthy servers are the lab's own
(``fleet.lab.sshd`` with the vendor's simulator), and the faulty ones are built from the same
server, so a sweep meets the same protocol code.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import yaml

from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc, LabSbcDevice
from fleet.lab.sshd import CliSession, LabAuth, SshDeviceServer

PROFILE = "cisco_cube"  # the faulty boxes speak IOS until they misbehave
CONFIG_COMMAND = "show running-config"

FAULTS = (
    "banner-then-silence",
    "garbage-banner",
    "auth-refused",
    "no-prompt",
    "endless-paging",
    "max-startups",
    "max-startups-after-banner",
    "drops-every-handshake",
    "reset-mid-output",
    "huge-output",
)


@dataclass(slots=True)
class Counters:
    """What the server saw: a test asserts on these (no second login after a refusal)."""

    connections: int = 0
    dropped: int = 0  # closed before login (MaxStartups)
    logins: int = 0  # password attempts
    sessions: int = 0  # shells opened after a login
    most_in_flight: int = 0  # unauthenticated connections at once (MaxStartups)


class RawTcpFault:
    """Not SSH at all underneath: writes ``greeting`` on each connection and then holds the
    connection open until the client goes."""

    def __init__(self, address: str, port: int, greeting: bytes) -> None:
        self.address, self.port, self.greeting = address, port, greeting
        self.counters = Counters()
        self.server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, self.address, self.port, reuse_address=True
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters.connections += 1
        self._open.add(writer)
        try:
            writer.write(self.greeting)
            await writer.drain()
            while await reader.read(65536):  # whatever the client says, nothing comes back
                pass
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()

    async def close(self) -> None:
        for w in list(self._open):
            w.close()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


class FaultSshServer(SshDeviceServer):
    """The lab's SSH server with counters; the faults below override one hook each."""

    def __init__(self, dev: LabSbcDevice, key: asyncssh.SSHKey) -> None:
        super().__init__(dev, registry.sbc(dev.spec.profile).cli, key)
        self.counters = Counters()
        self.conns: set[asyncssh.SSHServerConnection] = set()

    async def close(self) -> None:
        for conn in list(self.conns):  # the sessions a fault keeps busy end with the server
            conn.abort()
        await super().close()
        await asyncio.sleep(0.05)  # their tasks see the end before the loop stops

    def auth(self) -> asyncssh.SSHServer:
        return _CountingAuth(self)

    async def process(self, process: asyncssh.SSHServerProcess) -> None:
        self.counters.sessions += 1
        await super().process(process)


class _CountingAuth(LabAuth):
    def __init__(self, server: FaultSshServer) -> None:
        super().__init__(server.dev)
        self.server = server

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.server.counters.connections += 1
        self.server.conns.add(conn)
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.conns.discard(self.conn)

    def validate_password(self, username: str, password: str) -> bool:
        self.server.counters.logins += 1
        return self.accept(username, password)

    def accept(self, username: str, password: str) -> bool:
        return super().validate_password(username, password)


class AuthRefused(FaultSshServer):
    def auth(self) -> asyncssh.SSHServer:
        return _Refusing(self)


class _Refusing(_CountingAuth):
    def accept(self, username: str, password: str) -> bool:
        return False


class SlowLogin(FaultSshServer):
    """Healthy, but each password check takes LOGIN_S (a box checking RADIUS or TACACS+)."""

    LOGIN_S = 0.15

    def auth(self) -> asyncssh.SSHServer:
        return _SlowAuth(self)


class _SlowAuth(_CountingAuth):
    async def validate_password(self, username: str, password: str) -> bool:  # type: ignore[override]
        self.server.counters.logins += 1
        await asyncio.sleep(SlowLogin.LOGIN_S)
        return self.accept(username, password)


class NoPrompt(FaultSshServer):
    async def process(self, process: asyncssh.SSHServerProcess) -> None:
        self.counters.sessions += 1
        process.stdout.write("\r\nAuthorized access only.\r\n")
        with contextlib.suppress(Exception):
            while await process.stdin.read(1024):  # never a prompt, whatever is typed
                pass
        with contextlib.suppress(Exception):
            process.exit(0)


class EndlessPaging(FaultSshServer):
    """Pages the configuration forever, whatever the terminal length was set to."""

    async def respond(self, process: Any, sess: CliSession, cmd: str) -> None:
        if cmd.strip() != CONFIG_COMMAND:
            await super().respond(process, sess, cmd)
            return
        n = 0
        while True:
            page = "".join(f"interface GigabitEthernet0/0/{n + i}\r\n" for i in range(23))
            n += 23
            process.stdout.write(page + sess.more)
            key = await self.read_key(process)
            if key in ("", "q", "Q"):
                return
            process.stdout.write("\r" + " " * len(sess.more) + "\r")


class HugeOutput(FaultSshServer):
    """``show running-config`` streams lines until the client goes away."""

    async def respond(self, process: Any, sess: CliSession, cmd: str) -> None:
        if cmd.strip() != CONFIG_COMMAND:
            await super().respond(process, sess, cmd)
            return
        chunk = "".join(
            f" description filler line {i:06d} of a config that never ends\r\n" for i in range(512)
        )
        while not process.channel.is_closing():
            process.stdout.write(chunk)
            await process.stdout.drain()


class ResetMidOutput(FaultSshServer):
    """Half of ``show running-config``, then a TCP reset (SO_LINGER 0: RST, not FIN)."""

    async def respond(self, process: Any, sess: CliSession, cmd: str) -> None:
        if cmd.strip() != CONFIG_COMMAND:
            await super().respond(process, sess, cmd)
            return
        text = sess.handle(cmd).replace("\n", "\r\n")
        process.stdout.write(text[: len(text) // 2])
        await process.stdout.drain()
        await asyncio.sleep(0.05)  # let the half reach the client before the reset
        conn = process.channel.get_connection()
        sock = conn.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.abort()
        await asyncio.sleep(3600)  # the session is gone; this task goes with it


class MaxStartups(FaultSshServer):
    """Drops a new connection while ``limit`` unauthenticated ones are in flight."""

    limit = 5
    after_banner = False

    def __init__(self, dev: LabSbcDevice, key: asyncssh.SSHKey) -> None:
        super().__init__(dev, key)
        self.in_flight = 0

    def auth(self) -> asyncssh.SSHServer:
        return _Startup(self)


class MaxStartupsAfterBanner(MaxStartups):
    after_banner = True


class DropsEvery(MaxStartups):
    """Closes every connection before its banner (``MaxStartups 0``; a TCP wrapper's deny)."""

    limit = 0


class _Startup(_CountingAuth):
    server: MaxStartups

    def __init__(self, server: MaxStartups) -> None:
        super().__init__(server)
        self.counted = False

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        super().connection_made(conn)
        srv = self.server
        if srv.in_flight >= srv.limit:
            srv.counters.dropped += 1
            if srv.after_banner:  # asyncssh writes its version line once this returns
                asyncio.get_running_loop().call_soon(conn.abort)
            else:
                conn.abort()
            return
        self.counted = True
        srv.in_flight += 1
        srv.counters.most_in_flight = max(srv.counters.most_in_flight, srv.in_flight)

    def auth_completed(self) -> None:
        self._done()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._done()

    def _done(self) -> None:
        if self.counted:
            self.counted = False
            self.server.in_flight -= 1


class NothingListens:
    """No server at all: the port is closed (the box is up, its SSH service is not)."""

    def __init__(self) -> None:
        self.counters = Counters()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


_SSH_FAULTS: dict[str, type[FaultSshServer]] = {
    "healthy": FaultSshServer,  # for the host-key cases: the server is fine, the file is not
    "slow-login": SlowLogin,
    "auth-refused": AuthRefused,
    "no-prompt": NoPrompt,
    "endless-paging": EndlessPaging,
    "max-startups": MaxStartups,
    "max-startups-after-banner": MaxStartupsAfterBanner,
    "drops-every-handshake": DropsEvery,
    "reset-mid-output": ResetMidOutput,
    "huge-output": HugeOutput,
}
_RAW_FAULTS: dict[str, bytes] = {
    "banner-then-silence": b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n",
    "garbage-banner": (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
        b"Connection: close\r\n\r\nBad Request"
    ),
}


def fault_server(fault: str, dev: LabSbcDevice, key: asyncssh.SSHKey) -> Any:
    """The server for ``fault`` at ``dev``'s address (``start()``, ``close()``, ``counters``)."""
    if fault == "nothing-listens":
        return NothingListens()
    if fault in _RAW_FAULTS:
        return RawTcpFault(dev.spec.address, dev.spec.port, _RAW_FAULTS[fault])
    return _SSH_FAULTS[fault](dev, key)


class _LoopThread:
    """An event loop in a thread of its own, so a child `fleet sweep` meets live servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass(slots=True)
class FaultLab:
    folder: Path
    inventory: Path
    golden: Path
    good: LabSbc  # a healthy lab SBC swept alongside
    faulty: list[LabSbc]  # the inventory's entries for the faulty server (one, or many)
    server: Any  # the faulty server: ``counters``
    good_device: LabSbcDevice
    extra: dict[str, Any] = field(default_factory=dict)


def _spec(net: int, k: int, name: str) -> LabSbc:
    sim = registry.sbc(PROFILE)
    return LabSbc(
        id=f"lon-sbc-{name}",
        profile=PROFILE,
        site="lon",
        address=f"127.{net}.255.{k}",
        port=labfleet.SSH_PORT,
        hostname=f"lon-sbc-{name}",
        admin_user=sim.admin_user,
        admin_password=labfleet.ADMIN_PASSWORD,
        enable_password=labfleet.ENABLE_PASSWORD,
        phone_networks=[f"127.{net}.0.0/16"],
        emergency_numbers=["999", "112"],
    )


def _reserve_net(start: int) -> tuple[int, socket.socket]:
    """A free 127.N net, held the way ``labfleet.free_net`` tests it (a socket bound on
    127.N.0.1 at the lab's port), so other labs started meanwhile choose another."""
    for _ in range(20):
        net = labfleet.free_net(start)
        s = socket.socket()
        try:
            s.bind((f"127.{net}.0.1", labfleet.PORT))
        except OSError:  # another lab took it between the test and the bind
            s.close()
            start = net + 1
            continue
        return net, s
    raise RuntimeError("no free 127.x net for the SSH fault lab")


@contextlib.contextmanager
def ssh_fault_lab(
    folder: Path,
    fault: str,
    *,
    copies: int = 1,
    timeout: float | None = None,
    net_from: int = 60,
    tweak: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[FaultLab]:
    """One healthy lab SBC and one server with ``fault``, served on loopback until the block
    ends, with the inventory, golden, secrets and known_hosts in ``folder``. ``copies`` puts
    that many inventory entries on the faulty server's one address and port (a MaxStartups
    limit is the server's, whoever the connections are for); ``timeout`` is the faulty
    entries' deadline; ``tweak`` edits the inventory dict before it is written."""
    net, held = _reserve_net(net_from)
    with contextlib.closing(held):
        lab, key = _write(folder, net, copies, timeout, tweak)
        good, faulty = lab.sbcs[0], lab.sbcs[1:]
        thread = _LoopThread()
        try:
            thread.run(labsbc.start([good], lab.ssh, lab.host_keys))
            server = fault_server(fault, labsbc.device(faulty[0]), key)
            thread.run(server.start())
            try:
                yield FaultLab(
                    folder,
                    folder / "inventory.yaml",
                    folder / "golden.yaml",
                    good,
                    faulty,
                    server,
                    lab.ssh.devices[good.id],
                )
            finally:
                thread.run(server.close())
                thread.run(lab.ssh.close())
        finally:
            thread.stop()


def _write(
    folder: Path,
    net: int,
    copies: int,
    timeout: float | None,
    tweak: Callable[[dict[str, Any]], None] | None,
) -> tuple[labfleet.LabFleet, asyncssh.SSHKey]:
    good = _spec(net, 1, "good")
    faulty = [_spec(net, 2, f"faulty-{i + 1}") for i in range(copies)]
    for s in faulty:
        s.fault = "down"  # the lab does not serve it: the fault server does
    lab = labfleet.LabFleet([], [good, *faulty], net)
    key = labsbc.host_key()  # one server, one key, whichever entry names it
    lab.host_keys = {s.id: key for s in faulty} | {good.id: labsbc.host_key()}
    inv, _ = labfleet.write_files(lab, folder)
    data = yaml.safe_load(inv.read_text())
    if timeout is not None:  # the healthy SBC keeps the default: it must not race a short one
        for s in faulty:
            data["hosts"][s.id]["timeout"] = timeout
    if tweak is not None:
        tweak(data)
    inv.write_text(yaml.safe_dump(data, sort_keys=False))
    return lab, key
