"""The coordinator's side: hosts split by site (or group) into batches on that shard's queue,
results waited for until ``site_timeout``, one result kept per device; a device whose batch
never came back is ``unreachable`` ("no collector for site lon"), so it is a coverage finding
and the sweep completes. The fleet-level checks run here, on every result.

With a store's ``stage``, each result is written to it as its batch answers and its raw
configuration dropped, as the single-process sweep does: what the coordinator holds per
device is the normalised state and the findings, whatever the fleet's size."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fleet import check
from fleet.check.golden import Golden
from fleet.collect.crawler import CrawlOptions
from fleet.distributed import payload, tasks
from fleet.errors import BrokerError, InputError
from fleet.inventory import Host
from fleet.model import DeviceResult, Snapshot
from fleet.pipeline import finished, now
from fleet.redact import redact_text

POLL_S = 0.2


def shown(url: str) -> str:
    """The broker URL as it may be printed: any password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class Batch:
    shard: str
    queue: str
    hosts: tuple[Host, ...]


def shard_of(host: Host, by: str) -> str:
    if by == "group":
        return host.groups[0] if host.groups else "-"
    return host.site or "-"


def batches(hosts: Sequence[Host], by: str = "site", size: int = 200) -> list[Batch]:
    """Hosts split by shard, then into batches of at most ``size``, in inventory order."""
    if by not in ("site", "group"):
        raise InputError(f"--shard-by takes site or group, not {by!r}", field="--shard-by")
    shards: dict[str, list[Host]] = {}
    for h in hosts:
        shards.setdefault(shard_of(h, by), []).append(h)
    out = []
    for shard, members in shards.items():
        queue = tasks.queue_for(f"{by}:{shard}")
        for i in range(0, len(members), size):
            out.append(Batch(shard, queue, tuple(members[i : i + size])))
    return out


def sweep(
    hosts: Sequence[Host],
    gold: Golden,
    golden_path: Path,
    opts: CrawlOptions,
    *,
    broker: str,
    site_timeout: float,
    shard_by: str = "site",
    batch_size: int = 200,
    tag: str | None = None,
    on_done: Callable[[Any], None] | None = None,
    stage: Callable[[DeviceResult], None] | None = None,
) -> Snapshot:
    """One snapshot of ``hosts`` read by the collectors of their shards; ``stage`` (the
    store's :meth:`~fleet.store.Store.stage`) hears each result as it comes back."""
    app = tasks.make_app(broker)
    parts = batches(hosts, shard_by, batch_size)
    wire = {h.id: payload.host_to_dict(h) for h in hosts}  # refuses plaintext secrets first
    reachable(app, broker)
    started, t0 = now(), time.monotonic()
    options = dataclasses.asdict(opts)
    golden_text = golden_path.read_text(encoding="utf-8")
    sent = []
    try:
        for k, b in enumerate(parts):
            body = {
                "batch": k,
                "hosts": [wire[h.id] for h in b.hosts],
                "options": options,
                "golden": golden_text,
                "golden_name": golden_path.name,
            }
            sent.append((b, app.send_task(tasks.TASK, args=[body], queue=b.queue)))
        del wire
        got, failed = _wait(sent, site_timeout, _kept(on_done, stage))
    except BrokerError:
        raise
    except Exception as e:  # kombu / redis connection errors, named by the broker's URL
        for _b, res in sent:
            res.backend = None  # its __del__ would talk to the lost broker and print a traceback
        raise BrokerError(
            f"lost the broker {shown(broker)} mid-sweep ({type(e).__name__}); nothing was stored"
        ) from None
    results = []
    for b in parts:
        for h in b.hosts:
            r = got.get(h.id) or _missing(h, b, site_timeout, failed.get(b.queue))
            if r.status != "audited" and not r.findings:
                check.check_device(r, gold, h.facts())  # coverage.unreachable / .error
            results.append(r)
    check.check_fleet(
        results, gold, {h.id: h.hostname for h in hosts}, notify={h.id: h.notify for h in hosts}
    )
    return finished("sweep", started, t0, gold, results, tag)


def reachable(app: Any, broker: str, then: str = "nothing was swept") -> None:
    """BrokerError, naming the broker (its password hidden), unless it answers."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as e:
        raise BrokerError(
            f"the broker {shown(broker)} cannot be reached ({type(e).__name__}); {then}"
        ) from None


def _kept(
    on_done: Callable[[Any], None] | None, stage: Callable[[DeviceResult], None] | None
) -> Callable[[DeviceResult], None] | None:
    """What is done with each device's result as it arrives: staged in the store, then its
    raw configuration dropped (the device-level checks on raw keys ran on the collector)."""
    if stage is None:
        return on_done

    def keep(r: DeviceResult) -> None:
        stage(r)
        if r.state is not None:
            r.state.raw = {}
        if on_done is not None:
            on_done(r)

    return keep


def _wait(
    sent: list[tuple[Batch, Any]], site_timeout: float, on_done: Callable[[Any], None] | None
) -> tuple[dict[str, DeviceResult], dict[str, str]]:
    """Results by device id, as batches answer, until every batch has or the time is up (a
    device answered twice, its batch redelivered, is kept once); and why a queue's batch
    failed on its collector."""
    got: dict[str, DeviceResult] = {}
    failed: dict[str, str] = {}
    pending = list(sent)
    deadline = time.monotonic() + site_timeout
    while pending and time.monotonic() < deadline:
        still = []
        for b, res in pending:
            if not res.ready():
                still.append((b, res))
                continue
            if res.failed():
                failed[b.queue] = redact_text(f"{type(res.result).__name__}: {res.result}")[:300]
                continue
            answer = res.get(timeout=5)
            res.forget()  # the result's copy in the backend (and in ``res``) is not kept
            for d in answer.pop("results"):
                r = payload.result_from_dict(d)
                if r.id not in got:
                    got[r.id] = r
                    if on_done:
                        on_done(r)
            del answer
        pending = still
        if pending:
            time.sleep(POLL_S)
    for _b, res in pending:
        res.revoke()  # a collector that comes back later must not read a finished sweep
    return got, failed


def _missing(host: Host, b: Batch, site_timeout: float, failure: str | None) -> DeviceResult:
    if failure is not None:
        why, status = f"the collector for {b.queue} could not read its batch: {failure}", "error"
    else:
        why = (
            f"no collector for {b.queue} answered within {site_timeout:g} s "
            f"(is a `fleet worker --queue {b.queue}` running?)"
        )
        status = "unreachable"
    return DeviceResult(
        id=host.id,
        site=host.site,
        role=host.role,
        profile=host.profile,
        address=host.address,
        status=status,
        error=why,
    )
