"""The async crawler: bounded concurrency, per-device deadline, retries on transient errors
only, and one outcome per host whatever happens (a host's failure never stops the sweep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fleet import profiles
from fleet.collect import netmiko_transport
from fleet.collect.http import HttpHost, HttpPool, HttpStatusError
from fleet.collect.ssh import Platform, SshTarget, run_cli
from fleet.errors import ConfigFileError, DeviceError, ProtocolError, Unreachable, bug_text
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
    ssh_handshakes: int = 10  # SSH logins under way at once, apart from `concurrency`
    netmiko_workers: int = 20  # threads for netmiko sessions


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
    io = _Transports(
        HttpPool(opts.connect_timeout, opts.read_timeout),
        asyncio.Semaphore(opts.ssh_handshakes),
        ThreadPoolExecutor(opts.netmiko_workers, thread_name_prefix="netmiko")
        if any(h.transport == "netmiko" for h in hosts)
        else None,
    )
    try:

        async def one(host: Host) -> Fetched:
            async with sem:
                res = await _fetch_one(io, host, wanted.get(host.profile, []), opts)
            if on_done:
                on_done(res)
            return res

        return list(await asyncio.gather(*(one(h) for h in hosts)))
    finally:
        await io.http.aclose()
        if io.threads is not None:
            io.threads.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class _Transports:
    http: HttpPool
    handshakes: asyncio.Semaphore
    threads: ThreadPoolExecutor | None


async def _read(
    io: _Transports, host: Host, prof: profiles.Profile, wanted: list[str], opts: CrawlOptions
) -> Collected:
    """One attempt at reading ``host`` over its transport."""
    if host.transport == "http":
        if prof.fetch is None:
            raise DeviceError(f"profile {prof.name} cannot be read over HTTP")
        http = HttpHost(
            io.http,
            host.base_url,
            host.username,
            host.password.value if host.password else None,
            host.tls,
        )
        return await prof.fetch(http, wanted)
    target = SshTarget(
        host.hostname,
        host.port,
        host.username,
        host.password.value if host.password else None,
        host.enable.value if host.enable else None,
        host.ssh,
    )
    if host.transport == "netmiko":
        assert io.threads is not None and host.device_type
        commands = host.commands or list((prof.platform or {}).get("commands", []))
        if not commands:
            raise DeviceError("no commands to run: list them under commands: in the inventory")
        outputs = await netmiko_transport.run(
            target, host.device_type, commands, io.threads, opts.read_timeout
        )
    else:
        if prof.platform is None:
            raise DeviceError(f"profile {prof.name} has no CLI platform for SSH")
        outputs = await run_cli(
            target,
            Platform.from_dict(prof.platform),
            io.handshakes,
            opts.connect_timeout,
            opts.read_timeout,
        )
    return parse_outputs(prof, outputs)


def parse_outputs(prof: profiles.Profile, outputs: dict[str, str]) -> Collected:
    """CLI outputs through the profile: its parse_cli, else parse_files on the first."""
    try:
        if prof.parse_cli is not None:
            return prof.parse_cli(outputs)
        assert prof.parse_files is not None
        cmd, text = next(iter(outputs.items()))
        return prof.parse_files(cmd, text, lambda _name: None)
    except ConfigFileError as e:
        raise ProtocolError(f"the device's output could not be read: {e}") from e


async def _fetch_one(io: _Transports, host: Host, wanted: list[str], opts: CrawlOptions) -> Fetched:
    prof = profiles.get(host.profile)
    start = time.monotonic()
    attempts = 0
    deadline = start + (host.timeout or opts.device_timeout)
    error: DeviceError | None = None
    while True:
        attempts += 1
        try:
            remaining = deadline - time.monotonic()
            collected = await asyncio.wait_for(_read(io, host, prof, wanted, opts), remaining)
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
