"""A transport with no sockets, for tests of what the crawler does around a read.

``handler`` answers each read (httpx.MockTransport's idea): return a Collected, raise a
DeviceError, or sleep to stand in for a device that does not answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleet.inventory import Host
    from fleet.model import Collected
    from fleet.profiles import Profile

Handler = Callable[["Host", "Profile", Sequence[str]], Awaitable["Collected"]]


@dataclass(frozen=True, slots=True)
class Call:
    host: str
    at: float  # time.monotonic() when the read started
    wanted: tuple[str, ...]


class FakeTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[Call] = []
        self.closed = 0

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        self.calls.append(Call(host.id, time.monotonic(), tuple(wanted)))
        return await self.handler(host, profile, wanted)

    async def aclose(self) -> None:
        self.closed += 1

    def attempts(self, host_id: str) -> list[float]:
        """When each read of ``host_id`` started."""
        return [c.at for c in self.calls if c.host == host_id]
