"""One use case per CLI command: load inputs, run the engine, hand the snapshot to
fleet.app to finish (drift, staleness, save, emit, publish), return the exit code."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
from collections.abc import Callable, ItemsView, Iterator, KeysView
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fleet import app, drift, pipeline, profiles
from fleet import dialplan as dialplan_mod
from fleet import inventory as inventory_mod
from fleet.app import Output, Publish
from fleet.audit import audit as run_audit
from fleet.check import golden as golden_mod
from fleet.check import policies, sbc_location
from fleet.collect.crawler import CrawlOptions
from fleet.errors import InputError
from fleet.model import DeviceState, RouteDecision, Snapshot
from fleet.profiles import Profile
from fleet.report import drift_report, progress, route_text, text
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
    show_all: bool = False,
    dist: Distributed | None = None,
) -> int:
    pub = pub or Publish()
    out = Output(fmt, output, fail_on, show_all=show_all)
    inputs = load_inputs(inventory, golden, select)  # bad input fails before the store opens
    app.check_writable(store, out, pub)
    with Store.open(store, write=True, wait=store_wait) as st:
        snap = run_sweep(inputs, concurrency, timeout, tag, dist, store=st)
        return app.finish(st, snap, out, pub, drift_kind="sweep")


@dataclass(slots=True)
class SweepInputs:
    inventory: Path
    golden: Path
    select: list[str]
    hosts: list[inventory_mod.Host]
    gold: golden_mod.Golden
    path_sbcs: list[inventory_mod.Host]  # SBCs the selection left out: read if on a path
    broker: str | None = None  # the inventory's `broker:` (collectors), unless --broker


def load_inputs(inventory: Path, golden: Path, select: list[str] | None) -> SweepInputs:
    inv = inventory_mod.load(inventory)
    gold = golden_mod.load(golden)
    for w in inv.warnings:
        print(f"fleet: warning: {w}", file=sys.stderr)
    hosts = inv.select(select)
    if not hosts:
        raise InputError("matches no host in the inventory", file=str(inventory), field="--select")
    ids = {h.id for h in hosts}
    left_out = [h for h in inv.hosts if h.role == "sbc" and h.id not in ids]
    if not any(h.role == "phone" for h in hosts):
        left_out = []
    return SweepInputs(inventory, golden, list(select or []), hosts, gold, left_out, inv.broker)


def _say_pulled(ids: list[str]) -> None:
    names = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
    print(
        f"fleet: also read {len(ids)} SBC(s) the selection left out, on the selected phones' "
        f"emergency paths: {names}",
        file=sys.stderr,
    )


@dataclass(frozen=True, slots=True)
class Distributed:
    """`fleet sweep --broker`: the hosts are read by collectors, one queue per shard."""

    broker: str | None  # None: the inventory's `broker:`, else a sweep in this process
    site_timeout: float = 600.0
    shard_by: str = "site"
    batch_size: int = 200


def run_sweep(
    inputs: SweepInputs,
    concurrency: int,
    timeout: float,
    tag: str | None,
    dist: Distributed | None = None,
    *,
    store: Store | None = None,
) -> Snapshot:
    """Sweep and check the selection; the snapshot says what it was made from. ``store``:
    each device is written to it as it is read (staged until the snapshot is saved), and
    the sweep keeps no device's raw configuration."""
    opts = CrawlOptions(concurrency=concurrency, device_timeout=timeout)
    broker = (dist.broker if dist else None) or inputs.broker
    if broker is not None:
        dist = dataclasses.replace(dist or Distributed(None), broker=broker)
        snap = _run_distributed(inputs, opts, tag, dist, store)
        snap.inventory = str(inputs.inventory.resolve())
        snap.golden_file = str(inputs.golden.resolve())
        snap.selection = inputs.select
        return snap
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
                stage=store.stage if store is not None else None,
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
    show_all: bool = False,
    against: str | None = None,
) -> int:
    pub = pub or Publish()
    out = Output(fmt, output, fail_on, show_all=show_all)
    gold = golden_mod.load(golden)
    # audit logs in to nothing: the inventory maps file ids to sites and roles, and its
    # secrets need not be readable here
    inv = inventory_mod.load(inventory, resolve_secrets=False) if inventory else None
    app.check_writable(store, out, pub)
    snap = run_audit(paths, gold, inv, tag)
    if not snap.results:
        raise InputError("no configuration file found", file=" ".join(map(str, paths)))
    snap.golden_file = str(golden.resolve())
    if against is not None:
        Store.require(store)
    with Store.open(store, write=True, wait=store_wait) as st:
        if against is not None:
            from fleet import reconcile

            reconcile.reconcile(snap, paths, st.load(st.resolve(against)), gold)
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
    drift_report.require_format(fmt, drift_report.DIFF_FORMATS, "fleet diff")
    Store.require(store)
    app.writable(output, "--output")
    with Store.open(store, write=False, must_exist=True) as st:
        new_id = st.resolve(new)
        old_id = st.resolve(old) if old else _previous_for_diff(st, new_id)
        if old_id is None:
            raise InputError(
                "only one snapshot in the store: nothing to compare", file=str(store), field="OLD"
            )
        a, b = st.load(old_id), st.load(new_id)
    comp = drift.compare(a, b)
    render = {"json": drift_report.diff_json, "csv": drift_report.diff_csv}.get(fmt)
    if render is None:
        app.write(drift_report.wrap(drift_report.diff_table(comp, devices), _width(output)), output)
    else:
        app.write(render(comp), output)
    return 0


