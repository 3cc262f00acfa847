"""One SSH server per lab SBC, on the SBC's own loopback address.

asyncssh does the protocol and the line editing; the vendor's simulator supplies a CLI
session object (banner, prompt, what each command prints, whether paging is on), and this
module pages long output behind the vendor's ``--More--`` marker as the box does.
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


class _Auth(asyncssh.SSHServer):
    def __init__(self, dev: LabSbcDevice) -> None:
        self.dev = dev

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.dev.spec.admin_user and password == self.dev.spec.admin_password


class SshDeviceServer:
    def __init__(
        self,
        dev: LabSbcDevice,
        session: Callable[[LabSbcDevice], CliSession],
        host_key: asyncssh.SSHKey,
    ) -> None:
        self.dev, self.session, self.host_key = dev, session, host_key
        self.server: Any = None

    async def start(self) -> None:
        self.server = await asyncssh.create_server(
            lambda: _Auth(self.dev),
            self.dev.spec.address,
            self.dev.spec.port,
            server_host_keys=[self.host_key],
            process_factory=self._process,
            reuse_address=True,
            login_timeout=30,
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _process(self, process: asyncssh.SSHServerProcess) -> None:
        sess = self.session(self.dev)
        self.dev.sessions += 1
        try:
            process.stdout.write(_crlf(sess.banner()))
            while not sess.closed:
                process.stdout.write(sess.prompt())
                secret = sess.secret_input
                if secret:
                    _echo(process, False)
                line = await process.stdin.readline()
                if secret:
                    _echo(process, True)
                    process.stdout.write("\r\n")
                if not line:
                    break
                cmd = line.rstrip("\r\n")
                if not secret:
                    self.dev.commands.append(cmd)
                await self._write(process, sess, sess.handle(cmd))
        except (
            asyncssh.BreakReceived,
            asyncssh.TerminalSizeChanged,
            ConnectionError,
            asyncssh.DisconnectError,
        ):
            pass
        finally:
            with contextlib.suppress(Exception):
                process.exit(0)

    async def _write(self, process: Any, sess: CliSession, text: str) -> None:
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
            process.channel.set_line_mode(False)
            try:
                key = await process.stdin.read(1)
            finally:
                process.channel.set_line_mode(True)
            process.stdout.write("\r" + " " * len(sess.more) + "\r")
            if key in ("q", "Q", ""):
                break


def _echo(process: asyncssh.SSHServerProcess, on: bool) -> None:
    # The line editor asyncssh puts on a pty channel echoes; its type is not in the stubs.
    channel: Any = process.channel
    channel.set_echo(on)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def host_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")
