"""`fleet rollout assess`: a change is applied to each device's last swept configuration and
judged before it ships. The baseline is a real sweep of the lab; the change files are written
in each vendor's own format with the lab's documented faults as their content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.assess import mac_in
from fleet.cli import app
from fleet.lab import registry
from tests.conftest import running_lab

PROFILES = ("polycom", "yealink", "cisco_mpp", "grandstream", "snom")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("assess")
    db = folder / "fleet.db"
    with running_lab(folder, 10, faults=False, profile_names=PROFILES) as lab:
        got = CliRunner().invoke(
            app,
            [
                "sweep",
                str(lab.inventory),
                "--golden",
                str(lab.golden),
                "--store",
                str(db),
                "--tag",
                "before-change",
            ],
        )
        assert got.exit_code in (0, 1), got.output
        return lab, db


def _change(folder: Path, lab) -> Path:
    folder.mkdir()
    us = registry.phone("yealink").faults["digitmap-us"]
    # Yealink's common file, read by every Yealink phone (y000000000000.cfg)
    (folder / "y000000000000.cfg").write_text(
        "#!version:1.0.0.1\n" + "".join(f"{k} = {v}\n" for k, v in us.items())
    )
    # a Cisco MPP profile for one phone by MAC: an ordinary change that touches no emergency key
    cisco = next(p for p in lab.fleet.phones if p.profile == "cisco_mpp")
    (folder / f"{cisco.mac.upper()}.xml").write_text(
        "<flat-profile>\n  <Station_Display_Name>Reception</Station_Display_Name>\n"
        "</flat-profile>\n"
    )
    # a file for a phone that is not in the baseline, and one no profile reads
    (folder / "cfg000b82ffffff.xml").write_text(
        "<flat-profile><Station_Display_Name>x</Station_Display_Name></flat-profile>\n"
    )
    (folder / "notes.txt").write_text("deploy on Tuesday\n")
    return folder


def test_a_common_file_that_loses_999_and_112_is_caught_before_it_ships(baseline, tmp_path) -> None:
    lab, db = baseline
    change = _change(tmp_path / "change", lab)
    got = CliRunner().invoke(
        app,
        [
            "rollout",
            "assess",
            str(change),
            "--baseline",
            "before-change",
            "--store",
            str(db),
            "--format",
            "json",
        ],
    )
    assert got.exit_code == 1, got.output
    a = json.loads(got.output)
    yealinks = sorted(p.id for p in lab.fleet.phones if p.profile == "yealink")
    bad = {(c["device"], c["subject"]) for c in a["changes"] if c["regression"]}
    assert {d for d, _ in bad} == set(yealinks)
    assert {s for _, s in bad} >= {"999", "112"}
    one = next(c for c in a["changes"] if c["regression"] and c["subject"] == "112")
    assert one["before"] == [] and any(x.startswith("emergency.dial") for x in one["after"])
    why = one["files"][0]
    assert why["file"].endswith("y000000000000.cfg")
    assert any(k.startswith("dialplan.digitmap") for k in why["keys"])
    # the Cisco change reaches its phone and changes nothing of its emergency calling
    cisco = next(p for p in lab.fleet.phones if p.profile == "cisco_mpp")
    assert a["devices_reached"] == len(yealinks) + 1
    assert not [c for c in a["changes"] if c["device"] == cisco.id]
    assert any(u.endswith("cfg000b82ffffff.xml") for u in a["untouched"])
    assert any("notes.txt" in u for u in a["unread"])


def test_the_table_says_do_not_ship_and_why(baseline, tmp_path) -> None:
    lab, db = baseline
    change = _change(tmp_path / "change", lab)
    got = CliRunner().invoke(
        app, ["rollout", "assess", str(change), "--baseline", "before-change", "--store", str(db)]
    )
    assert got.exit_code == 1
    assert "emergency regression(s): DO NOT SHIP" in got.output
    assert "REGRESSION" in got.output and "because " in got.output
    assert "not read (so not assessed):" in got.output
    junit = CliRunner().invoke(
        app,
        [
            "rollout",
            "assess",
            str(change),
            "--baseline",
            "before-change",
            "--store",
            str(db),
            "--format",
            "junit",
        ],
    )
    assert "<failure" in junit.output and junit.output.count("<testcase") == 3


def test_a_harmless_change_passes(baseline, tmp_path) -> None:
    lab, db = baseline
    folder = tmp_path / "ok"
    folder.mkdir()
    cisco = next(p for p in lab.fleet.phones if p.profile == "cisco_mpp")
    (folder / f"{cisco.mac}.xml").write_text(
        "<flat-profile><Station_Display_Name>Desk</Station_Display_Name></flat-profile>\n"
    )
    got = CliRunner().invoke(
        app, ["rollout", "assess", str(folder), "--baseline", "before-change", "--store", str(db)]
    )
    assert got.exit_code == 0, got.output
    assert "no emergency regression" in got.output


def test_which_phones_a_file_reaches_follows_its_name() -> None:
    assert mac_in("0004f2a1b2c3.cfg") == "0004f2a1b2c3"
    assert mac_in("cfg000B82A1B2C3.xml") == "000b82a1b2c3"
    assert mac_in("snomD785-000413A1B2C3.htm") == "000413a1b2c3"
    assert mac_in("y000000000000.cfg") is None  # Yealink's common file
    assert mac_in("000000000000.cfg") is None  # Poly's default master
    assert mac_in("sip.cfg") is None


def test_audit_against_a_sweep_names_phones_not_running_the_provisioned_file(
    baseline, tmp_path
) -> None:
    """Three-way reconciliation: the provisioning server's Yealink common file now carries
    the US digit map (changed by hand on the server); the phones still run the old plan. Both
    directions look the same from here: every Yealink phone differs in keys that change its
    emergency calling, and the audit says which phone and which key."""
    lab, db = baseline
    change = _change(tmp_path / "prov", lab)
    got = CliRunner().invoke(
        app,
        [
            "audit",
            str(change / "y000000000000.cfg"),
            str(
                change
                / f"{next(p for p in lab.fleet.phones if p.profile == 'cisco_mpp').mac.upper()}.xml"
            ),
            "--golden",
            str(lab.golden),
            "--store",
            str(db),
            "--against",
            "before-change",
            "--format",
            "json",
        ],
    )
    assert got.exit_code == 1, got.output
    doc = json.loads(got.output)
    drift = [
        (d["id"], f)
        for d in doc["devices"]
        for f in d["findings"]
        if f["rule"] == "drift.provisioning"
    ]
    yealinks = sorted(p.id for p in lab.fleet.phones if p.profile == "yealink")
    assert sorted(f["subject"] for _, f in drift) == yealinks
    assert all(dev == "y000000000000" for dev, _ in drift)
    assert all("dialplan.digitmap" in f["message"] for _, f in drift)
    # the Cisco file differs from its phone only in a display name: no emergency drift
    assert not [f for _, f in drift if "cisco" in f["subject"]]


def test_against_needs_an_existing_store(baseline, tmp_path) -> None:
    lab, _ = baseline
    change = _change(tmp_path / "prov", lab)
    got = CliRunner().invoke(
        app,
        [
            "audit",
            str(change),
            "--golden",
            str(lab.golden),
            "--store",
            str(tmp_path / "missing.db"),
            "--against",
            "before-change",
        ],
    )
    assert got.exit_code == 2
    assert "missing.db" in got.output


def test_a_firmware_target_on_the_known_bad_list_is_a_regression(baseline, tmp_path) -> None:
    import yaml

    lab, db = baseline
    gold = yaml.safe_load(lab.golden.read_text())
    gold["firmware"] = {"deny": {"VVX *": ["6.4.5.*"]}}
    golden = tmp_path / "golden.yaml"
    golden.write_text(yaml.safe_dump(gold))
    args = [
        "rollout",
        "assess",
        "--baseline",
        "before-change",
        "--store",
        str(db),
        "--golden",
        str(golden),
        "--format",
        "json",
    ]
    got = CliRunner().invoke(app, [*args, "--firmware", "VVX*=6.4.5.0100"])
    assert got.exit_code == 1, got.output
    a = json.loads(got.output)
    polys = sorted(p.id for p in lab.fleet.phones if p.profile == "polycom")
    bad = [c for c in a["changes"] if c["regression"]]
    assert sorted(c["device"] for c in bad) == polys
    assert all(any(x.startswith("emergency.firmware") for x in c["after"]) for c in bad)
    assert bad[0]["files"][0]["file"] == "firmware 6.4.5.0100"
    ok = CliRunner().invoke(app, [*args, "--firmware", "VVX*=6.4.6.0001"])
    assert ok.exit_code == 0, ok.output
    refused = CliRunner().invoke(app, [*args, "--firmware", "VVX 450"])
    assert refused.exit_code == 2 and "MODEL=VERSION" in refused.output


def test_assess_works_on_a_baseline_audited_from_files(baseline, tmp_path) -> None:
    """The baseline may be a `fleet audit` of the provisioning files as they are today, not a
    sweep: each phone's files as its server holds them (the lab's simulators export them)."""
    lab, _ = baseline
    files = tmp_path / "today"
    for spec in lab.fleet.phones:
        folder = files / spec.id  # one folder per phone: shared file names do not collide
        folder.mkdir(parents=True)
        dev = lab.fleet.devices[spec.id]
        for name, text in registry.phone(spec.profile).export_files(dev).items():
            (folder / name).write_text(text)
    db = tmp_path / "audit.db"
    got = CliRunner().invoke(
        app,
        ["audit", str(files), "--golden", str(lab.golden), "--store", str(db), "--tag", "today"],
    )
    assert got.exit_code in (0, 1), got.output
    change = _change(tmp_path / "change", lab)
    got = CliRunner().invoke(
        app,
        [
            "rollout",
            "assess",
            str(change / "y000000000000.cfg"),
            "--baseline",
            "today",
            "--store",
            str(db),
            "--format",
            "json",
        ],
    )
    assert got.exit_code == 1, got.output
    a = json.loads(got.output)
    bad = [c for c in a["changes"] if c["regression"] and c["subject"] == "112"]
    yealinks = sum(p.profile == "yealink" for p in lab.fleet.phones)
    assert len(bad) == yealinks and {c["profile"] for c in bad} == {"yealink"}
    assert a["devices_reached"] == yealinks


def test_timeline_works_on_audits_of_files(baseline, tmp_path) -> None:
    """`fleet timeline` over `fleet audit` snapshots: a Poly phone's files lose 112 on day 2
    and get it back on day 4; audits on days 1..5 (times set in the store)."""
    import sqlite3

    lab, _ = baseline
    spec = next(p for p in lab.fleet.phones if p.profile == "polycom")
    dev = lab.fleet.devices[spec.id]
    sim = registry.phone(spec.profile)
    numbers = list(spec.emergency_numbers)
    db, folder = tmp_path / "a.db", tmp_path / "files"
    folder.mkdir()
    try:
        for day in range(1, 6):
            spec.emergency_numbers = (
                [n for n in numbers if n != "112"] if day in (2, 3) else numbers
            )
            dev.config = sim.render(spec)
            for name, text in sim.export_files(dev).items():
                (folder / name).write_text(text)
            got = CliRunner().invoke(
                app, ["audit", str(folder), "--golden", str(lab.golden), "--store", str(db)]
            )
            assert got.exit_code in (0, 1), got.output
            with sqlite3.connect(db) as con:
                con.execute(
                    "UPDATE snapshots SET finished_at=? WHERE id=(SELECT max(id) FROM snapshots)",
                    (f"2026-11-0{day}T06:00:00Z",),
                )
    finally:
        spec.emergency_numbers = numbers
        dev.config = sim.render(spec)
    got = CliRunner().invoke(
        app, ["timeline", "--store", str(db), "--number", "112", "--format", "json"]
    )
    assert got.exit_code == 0, got.output
    (w,) = json.loads(got.output)["devices"]
    assert (w["last_proven"]["at"], w["first_failed"]["at"], w["fixed"]["at"]) == (
        "2026-11-01T06:00:00Z",
        "2026-11-02T06:00:00Z",
        "2026-11-04T06:00:00Z",
    )