def _width(output: Path | None) -> int | None:
    """The terminal's width when the table goes to one; None for a file or a pipe."""
    import shutil

    if output is not None or not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def _previous_for_diff(st: Store, new_id: int) -> int | None:
    """Like with like: the newest older snapshot of NEW's scope; failing that the one before
    (the table then says plainly that the scopes differ)."""
    scope = st.scopes().get(new_id)
    same = st.previous_in_scope(scope, before=new_id) if scope else None
    return same or st.previous(before=new_id)


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
    fail_on: str = "high",
    strict: bool = False,
) -> int:
    drift_report.require_format(fmt, drift_report.VERIFY_FORMATS, "fleet rollout verify")
    Store.require(store)  # before --output: the store is the first thing named wrong
    app.writable(output, "--output")
    with Store.open(store, write=True, wait=store_wait, must_exist=True) as st:
        base = st.load(st.resolve(baseline))
        sel = select if select is not None else base.selection
        inputs = load_inputs(*_baseline_files(base, inventory, golden), sel)
        snap = run_sweep(inputs, concurrency, timeout, tag or f"verify-{base.tag or base.id}")
        app.settle(st, snap, drift_kind="sweep", max_age_s=None, save=True)
    verdict = drift.verify(base, snap, fail_on=fail_on, strict=strict)
    text = drift_report.VERIFY_RENDER[fmt](verdict)
    app.write(drift_report.wrap(text, _width(output)) if fmt == "table" else text, output)
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
    show_all: bool = False,
) -> int:
    pub = pub or Publish()
    out = Output(fmt, output, fail_on, show_all=show_all, numbers=True)
    Store.require(store)  # before --output and --metrics
    app.check_writable(None, out, pub)
    # an emailed report is recorded (for --only-on-change): a write, under the lock
    with Store.open(store, write=pub.email is not None, wait=store_wait, must_exist=True) as st:
        snap = st.load(st.resolve(snapshot))
        return app.finish(st, snap, out, pub, drift_kind=None, save=False)


_GOLDEN_KEYS = {"fleet_golden", "policy", "emergency", "rules", "waivers", "firmware"}


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
    """Every file checked, every problem said (one per file); secret references are checked
    for form and place, not read: validate may run where the sweep's secrets are not."""
    failed = 0
    for f in files:
        try:
            _validate_one(f)
        except InputError as e:
            for problem in [e, *e.more]:
                print(f"fleet: {problem}", file=sys.stderr)
            failed += 1
    if failed and len(files) > 1:
        print(f"fleet: {failed} of {len(files)} files have problems", file=sys.stderr)
    return 2 if failed else 0


