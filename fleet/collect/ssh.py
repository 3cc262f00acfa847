"""SSH transport: an interactive CLI session driven by the profile's platform data.

The platform (``device_profiles/<name>/platform.yaml``) says what the prompt looks like,
how to enter enable mode, which commands switch paging off, what a paging marker looks like
and which commands print the configuration; this module only follows it (scrapli's idea:
a platform is data, not a class).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from fleet.collect.options import CrawlOptions, SshOptions
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

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile

__all__ = ["Platform", "SshOptions", "SshTarget", "SshTransport", "run_cli", "target_of"]

MAX_OUTPUT = 8 * 1024 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]")


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


class SshTransport:
    """An interactive CLI session per host, following the profile's platform; logins are
    bounded by their own semaphore, apart from the sweep's concurrency."""

    def __init__(self, opts: CrawlOptions) -> None:
        self.handshakes = asyncio.Semaphore(opts.ssh_handshakes)
        self.connect_timeout = opts.connect_timeout
        self.read_timeout = opts.read_timeout
        self._platforms: dict[str, Platform] = {}

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        outputs = await run_cli(
            target_of(host),
            self._platform(profile),
            self.handshakes,
            self.connect_timeout,
            self.read_timeout,
        )
        return parse_outputs(profile, outputs)

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
) -> dict[str, str]:
    """Log in, switch paging off, run the platform's commands; returns {command: output}."""
    known = _known_hosts(target.options)
    try:
        async with handshake:  # devices drop bursts of unauthenticated connections
            conn = await asyncio.wait_for(
                asyncssh.connect(
                    target.hostname,
                    target.port,
                    username=target.username,
                    password=target.password,
                    known_hosts=known,
                    client_keys=None,
                    agent_path=None,
                    preferred_auth="password,keyboard-interactive",
                    login_timeout=connect_timeout,
                ),
                connect_timeout,
            )
    except asyncssh.PermissionDenied as e:
        raise AuthFailed(f"SSH login refused for user {target.username!r}") from e
    except asyncssh.HostKeyNotVerifiable as e:
        raise DeviceError(
            f"SSH host key not trusted ({e.reason}): add it to the known_hosts file or set "
            "ssh: {accept_unknown_host_keys: true} for this host"
        ) from e
    except (TimeoutError, OSError) as e:
        raise Unreachable(
            f"SSH to {target.hostname}:{target.port}: {_why(e) or 'timed out'}"
        ) from e
    except asyncssh.Error as e:
        raise ProtocolError(f"SSH to {target.hostname}:{target.port}: {e.reason}") from e
    try:
        async with conn:
            proc = await conn.create_process(
                term_type="vt100", term_size=(511, 24), encoding="utf-8", errors="replace"
            )
            cli = _Cli(proc, platform, read_timeout)
            await cli.until_prompt("login")
            if platform.enable and target.enable_password is not None:
                await cli.enable(target.enable_password)
            for cmd in platform.setup:
                await cli.run(cmd)
            outputs = {cmd: await cli.run(cmd) for cmd in platform.commands}
            proc.stdin.write(platform.exit + "\n")
    except asyncssh.Error as e:
        raise ProtocolError(f"SSH session ended: {e.reason}") from e
    except (ConnectionError, asyncssh.misc.ConnectionLost) as e:
        raise ProtocolError(f"SSH session ended: {e}") from e
    return outputs


class _Cli:
    def __init__(self, proc: Any, platform: Platform, read_timeout: float) -> None:
        self.proc, self.platform, self.timeout = proc, platform, read_timeout
        self.prompt = re.compile(platform.prompt)
        self.more = re.compile(platform.more) if platform.more else None
        self.total = 0

    async def until_prompt(self, after: str, prompt: re.Pattern[str] | None = None) -> str:
        want = prompt or self.prompt
        buf = ""
        while True:
            try:
                chunk = await asyncio.wait_for(self.proc.stdout.read(65536), self.timeout)
            except TimeoutError as e:
                tail = _overwrite(buf.rsplit("\n", 1)[-1]).strip()
                if tail and after != "login":
                    # output that stops on a line that is neither the prompt nor a pager
                    # marker fleet knows: the box differs from its platform description
                    raise ProtocolError(
                        f"output after {after!r} stopped at {tail[-40:]!r}, which is neither "
                        "the prompt nor a pager marker this profile knows"
                    ) from e
                raise Unreachable(f"no prompt within {self.timeout:g} s after {after!r}") from e
            if not chunk:
                raise ProtocolError(f"the device closed the session after {after!r}")
            self.total += len(chunk)
            if self.total > MAX_OUTPUT:
                raise ResponseTooLarge(f"more than {MAX_OUTPUT} bytes of CLI output")
            buf += _ANSI.sub("", chunk.replace("\r\n", "\n"))
            if self.more and (m := _last(self.more, buf)) and not buf[m.end() :].strip():
                buf = buf[: m.start()]
                self.proc.stdin.write(" ")
                continue
            tail = _overwrite(buf.rsplit("\n", 1)[-1])
            if want.search(tail):
                return "\n".join(_overwrite(line) for line in buf.split("\n"))

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


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007
        pass
    return found


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno:
        return os.strerror(e.errno).lower()
    return str(e)
