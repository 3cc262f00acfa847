"""inventory -> collect -> parse -> check: the engine behind `fleet sweep` and `fleet audit`.

Storing and reporting are the caller's next steps (see fleet.cli)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from fleet import check, profiles
from fleet.check.golden import Golden
from fleet.collect.crawler import CrawlOptions, Fetched, crawl
from fleet.errors import DeviceError, ProtocolError
from fleet.inventory import Host
from fleet.model import Collected, DeviceResult, Snapshot
from fleet.redact import redact_params, redact_text


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wanted_keys(golden: Golden | None) -> dict[str, list[str]]:
    """The raw vendor parameters golden rules name, for profiles that fetch by name."""
    keys = [
        r.key[4:] for r in (golden.rules if golden else []) if r.key and r.key.startswith("raw:")
    ]
    return {name: keys for name in profiles.registry()}


def to_result(
    host: Host,
    collected: Collected | None,
    error: DeviceError | None,
    elapsed: float = 0.0,
    attempts: int = 0,
) -> DeviceResult:
    """Parse stage: redact, normalise; a parse failure makes the device an ``error``."""
    res = DeviceResult(
        id=host.id,
        site=host.site,
        role=host.role,
        profile=host.profile,
        address=host.address,
        status="audited",
        elapsed_s=round(elapsed, 3),
        attempts=attempts,
    )
    if collected is not None:
        prof = profiles.get(host.profile)
        collected.params = redact_params(collected.params, prof)
        try:
            assert prof.to_state is not None
            state = prof.to_state(collected)
        except (ProtocolError, ValueError, KeyError) as e:
            error = ProtocolError(f"configuration could not be read: {e}")
        else:
            state.raw = collected.params
            res.state = state
            return res
    assert error is not None
    res.status = error.status
    res.error = redact_text(str(error))
    return res


async def sweep(
    hosts: list[Host],
    golden: Golden,
    opts: CrawlOptions,
    *,
    progress: bool | None = None,
    tag: str | None = None,
) -> Snapshot:
    started, t0 = now(), time.monotonic()
    show = sys.stderr.isatty() if progress is None else progress
    with _progress(len(hosts), show) as advance:
        fetched = await crawl(hosts, wanted_keys(golden), opts, on_done=advance)
    results = [_checked(f, golden) for f in fetched]
    check.check_fleet(results, golden, {h.id: h.hostname for h in hosts})
    return Snapshot(
        kind="sweep",
        started_at=started,
        finished_at=now(),
        golden=golden.name,
        results=results,
        tag=tag,
        duration_s=round(time.monotonic() - t0, 3),
    )


def _checked(f: Fetched, golden: Golden) -> DeviceResult:
    res = to_result(f.host, f.collected, f.error, f.elapsed_s, f.attempts)
    check.check_device(res, golden, f.host.facts())
    return res


def _progress(total: int, show: bool) -> Any:
    if not show or total == 0:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from fleet.report.table import stderr_console

    class _Bar:
        def __enter__(self) -> Callable[[Fetched], None]:
            self.p = Progress(
                "sweeping",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=stderr_console(),
                transient=True,
            )
            self.p.__enter__()
            self.task = self.p.add_task("sweep", total=total)
            return lambda _f: self.p.advance(self.task)

        def __exit__(self, *exc: object) -> None:
            self.p.__exit__(None, None, None)

    return _Bar()
