"""The options a sweep and its hosts carry to the transports.

Plain data with no imports from the rest of fleet, so the inventory (which builds hosts that
carry these) does not import the crawler, which imports the inventory; and ``queued``, with
which a transport marks a wait that is fleet's, not the device's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Queued:
    """Seconds one device's attempts spent waiting in fleet's own queues, the wait under way
    included (a device whose deadline comes while it still waits must see it)."""

    __slots__ = ("_since", "_total", "_waiting")

    def __init__(self) -> None:
        self._total = 0.0
        self._since = 0.0
        self._waiting = 0  # waits under way (a transport may wait in two queues at once)

    def seconds(self) -> float:
        pending = time.monotonic() - self._since if self._waiting else 0.0
        return self._total + pending

    def _enter(self) -> None:
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting += 1

    def _leave(self) -> None:
        self._waiting -= 1
        if not self._waiting:
            self._total += time.monotonic() - self._since


class FleetTime:
    """The seconds fleet itself took from one device's deadline: its event loop busy with
    other work (``late``, a running sum of the loop's lateness) and its own queues."""

    __slots__ = ("_late", "_late0", "queued")

    def __init__(self, late: Callable[[], float]) -> None:
        self._late = late
        self._late0 = late()
        self.queued = Queued()

    def seconds(self) -> float:
        return self._late() - self._late0 + self.queued.seconds()


# The current device's accounts; the crawler sets them per device, its attempts inherit them.
FLEET_TIME: ContextVar[FleetTime | None] = ContextVar("fleet_time", default=None)
QUEUED: ContextVar[Queued | None] = ContextVar("fleet_queued", default=None)


def fleet_seconds() -> float:
    """Fleet's own seconds so far in the current device's exchange (0 outside a crawl)."""
    ft = FLEET_TIME.get()
    return ft.seconds() if ft is not None else 0.0


async def queued(aw: Awaitable[T]) -> T:
    """``await aw``, a wait in one of fleet's own queues (a handshake slot, a thread of a
    pool): the time it takes is fleet's, not the device's, so it is not counted against the
    device's deadline. Outside a crawl it is a plain await."""
    acc = QUEUED.get()
    if acc is None:
        return await aw
    acc._enter()
    try:
        return await aw
    finally:
        acc._leave()


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
