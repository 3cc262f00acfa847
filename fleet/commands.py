"""One use case per CLI command: load inputs, run the engine, hand the snapshot to
fleet.app to finish (drift, staleness, save, emit, publish), return the exit code."""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fleet import app, drift, pipeline, profiles
from fleet import inventory as inventory_mod
from fleet.app import Output, Publish
from fleet.audit import audit as run_audit
from fleet.check import golden as golden_mod
from fleet.check import policies
from fleet.collect.crawler import CrawlOptions
from fleet.errors import InputError
from fleet.model import DeviceState, Snapshot
from fleet.profiles import Profile
from fleet.report import drift_report, progress, text
from fleet.store import Store

# Old names, kept while other parts move to fleet.app.
STORED = app.STORED
writable = app.writable
exit_code = app.exit_code
publish = app.publish
context_for = app.context_for
__all__ = ["STORED", "Output", "Publish", "context_for", "exit_code", "publish", "writable"]


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
    out = Output(fmt, output, fail_on)
    inputs = load_inputs(inventory, golden, select)  # bad input fails before the store opens
    app.check_writable(store, out, pub)
    with Store.open(store, write=True, wait=store_wait) as st:
        snap = run_sweep(inputs, concurrency, timeout, tag)
        return app.finish(st, snap, out, pub, drift_kind="sweep")


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


def run_sweep(inputs: SweepInputs, concurrency: int, timeout: float, tag: str | None) -> Snapshot:
    """Sweep and check the selection; the snapshot says what it was made from."""
    opts = CrawlOptions(concurrency=concurrency, device_timeout=timeout)
    with progress.bar(len(inputs.hosts), sys.stderr.isatty()) as advance:
        snap = asyncio.run(
            pipeline.sweep(
                inputs.hosts,
                inputs.gold,
                opts,
                tag=tag,
                path_sbcs=inputs.path_sbcs,
                on_pulled=_say_pulled,
                on_done=advance,
            )
        )
    snap.inventory = str(inputs.inventory.resolve())
    snap.golden_file = str(inputs.golden.resolve())
    snap.selection = inputs.select
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
    pub = pub or Publish()
    out = Output(fmt, output, fail_on)
    gold = golden_mod.load(golden)
    inv = inventory_mod.load(inventory) if inventory else None
    app.check_writable(store, out, pub)
    snap = run_audit(paths, gold, inv, tag)
    if not snap.results:
        raise InputError("no configuration file found", file=" ".join(map(str, paths)))
    snap.golden_file = str(golden.resolve())
    with Store.open(store, write=True, wait=store_wait) as st:
        return app.finish(st, snap, out, pub, drift_kind="audit")


def diff(
    old: str | None,
    new: str | None,
    *,
    store: Path,
    fmt: str,
    output: Path | None,
    devices: bool,
) -> int:
    Store.require(store)
    app.writable(output, "--output")
    with Store.open(store, write=False, must_exist=True) as st:
        new_id = st.resolve(new)
        old_id = st.resolve(old) if old else st.previous(before=new_id)
        if old_id is None:
            raise InputError(
                "only one snapshot in the store: nothing to compare", file=str(store), field="OLD"
            )
        a, b = st.load(old_id), st.load(new_id)
    changes = drift.diff(a, b)
    groups = drift.fold(changes, b, a)
    app.write(
        drift_report.diff_json(changes, groups, a, b)
        if fmt == "json"
        else drift_report.diff_table(groups, a, b, devices),
        output,
    )
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
    Store.require(store)  # before --output: the store is the first thing named wrong
    app.writable(output, "--output")
    with Store.open(store, write=True, wait=store_wait, must_exist=True) as st:
        base = st.load(st.resolve(baseline))
        sel = select if select is not None else base.selection
        inputs = load_inputs(*_baseline_files(base, inventory, golden), sel)
        snap = run_sweep(inputs, concurrency, timeout, tag or f"verify-{base.tag or base.id}")
        app.settle(st, snap, drift_kind="sweep", max_age_s=None, save=True)
    verdict = drift.verify(base, snap)
    render = {"json": drift_report.verdict_json, "junit": drift_report.verdict_junit}.get(
        fmt, drift_report.verdict_table
    )
    app.write(render(verdict), output)
    return 1 if verdict.failed else 0


def _baseline_files(
    base: Snapshot, inventory: Path | None, golden: Path | None
) -> tuple[Path, Path]:
    """The inventory and golden to sweep with: as given, else those the baseline used."""
    inv_path = inventory or (Path(base.inventory) if base.inventory else None)
    gold_path = golden or (Path(base.golden_file) if base.golden_file else None)
    if inv_path is None or gold_path is None:
        raise InputError(
            "the baseline does not say which inventory and golden it used: "
            "name them (INVENTORY --golden FILE)",
            field="--baseline",
        )
    return inv_path, gold_path


