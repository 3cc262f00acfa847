"""One function per CLI command: load inputs, run the engine, store, report, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fleet import inventory as inventory_mod
from fleet import lock, pipeline, profiles, report
from fleet.audit import audit as run_audit
from fleet.check import golden as golden_mod
from fleet.check import policies, staleness
from fleet.check.staleness import site_unverified_since
from fleet.collect.crawler import CrawlOptions
from fleet.errors import InputError
from fleet.model import SEVERITY_RANK, Snapshot
from fleet.report import context as report_context
from fleet.report import csv_report, metrics
from fleet.report.context import ReportContext
from fleet.report.email import EmailOptions
from fleet.store import Store

if TYPE_CHECKING:
    from fleet.lab.fleet import LabFleet


# Snapshot ids this process stored, so a failure after the save says so (exit 2 all the same).
STORED: list[int] = []


def writable(path: Path | None, option: str, *, store: bool = False) -> None:
    """Fail before any work when ``path`` cannot be written: its folder is missing or it is
    a folder itself. Exit 2 naming the path, not a traceback after a long sweep."""
    if path is None:
        return
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path), field=option)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist", file=str(path), field=option)
    import os

    if not os.access(parent, os.W_OK) and not (store and path.exists()):
        raise InputError(f"folder {parent} is not writable", file=str(path), field=option)


def exit_code(snap: Snapshot, fail_on: str) -> int:
    limit = SEVERITY_RANK[fail_on]
    bad = any(SEVERITY_RANK[f.severity] <= limit for r in snap.results for f in r.findings)
    return 1 if bad else 0


@dataclass(slots=True)
class Publish:
    """Where a run's results go besides stdout: email, metrics, staleness."""

    email: EmailOptions | None = None
    metrics: Path | None = None
    max_age_s: float | None = None


def context_for(st: Store, snap: Snapshot) -> ReportContext:
    prev_id = st.previous(before=snap.id) if snap.id else st.previous()
    history = [h for h in st.snapshots() if snap.id is None or h["id"] <= snap.id][-30:]
    return report_context.build(
        snap,
        st.load(prev_id) if prev_id else None,
        history,
        site_unverified_since(snap, st.last_proven()),
    )


