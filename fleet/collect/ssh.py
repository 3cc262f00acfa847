"""SSH transport: an interactive CLI session driven by the profile's platform data.

The platform (``device_profiles/<name>/platform.yaml``) says what the prompt looks like,
how to enter enable mode, which commands switch paging off, what a paging marker looks like
and which commands print the configuration; this module only follows it (scrapli's idea:
a platform is data, not a class).

The device's deadline bounds the whole exchange: login, retries of dropped handshakes and
every command's output; it counts the device's time, not fleet's (a wait for a handshake slot
is fleet's queue: ``options.queued``), and ends just before the crawler's, so what this
module says of the device (paging never stopped) is its reason.

A handshake the server drops before any credential was sent (OpenSSH ``MaxStartups``) is
tried again, with backoff and jitter, and lowers the number of handshakes fleet keeps in
flight toward that address; nothing is ever tried again once a password went out (a second
login can lock the account, and counts twice in the box's log).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from fleet.collect.options import CrawlOptions, SshOptions, fleet_seconds, queued
from fleet.collect.outputs import parse_outputs
from fleet.errors import (
    AuthFailed,
    ConfigFileError,
    DeviceError,
    ProtocolError,
    ResponseTooLarge,
    Unreachable,
)
from fleet.platform import Platform
from fleet.redact import redact_text

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile

__all__ = [
    "Budget",
    "Drops",
    "HandshakeGate",
    "HandshakeGates",
    "Platform",
    "SshOptions",
    "SshTarget",
    "SshTransport",
    "host_key_text",
    "run_cli",
    "target_of",
    "why",
]

MAX_OUTPUT = 8 * 1024 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]")
_MARKER_TAIL = 512  # a pager marker is the last thing on the screen: look for it only there

# Handshake retries: the first pause is about RETRY_BASE, doubling up to RETRY_CAP, each
# between half and all of that (jitter, so connections dropped together do not come back
# together); a retry needs at least RETRY_ROOM of the deadline left to be worth starting.
RETRY_BASE = 0.1
RETRY_CAP = 2.0
RETRY_ROOM = 0.5


@dataclass(slots=True)
class SshTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    enable_password: str | None = None
    options: SshOptions = field(default_factory=SshOptions)


def target_of(host: Host) -> SshTarget:
    return SshTarget(
        host.hostname,
        host.port,
        host.username,
        host.password.value if host.password else None,
        host.enable.value if host.enable else None,
        host.ssh,
    )


class Budget:
    """One device's time, counted as the crawler counts it: from its first attempt, less what
    fleet itself took (its busy event loop, its own queues: ``options.fleet_seconds``), and
    ``margin`` short of the crawler's, so the transport stops first and says why."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.margin = min(0.5, seconds / 10)
        self.start = time.monotonic()
        self.fleet0 = fleet_seconds()

    def left(self) -> float:
        spent = time.monotonic() - self.start - (fleet_seconds() - self.fleet0)
        return self.seconds - self.margin - spent


