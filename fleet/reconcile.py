"""`fleet audit PROVISIONING --against TAG`: what the provisioning server would give each phone
against what the phone is running (its last sweep), per emergency-relevant key.

A key is emergency-relevant for a device when giving the device the file's value changes what
fleet reads of its emergency calling: its registrar, outbound proxy, dial plan, emergency
numbers, routes or location source, or its emergency and coverage findings. Each difference is
a ``drift.provisioning`` finding on the file's device in the audit, naming the phone: a phone
still running an old file after a failed pull, or a file changed by hand on the server, look
the same from here, and both mean the next reboot changes emergency calling.
"""

from __future__ import annotations

from pathlib import Path

from fleet import assess
from fleet.audit import ConfigFile, gather_all
from fleet.check.golden import Golden
from fleet.model import Collected, DeviceResult, Finding, Snapshot

RULE = "drift.provisioning"
VIEW = (
    "sip.registrar",
    "sip.outbound_proxy",
    "dialplan",
    "emergency.numbers",
    "emergency.route",
    "emergency.location",
)
PER_KEY_MAX = 20  # keys tried one by one to name the ones that matter; past that, all listed


def _view(r: DeviceResult) -> dict[str, object]:
    assert r.state is not None
    n = r.state.normalised()
    return {k: n.get(k) for k in VIEW}


def _emergency_view(r: DeviceResult, golden: Golden) -> tuple[dict[str, object], object]:
    checked = assess.rechecked(assess.copy_result(r), golden)
    return _view(r), assess.watched(checked)


def reconcile(audit_snap: Snapshot, paths: list[Path], baseline: Snapshot, golden: Golden) -> int:
    """Add ``drift.provisioning`` findings to ``audit_snap``; how many were added."""
    files = [f for f in gather_all(paths) if isinstance(f, ConfigFile)]
    swept = [r for r in baseline.results if r.status == "audited" and r.state is not None]
    by_file = {p: r for r in audit_snap.results for p in (r.files or [r.address or ""])}
    added = 0
    for f in files:
        owner = by_file.get(str(f.path))
        if owner is None:
            continue
        collected = assess.read_change(f)
        for dev in assess.targets(f, swept):
            finding = _drift(f, collected, dev, golden, baseline.id)
            if finding is not None:
                owner.findings.append(finding)
                added += 1
        owner.findings.sort(key=Finding.sort_key)
    return added


def _drift(
    f: ConfigFile, collected: Collected, dev: DeviceResult, golden: Golden, snapshot: int | None
) -> Finding | None:
    assert dev.state is not None
    raw = dev.state.raw
    params = collected.params
    differ = {k: v for k, v in params.items() if raw.get(k) != v}
    if not differ:
        return None
    running = assess.restated(dev, True)
    given = assess.copy_result(running)
    assess.apply_file(given, f, collected)
    if _emergency_view(running, golden) == _emergency_view(given, golden):
        return None
    keys = _which(running, differ, golden, f) if len(differ) <= PER_KEY_MAX else sorted(differ)
    shown = "; ".join(
        f"{k}: runs {assess.shown(raw.get(k))}, the file gives {assess.shown(differ[k])}"
        for k in keys[:5]
    )
    more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
    return Finding(
        RULE,
        "high",
        dev.id,
        f"{dev.id} does not run what {f.path.name} gives it, in keys that change its "
        f"emergency calling: {shown}{more}",
        expected=f"the device runs {f.path.name} as provisioned",
        actual=f"as last swept (snapshot {snapshot})",
        evidence=[
            f"{k}: device {assess.shown(raw.get(k))} / file {assess.shown(differ[k])}" for k in keys
        ],
    )


def _which(
    running: DeviceResult, differ: dict[str, str], golden: Golden, f: ConfigFile
) -> list[str]:
    """The differing keys that alone change the device's emergency view."""
    base = _emergency_view(running, golden)
    out = []
    for k, v in differ.items():
        one = assess.copy_result(running)
        assert one.state is not None
        assess.set_state(one, {**one.state.raw, k: v}, None, str(f.path))
        if _emergency_view(one, golden) != base:
            out.append(k)
    return out or sorted(differ)
