"""The async crawler: bounded concurrency, per-device deadline, retries on transient errors
only, and one outcome per host whatever happens (a host's failure never stops the sweep).

How a device is read is its transport's business (``fleet.collect.transport``); the crawler
looks the transport up by ``host.transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fleet import profiles
from fleet.collect import transport as transports_mod
from fleet.collect.options import CrawlOptions
from fleet.collect.outputs import parse_outputs
from fleet.collect.transport import Transport, TransportFactory
from fleet.errors import DeviceError, HttpStatusError, Unreachable, bug_text
from fleet.inventory import Host
from fleet.model import Collected

__all__ = ["CrawlOptions", "Fetched", "crawl", "parse_outputs"]


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
    factories = transports if transports is not None else transports_mod.registry()
    sem = asyncio.Semaphore(opts.concurrency)
    async with contextlib.AsyncExitStack() as stack:
        io: dict[str, Transport] = {}
        for name in dict.fromkeys(h.transport for h in hosts):
            if name in factories:
                io[name] = factories[name](opts)
                stack.push_async_callback(io[name].aclose)

        async def one(host: Host) -> Fetched:
            async with sem:
                res = await _fetch_one(io, host, wanted.get(host.profile, []), opts)
            if on_done:
                on_done(res)
            return res

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


async def _fetch_one(
    io: Mapping[str, Transport], host: Host, wanted: list[str], opts: CrawlOptions
) -> Fetched:
    start = time.monotonic()
    attempts = 0
    deadline = start + (host.timeout or opts.device_timeout)
    error: DeviceError | None = None
    while True:
        attempts += 1
        try:
            remaining = deadline - time.monotonic()
            collected = await asyncio.wait_for(_attempt(io, host, wanted), remaining)
            return Fetched(host, collected, None, time.monotonic() - start, attempts)
        except TimeoutError:
            error = Unreachable(
                f"no complete answer within {host.timeout or opts.device_timeout:g} s"
            )
            break
        except DeviceError as e:
            error = e
        except Exception as e:  # a profile bug on one device must not stop the sweep
            error = DeviceError(bug_text("fetch", host.profile, e))
            break
        pause = opts.backoff * (2 ** (attempts - 1))
        if not _transient(error) or attempts > opts.retries or time.monotonic() + pause >= deadline:
            break
        await asyncio.sleep(pause)
    return Fetched(host, None, error, time.monotonic() - start, attempts)
