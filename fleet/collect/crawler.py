"""The async crawler: bounded concurrency, per-device deadline, retries on transient errors
only, and one outcome per host whatever happens (a host's failure never stops the sweep).

A device's deadline measures the device, not fleet's own queueing: its clock starts when the
device gets its turn (the concurrency semaphore), and the time fleet's event loop was too busy
to look at it (other devices' parsing and handshakes, a starved process) is not counted
(``_Busy``), nor the time a transport spent in fleet's own queues (``options.queued``: a
handshake slot, a worker thread). A device that really hangs is still cut when its own time
is up.

How a device is read is its transport's business (``fleet.collect.transport``); the crawler
looks the transport up by ``host.transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fleet import profiles
from fleet.collect import transport as transports_mod
from fleet.collect.options import FLEET_TIME, QUEUED, CrawlOptions, FleetTime
from fleet.collect.outputs import parse_outputs
from fleet.collect.transport import Transport, TransportFactory
from fleet.errors import DeviceError, HttpStatusError, Unreachable, bug_text
from fleet.inventory import Host
from fleet.model import Collected

__all__ = ["CrawlOptions", "Fetched", "crawl", "crawl_into", "parse_outputs"]

T = TypeVar("T")


@dataclass(slots=True)
class Fetched:
    host: Host
    collected: Collected | None
    error: DeviceError | None
    elapsed_s: float
    attempts: int


def _transient(e: DeviceError) -> bool:
    if isinstance(e, HttpStatusError):
        return e.transient
    return isinstance(e, Unreachable)


class _Busy:
    """How late fleet's event loop runs a short timer, summed: time fleet was busy elsewhere.

    When the loop is saturated, every device's answer waits in fleet's own queue; a healthy
    device must not be timed out for that. Read with ``late()``, which counts the lateness of
    the tick still pending, so a device woken in the same loop pass as a late tick sees it."""

    TICK = 0.02

    def __init__(self) -> None:
        self._late = 0.0
        self._due = time.monotonic() + self.TICK

    def late(self) -> float:
        return self._late + max(0.0, time.monotonic() - self._due)

    async def run(self) -> None:
        while True:
            self._due = time.monotonic() + self.TICK
            await asyncio.sleep(self.TICK)
            self._late += max(0.0, time.monotonic() - self._due)


_GC_YOUNG = 20_000  # gen-0 collections after this many new objects, not 700, during a crawl


@dataclass(slots=True)
class _GcState:
    crawls: int = 0  # crawls under way
    saved: tuple[int, int, int] = (700, 10, 10)  # the thresholds to restore after the last


_GC = _GcState()


@contextlib.contextmanager
def _patient_gc() -> Iterator[None]:
    """Fewer, cheaper garbage collections while devices are read.

    A crawl keeps many devices' requests in flight for seconds, so with CPython's defaults
    their short-lived objects outlive two young collections and reach the old generation,
    whose full collections then scan the growing heap: at 5,000 phones a third of the sweep's
    CPU went to the collector, twice as much per phone as at 500. A larger young generation
    lets them die young, and objects from before the sweep (modules, profiles, inventory) are
    frozen out of the scans. Counted, so overlapping crawls restore the thresholds once."""
    if _GC.crawls == 0:
        _GC.saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(_GC_YOUNG, 20, 20)
    _GC.crawls += 1
    try:
        yield
    finally:
        _GC.crawls -= 1
        if _GC.crawls == 0:
            gc.set_threshold(*_GC.saved)
            gc.unfreeze()


async def crawl(
    hosts: Sequence[Host],
    wanted: dict[str, list[str]],
    opts: CrawlOptions,
    on_done: Callable[[Fetched], None] | None = None,
    *,
    transports: Mapping[str, TransportFactory] | None = None,
) -> list[Fetched]:
    """Fetch every host; results come back in the order of ``hosts``.

    ``transports`` replaces the registry (tests pass fake ones)."""
    return await crawl_into(hosts, wanted, opts, _same, on_done, transports=transports)


def _same(f: Fetched) -> Fetched:
    return f


async def crawl_into(
    hosts: Sequence[Host],
    wanted: dict[str, list[str]],
    opts: CrawlOptions,
    handle: Callable[[Fetched], T],
    on_done: Callable[[Fetched], None] | None = None,
    *,
    transports: Mapping[str, TransportFactory] | None = None,
) -> list[T]:
    """:func:`crawl`, each host's outcome turned by ``handle`` as soon as it is read, in the
    order of ``hosts``: what a device answered is held only until ``handle`` returns, so a
    sweep that parses, checks and stores it there keeps no device's raw text (the crawl's
    memory is then the devices in flight, not the fleet)."""
    factories = transports if transports is not None else transports_mod.registry()
    sem = asyncio.Semaphore(opts.concurrency)
    busy = _Busy()
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(_patient_gc())
        ticker = asyncio.ensure_future(busy.run())
        stack.push_async_callback(_cancelled, ticker)
        io: dict[str, Transport] = {}
        for name in dict.fromkeys(h.transport for h in hosts):
            if name in factories:
                io[name] = factories[name](opts)
                stack.push_async_callback(io[name].aclose)

        async def one(host: Host) -> T:
            async with sem:
                res = await _fetch_one(io, host, wanted.get(host.profile, []), opts, busy)
            if on_done:
                on_done(res)
            return handle(res)

        return list(await asyncio.gather(*(one(h) for h in hosts)))


async def _attempt(io: Mapping[str, Transport], host: Host, wanted: list[str]) -> Collected:
    """One attempt at reading ``host`` over its transport."""
    transport = io.get(host.transport)
    if transport is None:
        raise DeviceError(f"unknown transport {host.transport!r} (known: {', '.join(io)})")
    try:
        prof = profiles.get(host.profile)
    except KeyError:
        raise DeviceError(f"unknown profile {host.profile!r}") from None
    return await transport.read(host, prof, wanted)


async def _cancelled(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):  # its outcome is moot now
        await task


async def _fetch_one(
    io: Mapping[str, Transport], host: Host, wanted: list[str], opts: CrawlOptions, busy: _Busy
) -> Fetched:
    start = time.monotonic()
    attempts = 0
    timeout = host.timeout or opts.device_timeout
    fleet_time = FleetTime(busy.late)
    FLEET_TIME.set(fleet_time)  # the attempts' tasks inherit these (transports' ``queued``)
    QUEUED.set(fleet_time.queued)

    def left() -> float:
        """What is left of the device's own time: wall time less fleet's own time."""
        return timeout - (time.monotonic() - start) + fleet_time.seconds()

    error: DeviceError | None = None
    while True:
        attempts += 1
        try:
            collected = await _within(_attempt(io, host, wanted), left)
            return Fetched(host, collected, None, time.monotonic() - start, attempts)
        except TimeoutError:
            error = Unreachable(f"no complete answer within {timeout:g} s")
            break
        except DeviceError as e:
            error = e
        except Exception as e:  # a profile bug on one device must not stop the sweep
            error = DeviceError(bug_text("fetch", host.profile, e))
            break
        pause = opts.backoff * (2 ** (attempts - 1))
        if not _transient(error) or attempts > opts.retries or pause >= left():
            break
        await asyncio.sleep(pause)
    return Fetched(host, None, error, time.monotonic() - start, attempts)


async def _within(coro: Coroutine[Any, Any, Collected], left: Callable[[], float]) -> Collected:
    """``coro``'s result, or TimeoutError once ``left()`` reaches 0; the wait is re-armed
    while fleet's busy time keeps pushing the device's deadline back."""
    task = asyncio.ensure_future(coro)
    try:
        while (remaining := left()) > 0:
            done, _ = await asyncio.wait((task,), timeout=remaining)
            if done:
                return task.result()
        raise TimeoutError
    finally:
        if not task.done():
            await _cancelled(task)
