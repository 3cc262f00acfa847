"""The transport interface and the registry that maps ``host.transport`` to one.

A transport reads one device over one kind of interface and hands back what the profile
parsed; the crawler around it owns scheduling, the per-device deadline, retries and the one
outcome per host. Tests swap a transport for a fake one (``fleet.collect.fake``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from fleet.collect.http import HttpTransport
from fleet.collect.netmiko_transport import NetmikoTransport
from fleet.collect.options import CrawlOptions
from fleet.collect.ssh import SshTransport
from fleet.collect.unpooled import UnpooledTransport  # its old home: keep the import working

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile

__all__ = ["Transport", "TransportFactory", "UnpooledTransport", "register", "registry"]


class Transport(Protocol):
    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        """One attempt at reading ``host``; failures raise a DeviceError."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (clients, threads); called once per sweep."""
        ...


# Built once per sweep, and only for the transports its hosts use (netmiko's thread pool is
# not started for a sweep of phones).
TransportFactory = Callable[[CrawlOptions], Transport]

_REGISTRY: dict[str, TransportFactory] = {
    "http": HttpTransport,
    "ssh": SshTransport,
    "netmiko": NetmikoTransport,
}


def register(name: str, factory: TransportFactory) -> None:
    """Make ``factory`` the transport of hosts with ``transport: name``."""
    _REGISTRY[name] = factory


def registry() -> Mapping[str, TransportFactory]:
    return dict(_REGISTRY)
