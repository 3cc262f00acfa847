"""netmiko as a transport for any device type it knows, run in a bounded thread pool
(netmiko is synchronous; each connection holds a thread for its whole session)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fleet.collect.ssh import SshTarget
from fleet.errors import AuthFailed, DeviceError, ProtocolError, Unreachable


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
            return {cmd: conn.send_command(cmd) for cmd in commands}
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
