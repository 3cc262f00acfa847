"""AudioCodes emergency settings in both configuration forms (issue 13 §4): the CLI keywords
a source cites read into the same state as their ini parameters, a CLI box and an ini box with
the same settings route and find alike, the E9-1-1 settings whose CLI names no source gives
stay unread (unproven, never guessed), and a Call Setup Rule that may add an ELIN leaves the
SBC's part unproven. Over `fleet audit` of the samples, and over the lab's real SSH server."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path

import pytest
import yaml

from device_profiles.audiocodes import simulator
from fleet import profiles
from fleet.collect.ssh import Platform, SshOptions, SshTarget, run_cli
from fleet.lab import registry
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc
from fleet.model import DeviceState
from tests.conftest import run_fleet, running_lab

PROFILE = profiles.get("audiocodes")
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "device_profiles" / "audiocodes" / "samples"
INI = (SAMPLES / "chi-sbc-e911.ini").read_text()
CLI = (SAMPLES / "chi-sbc-e911-cli.txt").read_text()
SNOM = ROOT / "device_profiles" / "snom" / "samples" / "000413C7D8E9.xml"
US_GOLDEN = "fleet_golden: 1\nname: us-location\npolicy: [us]\n"
SBC_IP = "10.30.0.2"
PHONE_IP = "10.31.1.50"  # in the sample's phone Classification (10.31.*.*)
# The ini parameters the CLI form carries in the sample, set the same way in the ini form.
INI_EXTRA = "".join(
    f"{k} = {v}\n"
    for k, v in (
        ("SBCEMERGENCYRTPDIFFSERV", 40),
        ("SBCEMERGENCYSIGNALINGDIFFSERV", 32),
        ("EMERGENCYREGRETTIMEOUT", 15),
    )
)


def _same_settings_ini(psap: bool = True) -> str:
    """chi-sbc-e911.ini with what the CLI sample sets and nothing it cannot say: its
    EmergencySpecialReleaseCause (no CLI path cited) dropped, the sample's diffserv and regret
    timeout added; ``psap=False`` turns 'SBC PSAP Mode' off on the emergency IP Group."""
    text = INI.replace("EMERGENCYSPECIALRELEASECAUSE = 1\n", INI_EXTRA)
    if not psap:
        old = ', 0, 1, "default"'
        assert text.count(old) == 1
        text = text.replace(old, ', 0, 0, "default"')
    return text


def _state(name: str, text: str) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))


def _snom_phone() -> str:
    """The Snom sample as a US phone with one line whose 911 goes to the SBC: a phone with no
    location setting of its own (the Snom profile finds none)."""
    text = SNOM.read_text()
    text = re.sub(r'\s*<user_\w+ idx="2"[^\n]*', "", text)
    text = text.replace("999 112", "911").replace("(999|112)", "(911)")
    text = text.replace("sip:sbc-emergency.example.com:5061", f"sip:{SBC_IP}:5060")
    return text.replace("sbc.example.com:5061;transport=tls", f"{SBC_IP}:5060")


def _audit(folder: Path, sbc_file: str, sbc_text: str) -> dict[str, dict]:
    """`fleet audit` of one SBC configuration and one phone behind it, with an inventory
    giving each its address (the source the SBC classifies the call by)."""
    folder.mkdir()
    (folder / sbc_file).write_text(sbc_text)
    (folder / "p1.xml").write_text(_snom_phone())
    hosts = {
        Path(sbc_file).stem: {"address": SBC_IP, "profile": "audiocodes", "role": "sbc"},
        "p1": {"address": PHONE_IP, "profile": "snom", "role": "phone"},
    }
    (folder / "inv.yaml").write_text(yaml.safe_dump({"hosts": hosts}))
    (folder / "us.yaml").write_text(US_GOLDEN)
    proc = run_fleet(
        "audit",
        str(folder / sbc_file),
        str(folder / "p1.xml"),
        "--golden",
        str(folder / "us.yaml"),
        "--inventory",
        str(folder / "inv.yaml"),
        "--store",
        str(folder / "s.db"),
        "--json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {d["id"]: d for d in json.loads(proc.stdout)["devices"]}


def _kinds(device: dict) -> list[tuple]:
    return sorted((f["rule"], f["subject"], f["severity"]) for f in device["findings"])


def _location_evidence(device: dict) -> str:
    found = [f for f in device["findings"] if f["subject"] == "emergency.location"]
    assert found, device["findings"]
    return " | ".join(e for f in found for e in f["evidence"])


def test_cited_cli_keywords_read_as_their_ini_parameters() -> None:
    """Every emergency setting the CLI sample prints (emerg-nbs, emerg-calls-regrt-t-out,
    sbc-preemption-mode, sbc-emerg-condition, sbc-emerg-rtp-diffserv, sbc-emerg-sig-diffserv)
    gives the state its ini parameter gives; routing, addresses and trunks are the same."""
    cli, ini = _state("chi.txt", CLI), _state("chi.ini", _same_settings_ini())
    assert cli.sbc is not None and ini.sbc is not None
    assert (
        cli.sbc.data["emergency"]
        == ini.sbc.data["emergency"]
        == {
            "preemption": True,
            "condition": "Emergency",
            "condition_index": "0",
            "numbers": ["911"],
            "special_release_cause": None,
            "rtp_diffserv": "40",
            "signaling_diffserv": "32",
            "regret_timeout": "15",
        }
    )
    for attr in ("routes", "trunks", "addresses", "emergency_numbers"):
        assert getattr(cli.sbc, attr) == getattr(ini.sbc, attr), attr
    assert PROFILE.route
    for number in ("911", "9911", "3125550100"):
        a, b = PROFILE.route(cli, number, PHONE_IP), PROFILE.route(ini, number, PHONE_IP)
        assert (a.outcome, a.route, a.sent, a.trunk, a.priority) == (
            b.outcome,
            b.route,
            b.sent,
            b.trunk,
            b.priority,
        ), number


@pytest.mark.parametrize("psap", [True, False])
def test_cli_and_ini_boxes_with_the_same_settings_give_the_same_findings(
    tmp_path: Path, psap: bool
) -> None:
    """The same box as an ini file and as `show running-config`: the phone behind it and the
    SBC itself get the same findings. The SBC's location handling is read from the ini form
    only (its E9-1-1 settings have no cited CLI name), so there the evidence says what it
    does; the CLI form says fleet cannot tell, and never that it adds none."""
    ini = _audit(tmp_path / "ini", "chi-sbc.ini", _same_settings_ini(psap))
    cli = _audit(tmp_path / "cli", "chi-sbc.txt", CLI)
    assert _kinds(ini["p1"]) == _kinds(cli["p1"])
    assert _kinds(ini["chi-sbc"]) == _kinds(cli["chi-sbc"])
    # the 911 path is proven through the emergency row either way: no path finding
    assert not [f for f in ini["p1"]["findings"] if f["rule"] == "emergency.path"]
    said = _location_evidence(ini["p1"])
    if psap:
        assert "converts the ELINs the call already carries" in said, said
        assert "IPGroup IPG_Carrier_Emergency SBCPSAPMode = 1" in said, said
    else:
        assert "no emergency location handling is configured" in said, said
    said = _location_evidence(cli["p1"])
    assert "unproven" in said and "does not read this SBC's emergency location" in said, said
    assert "adds none" not in said, said


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        # IP2IPRouting 1 (Emergency 911) to the PSAP IP Group, Call Setup Rules Set 2
        (
            '"911#", "*", 0, "", "Any", 0, -1,',
            '"911#", "*", 0, "", "Any", 0, 2,',
            "IP2IPRouting 1 (Emergency 911) CallSetupRulesSetId = 2",
        ),
        # the PSAP IP Group's own Call Setup Rules Set
        (
            '0, 1, "default", 0, 0, -1, 0, 0, 1, "", -1,',
            '0, 1, "default", 0, 0, -1, 0, 0, 1, "", 3,',
            "IPGroup IPG_Carrier_Emergency CallSetupRulesSetId = 3",
        ),
    ],
)
def test_a_call_setup_rule_towards_the_psap_leaves_the_location_unproven(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    """A Call Setup Rule on the way to the PSAP can look the caller's ELIN up in LDAP and add
    it (techdocs "Emergency Call Routing using LDAP to Obtain ELIN"): fleet does not evaluate
    Call Setup Rules, so it no longer says the SBC adds none; it says it cannot tell, and
    where the rule is. The phone keeps its finding."""
    assert INI.count(old) == 1, old
    state = _state("chi.ini", INI.replace(old, new))
    assert state.sbc is not None and state.sbc.location is not None
    assert state.sbc.location.mode == "unproven"
    devices = _audit(tmp_path / "a", "chi-sbc.ini", INI.replace(old, new))
    said = _location_evidence(devices["p1"])
    assert "unproven" in said and "fleet cannot tell whether it adds a location" in said, said
    assert where in said and "LDAP" in said, said
    assert "adds none" not in said, said


def test_an_unread_keyword_in_a_cli_capture_is_never_taken_for_a_setting() -> None:
    """A capture whose PSAP IP Group carries a keyword fleet does not know (a real box's
    E9-1-1 setting would look like this: its CLI name is not cited) still reads, routes as
    before, and leaves the location unread rather than guessed."""
    marker = '  name "IPG_Carrier_Emergency"\n'
    assert marker in CLI
    text = CLI.replace(marker, marker + "  some-unknown-setting enable\n")
    state = _state("chi.txt", text)
    assert state.sbc is not None
    assert state.sbc.location is None
    assert state.sbc.routes == _state("chi.txt", CLI).sbc.routes  # type: ignore[union-attr]


# --- the lab SBC over real SSH ------------------------------------------------------------


def _lab_spec(extra: dict[str, str]) -> LabSbc:
    return LabSbc(
        id="loc-sbc-1",
        profile="audiocodes",
        site="lon",
        address="127.93.255.1",
        port=8022,
        hostname="lon-sbc-1",
        admin_user=simulator.ADMIN_USER,
        admin_password="lab-admin-Qd7r",
        enable_password="lab-enable-Kt2",
        phone_networks=["127.10.0.0/16"],
        emergency_numbers=["999", "112"],
        extra=extra,
    )


def _read_over_ssh(spec: LabSbc, folder: Path) -> dict[str, str]:
    """`show running-config` as a sweep reads it: fleet's run_cli against the lab's SSH
    server on loopback, host key checked."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    running = asyncio.run_coroutine_threadsafe(labsbc.start([spec]), loop).result(30)
    try:
        known = folder / "known_hosts"
        known.write_text("\n".join(running.known_hosts) + "\n")
        assert PROFILE.platform
        target = SshTarget(
            spec.address,
            spec.port,
            spec.admin_user,
            spec.admin_password,
            spec.enable_password,
            options=SshOptions(known_hosts=str(known)),
        )
        platform = Platform.from_dict(PROFILE.platform)
        return asyncio.run(run_cli(target, platform, asyncio.Semaphore(2)))
    finally:
        asyncio.run_coroutine_threadsafe(running.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_lab_sbc_shows_configured_emergency_settings_over_ssh(tmp_path: Path) -> None:
    """The lab box prints the emergency settings a test configures (by their ini names) under
    their cited CLI names, only when configured; read over SSH they give the state the ini
    parameters give, and the location stays unread."""
    extra = {
        "SBCEmergencyRTPDiffServ": "40",
        "SBCEmergencySignalingDiffServ": "32",
        "EmergencyRegretTimeout": "15",
    }
    plain = simulator.render(_lab_spec({}))
    assert "sbc-emerg-rtp-diffserv" not in plain and "emerg-calls-regrt-t-out" not in plain
    out = _read_over_ssh(_lab_spec(extra), tmp_path)
    assert PROFILE.parse_cli and PROFILE.to_state
    state = PROFILE.to_state(PROFILE.parse_cli(out))
    assert state.sbc is not None
    got = state.sbc.data["emergency"]
    assert (got["rtp_diffserv"], got["signaling_diffserv"], got["regret_timeout"]) == (
        "40",
        "32",
        "15",
    )
    assert got["preemption"] is True and got["numbers"] == ["999", "112"]
    assert state.sbc.location is None


def test_lab_sweep_leaves_an_audiocodes_location_unproven_not_guessed(tmp_path: Path) -> None:
    """A sweep of Snom phones behind the lab's AudioCodes SBC, its emergency settings
    configured: 999 and 112 are proven through the emergency rows over SSH, and the phones'
    no-location finding stays with evidence that fleet does not read the box's location
    handling, never that it adds none or that none is configured."""
    with running_lab(tmp_path, 6, faults=False, profile_names=("snom",)) as lab:
        sbcs = [s for s in lab.fleet.sbcs if s.profile == "audiocodes"]
        assert sbcs, [s.profile for s in lab.fleet.sbcs]
        for s in sbcs:
            s.extra.update({"SBCEmergencyRTPDiffServ": "40", "EmergencyRegretTimeout": "15"})
            lab.fleet.ssh.devices[s.id].config = registry.sbc(s.profile).render(s)
            assert "sbc-emerg-rtp-diffserv 40" in lab.fleet.ssh.devices[s.id].config
        data = yaml.safe_load(lab.golden.read_text())
        data.setdefault("emergency", {})["location_required"] = True
        golden = tmp_path / "golden-loc.yaml"
        golden.write_text(yaml.safe_dump(data))
        proc = run_fleet(
            "sweep",
            str(lab.inventory),
            "--golden",
            str(golden),
            "--store",
            str(tmp_path / "s.db"),
            "--json",
        )
        assert proc.returncode in (0, 1), proc.stderr
        devices = {d["id"]: d for d in json.loads(proc.stdout)["devices"]}
        behind = [p.id for p in lab.fleet.phones if p.site in {s.site for s in sbcs}]
        assert behind
        for s in sbcs:
            assert devices[s.id]["status"] == "audited", devices[s.id]
        for pid in behind:
            assert devices[pid]["status"] == "audited", devices[pid]
            assert not [f for f in devices[pid]["findings"] if f["rule"] == "emergency.path"]
            said = _location_evidence(devices[pid])
            assert "unproven" in said and "does not read this SBC's emergency" in said, said
            assert "adds none" not in said and "no emergency location handling" not in said
