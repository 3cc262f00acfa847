"""netmiko as a transport for any device type it knows, run in a bounded thread pool
(netmiko is synchronous; each connection holds a thread for its whole session)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fleet.collect.options import CrawlOptions
from fleet.collect.outputs import parse_outputs
from fleet.collect.ssh import SshTarget, target_of
from fleet.errors import AuthFailed, DeviceError, ProtocolError, Unreachable
from fleet.platform import Platform

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile


def _run(
    target: SshTarget, device_type: str, commands: list[str], timeout: float
) -> dict[str, str]:
    from netmiko import ConnectHandler
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        NetmikoTimeoutException,
        ReadTimeout,
    )

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
    except NetmikoAuthenticationException as e:
        raise AuthFailed(f"SSH login refused for user {target.username!r}") from e
    except NetmikoTimeoutException as e:
        raise Unreachable(
            f"SSH to {target.hostname}:{target.port}: {str(e).splitlines()[0]}"
        ) from e
    except ReadTimeout as e:
        raise ProtocolError(f"no prompt from the device: {str(e).splitlines()[0]}") from e
    except Exception as e:  # paramiko's own errors (host key, protocol) end here
        raise DeviceError(
            f"netmiko ({device_type}): {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from e


async def run(
    target: SshTarget,
    device_type: str,
    commands: list[str],
    pool: ThreadPoolExecutor,
    timeout: float = 30.0,
) -> dict[str, str]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, _run, target, device_type, commands, timeout)


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
