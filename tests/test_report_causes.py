"""Root-cause grouping over a real sweep of the lab: one SBC fault is one cause naming every
phone behind it, one wrong emergency route is one cause for its four criticals, every finding
is in exactly one cause, worst first."""

from __future__ import annotations

import copy
import json

import pytest

from fleet.model import SEVERITY_RANK, Snapshot
from fleet.report import causes
from fleet.store import Store
from tests.conftest import run_fleet


@pytest.fixture(scope="module")
def swept(lab, tmp_path_factory) -> tuple[object, Snapshot, dict]:
    fleet, inv, golden = lab
    db = tmp_path_factory.mktemp("causes") / "c.db"
    proc = run_fleet(
        "sweep", str(inv), "--golden", str(golden), "--store", str(db), "--format", "json"
    )
    assert proc.returncode == 1, proc.stderr
    with Store(db) as st:
        snap = st.load(st.resolve(None))
    return fleet, snap, json.loads(proc.stdout)


def _by_key(found: list[causes.Cause]) -> dict[str, causes.Cause]:
    return {c.key: c for c in found}


def test_every_finding_is_in_exactly_one_cause_worst_first(swept):
    _, snap, _ = swept
    found = causes.group(snap.results)
    members = [(d, id(f)) for c in found for d, f in c.findings]
    everything = [(r.id, id(f)) for r in snap.results for f in r.findings]
    assert len(everything) > 20
    assert sorted(members) == sorted(everything)
    ranks = [SEVERITY_RANK[c.severity] for c in found]
    assert ranks == sorted(ranks)
    # fewer lines than findings: that is the point
    assert len(found) < len(everything)
    for c in found:
        assert set(c.devices) == {d for d, _ in c.findings}
        assert c.severity == min((f.severity for _, f in c.findings), key=SEVERITY_RANK.get)


def test_one_sbc_fault_is_one_cause_naming_every_phone_behind_it(swept):
    fleet, snap, _ = swept
    found = _by_key(causes.group(snap.results))
    faulty = [s for s in fleet.sbcs if s.fault]
    assert faulty
    for sbc in faulty:
        behind = [p.id for p in fleet.phones if p.extra.get("_fault") == f"via-{sbc.id}"]
        assert behind, sbc.id
        c = found[f"sbc:{sbc.id}"]
        assert set(behind) <= set(c.devices)
        assert sbc.id in c.summary
        # each phone's path finding through this SBC is here, not a cause of its own
        for r in snap.results:
            if r.id in behind:
                paths = [f for f in r.findings if f.rule == "emergency.path"]
                assert paths and all((r.id, f) in c.findings for f in paths)
        status = next(r.status for r in snap.results if r.id == sbc.id)
        assert not (sbc.fault == "down" and status == "audited")
        if status != "audited":  # down, or too slow to answer on a loaded machine
            assert "not audited" in c.summary
            assert any(d == sbc.id and f.rule.startswith("coverage.") for d, f in c.findings)
        else:
            assert any(d == sbc.id and f.rule == "emergency.sbc_route" for d, f in c.findings)


def test_one_wrong_emergency_route_is_one_cause_for_its_criticals(swept):
    fleet, snap, _ = swept
    victim = next(p for p in fleet.phones if p.extra.get("_fault") == "decommissioned-route")
    mine = [c for c in causes.group(snap.results) if victim.id in c.devices]
    assert len(mine) == 1, [c.key for c in mine]
    c = mine[0]
    assert c.key == f"route:{fleet.decommissioned}"
    rules = sorted(f.rule for _, f in c.findings)
    assert rules == ["emergency.path"] * 2 + ["emergency.route"] * 2
    assert c.numbers == ("112", "999")
    assert fleet.decommissioned in c.summary and "no SBC in the inventory" in c.summary

    # the same wrong server on another phone is the same fault: one cause, both phones
    r = next(r for r in snap.results if r.id == victim.id)
    twin = copy.deepcopy(r)
    twin.id = "zzz-twin"
    for f in twin.findings:
        f.evidence = [e.replace(victim.id, twin.id) for e in f.evidence]
    both = [c for c in causes.group([r, twin]) if c.key.startswith("route:")]
    assert len(both) == 1 and both[0].devices == (victim.id, "zzz-twin")
    assert len(both[0].findings) == 8


