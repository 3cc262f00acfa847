"""The async crawler: bounded concurrency, per-device deadline, retries on transient errors
only, and one outcome per host whatever happens (a host's failure never stops the sweep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fleet import profiles
from fleet.collect.http import HttpHost, HttpPool, HttpStatusError
from fleet.errors import DeviceError, Unreachable
from fleet.inventory import Host
from fleet.model import Collected


@dataclass(slots=True)
class CrawlOptions:
    concurrency: int = 200
    device_timeout: float = 30.0  # the whole exchange with one device, retries included
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.25


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
) -> list[Fetched]:
    """Fetch every host; results come back in the order of ``hosts``."""
    sem = asyncio.Semaphore(opts.concurrency)
    async with HttpPool(opts.connect_timeout, opts.read_timeout) as pool:

        async def one(host: Host) -> Fetched:
            async with sem:
                res = await _fetch_one(pool, host, wanted.get(host.profile, []), opts)
            if on_done:
                on_done(res)
            return res

        return list(await asyncio.gather(*(one(h) for h in hosts)))


async def _fetch_one(pool: HttpPool, host: Host, wanted: list[str], opts: CrawlOptions) -> Fetched:
    prof = profiles.get(host.profile)
    start = time.monotonic()
    attempts = 0
    deadline = start + (host.timeout or opts.device_timeout)
    error: DeviceError | None = None
    while True:
        attempts += 1
        http = HttpHost(
            pool,
            host.base_url,
            host.username,
            host.password.value if host.password else None,
            host.tls,
        )
        try:
            if prof.fetch is None:
                raise DeviceError(f"profile {prof.name} cannot be fetched over {prof.transport}")
            remaining = deadline - time.monotonic()
            collected = await asyncio.wait_for(prof.fetch(http, wanted), remaining)
            return Fetched(host, collected, None, time.monotonic() - start, attempts)
        except TimeoutError:
            error = Unreachable(
                f"no complete answer within {host.timeout or opts.device_timeout:g} s"
            )
            break
        except DeviceError as e:
            error = e
        except Exception as e:  # a profile bug on one device must not stop the sweep
            error = DeviceError(f"unexpected {type(e).__name__} while reading the device: {e}")
            break
        pause = opts.backoff * (2 ** (attempts - 1))
        if not _transient(error) or attempts > opts.retries or time.monotonic() + pause >= deadline:
            break
        await asyncio.sleep(pause)
    return Fetched(host, None, error, time.monotonic() - start, attempts)