def emit(
    snap: Snapshot, fmt: str, output: Path | None, fail_on: str = "high", st: Store | None = None
) -> None:
    if fmt == "html":
        from fleet.report import html

        assert st is not None
        text = html.render(context_for(st, snap))
    elif fmt == "csv":
        text = csv_report.render(snap)
    else:
        text = report.render(snap, fmt, color=False if output else None, fail_on=fail_on)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        print(f"report written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def publish(st: Store, snap: Snapshot, pub: Publish) -> None:
    """Metrics and email after a run or for a stored snapshot."""
    if pub.metrics is not None:
        metrics.write(snap, pub.metrics)
    if pub.email is None:
        return
    from fleet.report import email, html

    channel = "email:" + ",".join(sorted(pub.email.to))
    fp = email.fingerprint(snap)
    last = st.last_report(channel)
    if pub.email.only_on_change and last is not None and last[1] == fp:
        print(
            f"findings unchanged since the report of snapshot {last[0]}: no email sent",
            file=sys.stderr,
        )
        return
    ctx = context_for(st, snap)
    email.send(email.build(ctx, pub.email, html.render(ctx)), pub.email)
    assert snap.id is not None
    st.record_report(snap.id, channel, fp, pipeline.now())
    print(f"report sent to {', '.join(pub.email.to)}: {ctx.verdict}", file=sys.stderr)


def mark_stale(st: Store, snap: Snapshot, pub: Publish) -> None:
    if pub.max_age_s is not None:
        staleness.mark_stale(snap, st.last_proven(), pub.max_age_s)


def sweep(
    inventory: Path,
    golden: Path,
    *,
    store: Path,
    fmt: str,
    output: Path | None,
    fail_on: str,
    concurrency: int,
    timeout: float,
    select: list[str] | None,
    tag: str | None,
    store_wait: float = 30.0,
    pub: Publish | None = None,
) -> int:
    pub = pub or Publish()
    inputs = load_inputs(inventory, golden, select)  # bad input fails before the store opens
    _writable_all(store, output, pub)
    with lock.held(store, store_wait), Store(store, timeout=store_wait) as st:
        snap = run_sweep(st, inputs, concurrency, timeout, tag, pub)
        emit(snap, fmt, output, fail_on, st)
        publish(st, snap, pub)
    return exit_code(snap, fail_on)


def _writable_all(store: Path, output: Path | None, pub: Publish | None) -> None:
    writable(store, "--store", store=True)
    writable(output, "--output")
    writable(pub.metrics if pub else None, "--metrics")


@dataclass(slots=True)
class SweepInputs:
    inventory: Path
    golden: Path
    select: list[str]
    hosts: list[inventory_mod.Host]
    gold: golden_mod.Golden
    path_sbcs: list[inventory_mod.Host]  # SBCs the selection left out: read if on a path


def load_inputs(inventory: Path, golden: Path, select: list[str] | None) -> SweepInputs:
    inv = inventory_mod.load(inventory)
    gold = golden_mod.load(golden)
    hosts = inv.select(select)
    if not hosts:
        raise InputError("matches no host in the inventory", file=str(inventory), field="--select")
    ids = {h.id for h in hosts}
    left_out = [h for h in inv.hosts if h.role == "sbc" and h.id not in ids]
    if not any(h.role == "phone" for h in hosts):
        left_out = []
    return SweepInputs(inventory, golden, list(select or []), hosts, gold, left_out)


def _say_pulled(ids: list[str]) -> None:
    names = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
    print(
        f"fleet: also read {len(ids)} SBC(s) the selection left out, on the selected phones' "
        f"emergency paths: {names}",
        file=sys.stderr,
    )


def run_sweep(
    st: Store,
    inputs: SweepInputs,
    concurrency: int,
    timeout: float,
    tag: str | None,
    pub: Publish | None = None,
) -> Snapshot:
    """Sweep, check, note firmware drift against the last sweep, store."""
    from fleet import drift

    prev_id = st.previous(kind="sweep")
    opts = CrawlOptions(concurrency=concurrency, device_timeout=timeout)
    snap = asyncio.run(
        pipeline.sweep(
            inputs.hosts,
            inputs.gold,
            opts,
            tag=tag,
            path_sbcs=inputs.path_sbcs,
            on_pulled=_say_pulled,
        )
    )
    snap.inventory = str(inputs.inventory.resolve())
    snap.golden_file = str(inputs.golden.resolve())
    snap.selection = inputs.select
    drift.firmware_drift(snap, st.load(prev_id) if prev_id else None)
    mark_stale(st, snap, pub or Publish())
    STORED.append(st.save(snap))
    return snap


def audit(
    paths: list[Path],
    golden: Path,
    *,
    inventory: Path | None,
    store: Path,
    fmt: str,
    output: Path | None,
    fail_on: str,
    tag: str | None,
    store_wait: float = 30.0,
    pub: Publish | None = None,
) -> int:
    from fleet import drift

    pub = pub or Publish()
    gold = golden_mod.load(golden)
    inv = inventory_mod.load(inventory) if inventory else None
    _writable_all(store, output, pub)
    snap = run_audit(paths, gold, inv, tag)
    if not snap.results:
        raise InputError("no configuration file found", file=" ".join(map(str, paths)))
    with lock.held(store, store_wait), Store(store, timeout=store_wait) as st:
        snap.golden_file = str(golden.resolve())
        prev_id = st.previous(kind="audit")
        drift.firmware_drift(snap, st.load(prev_id) if prev_id else None)
        mark_stale(st, snap, pub)
        STORED.append(st.save(snap))
        emit(snap, fmt, output, fail_on, st)
        publish(st, snap, pub)
    return exit_code(snap, fail_on)


def diff(
    old: str | None,
    new: str | None,
    *,
    store: Path,
    fmt: str,
    output: Path | None,
    devices: bool,
) -> int:
    from fleet import drift
    from fleet.report import drift_report

    if not store.exists():
        raise InputError("no such store", file=str(store), field="--store")
    writable(output, "--output")
    with Store(store) as st:
        new_id = st.resolve(new)
        old_id = st.resolve(old) if old else st.previous(before=new_id)
        if old_id is None:
            raise InputError(
                "only one snapshot in the store: nothing to compare", file=str(store), field="OLD"
            )
        a, b = st.load(old_id), st.load(new_id)
    changes = drift.diff(a, b)
    groups = drift.fold(changes, b, a)
    text = (
        drift_report.diff_json(changes, groups, a, b)
        if fmt == "json"
        else drift_report.diff_table(groups, a, b, devices)
    )
    _write(text, output)
    return 0


def rollout_verify(
    baseline: str,
    inventory: Path | None,
    golden: Path | None,
    *,
    select: list[str] | None,
    store: Path,
    fmt: str,
    output: Path | None,
    concurrency: int,
    timeout: float,
    tag: str | None,
    store_wait: float = 30.0,
) -> int:
    from fleet import drift
    from fleet.report import drift_report

    if not store.exists():
        raise InputError("no such store", file=str(store), field="--store")
    writable(output, "--output")
    with lock.held(store, store_wait), Store(store, timeout=store_wait) as st:
        base = st.load(st.resolve(baseline))
        inv_path = inventory or (Path(base.inventory) if base.inventory else None)
        gold_path = golden or (Path(base.golden_file) if base.golden_file else None)
        if inv_path is None or gold_path is None:
            raise InputError(
                "the baseline does not say which inventory and golden it used: "
                "name them (INVENTORY --golden FILE)",
                field="--baseline",
            )
        sel = select if select is not None else base.selection
        snap = run_sweep(
            st,
            load_inputs(inv_path, gold_path, sel),
            concurrency,
            timeout,
            tag or f"verify-{base.tag or base.id}",
        )
    verdict = drift.verify(base, snap)
    text = {"json": drift_report.verdict_json, "junit": drift_report.verdict_junit}.get(
        fmt, drift_report.verdict_table
    )(verdict)
    _write(text, output)
    return 1 if verdict.failed else 0


def _write(text: str, output: Path | None) -> None:
    if output is not None:
        output.write_text(text, encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def report_cmd(
    snapshot: str | None,
    *,
    store: Path,
    fmt: str,
    output: Path | None,
    fail_on: str,
    pub: Publish | None = None,
) -> int:
    pub = pub or Publish()
    if not store.exists():
        raise InputError("no such store", file=str(store), field="--store")
    writable(output, "--output")
    writable(pub.metrics, "--metrics")
    with Store(store) as st:
        snap = st.load(st.resolve(snapshot))
        mark_stale(st, snap, pub)
        emit(snap, fmt, output, fail_on, st)
        publish(st, snap, pub)
    return exit_code(snap, fail_on)


def validate(files: list[Path]) -> int:
    for f in files:
        head = f.read_text(encoding="utf-8", errors="replace")[:4096] if f.is_file() else ""
        if "fleet_golden" in head:
            g = golden_mod.load(f)
            print(
                f"{f}: golden template {g.name!r}: {len(g.rules)} rules, emergency numbers "
                f"{', '.join(g.emergency.numbers) or 'none'}"
            )
        else:
            inv = inventory_mod.load(f)
            print(f"{f}: inventory with {len(inv.hosts)} hosts")
    return 0


def list_profiles(show_policies: bool) -> int:
    for p in profiles.registry().values():
        print(
            f"{p.name:<12} {p.role:<6} {p.vendor:<10} {p.transport}"
            + (f"  dial plan: {p.dialplan_syntax}" if p.dialplan_syntax else "")
        )
    for name, why in profiles.broken().items():
        print(
            f"fleet: profile folder device_profiles/{name} failed to load: {why}", file=sys.stderr
        )
    if show_policies:
        print()
        for name in policies.names():
            pack = policies.load(name)
            print(f"{name:<4} {', '.join(pack.numbers):<10} {pack.title}\n     {pack.citation}")
    return 0


def store_list(store: Path) -> int:
    if not store.exists():
        raise InputError("no such store", file=str(store), field="--store")
    with Store(store) as st:
        for s in st.snapshots():
            f = s["summary"]["findings"]
            print(
                f"{s['id']:>5}  {s['finished_at']}  {s['kind']:<6} {s['tag'] or '-':<16} "
                f"{s['summary']['devices']:>6} devices  {f['critical']} critical, "
                f"{f['high']} high"
            )
    return 0


def store_prune(store: Path, keep: int) -> int:
    if not store.exists():  # a mistyped path must not create an empty store
        raise InputError("no such store", file=str(store), field="--store")
    with Store(store) as st:
        print(f"dropped {st.prune(keep)} snapshot(s)")
    return 0


def demo(phones: int, *, store: Path | None, fmt: str) -> int:
    from fleet.lab import fleet as labfleet

    writable(store, "--store", store=True)
    lab = _free_lab(phones)
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        inv_path, golden_path = labfleet.write_files(lab, Path(tmp))
        inv = inventory_mod.load(inv_path)
        gold = golden_mod.load(golden_path)
        store_path = store or Path(tmp, "demo.db")
        faults = ", ".join(
            f"{p.id}: {p.extra['_fault']}" for p in lab.phones if "_fault" in p.extra
        )
        vendors = ", ".join(sorted({profiles.get(p.profile).vendor for p in lab.phones}))
        net = lab.phones[0].address.rsplit(".", 2)[0]
        print(
            f"fleet demo: {len(lab.phones)} simulated phones ({vendors}) on "
            f"{net}.0.0/16, golden {gold.name!r} ({', '.join(gold.packs)}); seeded faults: "
            f"{faults}\n",
            file=sys.stderr,
        )

        async def run() -> Snapshot:
            try:
                return await pipeline.sweep(inv.hosts, gold, CrawlOptions(device_timeout=10))
            finally:
                await labfleet.stop(lab)

        snap = _on_lab_loop(lab, run)
        with Store(store_path) as st:
            STORED.append(st.save(snap))
            emit(snap, fmt, None, st=st)
    return 0


def _free_lab(phones: int) -> LabFleet:
    """The demo's fleet on the first 127.x net with no other lab on it."""
    from fleet.lab import fleet as labfleet

    return labfleet.build(phones, net=labfleet.free_net())


def _on_lab_loop(lab: LabFleet, body: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
    from fleet.lab import fleet as labfleet

    async def run() -> Snapshot:
        await labfleet.start(lab)
        return await body()

    return asyncio.run(run())


def lab_serve(
    phones: int,
    out: Path,
    faults: bool,
    only: list[str] | None = None,
    net: int = 10,
    extra_sbcs: int = 0,
    sbc_only: list[str] | None = None,
    scenario: str | None = None,
    with_sbcs: bool = True,
) -> int:
    from fleet.lab import fleet as labfleet
    from fleet.lab import rollout

    if scenario not in (None, "rollout"):
        raise InputError(f"unknown scenario {scenario!r} (known: rollout)", field="--scenario")
    names = only or list(labfleet.PHONE_PROFILES)
    for n in names:
        if n not in profiles.registry() or profiles.get(n).simulator is None:
            raise InputError(f"no simulated {n!r} phone", field="--profile")
    lab = labfleet.build(
        phones,
        faults=faults,
        profile_names=names,
        net=net,
        extra_sbcs=extra_sbcs,
        sbc_profile_names=sbc_only,
        sbcs=with_sbcs,
    )
    inv_path, golden_path = labfleet.write_files(lab, out)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with labfleet.running(lab):
            control = ""
            if scenario == "rollout":
                ctl = rollout.controller(lab)
                await ctl.start()
                spec = ctl.dev.spec
                loop.add_signal_handler(
                    signal.SIGUSR1,
                    lambda: rollout.apply_update(
                        lab, max(1, len(lab.phones) // 5), max(1, len(lab.phones) // 20)
                    ),
                )
                control = (
                    f"rollout control: POST http://{spec.address}:{spec.port}/rollout "
                    '{"count": N, "lose_112": M} (or SIGUSR1)\n'
                )
            print(
                f"serving {len(lab.phones)} phones and {len(lab.sbcs)} SBCs on "
                f"127.{net}.0.0/16; try:\n"
                f"  fleet sweep {inv_path} --golden {golden_path}\n{control}(Ctrl-C stops)",
                flush=True,
            )
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def dialplan_eval(
    syntax: str, plan: str, digits: list[str], as_json: bool, explain: bool, option: list[str]
) -> int:
    import json
    import re

    from fleet import dialplan

    options = {}
    for o in option:
        name, sep, value = o.partition("=")
        if not sep or not name.strip():
            raise InputError(f"expected NAME=VALUE, got {o!r}", field="--option")
        options[name.strip()] = value
    for d in digits:
        if not re.fullmatch(r"[0-9*#+]+", d):
            raise InputError(f"{d!r} is not a digit string (0-9, *, #, +)", field="DIGITS")
    for d in digits:
        res = dialplan.evaluate(syntax, plan, d, options)
        if as_json:
            print(json.dumps(res.to_dict()))
        else:
            how = ""
            if res.outcome == "dial":
                how = (
                    f" {res.sent}"
                    + (f" after {res.delay_s:g} s" if res.after_timeout else " at once")
                    + (f" via {res.route}" if res.route else "")
                )
            print(f"{d:<14} {res.outcome}{how}" + (f"   [{res.matched}]" if res.matched else ""))
            for p in res.problems:
                print(f"{'':<14} problem: {p}")
        if explain:
            for step in res.steps:
                print(f"    {step}")
    return 0


def sbc_route(
    path: Path,
    numbers: list[str],
    host_id: str | None,
    source: str | None,
    as_json: bool,
    explain: bool,
) -> int:
    import json

    from fleet.audit import gather

    state, prof = None, None
    text = path.read_text(encoding="utf-8", errors="replace")[:65536] if path.is_file() else ""
    detected = profiles.detect(text) if text else None
    if detected is not None and detected.route is not None:
        from fleet.audit import audit_one

        state, prof = audit_one(gather([path])[0]), detected
    else:
        inv = inventory_mod.load(path)
        sbcs = [h for h in inv.hosts if profiles.get(h.profile).route is not None]
        if host_id:
            sbcs = [h for h in sbcs if h.id == host_id]
        if len(sbcs) != 1:
            names = ", ".join(h.id for h in inv.hosts if profiles.get(h.profile).route)
            raise InputError(
                f"name one SBC with --host (SBCs: {names or 'none'})"
                if not host_id
                else f"no SBC {host_id!r} in the inventory (SBCs: {names or 'none'})",
                file=str(path),
                field="--host",
            )
        from fleet.collect.crawler import crawl

        [fetched] = asyncio.run(crawl(sbcs, {}, CrawlOptions()))
        res = pipeline.to_result(fetched.host, fetched.collected, fetched.error)
        if res.state is None:
            print(f"fleet: {res.id}: {res.status}: {res.error}", file=sys.stderr)
            return 1
        state, prof = res.state, profiles.get(res.profile)
    assert prof is not None and prof.route is not None and state is not None
    for n in numbers:
        d = prof.route(state, n, source)
        if as_json:
            print(
                json.dumps(
                    d.to_dict()
                    if explain
                    else {k: v for k, v in d.to_dict().items() if k != "steps"}
                )
            )
            continue
        if d.outcome == "routed":
            print(
                f"{n:<12} {d.route} → {d.trunk} as {d.sent}"
                + (f" [{d.priority}]" if d.priority else "")
            )
        else:
            print(f"{n:<12} {d.outcome}" + (f" ({d.route})" if d.route else ""))
        if explain:
            for step in d.steps:
                print(f"    {step}")
    return 0
