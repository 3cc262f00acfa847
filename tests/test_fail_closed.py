"""Fail closed: anything fleet could not read, evaluate or walk is a finding counted in the
exit code; a crash is exit 2 with what failed, no traceback, nothing stored lost."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from fleet import commands, profiles
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.store import Store
from tests.conftest import ROOT, make_lab, run_fleet
from tests.test_audit import export_lab

SAMPLES = ROOT / "device_profiles"


def _boom(*_args: object) -> None:
    raise TypeError("text that quotes the configuration: password hunter2")


def test_a_profile_bug_fails_that_device_not_the_sweep(lab, tmp_path, monkeypatch):
    fleet, inv, golden = lab
    reg = profiles.registry()
    monkeypatch.setitem(reg, "snom", replace(reg["snom"], to_state=_boom))
    db = tmp_path / "f.db"
    code = commands.sweep(
        inv,
        golden,
        store=db,
        fmt="json",
        output=tmp_path / "r.json",
        fail_on="high",
        concurrency=50,
        timeout=10,
        select=None,
        tag=None,
    )
    assert code == 1
    with Store(db) as st:
        snap = st.load(st.resolve(None))
    snoms = [r for r in snap.results if r.profile == "snom"]
    assert snoms and len(snap.results) == len(fleet.phones) + len(fleet.sbcs)
    for r in snoms:
        assert r.status == "error"
        assert "parse failed" in r.error and "TypeError" in r.error
        assert "hunter2" not in r.error
        assert [f.rule for f in r.findings] == ["coverage.error"]
    others = [r for r in snap.results if r.profile != "snom" and r.status == "audited"]
    assert len(others) > len(fleet.phones) // 2


def test_a_profile_bug_fails_that_file_not_the_audit(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(SAMPLES / "yealink/samples/digitmap/001565c0ffee.cfg", folder)
    shutil.copy(SAMPLES / "polycom/samples/sip-nested.cfg", folder)
    reg = profiles.registry()
    monkeypatch.setitem(reg, "polycom", replace(reg["polycom"], parse_files=_boom))
    gold = golden_mod.load(ROOT / "inventory/golden-uk.yaml")
    snap = audit([folder], gold)
    by_id = {r.id: r for r in snap.results}
    assert by_id["sip-nested"].status == "error"
    assert "read failed" in by_id["sip-nested"].error
    assert by_id["sip-nested"].findings[0].rule == "coverage.error"
    assert by_id["001565c0ffee"].status == "audited"


@pytest.fixture()
def stored(tmp_path):
    """A store holding one audit snapshot, to show that failures leave it alone."""
    db = tmp_path / "keep.db"
    proc = run_fleet(
        "audit",
        str(SAMPLES / "polycom/samples/sip-nested.cfg"),
        "--golden",
        str(ROOT / "inventory/golden-uk.yaml"),
        "--store",
        str(db),
        "--format",
        "json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    return db


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--store", "/no/such/dir/f.db"], "/no/such/dir"),
        (["--output", "{tmp}/missing/r.json"], "missing"),
        (["--output", "{tmp}"], "is a folder"),
        (["--metrics", "{tmp}/missing/m.prom"], "missing"),
        (["--email", "a@example.com", "--smtp-password-ref", ""], "--smtp-password-ref"),
        (["--email", "a@example.com", "--smtp-password-ref", "hunter2"], "--smtp-password-ref"),
    ],
)
def test_io_and_usage_failures_exit_2_naming_the_path(stored, tmp_path, extra, named):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    store = [] if "--store" in args else ["--store", str(stored)]
    proc = run_fleet(
        "audit",
        str(SAMPLES / "polycom/samples/sip-nested.cfg"),
        "--golden",
        str(ROOT / "inventory/golden-uk.yaml"),
        *store,
        *args,
    )
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr
    listed = run_fleet("store", "list", "--store", str(stored))
    # a header and the one snapshot stored before
    assert listed.returncode == 0 and len(listed.stdout.strip().splitlines()) == 2


def test_report_and_sweep_refuse_unwritable_paths_before_any_work(stored, tmp_path, lab):
    _, inv, golden = lab
    proc = run_fleet("report", "--store", str(stored), "--output", str(tmp_path))
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    proc = run_fleet("sweep", str(inv), "--golden", str(golden), "--store", "/no/such/dir/f.db")
    assert proc.returncode == 2 and "/no/such/dir" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_fleet("store", "prune", "--keep", "1", "--store", str(tmp_path / "typo.db"))
    assert proc.returncode == 2 and not (tmp_path / "typo.db").exists()


def test_demo_renders_html(tmp_path):
    proc = run_fleet("demo", "--format", "html", "--store", str(tmp_path / "d.db"))
    assert proc.returncode == 0, proc.stderr
    assert "<html" in proc.stdout.lower() and "Traceback" not in proc.stderr


def test_a_phone_selection_brings_its_sbcs_along(lab):
    fleet, inv, golden = lab
    victims = [
        p
        for p in fleet.phones
        if p.extra.get("_fault", "").startswith("via-")
        and next(s for s in fleet.sbcs if s.id == p.extra["_fault"][4:]).fault != "down"
    ]
    assert victims
    proc = run_fleet(
        "sweep",
        str(inv),
        "--golden",
        str(golden),
        "--select",
        f"id={victims[0].id}",
        "--format",
        "json",
        "--store",
        str(inv.parent / "sel.db"),
    )
    sbc = victims[0].extra["_fault"][4:]
    assert "also read 1 SBC" in proc.stderr and sbc in proc.stderr
    report = json.loads(proc.stdout)
    [d] = [d for d in report["devices"] if d["id"] == victims[0].id]
    assert any(f["rule"] == "emergency.path" for f in d["findings"]), d["findings"]
    assert proc.returncode == 1


def test_a_path_through_an_sbc_outside_the_run_is_unproven(tmp_path):
    made = make_lab(tmp_path / "lab", 10, faults=False)
    inv, golden = made.inventory, made.golden
    files = tmp_path / "files"
    files.mkdir()
    export_lab(made.fleet, files)
    proc = run_fleet(
        "audit",
        str(files),
        "--golden",
        str(golden),
        "--inventory",
        str(inv),
        "--format",
        "json",
        "--store",
        str(tmp_path / "a.db"),
    )
    report = json.loads(proc.stdout)
    phones = [d for d in report["devices"] if d["role"] == "phone"]
    assert phones
    for d in phones:
        paths = [f for f in d["findings"] if f["rule"] == "emergency.path"]
        assert paths, d["findings"]
        assert all("not in this run" in f["message"] for f in paths)
    assert proc.returncode == 1


def test_the_systemd_unit_escapes_fleet_references():
    unit = (ROOT / "docs/systemd/fleet-sweep.service").read_text()
    exec_start = unit[unit.index("ExecStart=") :].split("\n\n")[0]
    assert "${env:" in exec_start
    assert "${env:" not in exec_start.replace("$${env:", "")


def test_a_coverage_finding_is_never_all_verified():
    from fleet.model import DeviceResult, DeviceState, Finding, Snapshot
    from fleet.report.context import verdict

    ok = DeviceResult("a", "lon", "phone", "polycom", "h", "audited", state=DeviceState("P", "p"))
    snap = Snapshot("sweep", "t0", "t1", "g", [ok])
    assert verdict(snap) == ("The one emergency path verified", True)
    ok.findings = [Finding("coverage.dialplan", "high", "dialplan", "no engine reads it")]
    text, good = verdict(snap)
    assert not good and "unproven" in text


def test_rollout_verify_with_a_selection_walks_the_path_too(lab, tmp_path):
    fleet, inv, golden = lab
    victim = next(
        p
        for p in fleet.phones
        if p.extra.get("_fault", "").startswith("via-")
        and next(s for s in fleet.sbcs if s.id == p.extra["_fault"][4:]).fault != "down"
    )
    db = str(tmp_path / "r.db")
    base = run_fleet("sweep", str(inv), "--golden", str(golden), "--store", db, "--tag", "pre")
    assert base.returncode == 1, base.stderr
    proc = run_fleet(
        "rollout", "verify", "--baseline", "pre", "--select", f"id={victim.id}", "--store", db
    )
    sbc = victim.extra["_fault"][4:]
    assert "also read 1 SBC" in proc.stderr and sbc in proc.stderr
    report = json.loads(run_fleet("report", "--store", db, "--format", "json").stdout)
    by_id = {d["id"]: d for d in report["devices"]}
    assert set(by_id) == {victim.id, sbc}
    assert any(f["rule"] == "emergency.path" for f in by_id[victim.id]["findings"])


def test_marking_stale_twice_gives_one_finding_and_coverage_is_never_proven():
    from fleet.check.staleness import mark_stale, proven
    from fleet.model import DeviceResult, DeviceState, Finding, Snapshot

    r = DeviceResult("a", "lon", "phone", "polycom", "h", "audited", state=DeviceState("P", "p"))
    r.findings = [Finding("coverage.dialplan", "high", "dialplan", "no engine reads it")]
    snap = Snapshot("sweep", "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "g", [r])
    assert not proven(r)
    mark_stale(snap, {}, 3600)
    mark_stale(snap, {}, 3600)  # `fleet report --max-age` on a snapshot swept with it
    assert [f.rule for f in r.findings].count("coverage.stale") == 1
