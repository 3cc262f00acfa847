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
    # validate checks the reference's form, not the secret: it runs where the secrets are not
    unset = {k: v for k, v in os.environ.items() if k != "FLEET_PHONE_PASSWORD"}
    ok = run_fleet("validate", "inventory/example.yaml", env=unset)
    assert ok.returncode == 0, ok.stderr
    bad = run_fleet(
        "sweep",
        "inventory/example.yaml",
        "--golden",
        "inventory/golden-uk.yaml",
        "--store",
        str(tmp_path / "s.db"),
        env=unset,
    )
    assert bad.returncode == 2
    assert "inventory/example.yaml:3: defaults.credentials.password" in bad.stderr
    assert not (tmp_path / "s.db").exists()
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


def test_validate_checks_every_file_and_reports_every_problem(tmp_path):
    bad_inv = tmp_path / "inv.yaml"
    bad_inv.write_text("hosts:\n  h1: {address: 10.0.0.5, profile: polycom, timeout: -1}\n")
    bad_gold = tmp_path / "golden.yaml"
    bad_gold.write_text("fleet_golden: 1\nname: t\npolicy: [narnia]\n")
    proc = run_fleet("validate", str(bad_inv), "inventory/golden-uk.yaml", str(bad_gold))
    assert proc.returncode == 2
    assert f"{bad_inv}:2: hosts.h1.timeout" in proc.stderr
    assert f"{bad_gold}:3: policy: unknown policy pack 'narnia'" in proc.stderr
    assert "acme-uk-desk-phones" in proc.stdout  # the good one in the middle is still read
    assert "2 of 3 files have problems" in proc.stderr and "Traceback" not in proc.stderr


def test_swapped_inventory_and_golden_are_named_for_what_they_are(tmp_path):
    proc = run_fleet(
        "sweep",
        "inventory/golden-uk.yaml",
        "--golden",
        "inventory/example.yaml",
        "--store",
        str(tmp_path / "s.db"),
    )
    assert proc.returncode == 2
    assert "inventory/golden-uk.yaml:2: fleet_golden: this looks like a golden" in proc.stderr
    assert "pass it as --golden" in proc.stderr and "unknown key" not in proc.stderr
    (tmp_path / "pw").write_text("x\n")
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  h1: {address: 10.0.0.5, profile: polycom}\n")
    proc = run_fleet("sweep", str(inv), "--golden", str(inv), "--store", str(tmp_path / "s.db"))
    assert proc.returncode == 2 and "looks like an inventory" in proc.stderr
    assert not (tmp_path / "s.db").exists()


def test_sbc_route_on_a_file_that_is_neither_says_so():
    proc = run_fleet("sbc", "route", "README.md", "999")
    assert proc.returncode == 2
    assert (
        "README.md: not an SBC configuration" in proc.stderr and "nor an inventory" in proc.stderr
    )
    assert "malformed YAML" not in proc.stderr
    golden = run_fleet("sbc", "route", "inventory/golden-uk.yaml", "999")
    assert golden.returncode == 2 and "not an SBC configuration" in golden.stderr
    assert "--golden" not in golden.stderr  # no advice that fits another command


def test_dialplan_eval_refuses_options_the_engine_does_not_take():
    unknown = run_fleet("dialplan", "eval", "--syntax", "mgcp", "999", "999", "--option", "T=9")
    assert unknown.returncode == 2
    assert "reads no option 'T'" in unknown.stderr and "dialplan.digitmap.timeOut" in unknown.stderr
    bad = run_fleet(
        "dialplan", "eval", "--syntax", "cisco", "(999)", "999",
        "--option", "Interdigit_Short_Timer=soon",
    )  # fmt: skip
    assert bad.returncode == 2 and "Interdigit_Short_Timer" in bad.stderr
    good = run_fleet(
        "dialplan", "eval", "--syntax", "cisco", "(999|9xxx)", "999",
        "--option", "Interdigit_Short_Timer=5", "--format", "json",
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["delay_s"] == 5


def _commands():
    import typer

    from fleet.cli import app

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, cmd

    return list(walk(typer.main.get_command(app), []))


def test_help_has_no_bool_metavar_and_every_option_has_help():
    from typer.testing import CliRunner

    from fleet.cli import app

    commands = _commands()
    assert len(commands) >= 15
    for path, cmd in commands:
        assert cmd.help, path
        for p in cmd.params:
            assert getattr(p, "help", None), (path, p.name)
        shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0 and "--help" in shown.stdout, path
        assert "<bool>" not in shown.stdout and "<list[" not in shown.stdout, path
        shown = run_fleet(*path, "--help", env={"COLUMNS": "200"}) if path == ["sweep"] else None
        if shown is not None:
            assert "<bool>" not in shown.stdout and "--starttls" in shown.stdout
            assert "<list[" not in shown.stdout
            assert "{INVENTORY}" in shown.stdout and "comma means and" in shown.stdout


def test_json_and_format_json_are_both_accepted_wherever_either_is(tmp_path):
    both = 0
    for path, cmd in _commands():
        names = {o for p in cmd.params for o in p.opts}
        if "--json" in names or "--format" in names:
            assert {"--json", "--format"} <= names, path
            both += 1
    assert both >= 8
    db = str(tmp_path / "demo.db")
    assert run_fleet("demo", "--store", db, "--phones", "6").returncode in (0, 1)
    a = run_fleet("report", "--store", db, "--json")
    b = run_fleet("report", "--store", db, "--format", "json")
    assert json.loads(a.stdout)["devices"] == json.loads(b.stdout)["devices"]
    clash = run_fleet("report", "--store", db, "--json", "--format", "csv")
    assert clash.returncode == 2 and "two formats" in clash.stderr, clash.stderr
    assert "Traceback" not in clash.stderr and "bug" not in clash.stderr
    clash = run_fleet("diff", "--store", db, "--json", "--format", "csv")
    assert clash.returncode == 2 and "two formats" in clash.stderr, clash.stderr


def test_version():
    proc = run_fleet("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("fleet ")


def test_sweep_names_every_problem_of_its_inventory_before_anything_runs(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        "hosts:\n"
        "  a: {address: 10.0.0.1, profile: polycomm}\n"
        "  b: {address: 10.0.0.2, profile: polycom, tls: {ca: no-such.pem}}\n"
    )
    proc = run_fleet(
        "sweep", str(inv), "--golden", "inventory/golden-uk.yaml", "--store", str(tmp_path / "s.db")
    )
    assert proc.returncode == 2
    assert f"{inv}:2: hosts.a.profile" in proc.stderr and f"{inv}:3: hosts.b.tls.ca" in proc.stderr
    assert not (tmp_path / "s.db").exists()
