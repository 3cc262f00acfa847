"""The options a sweep and its hosts carry to the transports.

Plain data with no imports from the rest of fleet, so the inventory (which builds hosts that
carry these) does not import the crawler, which imports the inventory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TlsOptions:
    verify: bool = True
    ca: str | None = None


@dataclass(frozen=True, slots=True)
class SshOptions:
    known_hosts: str | None = None  # a known_hosts file; None: ~/.ssh/known_hosts
    accept_unknown_host_keys: bool = False


@dataclass(slots=True)
class CrawlOptions:
    concurrency: int = 200
    device_timeout: float = 30.0  # the whole exchange with one device, retries included
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.25
    ssh_handshakes: int = 10  # SSH logins under way at once, apart from `concurrency`
    netmiko_workers: int = 20  # threads for netmiko sessions
