"""A rollout end to end: baseline sweep of 200 lab phones, the lab updates 40 of them (10
lose 112), `fleet rollout verify` fails naming exactly those 10, folds the 40 firmware changes
by model, and its JUnit parses; `fleet diff` shows what the update changed."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from xml.etree import ElementTree as ET

import httpx
import pytest

from fleet.lab.fleet import free_net
from tests.conftest import ROOT, run_fleet

verify_csv: list[subprocess.CompletedProcess[str]] = []  # the fixture's CSV verify


@pytest.fixture(scope="module")
def rollout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rollout")
    net = free_net(160)
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleet",
            "lab",
            "serve",
            "--phones",
            "200",
            "--no-faults",
            "--scenario",
            "rollout",
            "--net",
            str(net),
            "--out",
            str(tmp / "lab"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert lab.stdout is not None
        banner = "".join(lab.stdout.readline() for _ in range(4))
        assert "rollout control: POST http://" in banner, banner
        inv, golden, db = tmp / "lab" / "inventory.yaml", tmp / "lab" / "golden.yaml", tmp / "s.db"
        base = run_fleet(
            "sweep",
            str(inv),
            "--golden",
            str(golden),
            "--store",
            str(db),
            "--tag",
            "pre-rollout",
            "--format",
            "json",
        )
        assert base.returncode == 0, base.stdout[-2000:]
        control = f"http://127.{net}.255.250:8080"
        done = httpx.post(f"{control}/rollout", json={"count": 40, "lose_112": 10}).json()
        verify = run_fleet(
            "rollout", "verify", "--baseline", "pre-rollout", "--store", str(db), "--format", "json"
        )
        junit = run_fleet("report", "--store", str(db), "--format", "junit")
        vjunit_path = tmp / "verify.xml"
        # the same verification again, as JUnit for change-management CI
        vj = run_fleet(
            "rollout",
            "verify",
            "--baseline",
            "pre-rollout",
            "--store",
            str(db),
            "--format",
            "junit",
            "--output",
            str(vjunit_path),
        )
        vcsv = run_fleet(
            "rollout", "verify", "--baseline", "pre-rollout", "--store", str(db), "--format", "csv"
        )
        verify_csv.append(vcsv)
        diff = run_fleet("diff", "pre-rollout", "verify-pre-rollout", "--store", str(db))
        diff_json = run_fleet(
            "diff", "pre-rollout", "verify-pre-rollout", "--store", str(db), "--format", "json"
        )
        yield done, verify, junit, vj, vjunit_path, diff, diff_json
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.wait(30)


def test_verify_fails_naming_exactly_the_phones_that_lost_112(rollout):
    done, verify, *_ = rollout
    assert len(done["updated"]) == 40 and len(done["lost_112"]) == 10
    assert verify.returncode == 1, verify.stderr
    v = json.loads(verify.stdout)
    assert v["verdict"] == "fail"
    assert set(v["regressions"]) == set(done["lost_112"])
    for fs in v["regressions"].values():
        assert {f["subject"] for f in fs} >= {"112"}
        assert all(f["rule"].startswith("emergency.") for f in fs)
        assert all("after a firmware update" in f["message"] for f in fs)
    assert v["unverified"] == {}


def test_firmware_changes_are_folded_by_model(rollout):
    done, verify, *_ = rollout
    v = json.loads(verify.stdout)
    groups = v["firmware_changes"]
    assert sum(g["count"] for g in groups) == 40
    assert {d for g in groups for d in g["devices"]} == set(done["updated"])
    for g in groups:
        assert {done["firmware"][d][0] for d in g["devices"]} == {g["from"]}
        assert {done["firmware"][d][1] for d in g["devices"]} == {g["to"]}
    assert len(groups) < 40  # folded: one line per (model, firmware change)


def test_junit_parses_one_testcase_per_device(rollout):
    done, _, junit, vj, vjunit_path, *_ = rollout
    assert vj.returncode == 1
    suite = ET.parse(vjunit_path).getroot()
    cases = suite.findall("testcase")
    assert len(cases) == 203  # 200 phones and 3 SBCs
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == set(done["lost_112"])
    assert ET.fromstring(junit.stdout.encode()).tag == "testsuite"


def test_diff_shows_the_update_folded_with_emergency_changes_first(rollout):
    done, *_, diff, diff_json = rollout
    assert diff.returncode == 0
    text = diff.stdout
    assert text.index("Emergency-relevant:") < text.index("Other:")
    assert "× " in text and "firmware" in text and "→" in text
    data = json.loads(diff_json.stdout)
    fw = [c for c in data["changes"] if c["key"] == "firmware" and c["layer"] == "normalised"]
    assert {c["device"] for c in fw} == set(done["updated"])
    renamed = {c["kind"] for c in data["changes"] if "sip_server" in c["key"]}
    assert {"vanished", "appeared"} <= renamed  # a key renamed by the update (Yealink)
    lost = [g for g in data["groups"] if g["emergency"] and "112" in str(g["old"])]
    assert lost and sum(g["count"] for g in lost) >= 10


def test_verify_csv_has_one_row_per_device_and_counts_apart_what_was_there_before(rollout):
    done, verify, *_ = rollout
    [vcsv] = verify_csv
    assert vcsv.returncode == 1
    rows = list(csv.DictReader(io.StringIO(vcsv.stdout)))
    assert len(rows) == 203
    assert {r["device"] for r in rows if r["result"] == "regression"} == set(done["lost_112"])
    assert all("112" in r["new_findings"] for r in rows if r["result"] == "regression")
    v = json.loads(verify.stdout)
    assert v["fail_on"] == "high" and v["summary"]["new_devices"] == 10
    # the no-faults lab has no finding before the update: nothing pre-existing, nothing down
    assert v["summary"]["pre_existing_findings"] == 0
    assert v["summary"]["unreachable_as_at_baseline"] == 0
