"""Caller location on the SBC hop (issue 13 §4): what each SBC vendor does with an emergency
call's location, read from its configuration, and what that means for a phone that provides
none, over `fleet audit` of the profile samples and over a lab swept through real SSH."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from device_profiles.acme_packet import simulator as acme_sim
from device_profiles.cisco_cube import simulator as cube_sim
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from tests.conftest import run_fleet, running_lab

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "device_profiles"
SNOM = PROFILES / "snom" / "samples" / "000413C7D8E9.xml"
LOCATION_FAULTS = {"cisco_cube": cube_sim.LOCATION_FAULTS, "acme_packet": acme_sim.LOCATION_FAULTS}
US_GOLDEN = "fleet_golden: 1\nname: us-location\npolicy: [us]\n"


def _snom_phone(sbc_address: str) -> str:
    """The Snom sample as a US phone with one line whose 911 goes to ``sbc_address``: a phone
    with no location setting of its own (the Snom profile finds none)."""
    text = SNOM.read_text()
    text = re.sub(r'\s*<user_\w+ idx="2"[^\n]*', "", text)  # one line only
    text = text.replace("999 112", "911").replace("(999|112)", "(911)")
    text = text.replace("sip:sbc-emergency.example.com:5061", f"sip:{sbc_address}:5060")
    return text.replace("sbc.example.com:5061;transport=tls", f"{sbc_address}:5060")


def _audit(tmp: Path, sbc_file: str, sbc_text: str, profile: str, sbc_ip: str, phones: dict):
    """`fleet audit` of the SBC's saved configuration and one Snom file per phone address,
    with an inventory giving each file its address (the source the SBC sees)."""
    (tmp / sbc_file).write_text(sbc_text)
    sbc = {"address": sbc_ip, "profile": profile, "role": "sbc", "site": "chi"}
    hosts = {Path(sbc_file).stem: sbc}
    files = [str(tmp / sbc_file)]
    for phone_id, address in phones.items():
        (tmp / f"{phone_id}.xml").write_text(_snom_phone(sbc_ip))
        hosts[phone_id] = {"address": address, "profile": "snom", "role": "phone", "site": "chi"}
        files.append(str(tmp / f"{phone_id}.xml"))
    (tmp / "inv.yaml").write_text(yaml.safe_dump({"hosts": hosts}))
    (tmp / "us.yaml").write_text(US_GOLDEN)
    proc = run_fleet(
        "audit",
        *files,
        "--golden",
        str(tmp / "us.yaml"),
        "--inventory",
        str(tmp / "inv.yaml"),
        "--store",
        str(tmp / "s.db"),
        "--json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {d["id"]: d for d in json.loads(proc.stdout)["devices"]}


def _unlocated(device: dict) -> list[dict]:
    return [f for f in device["findings"] if f["subject"] == "emergency.location"]


def test_cube_sends_the_elin_of_the_callers_erl_and_settles_the_phone(tmp_path: Path) -> None:
    text = (PROFILES / "cisco_cube" / "samples" / "cube-dal-gw.txt").read_text()
    phones = {"000413aa0001": "10.60.1.25", "000413aa0002": "10.99.0.5"}
    devices = _audit(tmp_path, "cube.txt", text, "cisco_cube", "10.50.244.1", phones)
    # 10.60.1.25 is in ERL 1 (subnet 10.60.1.0/24, ELIN 9725550100) on dial-peer 911: the
    # call carries a location though the phone gives none
    assert _unlocated(devices["000413aa0001"]) == []
    outside = _unlocated(devices["000413aa0002"])
    assert [f["rule"] for f in outside] == ["emergency.location"], outside
    assert any(
        "10.99.0.5 is in none of the ERL subnets on dial-peer 911 (10.60.1.0/24, 10.60.2.0/24)" in e
        for e in outside[0]["evidence"]
    ), outside[0]["evidence"]


def test_cube_without_erls_adds_no_location(tmp_path: Path) -> None:
    text = (PROFILES / "cisco_cube" / "samples" / "cube-dal-gw.txt").read_text()
    text = text.replace(" emergency response zone 1\n", "")  # no dial-peer carries the zone
    devices = _audit(tmp_path, "cube.txt", text, "cisco_cube", "10.50.244.1", {"p1": "10.60.1.25"})
    found = _unlocated(devices["p1"])
    assert found and any(
        "no emergency location handling is configured" in e for e in found[0]["evidence"]
    )


@pytest.mark.parametrize(
    ("profile", "sample", "sbc_ip", "strip", "configured"),
    [
        (
            "audiocodes",
            "chi-sbc-e911.ini",
            "10.30.0.2",
            ("IPG_Carrier_Emergency", ', 0, 1, "default"', ', 0, 0, "default"'),
            "IPGroup IPG_Carrier_Emergency SBCPSAPMode = 1",
        ),
        (
            "acme_packet",
            "chi-esbc-2.txt",
            "172.16.0.2",
            (
                "spl-config",
                "spl-config\n        spl-options                             +ELIN_Gateway\n",
                "",
            ),
            "spl-config[1] spl-options +ELIN_Gateway",
        ),
    ],
)
def test_elin_gateways_add_no_location_of_their_own(
    tmp_path: Path, profile: str, sample: str, sbc_ip: str, strip: tuple, configured: str
) -> None:
    """AudioCodes (SBC PSAP Mode) and Oracle (ELIN_Gateway SPL) turn the ELINs a call already
    carries into its calling number: for a phone that provides none, the call still has none,
    and the finding says which setting was read. Without the setting, it says so too."""
    text = (PROFILES / profile / "samples" / sample).read_text()
    (tmp_path / "on").mkdir()
    devices = _audit(tmp_path / "on", sample, text, profile, sbc_ip, {"p1": "10.1.1.50"})
    found = _unlocated(devices["p1"])
    assert found, devices["p1"]["findings"]
    evidence = " | ".join(found[0]["evidence"])
    assert "converts the ELINs the call already carries" in evidence, evidence
    assert configured in evidence, evidence

    marker, old, new = strip
    assert marker in text and old in text
    (tmp_path / "off").mkdir()
    devices = _audit(
        tmp_path / "off", sample, text.replace(old, new), profile, sbc_ip, {"p1": "10.1.1.50"}
    )
    evidence = " | ".join(_unlocated(devices["p1"])[0]["evidence"])
    assert "no emergency location handling is configured" in evidence, evidence


# --- the lab over real SSH ----------------------------------------------------------------

pytestmark_lab = pytest.mark.skipif(not labfleet.sbc_profiles(), reason="no SBC simulators")


def _golden_with_location(golden: Path, out: Path) -> Path:
    data = yaml.safe_load(golden.read_text())
    data.setdefault("emergency", {})["location_required"] = True
    out.write_text(yaml.safe_dump(data))
    return out


def _sweep(inv: Path, golden: Path, folder: Path, tag: str) -> dict:
    proc = run_fleet(
        "sweep", str(inv), "--golden", str(golden), "--store", str(folder / f"{tag}.db"), "--json"
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {d["id"]: d for d in json.loads(proc.stdout)["devices"]}


@pytestmark_lab
def test_lab_sbcs_report_their_location_handling_and_a_fault_breaks_it(tmp_path: Path) -> None:
    """Snom phones (no location setting of their own) behind each vendor's site SBC: the
    CUBE's ERL covers the phones' network, so their calls carry its ELIN; the Oracle box is an
    ELIN gateway, which adds none; then each SBC's location fault is served over SSH and the
    next sweep reports it."""
    with running_lab(tmp_path, 6, faults=False, profile_names=("snom",)) as lab:
        golden = _golden_with_location(lab.golden, tmp_path / "golden-loc.yaml")
        by_sbc: dict[str, list[str]] = {}
        devices = _sweep(lab.inventory, golden, tmp_path, "before")
        for p in lab.fleet.phones:
            sbc = next(s for s in lab.fleet.sbcs if s.site == p.site)
            by_sbc.setdefault(sbc.profile, []).append(p.id)
        assert {"cisco_cube", "acme_packet"} <= set(by_sbc), by_sbc
        for pid in by_sbc["cisco_cube"]:
            assert devices[pid]["status"] == "audited"
            assert _unlocated(devices[pid]) == [], devices[pid]["findings"]
        for pid in by_sbc["acme_packet"]:
            ev = " | ".join(_unlocated(devices[pid])[0]["evidence"])
            assert "converts the ELINs the call already carries" in ev, ev
        if "audiocodes" in by_sbc:
            # its CLI names for the E9-1-1 settings are not confirmed: unread, unproven
            for pid in by_sbc["audiocodes"]:
                ev = " | ".join(_unlocated(devices[pid])[0]["evidence"])
                assert "fleet does not read this SBC's emergency location handling" in ev, ev

        faults = {"cisco_cube": "no-erl-subnet", "acme_packet": "no-elin-gateway"}
        for s in lab.fleet.sbcs:
            if s.profile in faults:
                assert faults[s.profile] in LOCATION_FAULTS[s.profile]
                s.fault = faults[s.profile]
                lab.fleet.ssh.devices[s.id].config = registry.sbc(s.profile).render(s)
        devices = _sweep(lab.inventory, golden, tmp_path, "after")
        for pid in by_sbc["cisco_cube"]:
            ev = " | ".join(_unlocated(devices[pid])[0]["evidence"])
            assert "is in none of the ERL subnets" in ev, ev
        for pid in by_sbc["acme_packet"]:
            ev = " | ".join(_unlocated(devices[pid])[0]["evidence"])
            assert "no emergency location handling is configured" in ev, ev