def test_one_dial_plan_is_one_cause_with_each_number_it_breaks(swept):
    fleet, snap, _ = swept
    victim = next(p for p in fleet.phones if p.extra.get("_fault") == "default-911")
    r = next(r for r in snap.results if r.id == victim.id)
    dial = [f for f in r.findings if f.rule == "emergency.dial"]
    assert len(dial) >= 2
    plan = [c for c in causes.group([r]) if c.key.startswith("setting:")]
    holding = [c for c in plan if any(f.rule == "emergency.dial" for _, f in c.findings)]
    assert len(holding) == 1
    c = holding[0]
    assert all((r.id, f) in c.findings for f in dial)
    name = dial[0].evidence[0].partition(" = ")[0]
    assert c.summary.startswith(f"{name}: ")
    for f in dial:
        assert f.subject in c.summary  # each number it breaks is named on the one line


def test_not_audited_devices_stay_one_cause_each(swept):
    _, snap, _ = swept
    found = causes.group(snap.results)
    down = [r for r in snap.results if r.status != "audited" and r.role == "phone"]
    assert down
    for r in down:
        mine = [c for c in found if r.id in c.devices]
        assert len(mine) == 1 and mine[0].devices == (r.id,)
        assert r.status in mine[0].summary


def test_the_json_report_carries_the_causes(swept):
    _, snap, report = swept
    assert [c["key"] for c in report["causes"]] == [c.key for c in causes.group(snap.results)]
    first = report["causes"][0]
    assert set(first) >= {"key", "severity", "summary", "devices", "numbers", "findings"}
    assert all(set(f) >= {"device", "rule", "subject"} for f in first["findings"])


def test_a_path_broken_by_the_phones_own_plan_is_that_plans_cause_not_the_sbcs(swept, lab):
    """A phone whose plan turns 112 into 1 sends the SBC a 1: the SBC did nothing wrong, the
    path finding joins the plan's cause (checks re-run on the lab's own results)."""
    from fleet import check
    from fleet.check import golden as golden_mod
    from fleet.model import EmergencyEntry

    fleet, snap, _ = swept
    _, _, golden_path = lab
    gold = golden_mod.load(golden_path)
    victim = next(p for p in fleet.phones if p.extra.get("_fault") == "lost-112")
    results = copy.deepcopy(snap.results)
    r = next(x for x in results if x.id == victim.id)
    assert r.state is not None
    for line in r.state.lines:  # 112 an emergency number again, sent where 999 goes
        e999 = next(e for e in line.emergency if e.number == "999")
        line.emergency.append(EmergencyEntry("112", e999.route, e999.source, e999.route_source))
    hosts = {s.id: s.address for s in [*fleet.phones, *fleet.sbcs]}
    for x in results:
        check.check_device(x, gold, {})
    check.check_fleet(results, gold, hosts)
    paths = [f for f in r.findings if f.rule == "emergency.path" and f.subject == "112"]
    assert paths, [f.rule for f in r.findings]
    # the walk reached the SBC with what the phone sent, and the SBC is named in the reason
    assert any(" sends 1 to " in f.evidence[0] for f in paths), [f.evidence for f in paths]
    assert any(s.id in (f.actual or "") for f in paths for s in fleet.sbcs)
    found = causes.group(results)
    mine = [c for c in found if any(d == r.id and f in paths for d, f in c.findings)]
    assert len(mine) == 1
    c = mine[0]
    assert c.key.startswith(f"setting:{r.profile}:")
    assert any(f.rule == "emergency.dial" and f.subject == "112" for _, f in c.findings)
    assert not any(x.key.startswith("sbc:") and r.id in x.devices for x in found)