def _validate_one(f: Path) -> None:
    if _looks_golden(f):
        g = golden_mod.load(f)
        print(
            f"{f}: golden template {g.name!r}: {len(g.rules)} rules, emergency numbers "
            f"{', '.join(g.emergency.numbers) or 'none'}"
        )
        return
    inv = inventory_mod.load(f, resolve_secrets=False)
    for w in inv.warnings:
        print(f"fleet: warning: {w}", file=sys.stderr)
    print(f"{f}: inventory with {len(inv.hosts)} hosts")


def list_profiles(show_policies: bool) -> int:
    _print(text.profile_table(profiles.registry().values()))
    _print(text.broken_profile_lines(profiles.broken()), file=sys.stderr)
    if show_policies:
        print()
        _print(text.policy_table((n, policies.load(n)) for n in policies.names()))
    return 0


def _print(lines: list[str], file: TextIO | None = None) -> None:
    for line in lines:
        print(line, file=file)


def store_list(store: Path) -> int:
    with Store.open(store, write=False, must_exist=True) as st:
        _print(text.snapshot_table(st.snapshots()))
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
    _check_options(dialplan.dialect_for(syntax), plan, options)
    for d in digits:
        res = dialplan.evaluate(syntax, plan, d, options)
        bad = [p for p in res.problems if any(n in p for n in options)]
        if bad:  # a value the engine could not take: the phone would fall back, say so
            raise InputError("; ".join(bad), field="--option")
        _print(text.outcome_lines(d, res, as_json=as_json, explain=explain))
    return 0


class _Reads(dict[str, str]):
    """The options, noting which names the engine looks up (all, when it walks them)."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__(items)
        self.asked: set[str] = set()
        self.walked = False

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.walked = True
        return super().__iter__()

    def items(self) -> ItemsView[str, str]:  # type: ignore[override]
        self.walked = True
        return super().items()

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self.walked = True
        return super().keys()


def _check_options(dialect: dialplan_mod.Dialect, plan: str, options: dict[str, str]) -> None:
    """--option names the engine does not read are refused (a typo would otherwise change
    nothing, silently): by the dialect's declared names, else by what compiling asks for."""
    if not options:
        return
    if dialect.option_names is not None:
        known: set[str] = set(dialect.option_names)
    else:
        probe = _Reads(options)
        dialect.compile(plan, probe)
        if probe.walked:
            return
        known = probe.asked
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none for this plan"
        raise InputError(
            f"the {dialect.name} engine reads no option {unknown[0]!r} (it reads: {listed})",
            field="--option",
        )


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
    unproven = False
    for n in numbers:
        if prof.route is None:  # an SBC read through netmiko: fleet cannot walk its routing
            why = f"fleet cannot evaluate {prof.name} routing: a call through it is unproven"
            d = RouteDecision(n, source, "unproven", steps=[why])
        else:
            d = prof.route(state, n, source)
        # what it does with the caller's location, on the calls the SBC treats as emergency
        loc = (
            sbc_location.on_route(state.sbc, d, source)
            if sbc_location.emergency_call(state.sbc, n, d)
            else None
        )
        _print(route_text.route_lines(n, d, loc, as_json=as_json, explain=explain))
        calls = [d, *d.alternatives]
        unproven |= any(c.outcome == "unproven" or c.unproven for c in calls)
    return 1 if unproven else 0  # fail closed: a route fleet could not walk is no answer


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

    try:
        inv = inventory_mod.load(path)
    except InputError as e:
        golden = e.reason.startswith("this looks like a golden")
        if path.suffix.lower() in (".yaml", ".yml", ".csv") and not golden:
            raise  # meant as an inventory: its own error, with line and field, says more
        readers = ", ".join(n for n, p in profiles.registry().items() if p.route is not None)
        raise InputError(
            f"not an SBC configuration fleet recognises (profiles that route: {readers}) "
            "nor an inventory (YAML with hosts:, or CSV)",
            file=str(path),
        ) from None
    # an SBC read through netmiko counts too: its calls are then shown unproven, not refused
    every = [h for h in inv.hosts if profiles.get(h.profile).route or h.role == "sbc"]
    sbcs = [h for h in every if h.id == host_id] if host_id else every
    if len(sbcs) != 1:
        names = ", ".join(h.id for h in every) or "none"
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


