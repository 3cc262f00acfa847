"""netmiko as a transport for any device type it knows, run in a bounded thread pool
(netmiko is synchronous; each connection holds a thread for its whole session)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fleet.collect.options import CrawlOptions, queued
from fleet.collect.outputs import parse_outputs
from fleet.collect.ssh import SshTarget, host_key_text, target_of, why
from fleet.errors import AuthFailed, DeviceError, ProtocolError, Unreachable
from fleet.platform import Platform

# paramiko logs its transport thread's failures with a traceback (a banner that never comes,
# a reset); fleet reports each as the device's error, so nothing goes to stderr by itself.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile


def _run(
    target: SshTarget, device_type: str, commands: list[str], timeout: float
) -> dict[str, str]:
    from netmiko import ConnectHandler

    opts = target.options
    params = {
        "device_type": device_type,
        "host": target.hostname,
        "port": target.port,
        "username": target.username or "",
        "password": target.password or "",
        "secret": target.enable_password or "",
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        "read_timeout_override": timeout,
        "fast_cli": True,
        "use_keys": False,
        "allow_agent": False,
        "ssh_strict": not opts.accept_unknown_host_keys,
        "system_host_keys": False,
        "alt_host_keys": bool(opts.known_hosts),
        "alt_key_file": opts.known_hosts or "",
    }
    try:
        with ConnectHandler(**params) as conn:
            if target.enable_password:
                conn.enable()
            return {cmd: str(conn.send_command(cmd)) for cmd in commands}
    except Exception as e:  # netmiko's and paramiko's own errors: said as what happened
        raise _explain(e, target, device_type, timeout) from e


def _explain(e: Exception, target: SshTarget, device_type: str, timeout: float) -> DeviceError:
    """netmiko wraps what happened (socket and paramiko errors) in its own exceptions, with
    advice paragraphs; say what happened, as the asyncssh transport does."""
    import paramiko
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        NetmikoTimeoutException,
        ReadTimeout,
    )

    where = f"SSH to {target.hostname}:{target.port}"
    root = _root(e)
    text = str(root)
    if isinstance(e, NetmikoAuthenticationException):
        return AuthFailed(f"SSH login refused for user {target.username!r}")
    if isinstance(root, paramiko.BadHostKeyException):
        return DeviceError(host_key_text(target, _known(target), mismatch=True))
    if isinstance(root, paramiko.SSHException) and "not found in known_hosts" in text:
        return DeviceError(host_key_text(target, _known(target), mismatch=False))
    if isinstance(e, ReadTimeout):
        # logged in: not "unreachable", which the crawler would try again
        return ProtocolError(
            f"logged in, but netmiko's {device_type} driver did not see the prompt it waits "
            f"for within {timeout:g} s"
        )
    if isinstance(root, paramiko.ssh_exception.NoValidConnectionsError):
        first = next(iter(root.errors.values()), None)
        return Unreachable(f"{where}: {why(first) if first else 'no connection'}")
    if isinstance(root, OSError) and not isinstance(root, TimeoutError):
        return Unreachable(f"{where}: {why(root, target.hostname)}")
    if "DNS failure" in str(e):
        return Unreachable(f"{where}: name not found: {target.hostname!r} has no address")
    if "Error reading SSH protocol banner" in text:
        return Unreachable(f"{where}: no SSH banner within {timeout:g} s (or not an SSH server)")
    if isinstance(e, NetmikoTimeoutException):
        return Unreachable(f"{where}: SSH handshake timed out after {timeout:g} s")
    if isinstance(e, ValueError) and "device_type" in str(e):
        return DeviceError(f"netmiko has no driver for device_type {device_type!r}")
    return DeviceError(f"netmiko ({device_type}): {type(root).__name__} during the session")


def _root(e: BaseException) -> BaseException:
    """The first exception under netmiko's own: what paramiko or the socket said."""
    seen = e
    for _ in range(8):
        inner = seen.__cause__ or seen.__context__
        if inner is None:
            break
        seen = inner
        if not type(seen).__module__.startswith("netmiko"):
            break
    return seen


def _known(target: SshTarget) -> str:
    return target.options.known_hosts or "~/.ssh/known_hosts"


async def run(
    target: SshTarget,
    device_type: str,
    commands: list[str],
    pool: ThreadPoolExecutor,
    timeout: float = 30.0,
) -> dict[str, str]:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    def session() -> dict[str, str]:
        loop.call_soon_threadsafe(started.set)
        return _run(target, device_type, commands, timeout)

    fut = loop.run_in_executor(pool, session)
    begun = asyncio.ensure_future(started.wait())
    try:
        # waiting for a free thread is fleet's queue, not the device's time (the future ends
        # first if the pool drops it unstarted)
        await queued(asyncio.wait((begun, fut), return_when=asyncio.FIRST_COMPLETED))
    except BaseException:
        fut.cancel()  # still queued: never runs; already running: runs out its timeouts
        raise
    finally:
        begun.cancel()
    return await fut


class NetmikoTransport:
    """The inventory's ``commands`` (else the profile's platform commands) through netmiko's
    driver for the host's ``device_type``."""

    def __init__(self, opts: CrawlOptions) -> None:
        self.threads = ThreadPoolExecutor(opts.netmiko_workers, thread_name_prefix="netmiko")
        self.read_timeout = opts.read_timeout

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if not host.device_type:
            raise DeviceError("transport netmiko needs a device_type (netmiko's name for it)")
        commands = host.commands or _platform_commands(profile)
        if not commands:
            raise DeviceError("no commands to run: list them under commands: in the inventory")
        outputs = await run(
            target_of(host), host.device_type, commands, self.threads, self.read_timeout
        )
        return parse_outputs(profile, outputs)

    async def aclose(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)


def _platform_commands(profile: Profile) -> list[str]:
    plat = profile.platform
    if plat is None:
        return []
    if isinstance(plat, Platform):
        return list(plat.commands)
    return list(plat.get("commands", []))
