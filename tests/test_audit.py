"""`fleet audit` on provisioning files finds what a sweep finds, with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet import profiles
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabDevice
from tests.conftest import run_fleet


def export_lab(fleet: labfleet.LabFleet, folder: Path) -> dict[str, str]:
    """Each lab phone's configuration as its provisioning files; the file that is not
    included by another is named after the phone. Returns id -> file name."""
    names = {}
    for spec in fleet.phones:
        prof = profiles.get(spec.profile)
        files = prof.simulator.export_files(LabDevice(spec, prof.simulator.render(spec)))
        included = {n for name, text in files.items() for n in prof.includes(name, text)}
        [master] = [n for n in files if n not in included]
        sub = folder / spec.id
        sub.mkdir()
        for name, text in files.items():
            ext = Path(name).suffix
            (sub / (f"{spec.id}{ext}" if name == master else name)).write_text(text)
        names[spec.id] = f"{spec.id}{Path(master).suffix}"
    return names


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    fleet = labfleet.build(15)
    tmp = tmp_path_factory.mktemp("audit")
    _, golden = labfleet.write_files(fleet, tmp / "lab")
    files = tmp / "files"
    files.mkdir()
    names = export_lab(fleet, files)
    args = [str(files / pid / name) for pid, name in names.items()]
    # The Poly master files pull in their siblings; give the folders for the rest to be found.
    proc = run_fleet(
        "audit", *args, "--golden", str(golden), "--format", "json", "--store", str(tmp / "a.db")
    )
    return fleet, proc, json.loads(proc.stdout or "{}"), tmp


def test_audit_finds_the_configuration_faults(audited):
    fleet, proc, report, _ = audited
    assert proc.returncode == 1, proc.stderr
    got = {d["id"]: d for d in report["devices"]}
    assert set(got) == {p.id for p in fleet.phones}
    for p in fleet.phones:
        fault = p.extra.get("_fault")
        d = got[p.id]
        assert d["status"] == "audited", d
        rules = {(f["rule"], f["subject"]) for f in d["findings"] if f["rule"] == "emergency.route"}
        critical = [f for f in d["findings"] if f["severity"] == "critical"]
        if fault == "lost-112":
            assert rules == {("emergency.route", "112")}
        elif fault in ("default-911", "decommissioned-route"):
            assert rules == {("emergency.route", "999"), ("emergency.route", "112")}
        else:  # transport faults (down, auth, 500) do not show in the files
            assert critical == [], (p.id, fault, d["findings"])


def test_audit_stores_a_snapshot_without_secrets(audited):
    fleet, _, _, tmp = audited
    blob = b"".join(p.read_bytes() for p in tmp.glob("a.db*"))
    assert blob
    for p in fleet.phones:
        assert p.sip_password.encode() not in blob
    listing = run_fleet("store", "list", "--store", str(tmp / "a.db"))
    assert " audit " in listing.stdout


def test_broken_and_unknown_files(tmp_path):
    fleet = labfleet.build(3, faults=False)
    _, golden = labfleet.write_files(fleet, tmp_path / "lab")
    folder = tmp_path / "prov"
    folder.mkdir()
    (folder / "broken.cfg").write_text(
        '<?xml version="1.0"?>\n<polycomConfig>\n  <reg reg.1.address="2001"\n'
    )
    (folder / "README.txt").write_text("not a phone configuration\n")
    proc = run_fleet(
        "audit",
        str(folder),
        "--golden",
        str(golden),
        "--format",
        "json",
        "--store",
        str(tmp_path / "b.db"),
    )
    report = json.loads(proc.stdout)
    [d] = report["devices"]
    assert d["id"] == "broken" and d["status"] == "error"
    assert "broken.cfg" in d["error"]
    assert "skipped" in proc.stderr and "README.txt" in proc.stderr
    explicit = run_fleet(
        "audit",
        str(folder / "README.txt"),
        "--golden",
        str(golden),
        "--store",
        str(tmp_path / "c.db"),
    )
    assert explicit.returncode == 2
    assert "README.txt:1" in explicit.stderr and "not a configuration" in explicit.stderr
