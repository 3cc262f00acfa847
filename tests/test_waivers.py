"""Golden waivers and known-bad firmware, on real sweeps of the lab: a waived finding is
reported as waived and not counted; an expired waiver says so and counts again; a waiver on an
emergency or coverage rule is refused with file, line and field; a model on firmware the golden
lists as breaking emergency calling is an emergency finding (and cannot be waived)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fleet.cli import app
from tests.conftest import running_lab

PROFILES = ("polycom", "yealink", "cisco_mpp")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("waivers")
    with running_lab(folder, 3, faults=False, profile_names=PROFILES) as running:
        # every phone fails one golden rule, so there is something to waive
        gold = yaml.safe_load(running.golden.read_text())
        gold["rules"].append(
            {
                "id": "tls-only",
                "scope": {"role": "phone"},
                "key": "sip.transport",
                "equals": "tls",
                "severity": "high",
            }
        )
        running.golden.write_text(yaml.safe_dump(gold))
        yield running


def _golden(lab, folder: Path, **extra: object) -> Path:
    gold = yaml.safe_load(lab.golden.read_text())
    gold.update(extra)
    path = folder / "golden.yaml"
    path.write_text(yaml.safe_dump(gold, sort_keys=False))
    return path


def _sweep(lab, golden: Path, folder: Path) -> tuple[int, dict]:
    got = CliRunner().invoke(
        app,
        [
            "sweep",
            str(lab.inventory),
            "--golden",
            str(golden),
            "--store",
            str(folder / "f.db"),
            "--format",
            "json",
        ],
    )
    return got.exit_code, json.loads(got.output) if got.output.startswith("{") else got.output


def _findings(doc: dict, rule: str) -> list[dict]:
    return [f for d in doc["devices"] for f in d["findings"] if f["rule"] == rule]


def test_a_waived_finding_is_reported_and_not_counted(lab, tmp_path) -> None:
    code, doc = _sweep(lab, lab.golden, tmp_path)
    assert code == 1 and len(_findings(doc, "rule.tls-only")) == 3  # unwaived: fails the sweep
    waiver = {
        "rule": "tls-only",
        "device": "lon-*",
        "reason": "TLS rollout in Q1",
        "owner": "voice-ops",
        "expires": "2099-12-31",
    }
    code, doc = _sweep(lab, _golden(lab, tmp_path, waivers=[waiver]), tmp_path)
    assert code == 0, doc
    waived = _findings(doc, "rule.tls-only")
    assert len(waived) == 3 and {f["severity"] for f in waived} == {"info"}
    assert all(
        "[waived until 2099-12-31 by voice-ops: TLS rollout in Q1]" in f["message"] for f in waived
    )
    assert all(any("was high" in e for e in f["evidence"]) for f in waived)


def test_an_expired_waiver_says_so_and_counts_again(lab, tmp_path) -> None:
    waiver = {
        "rule": "tls-only",
        "device": "lon-*",
        "reason": "TLS rollout",
        "owner": "voice-ops",
        "expires": "2020-01-31",
    }
    code, doc = _sweep(lab, _golden(lab, tmp_path, waivers=[waiver]), tmp_path)
    assert code == 1
    assert {f["severity"] for f in _findings(doc, "rule.tls-only")} == {"high"}
    expired = _findings(doc, "config.waiver_expired")
    assert len(expired) == 3 and "expired on 2020-01-31" in expired[0]["message"]


@pytest.mark.parametrize("rule", ["emergency.dial", "coverage.unreachable", "emergency"])
def test_an_emergency_or_coverage_waiver_is_refused_with_file_line_field(
    lab, tmp_path, rule
) -> None:
    waiver = {"rule": rule, "device": "*", "reason": "known", "owner": "x", "expires": "2099-01-01"}
    golden = _golden(lab, tmp_path, waivers=[waiver])
    lines = golden.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == f"- rule: {rule}")
    for args in (
        ["validate", str(golden)],
        ["sweep", str(lab.inventory), "--golden", str(golden), "--store", str(tmp_path / "x.db")],
    ):
        got = CliRunner().invoke(app, args)
        assert got.exit_code == 2, got.output
        assert f"{golden}:{line}" in got.output and "waivers[0].rule" in got.output
        assert "can only be fixed" in got.output and "Traceback" not in got.output
    assert not (tmp_path / "x.db").exists()


def test_known_bad_firmware_is_an_emergency_finding(lab, tmp_path) -> None:
    poly = next(p for p in lab.fleet.phones if p.profile == "polycom")
    deny = {"deny": {"vvx450": [poly.firmware.rsplit(".", 1)[0] + ".*"]}}
    waiver = {
        "rule": "emergency.firmware",
        "device": "*",
        "reason": "r",
        "owner": "o",
        "expires": "2099-01-01",
    }
    got = CliRunner().invoke(
        app, ["validate", str(_golden(lab, tmp_path, firmware=deny, waivers=[waiver]))]
    )
    assert got.exit_code == 2  # it is an emergency finding: it cannot be waived
    code, doc = _sweep(lab, _golden(lab, tmp_path, firmware=deny), tmp_path)
    assert code == 1
    (bad,) = _findings(doc, "emergency.firmware")
    assert bad["severity"] == "critical" and poly.firmware in bad["message"]
    dev = next(d for d in doc["devices"] if d["id"] == poly.id)
    assert bad in dev["findings"]