class HandshakeGate:
    """SSH handshakes in flight toward one address, with a limit that halves when the server
    drops a handshake and grows back by one per window of successes (TCP's congestion
    avoidance): a server with ``MaxStartups 5`` settles at or under 5 and stays served."""

    def __init__(self, limit: int) -> None:
        self.ceiling = self.limit = max(1, limit)
        self.busy = 0
        self.drops = 0
        self._credit = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Take one handshake slot; returns the limit it was granted under."""
        while self.busy >= self.limit:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake()  # woken, then cancelled: the slot goes to the next one
                raise
            finally:
                with suppress(ValueError):
                    self._waiters.remove(fut)
        self.busy += 1
        return self.limit

    def release(self) -> None:
        self.busy -= 1
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.busy
        for fut in self._waiters:
            if free <= 0:
                break
            if not fut.done():
                fut.set_result(None)
                free -= 1

    def dropped(self, granted: int) -> None:
        # Drops of handshakes started under the same limit are one signal, not many: halve
        # from the limit they started under, once.
        self.drops += 1
        self.limit = max(1, min(self.limit, granted // 2))
        self._credit = 0.0

    def succeeded(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._credit += 1 / self.limit
        if self._credit >= 1:
            self._credit = 0.0
            self.limit += 1
            self._wake()


class HandshakeGates:
    """One gate per address (the inventory host's address without its port): MaxStartups is
    a limit of one sshd, and one sshd may listen on several ports of its address."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._gates: dict[str, HandshakeGate] = {}

    def gate(self, hostname: str) -> HandshakeGate:
        key = hostname.lower()
        g = self._gates.get(key)
        if g is None:
            g = self._gates[key] = HandshakeGate(self.limit)
        return g


class SshTransport:
    """An interactive CLI session per host, following the profile's platform; logins are
    bounded by their own semaphore, apart from the sweep's concurrency, and by a gate per
    address that backs off when that server drops handshakes."""

    def __init__(self, opts: CrawlOptions) -> None:
        self.handshakes = asyncio.Semaphore(opts.ssh_handshakes)
        self.gates = HandshakeGates(opts.ssh_handshakes)
        self.connect_timeout = opts.connect_timeout
        self.read_timeout = opts.read_timeout
        self.device_timeout = opts.device_timeout
        self._platforms: dict[str, Platform] = {}
        self._budgets: dict[str, Budget] = {}
        self._failed: dict[str, DeviceError] = {}
        self._drops: dict[str, Drops] = {}

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        target = target_of(host)
        budget = self._budget(host)
        before = self._failed.get(host.id)
        if before is not None and budget.left() < RETRY_ROOM:
            raise before  # a retry with no time left to try: the reason stays the real one
        try:
            outputs = await run_cli(
                target,
                self._platform(profile),
                self.handshakes,
                self.connect_timeout,
                self.read_timeout,
                budget=budget,
                gate=self.gates.gate(target.hostname),
                drops=self._drops.setdefault(host.id, Drops()),
            )
        except DeviceError as e:
            self._failed[host.id] = e
            raise
        return parse_outputs(profile, outputs)

    def _budget(self, host: Host) -> Budget:
        """The device's time, from the first attempt on (the crawler's retries share it)."""
        b = self._budgets.get(host.id)
        if b is None:
            b = Budget(host.timeout or self.device_timeout)
            self._budgets[host.id] = b
        return b

    def _platform(self, profile: Profile) -> Platform:
        # built once per profile and sweep while profiles still carry the parsed dict
        plat = self._platforms.get(profile.name)
        if plat is None:
            if profile.platform is None:
                raise DeviceError(f"profile {profile.name} has no CLI platform for SSH")
            try:
                plat = Platform.from_dict(profile.platform, f"profile {profile.name} platform")
            except ConfigFileError as e:
                raise DeviceError(str(e)) from e
            self._platforms[profile.name] = plat
        return plat

    async def aclose(self) -> None:
        return None


def _known_hosts(opts: SshOptions) -> Any:
    if opts.accept_unknown_host_keys:
        return None  # explicitly asked for in the inventory
    path = opts.known_hosts or str(Path("~/.ssh/known_hosts").expanduser())
    if not Path(path).is_file():
        raise DeviceError(
            f"host keys are checked and {path} does not exist: add the device's key to a "
            "known_hosts file (ssh: {known_hosts: PATH}) or accept unknown keys explicitly "
            "(ssh: {accept_unknown_host_keys: true})"
        )
    return path


async def run_cli(
    target: SshTarget,
    platform: Platform,
    handshake: asyncio.Semaphore,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    *,
    budget: Budget | None = None,
    gate: HandshakeGate | None = None,
    drops: Drops | None = None,
) -> dict[str, str]:
    """Log in, switch paging off, run the platform's commands; returns {command: output}.

    ``budget`` (the device's time) bounds everything; without one, the default device
    timeout does. ``gate`` limits the handshakes toward this address;
    ``drops`` counts the handshakes its server dropped, across the crawler's attempts."""
    known = _known_hosts(target.options)
    budget = budget if budget is not None else Budget(CrawlOptions().device_timeout)
    gate = gate if gate is not None else HandshakeGate(1)
    conn = await _login(target, known, handshake, gate, connect_timeout, budget, drops or Drops())
    cli: _Cli | None = None
    done = False
    try:
        proc = await conn.create_process(
            term_type="vt100", term_size=(511, 24), encoding="utf-8", errors="replace"
        )
        cli = _Cli(proc, platform, read_timeout, budget)
        await cli.until_prompt("login")
        if platform.enable and target.enable_password is not None:
            await cli.enable(target.enable_password)
        for cmd in platform.setup:
            await cli.run(cmd)
        outputs = {cmd: await cli.run(cmd) for cmd in platform.commands}
        proc.stdin.write(platform.exit + "\n")
        done = True
    except (asyncssh.Error, OSError) as e:
        after = cli.last if cli is not None else "login"
        raise ProtocolError(
            f"SSH session ended while waiting for the output of {after!r}: {_reason(e)}"
        ) from e
    finally:
        if not done:
            conn.abort()  # a session that failed or was cancelled owes the box no goodbye
    await _close(conn)
    return outputs


async def _close(conn: asyncssh.SSHClientConnection) -> None:
    conn.close()
    with suppress(Exception):
        async with asyncio.timeout(2):  # a box that never acknowledges the close is let go
            await conn.wait_closed()


class _Progress(asyncssh.SSHClient):
    """How far a connection got, for what to say when it fails and whether it may be tried
    again: nothing is retried once a credential was sent."""

    def __init__(self) -> None:
        self.conn: asyncssh.SSHClientConnection | None = None
        self.credentials_sent = False

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    @property
    def banner(self) -> str | None:
        return self.conn.get_extra_info("server_version") if self.conn is not None else None

    @property
    def other_lines(self) -> int:
        # asyncssh skips lines that precede the version line, as RFC 4253 4.2 allows, and
        # only counts them: a count above zero with no version is some other server.
        return int(getattr(self.conn, "_banner_lines", 0) or 0)


class _Dropped(Exception):
    """The server closed the connection before any credential was sent."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(slots=True)
class Drops:
    """Handshakes one device's server dropped, over all of the sweep's attempts at it."""

    count: int = 0
    first: float | None = None


async def _login(
    target: SshTarget,
    known: Any,
    handshakes: asyncio.Semaphore,
    gate: HandshakeGate,
    connect_timeout: float,
    budget: Budget,
    drops: Drops,
) -> asyncssh.SSHClientConnection:
    where = f"SSH to {target.hostname}:{target.port}"
    while True:
        try:
            return await _handshake(target, known, handshakes, gate, connect_timeout, budget)
        except _Dropped as e:
            drops.count += 1
            if drops.first is None:
                drops.first = time.monotonic()
            backoff = min(RETRY_CAP, RETRY_BASE * 2 ** (drops.count - 1))
            pause = backoff * random.uniform(0.5, 1.0)
            if pause + RETRY_ROOM >= budget.left():
                tries = "once" if drops.count == 1 else f"{drops.count} times"
                raise Unreachable(
                    f"{where}: the server closed the connection before login ({e.why}), "
                    f"{tries} in {time.monotonic() - drops.first:.1f} s: too many connections "
                    "at once for it? (OpenSSH drops those beyond its MaxStartups)"
                ) from None
            await asyncio.sleep(pause)


async def _handshake(
    target: SshTarget,
    known: Any,
    handshakes: asyncio.Semaphore,
    gate: HandshakeGate,
    connect_timeout: float,
    budget: Budget,
) -> asyncssh.SSHClientConnection:
    """One connection and login, within a slot of the address's gate and of the sweep's
    handshake semaphore (waiting for them is fleet's own queueing, not the device's time)."""
    where = f"SSH to {target.hostname}:{target.port}"
    granted = await queued(gate.acquire())
    try:
        await queued(handshakes.acquire())
        try:
            limit = min(connect_timeout, budget.left())
            if limit <= 0.05:
                raise DeviceError(_no_time(where, gate))
            conn = await _connect(target, known, gate, granted, limit)
        finally:
            handshakes.release()
    finally:
        gate.release()
    gate.succeeded()
    return conn


def _no_time(where: str, gate: HandshakeGate) -> str:
    return (
        f"{where}: no time left of the device's deadline to start a handshake ({gate.busy} "
        f"others in flight toward this address, {gate.drops} dropped by it)"
    )


async def _connect(
    target: SshTarget, known: Any, gate: HandshakeGate, granted: int, limit: float
) -> asyncssh.SSHClientConnection:
    where = f"SSH to {target.hostname}:{target.port}"
    progress = _Progress()
    password = target.password

    def send_password() -> str | None:
        progress.credentials_sent = True
        return password

    try:
        async with asyncio.timeout(max(limit, 0)):
            return await asyncssh.connect(
                target.hostname,
                target.port,
                username=target.username,
                password=send_password if password is not None else None,
                known_hosts=known,
                client_keys=None,
                agent_path=None,
                preferred_auth="password,keyboard-interactive",
                login_timeout=max(limit, 0) + 5,  # ours fires first and says which step
                client_factory=lambda: progress,
            )
    except asyncssh.PermissionDenied as e:
        raise AuthFailed(f"SSH login refused for user {target.username!r}") from e
    except asyncssh.HostKeyNotVerifiable as e:
        raise DeviceError(_host_key_text(target, known)) from e
    except TimeoutError as e:
        raise _timed_out(where, progress, limit) from e
    except (asyncssh.ConnectionLost, ConnectionError, asyncssh.DisconnectError) as e:
        raise _lost(where, e, progress, gate, granted) from e
    except OSError as e:
        raise Unreachable(f"{where}: {why(e, target.hostname)}") from e
    except asyncssh.Error as e:
        raise _protocol_text(where, e, progress) from e


def _lost(
    where: str, e: Exception, progress: _Progress, gate: HandshakeGate, granted: int
) -> Exception:
    """A connection that ended before the login did: dropped (tried again) while no
    credential was sent, else the end of this device's attempt."""
    too_many = isinstance(e, asyncssh.DisconnectError) and (
        e.code == asyncssh.DISC_TOO_MANY_CONNECTIONS
    )
    dropped = too_many or isinstance(e, (asyncssh.ConnectionLost, ConnectionError))
    if isinstance(e, ConnectionRefusedError):
        return Unreachable(f"{where}: connection refused (nothing listens there)")
    if not dropped:
        assert isinstance(e, asyncssh.Error)
        return _protocol_text(where, e, progress)
    if progress.credentials_sent:
        return DeviceError(
            f"{where}: the connection closed during login ({_reason(e)}); not tried again, "
            "since a second login could lock the account"
        )
    gate.dropped(granted)
    return _Dropped(_reason(e))


def _timed_out(where: str, progress: _Progress, seconds: float) -> DeviceError:
    limit = f"{seconds:.3g}"
    if progress.credentials_sent:
        return DeviceError(
            f"{where}: login sent, no answer within {limit} s; not tried again, since a "
            "second login could lock the account"
        )
    if progress.conn is None:
        return Unreachable(f"{where}: TCP connection timed out after {limit} s")
    if progress.banner:
        return Unreachable(
            f"{where}: SSH handshake timed out after {limit} s: the server sent "
            f"{progress.banner[:60]!r} and then nothing more"
        )
    if progress.other_lines:
        return ProtocolError(
            f"{where}: not an SSH server: it answered with {progress.other_lines} line(s) of "
            "something else and no SSH version line"
        )
    return Unreachable(f"{where}: connected, but no SSH banner within {limit} s")


def _protocol_text(where: str, e: asyncssh.Error, progress: _Progress) -> DeviceError:
    reason = e.reason or type(e).__name__
    if isinstance(e, asyncssh.ProtocolNotSupported):
        return ProtocolError(f"{where}: the server speaks an SSH version fleet does not ({reason})")
    if not progress.banner and reason in ("Too many banner lines", "Banner line too long"):
        return ProtocolError(f"{where}: not an SSH server: no SSH version line ({reason.lower()})")
    if isinstance(e, asyncssh.KeyExchangeFailed):
        return ProtocolError(
            f"{where}: no key exchange or cipher in common with the server ({reason})"
        )
    return ProtocolError(f"{where}: {reason}")


def _host_key_text(target: SshTarget, known: Any) -> str:
    """Unknown key or a changed one: the second may be an attack, and is said so."""
    try:
        listed = asyncssh.read_known_hosts(known).match(target.hostname, "", target.port)[0]
    except (OSError, ValueError, asyncssh.Error):
        listed = []
    return host_key_text(target, str(known), mismatch=bool(listed))


def host_key_text(target: SshTarget, known: str, *, mismatch: bool) -> str:
    """What to say of a host key fleet does not trust (the netmiko transport says it too)."""
    name = target.hostname if target.port == 22 else f"[{target.hostname}]:{target.port}"
    if mismatch:
        return (
            f"SSH host key mismatch: {name} offered a key that is not the one in {known} "
            "(the box was replaced or re-keyed, or something is in the middle); check it "
            "and update the known_hosts file"
        )
    return (
        f"SSH host key unknown: {name} is not in {known}; add its key to that file or set "
        "ssh: {accept_unknown_host_keys: true} for this host"
    )


class _Cli:
    def __init__(self, proc: Any, platform: Platform, read_timeout: float, budget: Budget) -> None:
        self.proc, self.platform, self.timeout = proc, platform, read_timeout
        self.budget = budget
        self.prompt = re.compile(platform.prompt)
        self.more = re.compile(platform.more) if platform.more else None
        self.total = 0
        self.last = "login"  # what the session is waiting for the output of

    async def until_prompt(self, after: str, prompt: re.Pattern[str] | None = None) -> str:
        want = prompt or self.prompt
        self.last = after
        buf = ""
        got = pages = 0
        while True:
            chunk = await self._read(after, buf, got, pages)
            if not chunk:
                raise ProtocolError(f"the device closed the session after {after!r}")
            got += len(chunk)
            self.total += len(chunk)
            if self.total > MAX_OUTPUT:
                raise ResponseTooLarge(
                    f"output of {after!r} did not end: more than {MAX_OUTPUT >> 20} MiB of "
                    f"CLI output{_paged(pages)}"
                )
            buf += _ANSI.sub("", chunk.replace("\r\n", "\n"))
            if self.more and (m := _pager(self.more, buf)) is not None:
                buf = buf[:m]
                pages += 1
                self.proc.stdin.write(" ")
                continue
            tail = _overwrite(buf.rsplit("\n", 1)[-1])
            if want.search(tail):
                return "\n".join(_overwrite(line) for line in buf.split("\n"))

    async def _read(self, after: str, buf: str, got: int, pages: int) -> str:
        while True:
            wait = min(self.timeout, self.budget.left())
            try:
                async with asyncio.timeout(max(wait, 0)):
                    chunk: str = await self.proc.stdout.read(65536)
                    return chunk
            except TimeoutError:
                pass  # not swallowed: what the timeout means is decided just below
            if wait >= self.timeout:
                break  # silence for the whole read timeout
            if self.budget.left() <= 0.01:
                raise self._late(after, buf, got, pages) from None
            # the device's time grew while waiting (fleet was busy elsewhere): wait on
        tail = _shown(buf)
        if after == "login":
            # logged in: nothing after this is retried, so this is no "unreachable"
            raise ProtocolError(
                f"logged in, but no prompt within {self.timeout:g} s"
                + (f": the session shows {tail!r}, which is not" if tail else "; expected")
                + " the prompt this profile knows"
            ) from None
        if tail:
            # output that stops on a line that is neither the prompt nor a pager marker fleet
            # knows: the box differs from its platform description
            raise ProtocolError(
                f"output after {after!r} stopped at {tail!r}, which is neither "
                "the prompt nor a pager marker this profile knows"
            ) from None
        raise ProtocolError(f"no prompt within {self.timeout:g} s after {after!r}") from None

    def _late(self, after: str, buf: str, got: int, pages: int) -> DeviceError:
        late = "by the device's deadline"
        tail = _shown(buf)
        if pages:
            return ProtocolError(
                f"output of {after!r} did not end {late}: paging never stopped ({pages} "
                f"pages, {got} bytes)"
            )
        if after == "login":
            shows = f": the session shows {tail!r}" if tail else ""
            return ProtocolError(f"logged in, but no prompt {late}{shows}")
        if got:
            return ProtocolError(
                f"output of {after!r} did not end {late}: {got} bytes and no prompt"
                + (f" (the last line is {tail!r})" if tail else "")
            )
        return ProtocolError(f"no answer to {after!r} {late}")

    async def run(self, cmd: str) -> str:
        self.proc.stdin.write(cmd + "\n")
        out = await self.until_prompt(cmd)
        lines = out.split("\n")
        if lines and cmd.strip() and cmd.strip() in lines[0]:
            lines = lines[1:]  # the echo
        body = "\n".join(lines[:-1]).strip("\n")  # without the prompt line
        for marker in self.platform.errors:
            if marker in body[:400]:
                raise ProtocolError(
                    f"the device rejected {cmd!r}: {body.strip().splitlines()[0][:120]}"
                )
        return body + "\n"

    async def enable(self, password: str) -> None:
        assert self.platform.enable is not None
        en = self.platform.enable
        self.proc.stdin.write(en.command + "\n")
        either = re.compile(f"(?:{en.password_prompt})|(?:{en.prompt})")
        out = await self.until_prompt("enable", either)
        if re.search(en.password_prompt, out.rsplit("\n", 1)[-1]):
            self.proc.stdin.write(password + "\n")
            out = await self.until_prompt("enable password", either)
        if not re.search(en.prompt, out.rsplit("\n", 1)[-1]):
            raise AuthFailed("enable password refused")


def _shown(buf: str) -> str:
    """The last line the screen shows, for an error message: redacted before it is cut, so a
    cut never separates a password from the word that marks it."""
    for line in reversed(buf.split("\n")):
        if text := _overwrite(line).strip():
            return redact_text(text + "\n").strip()[-40:]
    return ""


def _paged(pages: int) -> str:
    return f" in {pages} pages: paging never stopped" if pages else ""


def _pager(more: re.Pattern[str], buf: str) -> int | None:
    """Where the pager marker starts, if the screen ends with one (nothing but blanks after
    it); only the tail is searched, so a long output costs no rescans."""
    start = max(0, len(buf) - _MARKER_TAIL)
    found = None
    for found in more.finditer(buf, start):  # noqa: B007
        pass
    if found is None or buf[found.end() :].strip():
        return None
    return found.start()


def _overwrite(line: str) -> str:
    """What a terminal shows of ``line``: a bare carriage return goes back to the start of
    the line and a backspace over the last character (pagers erase their marker either way,
    IOS with backspaces, others with a return)."""
    line = line.rstrip("\r").rsplit("\r", 1)[-1]
    if "\b" not in line:
        return line
    out: list[str] = []
    for ch in line:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


def _reason(e: BaseException) -> str:
    if isinstance(e, asyncssh.Error):
        return (e.reason or type(e).__name__).rstrip(".").lower()
    return why(e)


def why(e: BaseException, hostname: str | None = None) -> str:
    """An OS error as what happened, not its errno: getaddrinfo's negative codes have no
    strerror ("unknown error -2")."""
    if isinstance(e, socket.gaierror):
        if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return f"name not found: {hostname!r} has no address" if hostname else "name not found"
        if e.errno == socket.EAI_AGAIN:
            return "name lookup failed: the DNS server did not answer (temporary failure)"
        return f"name lookup failed ({e.strerror or e})"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(e, OSError) and e.errno and e.errno > 0:
        return os.strerror(e.errno).lower()
    return str(e) or type(e).__name__
