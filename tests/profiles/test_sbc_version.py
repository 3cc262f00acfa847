"""AudioCodes and Acme Packet SBCs report their model and firmware (issue 12): each profile
reads its vendor's version command, every sample parses as recorded, each lab simulator
answers the command the same way, and a firmware change shows in drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_profiles.acme_packet.version import parse_show_version
from device_profiles.audiocodes.version import parse_show_system_version
from fleet import profiles
from tests.conftest import ROOT, run_fleet, running_lab

READERS = {
    "audiocodes": ("show_system_version", parse_show_system_version),
    "acme_packet": ("show_version", parse_show_version),
}
SAMPLES = [
    pytest.param(name, raw, id=f"{name}/{raw.name}")
    for name, (folder, _read) in READERS.items()
    for raw in sorted((ROOT / "device_profiles" / name / "samples" / folder).glob("*.txt"))
]


@pytest.mark.parametrize(("name", "raw"), SAMPLES)
def test_each_version_sample_parses_as_recorded(name: str, raw: Path) -> None:
    _folder, read = READERS[name]
    identity, notices = read(raw.read_text())
    assert identity == json.loads(raw.with_suffix(".parsed.json").read_text())
    assert notices == []


def test_every_version_reader_has_samples() -> None:
    assert {p.values[0] for p in SAMPLES} == set(READERS)


@pytest.mark.parametrize("name", sorted(READERS))
def test_the_platform_runs_the_version_command(name: str) -> None:
    plat = profiles.get(name).platform
    assert plat is not None
    assert {"audiocodes": "show system version", "acme_packet": "show version"}[name] in (
        plat.commands
    )


@pytest.mark.parametrize("name", sorted(READERS))
def test_output_without_a_version_line_is_a_notice_not_a_guess(name: str) -> None:
    _folder, read = READERS[name]
    identity, notices = read("% command not found\nsomething else entirely\n")
    assert "firmware" not in identity
    assert [n.rule for n in notices] == ["coverage.uncertain"]


def test_acme_vendor_words_in_upper_case_are_read() -> None:
    # Oracle's guide prints the line as "ACME PACKET 460..." (acme_packet/README.md)
    identity, notices = parse_show_version("ACME PACKET 4600 SCZ8.1.0 Patch 2 (Build 99)\n")
    assert identity == {"model": "ACME PACKET 4600", "firmware": "SCZ8.1.0 Patch 2 (Build 99)"}
    assert notices == []


def _sbcs(report: dict) -> dict[str, dict]:
    return {d["id"]: d for d in report["devices"] if d["profile"] in READERS}


def test_a_firmware_change_on_the_lab_sbcs_shows_in_drift(tmp_path: Path) -> None:
    with running_lab(tmp_path / "lab", 4, net_from=150, faults=False) as lab:
        store = str(tmp_path / "f.db")
        args = ("sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", store)
        first = run_fleet(*args, "--format", "json", "--tag", "pre", cwd=lab.folder)
        assert first.returncode in (0, 1), first.stderr
        before = _sbcs(json.loads(first.stdout))
        assert set(d["profile"] for d in before.values()) == set(READERS)
        for d in before.values():
            assert d["status"] == "audited", d
            assert d["model"] and d["firmware"], d
        new = {"audiocodes": "7.40A.260.002", "acme_packet": "SCZ9.1.0 Patch 1 (Build 42)"}
        for spec in lab.fleet.sbcs:
            if spec.profile in new:
                spec.extra["firmware"] = new[spec.profile]  # the simulators answer with it
        second = run_fleet(*args, "--format", "json", cwd=lab.folder)
        assert second.returncode in (0, 1), second.stderr
        after = _sbcs(json.loads(second.stdout))
        for sid, d in after.items():
            was, now = before[sid]["firmware"], d["firmware"]
            assert now != was
            drift = [f for f in d["findings"] if f["rule"] == "drift.firmware"]
            assert drift and drift[0]["expected"] == was and drift[0]["actual"] == now, d
        diff = run_fleet("diff", "pre", "--store", store, cwd=lab.folder)
        assert diff.returncode in (0, 1), diff.stderr
        for d in after.values():
            assert d["firmware"] in diff.stdout, diff.stdout