def report_cmd(
    snapshot: str | None,
    *,
    store: Path,
    fmt: str,
    output: Path | None,
    fail_on: str,
    pub: Publish | None = None,
    store_wait: float = 30.0,
) -> int:
    pub = pub or Publish()
    out = Output(fmt, output, fail_on)
    Store.require(store)  # before --output and --metrics
    app.check_writable(None, out, pub)
    # an emailed report is recorded (for --only-on-change): a write, under the lock
    with Store.open(store, write=pub.email is not None, wait=store_wait, must_exist=True) as st:
        snap = st.load(st.resolve(snapshot))
        return app.finish(st, snap, out, pub, drift_kind=None, save=False)


_GOLDEN_KEYS = {"fleet_golden", "policy", "emergency", "rules", "waivers"}


def _looks_golden(f: Path) -> bool:
    """A golden template, by its top-level keys (``fleet_golden`` may be the one missing)."""
    import re

    if not f.is_file() or f.suffix.lower() == ".csv":
        return False
    with open(f, "rb") as fh:  # a head only: an inventory may be large
        head = fh.read(65536).decode("utf-8", errors="replace")
    keys = set(re.findall(r"(?m)^([A-Za-z_]+):", head))
    return "fleet_golden" in keys or ("hosts" not in keys and bool(keys & _GOLDEN_KEYS))


def validate(files: list[Path]) -> int:
    for f in files:
        if _looks_golden(f):
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
    _print(text.profile_lines(profiles.registry().values()))
    _print(text.broken_profile_lines(profiles.broken()), file=sys.stderr)
    if show_policies:
        print()
        _print(text.policy_lines((n, policies.load(n)) for n in policies.names()))
    return 0


def _print(lines: list[str], file: TextIO | None = None) -> None:
    for line in lines:
        print(line, file=file)


def store_list(store: Path) -> int:
    with Store.open(store, write=False, must_exist=True) as st:
        _print(text.snapshot_lines(st.snapshots()))
    return 0


def store_prune(
    store: Path, keep: int, store_wait: float = 30.0, include_tagged: bool = False
) -> int:
    with Store.open(store, write=True, wait=store_wait, must_exist=True) as st:
        print(f"dropped {st.prune(keep, tagged=include_tagged)} snapshot(s)")
    return 0


def dialplan_eval(
    syntax: str, plan: str, digits: list[str], as_json: bool, explain: bool, option: list[str]
) -> int:
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
        _print(text.outcome_lines(d, res, as_json=as_json, explain=explain))
    return 0


def sbc_route(
    path: Path,
    numbers: list[str],
    host_id: str | None,
    source: str | None,
    as_json: bool,
    explain: bool,
) -> int:
    got = _sbc_from_file(path) or _sbc_from_inventory(path, host_id)
    if got is None:
        return 1
    state, prof = got
    assert prof.route is not None
    for n in numbers:
        _print(text.route_lines(n, prof.route(state, n, source), as_json=as_json, explain=explain))
    return 0


def _sbc_from_file(path: Path) -> tuple[DeviceState, Profile] | None:
    """A saved SBC configuration, read as `fleet audit` reads it; None if ``path`` is not one."""
    from fleet.audit import audit_one, gather

    head = path.read_text(encoding="utf-8", errors="replace")[:65536] if path.is_file() else ""
    detected = profiles.detect(head) if head else None
    if detected is None or detected.route is None:
        return None
    state = audit_one(gather([path])[0])
    assert state is not None
    return state, detected


def _sbc_from_inventory(path: Path, host_id: str | None) -> tuple[DeviceState, Profile] | None:
    """The one SBC of the inventory at ``path`` (or ``host_id``), read over SSH; None (after
    saying why) when it cannot be read."""
    from fleet.collect.crawler import crawl

    inv = inventory_mod.load(path)
    sbcs = [h for h in inv.hosts if profiles.get(h.profile).route is not None]
    if host_id:
        sbcs = [h for h in sbcs if h.id == host_id]
    if len(sbcs) != 1:
        names = ", ".join(h.id for h in inv.hosts if profiles.get(h.profile).route) or "none"
        raise InputError(
            f"no SBC {host_id!r} in the inventory (SBCs: {names})"
            if host_id
            else f"name one SBC with --host (SBCs: {names})",
            file=str(path),
            field="--host",
        )
    [fetched] = asyncio.run(crawl(sbcs, {}, CrawlOptions()))
    res = pipeline.to_result(fetched.host, fetched.collected, fetched.error)
    if res.state is None:
        print(f"fleet: {res.id}: {res.status}: {res.error}", file=sys.stderr)
        return None
    return res.state, profiles.get(res.profile)
