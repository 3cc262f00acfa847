"""The commands a newcomer types: demo, lab serve + sweep, validate, profiles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from fleet.lab import fleet as labfleet
from fleet.lab.fleet import free_net
from tests.conftest import ROOT, run_fleet


def test_demo_runs_the_simulated_fleet_and_exits_0(tmp_path):
    proc = run_fleet("demo", "--store", str(tmp_path / "demo.db"))
    assert proc.returncode == 0, proc.stderr
    assert "EMERGENCY" in proc.stdout
    assert "emergency.route" in proc.stdout and "coverage.unreachable" in proc.stdout
    # no progress bar when stderr is not a terminal
    assert "sweeping" not in proc.stderr
    again = run_fleet("report", "--store", str(tmp_path / "demo.db"), "--format", "json")
    stored = json.loads(again.stdout)
    assert sum(d["role"] == "phone" for d in stored["devices"]) == 24


def test_lab_serve_then_sweep(tmp_path):
    out = tmp_path / "lab"
    net = free_net(130)
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleet",
            "lab",
            "serve",
            "--phones",
            "12",
            "--out",
            str(out),
            "--net",
            str(net),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert lab.stdout is not None
        first = lab.stdout.readline()
        assert first.startswith("serving 12 phones and ") and f"127.{net}.0.0/16" in first
        inv = yaml.safe_load((out / "inventory.yaml").read_text())
        addresses = [h["address"] for h in inv["hosts"].values()]
        assert len(addresses) == len(set(addresses)) >= 12
        assert all(f"127.{net}." in a for a in addresses)
        # the inventory holds a secret reference, never the password itself
        assert "${file:" in (out / "inventory.yaml").read_text()
        proc = run_fleet(
            "sweep",
            str(out / "inventory.yaml"),
            "--golden",
            str(out / "golden.yaml"),
            "--store",
            str(tmp_path / "s.db"),
            "--format",
            "json",
            "--concurrency",
            "4",
        )
        assert proc.returncode == 1
        report = json.loads(proc.stdout)
        phones = [d for d in report["devices"] if d["role"] == "phone"]
        # the phones the lab seeds a device fault on (down, auth, http500: not read) are not
        # audited; every other one is
        seeded = labfleet.build(12, net=net)
        unread = [p.id for p in seeded.phones if p.fault is not None]
        assert unread, "the lab seeds faults that stop a read"
        assert sum(d["status"] == "audited" for d in phones) == 12 - len(unread)
        assert {d["id"] for d in phones if d["status"] != "audited"} == set(unread)
        # the man Cisco phones go through man's SBCs, which the selection leaves out: they are
        # read too, and the one that sends 999/112 to a carrier trunk fails the phone behind it
        # (this selection once reported "all verified")
        selected = run_fleet(
            "sweep",
            str(out / "inventory.yaml"),
            "--golden",
            str(out / "golden.yaml"),
            "--store",
            str(tmp_path / "s.db"),
            "--select",
            "profile=cisco_mpp,site=man",
            "--format",
            "json",
        )
        assert selected.returncode == 1, selected.stdout
        assert "also read" in selected.stderr and "man-sbc" in selected.stderr
        rep = json.loads(selected.stdout)
        assert any(
            f["rule"] == "emergency.path"
            for d in rep["devices"]
            if d["profile"] == "cisco_mpp"
            for f in d["findings"]
        )
    finally:
        lab.send_signal(signal.SIGTERM)
        assert lab.wait(30) == 0


def test_validate_and_profiles(tmp_path):
    env = {"FLEET_PHONE_PASSWORD": "x"}
    proc = run_fleet("validate", "inventory/example.yaml", "inventory/golden-uk.yaml", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "3 hosts" in proc.stdout and "acme-uk-desk-phones" in proc.stdout
    bad = run_fleet(
        "validate",
        "inventory/example.yaml",
        env={k: v for k, v in os.environ.items() if k != "FLEET_PHONE_PASSWORD"},
    )
    assert bad.returncode == 2
    assert "inventory/example.yaml:3: defaults.credentials.password" in bad.stderr
    listed = run_fleet("profiles", "--policies")
    for name in ("polycom", "yealink", "cisco_mpp", "uk", "Kari's Law", "47 CFR 9.16"):
        assert name in listed.stdout


def test_python_dash_m_and_help():
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0 and "sweep" in proc.stdout
    assert Path(ROOT, "README.md").read_text().splitlines()[3].startswith("make demo")


def test_dialplan_eval_json_and_explain():
    proc = run_fleet(
        "dialplan",
        "eval",
        "--syntax",
        "mgcp",
        "999|112|0[1-9]xxxxxxxxx|9xxx",
        "999",
        "112",
        "9123",
        "0",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["digits"] for r in rows] == ["999", "112", "9123", "0"]
    for r in rows:
        assert set(r) >= {
            "digits",
            "outcome",
            "after_timeout",
            "delay_s",
            "sent",
            "route",
            "matched",
        }
    assert rows[0] == {
        "digits": "999",
        "outcome": "dial",
        "after_timeout": False,
        "delay_s": 0,
        "sent": "999",
        "route": None,
        "matched": "999",
    }
    assert rows[2]["matched"] == "9xxx" and rows[3]["outcome"] == "wait"
    # Cisco waits the short timer where mgcp dials at once: 999 beside 9xxx
    cisco = run_fleet(
        "dialplan", "eval", "--syntax", "cisco", "(999|9xxx)", "999", "--json", "--explain"
    )
    first = json.loads(cisco.stdout.splitlines()[0])
    assert first["outcome"] == "dial" and first["after_timeout"] and first["delay_s"] == 3
    assert len(cisco.stdout.splitlines()) > 2  # the steps follow


def test_dialplan_eval_bad_input():
    proc = run_fleet("dialplan", "eval", "--syntax", "mgcp", "999", "9a9")
    assert proc.returncode == 2 and "DIGITS" in proc.stderr
    proc = run_fleet("dialplan", "eval", "--syntax", "pbx", "999", "999")
    assert proc.returncode == 2
    proc = run_fleet("dialplan", "eval", "--syntax", "yealink", "999", "999", "--option", "x")
    assert proc.returncode == 2 and "NAME=VALUE" in proc.stderr
