"""Run lab SBCs: one SSH server per SBC with a fresh host key, and their known_hosts lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncssh

from fleet.lab import registry
from fleet.lab.spec import LabSbc, LabSbcDevice
from fleet.lab.sshd import SshDeviceServer, host_key

__all__ = ["RunningSbcs", "device", "host_key", "known_hosts_line", "start"]


@dataclass(slots=True)
class RunningSbcs:
    devices: dict[str, LabSbcDevice] = field(default_factory=dict)
    servers: list[SshDeviceServer] = field(default_factory=list)
    known_hosts: list[str] = field(default_factory=list)  # OpenSSH known_hosts lines

    async def close(self) -> None:
        for s in self.servers:
            await s.close()
        self.servers.clear()


def device(spec: LabSbc) -> LabSbcDevice:
    return LabSbcDevice(spec=spec, config=registry.sbc(spec.profile).render(spec))


def known_hosts_line(spec: LabSbc, key: asyncssh.SSHKey) -> str:
    kind, blob = key.export_public_key("openssh").decode().split()[:2]
    return f"[{spec.address}]:{spec.port} {kind} {blob}"


async def start(
    specs: list[LabSbc],
    into: RunningSbcs | None = None,
    keys: dict[str, asyncssh.SSHKey] | None = None,
) -> RunningSbcs:
    """Serve each SBC with its host key from ``keys`` (made here when missing)."""
    running = into or RunningSbcs()
    keys = keys if keys is not None else {}
    for spec in specs:
        dev = device(spec)
        running.devices[spec.id] = dev
        key = keys.setdefault(spec.id, host_key())
        if spec.fault == "down":
            continue
        srv = SshDeviceServer(dev, registry.sbc(spec.profile).cli, key)
        await srv.start()
        running.servers.append(srv)
        running.known_hosts.append(known_hosts_line(spec, key))
    return running
