"""One SSH server per lab SBC, on the SBC's own loopback address.

asyncssh does the protocol; the vendor's simulator supplies a CLI session object (banner,
prompt, what each command prints, whether paging is on), and this module reads and echoes
the typed lines (``Keys``) and pages long output behind the vendor's ``--More--`` marker as
the box does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import asyncssh

from fleet.lab.spec import LabSbcDevice

PAGE_LINES = 23


class CliSession(Protocol):
    closed: bool
    paging: bool  # page long output
    more: str  # the paging marker the box prints
    secret_input: bool  # the next line is a password: no echo

    def banner(self) -> str: ...
    def prompt(self) -> str: ...
    def handle(self, line: str) -> str: ...


class LabAuth(asyncssh.SSHServer):
    """The box's login: its one admin account, by password."""

    def __init__(self, dev: LabSbcDevice) -> None:
        self.dev = dev

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.dev.spec.admin_user and password == self.dev.spec.admin_password


class SshDeviceServer:
    """One SBC's SSH server. The fault lab (tests/faults/ssh_servers.py) makes misbehaving
    servers from it by overriding ``auth`` (the login side of a connection) or ``respond``
    (what one command line prints)."""

    def __init__(
        self,
        dev: LabSbcDevice,
        session: Callable[[LabSbcDevice], CliSession],
        host_key: asyncssh.SSHKey,
    ) -> None:
        self.dev, self.session, self.host_key = dev, session, host_key
        self.server: Any = None
        self._keys: dict[Any, Keys] = {}  # each open session's keyboard

    async def start(self) -> None:
        self.server = await asyncssh.create_server(
            self.auth,
            self.dev.spec.address,
            self.dev.spec.port,
            server_host_keys=[self.host_key],
            process_factory=self.process,
            reuse_address=True,
            login_timeout=30,
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def auth(self) -> asyncssh.SSHServer:
        """The server side of one new connection."""
        return LabAuth(self.dev)

    async def process(self, process: asyncssh.SSHServerProcess) -> None:
        sess = self.session(self.dev)
        self.dev.sessions += 1
        keys = self._keys[process] = Keys(process)  # the pager reads the same typed-ahead keys
        try:
            process.stdout.write(_crlf(sess.banner()))
            while not sess.closed:
                process.stdout.write(sess.prompt())
                secret = sess.secret_input
                line = await keys.line(echo=not secret)
                if line is None:
                    break
                if not secret:
                    self.dev.commands.append(line)
                await self.respond(process, sess, line)
        except (
            asyncssh.BreakReceived,
            asyncssh.TerminalSizeChanged,
            ConnectionError,
            asyncssh.DisconnectError,
        ):
            pass
        finally:
            self._keys.pop(process, None)
            with contextlib.suppress(Exception):
                process.exit(0)

    async def respond(self, process: Any, sess: CliSession, cmd: str) -> None:
        """Print what the box prints for one command line."""
        await self.write(process, sess, sess.handle(cmd))

    async def read_key(self, process: Any) -> str:
        """The next key pressed in ``process``'s session (a pager's), "" at its end."""
        return await self._keys[process].key()

    async def write(self, process: Any, sess: CliSession, text: str) -> None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # a final newline is no line of its own to page
            text_end = "\n"
        else:
            text_end = ""
        if not sess.paging or len(lines) <= PAGE_LINES:
            process.stdout.write(_crlf(text))
            return
        while lines:
            page, lines = lines[:PAGE_LINES], lines[PAGE_LINES:]
            process.stdout.write(_crlf("\n".join(page)) + ("\r\n" if lines else _crlf(text_end)))
            if not lines:
                break
            process.stdout.write(sess.more)
            key = await self.read_key(process)
            process.stdout.write("\r" + " " * len(sess.more) + "\r")
            if key in ("q", "Q", ""):
                break


class Keys:
    """What the user types, read as a box's CLI reads it: a line is echoed when the CLI takes
    it, so lines typed ahead (netmiko sends several returns at once) come back one prompt at a
    time. asyncssh's line editor would echo each on arrival, before any prompt, and the
    prompts would then run together on one line; it is switched off for the session."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.pending = ""
        self.after_cr = False  # "\r\n" is one end of line
        self.raw = process.get_terminal_type() is not None  # a pty: the line editor is on
        if self.raw:
            process.channel.set_line_mode(False)

    async def _more(self) -> bool:
        got = await self.process.stdin.read(1024)
        self.pending += got
        return bool(got)

    async def key(self) -> str:
        """One key (the pager's), or "" at the end of the session."""
        if not self.pending and not await self._more():
            return ""
        key, self.pending = self.pending[0], self.pending[1:]
        return key

    async def line(self, *, echo: bool) -> str | None:
        """The next line (None at the end of the session), echoed as it is taken."""
        typed: list[str] = []
        while True:
            if not self.pending and not await self._more():
                return None
            ch, self.pending = self.pending[0], self.pending[1:]
            if ch == "\n" and self.after_cr:
                self.after_cr = False
                continue
            self.after_cr = ch == "\r"
            if ch in "\r\n":
                break
            if ch in "\x7f\b":
                if typed:
                    typed.pop()
                continue
            typed.append(ch)
        text = "".join(typed)
        if self.raw:
            self.process.stdout.write((text if echo else "") + "\r\n")
        return text


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def host_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")
