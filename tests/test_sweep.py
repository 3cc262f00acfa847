"""End to end: `fleet sweep` against the lab over real sockets finds every seeded fault,
stores a snapshot, keeps secrets out of the store and the report, and keeps going when
devices fail in every way they do in the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_fleet, running_lab


@pytest.fixture(scope="module")
def swept(lab, tmp_path_factory):
    fleet, inv, golden = lab
    db = tmp_path_factory.mktemp("store") / "fleet.db"
    proc = run_fleet(
        "sweep", str(inv), "--golden", str(golden), "--format", "json", "--store", str(db)
    )
    return fleet, proc, json.loads(proc.stdout or "{}"), db


def _device(report: dict, device_id: str) -> dict:
    return next(d for d in report["devices"] if d["id"] == device_id)


def _faulty(fleet, fault: str):
    return next(p for p in fleet.phones if p.extra.get("_fault") == fault)


def test_sweep_reports_per_spec_and_exits_1(swept):
    fleet, proc, report, _ = swept
    assert proc.returncode == 1, proc.stderr
    assert report["schema"] == "fleet.report/1"
    assert report["golden"] == "lab-uk-desk-phones"
    s = report["summary"]
    assert s["devices"] == len(fleet.phones) + len(fleet.sbcs)
    phones = [d for d in report["devices"] if d["role"] == "phone"]
    assert len(phones) == 30
    assert sum(d["status"] == "audited" for d in phones) == 27
    assert sum(d["status"] == "unreachable" for d in phones) == 1
    assert {d["status"] for d in report["devices"]} == {
        "audited",
        "unreachable",
        "auth-failed",
        "error",
    }
    for d in report["devices"]:
        assert set(d) >= {
            "id",
            "site",
            "role",
            "profile",
            "model",
            "firmware",
            "status",
            "findings",
        }
    # emergency findings come first, critical first
    sev = [f["severity"] for d in report["devices"] for f in d["findings"]][:3]
    assert sev == ["critical"] * 3


def test_each_seeded_fault_is_found_with_the_right_rule_and_subject(swept):
    fleet, _, report, _ = swept
    lost = _device(report, _faulty(fleet, "lost-112").id)
    assert [
        (f["rule"], f["subject"]) for f in lost["findings"] if f["rule"] == "emergency.route"
    ] == [("emergency.route", "112")]
    default = _device(report, _faulty(fleet, "default-911").id)
    got = {(f["rule"], f["subject"]) for f in default["findings"]}
    assert got >= {("emergency.route", "999"), ("emergency.route", "112")}
    assert all("911" in f["actual"] for f in default["findings"] if f["rule"] == "emergency.route")
    moved = _device(report, _faulty(fleet, "decommissioned-route").id)
    routes = [f for f in moved["findings"] if f["rule"] == "emergency.route"]
    assert {f["subject"] for f in routes} == {"999", "112"}
    assert all(f["actual"].startswith(fleet.decommissioned) for f in routes)
    assert all(f["evidence"] for f in routes)
    statuses = {
        "down": ("unreachable", "coverage.unreachable"),
        "auth": ("auth-failed", "coverage.auth-failed"),
        "http500": ("error", "coverage.error"),
    }
    for fault, (status, rule) in statuses.items():
        d = _device(report, _faulty(fleet, fault).id)
        assert d["status"] == status
        assert [f["rule"] for f in d["findings"]] == [rule]
    healthy = [p for p in fleet.phones if "_fault" not in p.extra]
    for p in healthy:
        d = _device(report, p.id)
        assert d["status"] == "audited", d
        assert d["model"] == p.model and d["firmware"] == p.firmware
        assert not [f for f in d["findings"] if f["severity"] in ("critical", "high")], d


def test_no_secret_reaches_the_store_or_the_report(swept):
    fleet, proc, _, db = swept
    blob = b"".join(p.read_bytes() for p in db.parent.iterdir())
    secrets = {p.sip_password for p in fleet.phones} | {fleet.admin_password}
    assert len(secrets) > 25
    for s in secrets:
        assert s.encode() not in blob, f"secret {s[:4]}… found in the store"
        assert s not in proc.stdout and s not in proc.stderr


def test_snapshot_is_stored_and_reports_again(swept):
    _, _, report, db = swept
    listing = run_fleet("store", "list", "--store", str(db))
    assert listing.returncode == 0 and " sweep " in listing.stdout
    again = run_fleet("report", "--store", str(db), "--format", "json")
    assert again.returncode == 1
    stored = json.loads(again.stdout)
    assert stored["summary"] == report["summary"]
    assert stored["devices"] == report["devices"]


def test_table_output_and_select(lab, tmp_path):
    fleet, inv, golden = lab
    proc = run_fleet(
        "sweep",
        str(inv),
        "--golden",
        str(golden),
        "--store",
        str(tmp_path / "f.db"),
        "--select",
        "site=man,profile=cisco_mpp",
        "--all",  # the ok ones too: without it they are one count
    )
    man_cisco = [p for p in fleet.phones if p.site == "man" and p.profile == "cisco_mpp"]
    assert man_cisco
    for p in man_cisco:
        assert p.id in proc.stdout
    others = [p for p in fleet.phones if p not in man_cisco]
    assert not any(p.id in proc.stdout for p in others)
    # the count line: the selected phones and the SBCs on their paths, read too
    n = len(man_cisco) + sum(1 for s in fleet.sbcs if s.id in proc.stdout)
    assert f"\n{n} device{'s' if n != 1 else ''}: {n} audited" in proc.stdout


def test_devices_that_misbehave_are_reported_and_the_sweep_goes_on(tmp_path):
    seed = ("garbage", "huge", "slow")
    with running_lab(tmp_path, 9, net_from=110, faults=False, seed=seed) as lab:
        fleet = lab.fleet
        proc = run_fleet(
            "sweep",
            str(lab.inventory),
            "--golden",
            str(lab.golden),
            "--format",
            "json",
            "--store",
            str(tmp_path / "f.db"),
            "--timeout",
            "3",
        )
    report = json.loads(proc.stdout)
    got = {d["id"]: d for d in report["devices"]}
    garbage, huge, slow = (got[p.id] for p in fleet.phones[:3])
    assert garbage["status"] == "error" and "not a valid HTTP answer" in garbage["error"]
    assert huge["status"] == "error" and "larger than" in huge["error"]
    assert slow["status"] == "unreachable" and "3 s" in slow["error"]
    assert all(got[p.id]["status"] == "audited" for p in fleet.phones[3:])


def test_unreadable_inputs_exit_2_with_file_and_line(tmp_path: Path, lab):
    _, inv, _ = lab
    bad = tmp_path / "golden.yaml"
    bad.write_text("fleet_golden: 1\nname: x\nrules:\n  - {id: r, key: model, matches: '(['}\n")
    proc = run_fleet("sweep", str(inv), "--golden", str(bad), "--store", str(tmp_path / "x.db"))
    assert proc.returncode == 2
    assert f"{bad}:4: rules[0].matches: bad regular expression" in proc.stderr
    assert not (tmp_path / "x.db").exists()