def timeline(
    *,
    store: Path,
    numbers: list[str],
    sites: list[str],
    since: str | None,
    fmt: str,
    output: Path | None,
) -> int:
    """The windows in which each emergency number was broken; exit 1 while one is open."""
    from fleet import timeline as timeline_mod
    from fleet.check.staleness import parse_age
    from fleet.report import timeline_report

    if fmt not in timeline_report.FORMATS:
        raise InputError(
            f"fleet timeline writes {', '.join(timeline_report.FORMATS)}, not {fmt!r}",
            field="--format",
        )
    cutoff = _since(since, parse_age) if since else None
    Store.require(store)
    app.writable(output, "--output")
    with Store.open(store, write=False, must_exist=True) as st:
        ev = st.evidence(cutoff)
    t = timeline_mod.build(ev.snapshots, ev.devices, ev.findings, numbers=numbers, sites=sites)
    app.write(timeline_report.RENDER[fmt](t), output)
    return 1 if any(w.open for w in t.sites) else 0


def _since(text: str, parse_age: Callable[[str], float]) -> str:
    """``--since``: a duration back from now (30d, 12h) or a UTC date (2026-10-23)."""
    import datetime as dt

    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return text.strip() + "T00:00:00Z"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text.strip()):
        return text.strip()
    try:
        age = parse_age(text)
    except InputError:
        raise InputError(
            f"expected a duration like 30d or 12h, or a date like 2026-10-23, got {text!r}",
            field="--since",
        ) from None
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_distributed(
    inputs: SweepInputs,
    opts: CrawlOptions,
    tag: str | None,
    dist: Distributed,
    store: Store | None = None,
) -> Snapshot:
    from fleet import distributed

    distributed.require("--broker")
    from fleet.distributed import coordinator

    assert dist.broker is not None
    # SBCs a selection left out travel with it: a path not walked must not read as proven
    hosts = [*inputs.hosts, *inputs.path_sbcs]
    with progress.bar(len(hosts), sys.stderr.isatty()) as advance:
        return coordinator.sweep(
            hosts,
            inputs.gold,
            inputs.golden,
            opts,
            broker=dist.broker,
            site_timeout=dist.site_timeout,
            shard_by=dist.shard_by,
            batch_size=dist.batch_size,
            tag=tag,
            on_done=advance,
            stage=store.stage if store is not None else None,
        )


def rollout_assess(
    change: list[Path],
    *,
    baseline: str,
    firmware: list[str] | None = None,
    golden: Path | None,
    store: Path,
    fmt: str,
    output: Path | None,
) -> int:
    """What the change would do to emergency calling; exit 1 on a regression."""
    from fleet import assess as assess_mod
    from fleet.report import assess_report

    if fmt not in assess_report.FORMATS:
        raise InputError(
            f"fleet rollout assess writes {', '.join(assess_report.FORMATS)}, not {fmt!r}",
            field="--format",
        )
    targets: dict[str, str] = {}
    for item in firmware or []:
        model, eq, version = item.partition("=")
        if not eq or not model.strip() or not version.strip():
            raise InputError(f"expected MODEL=VERSION, got {item!r}", field="--firmware")
        targets[model.strip()] = version.strip()
    if not change and not targets:
        raise InputError("name the change: CHANGE files or --firmware MODEL=VERSION")
    Store.require(store)
    app.writable(output, "--output")
    with Store.open(store, write=False, must_exist=True) as st:
        base = st.load(st.resolve(baseline))
    gold_path = golden or (Path(base.golden_file) if base.golden_file else None)
    if gold_path is None:
        raise InputError("the baseline does not say which golden it used", field="--golden")
    gold = golden_mod.load(gold_path)
    addresses: dict[str, str | None] = {r.id: None for r in base.results}
    inv_path = Path(base.inventory) if base.inventory else None
    if inv_path is not None and inv_path.exists():
        inv = inventory_mod.load(inv_path, resolve_secrets=False)
        addresses.update({h.id: h.hostname for h in inv.hosts})
    result = assess_mod.assess(base, change, gold, addresses, targets)
    app.write(assess_report.RENDER[fmt](result), output)
    return 1 if result.regressions else 0
