"""Oracle ESBC (Acme Packet) emergency handling beyond local-policy (issue 13 §4): emergency
priority in the route decision, next hops fleet cannot follow (a local route table, an ENUM
query), SIP interfaces that refuse priority calls, network management controls on emergency
numbers. Each through what an operator runs: `fleet audit` of a saved running-config,
`fleet sbc route --explain`, and a lab box swept over SSH."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from device_profiles.acme_packet import simulator as acme_sim
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from tests.conftest import run_fleet, running_lab

SAMPLES = Path(__file__).resolve().parent.parent / "device_profiles" / "acme_packet" / "samples"
SNOM = SAMPLES.parents[1] / "snom" / "samples" / "000413C7D8E9.xml"
DEN = (SAMPLES / "den-esbc-3.txt").read_text()  # 911 via lrt:E911-PSAP, 933 via a group
CHI = (SAMPLES / "chi-esbc-2.txt").read_text()  # 911 and 933 to a session agent
# the us pack's 911, and 933 (the address test line both samples route as an emergency)
US = "fleet_golden: 1\nname: us\npolicy: [us]\nemergency:\n  numbers: ['933']\n"
WITH_TRUNK = US + "  sbc_trunks: [SAG:E911-CARRIER]\n"


def _audit(tmp: Path, files: dict[str, str], golden: str = US) -> dict[str, dict]:
    """`fleet audit` of the files as written, JSON: the devices by id."""
    for name, text in files.items():
        (tmp / name).write_text(text)
    (tmp / "golden.yaml").write_text(golden)
    proc = run_fleet(
        "audit",
        *(str(tmp / n) for n in files),
        "--golden",
        str(tmp / "golden.yaml"),
        "--store",
        str(tmp / "s.db"),
        "--json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {d["id"]: d for d in json.loads(proc.stdout)["devices"]}


def _on(device: dict, number: str) -> list[dict]:
    """The SBC's emergency and coverage findings on one number."""
    return [
        f
        for f in device["findings"]
        if f["subject"] == number and f["rule"].startswith(("emergency.", "coverage."))
    ]


def _snom_phone(sbc_address: str) -> str:
    """The Snom sample as a US phone with one line whose 911 goes to ``sbc_address``."""
    text = re.sub(r'\s*<user_\w+ idx="2"[^\n]*', "", SNOM.read_text())
    text = text.replace("999 112", "911").replace("(999|112)", "(911)")
    text = text.replace("sip:sbc-emergency.example.com:5061", f"sip:{sbc_address}:5060")
    return text.replace("sbc.example.com:5061;transport=tls", f"{sbc_address}:5060")


# --- LRT: a next hop that is a table file on the box -----------------------------------------


def test_a_route_table_next_hop_is_reported_unproven_never_routed(tmp_path: Path) -> None:
    """911 takes local-policy 1, whose next hop lrt:E911-PSAP is a local route table: the
    routes are in e911-psap.xml.gz on the box, so fleet says it cannot see where 911 goes
    (coverage.uncertain), and claims neither a good nor a bad trunk; 933, to a session
    group, is proven and gets nothing."""
    sbc = _audit(tmp_path, {"den.txt": DEN}, WITH_TRUNK)["den"]
    found = _on(sbc, "911")
    assert [(f["rule"], f["severity"]) for f in found] == [("coverage.uncertain", "high")], found
    assert "local route table E911-PSAP" in found[0]["message"]
    assert "e911-psap.xml.gz" in found[0]["message"]
    assert "not an emergency trunk" not in json.dumps(found)
    assert _on(sbc, "933") == []


def test_the_same_config_without_the_table_proves_911(tmp_path: Path) -> None:
    text = DEN.replace("lrt:E911-PSAP", "SAG:E911-CARRIER")
    text = re.sub(r"(?ms)^local-routing-config\n(?:\s+.*?\n)+?(?=^\S)", "", text)
    assert "local-routing-config" not in text and "lrt:" not in text
    sbc = _audit(tmp_path, {"den.txt": text}, WITH_TRUNK)["den"]
    assert _on(sbc, "911") == [] and _on(sbc, "933") == [], sbc["findings"]


def test_a_phone_behind_a_route_table_has_an_unproven_path(tmp_path: Path) -> None:
    """The phone's 911 reaches den-esbc-3 (its sip-port 10.70.0.2), which hands it to the
    table: the phone's path is unproven, with the SBC's reason in it."""
    devices = _audit(tmp_path, {"den.txt": DEN, "000413aa0911.xml": _snom_phone("10.70.0.2")})
    paths = [f for f in devices["000413aa0911"]["findings"] if f["rule"] == "emergency.path"]
    assert len(paths) == 1, devices["000413aa0911"]["findings"]
    assert paths[0]["message"].startswith("911: the path to an emergency trunk is unproven")
    assert "local route table E911-PSAP" in paths[0]["message"]
    assert any("e911-psap.xml.gz" in e for e in paths[0]["evidence"])


def test_location_string_lookup_and_enum_say_what_decides_the_call(tmp_path: Path) -> None:
    """eloc-str-lkup enabled: the table is looked up by the caller's location string, not
    the number; an enum: next hop is decided by a DNS answer. Both unproven, each saying why."""
    text = DEN.replace(
        "eloc-str-lkup                           disabled",
        "eloc-str-lkup                           enabled",
    ).replace(
        "next-hop                                SAG:E911-CARRIER",
        "next-hop                                enum:e164.carrier.example.net",
    )
    sbc = _audit(tmp_path, {"den.txt": text})["den"]
    [on_911] = _on(sbc, "911")
    assert "emergency location string" in on_911["message"], on_911
    [on_933] = _on(sbc, "933")
    assert on_933["rule"] == "coverage.uncertain"
    assert "ENUM query (enum:e164.carrier.example.net)" in on_933["message"], on_933


# --- emergency priority -------------------------------------------------------------------


def _route(*args: str, code: int = 0) -> str:
    proc = run_fleet("sbc", "route", *args)
    assert proc.returncode == code, proc.stderr  # 1: a route fleet could not walk
    return proc.stdout


def test_explain_says_the_emergency_policy_priority() -> None:
    """`fleet sbc route --explain` says what the winning local-policy's policy-priority
    means: 999 (policy-priority emergency) is a priority session, an ordinary number is not."""
    out = _route(str(SAMPLES / "lon-esbc-1.txt"), "999", "02079460000", "--explain")
    first, second = out.split("\n02079460000")
    assert "local-policy 1 (UK emergency 999) has policy-priority emergency" in first
    assert "handles it as a priority session" in first
    assert "policy-priority none: the box does not mark this call as a priority call" in second
    # the anonymous-priority comparison, where the phones' SIP interface sets one
    out = _route(str(SAMPLES / "chi-esbc-2.txt"), "911", "--source", "172.16.1.5", "--explain")
    assert "anonymous-priority emergency" in out and "(emergency >= emergency)" in out


def test_route_json_carries_unproven_only_where_fleet_cannot_follow(tmp_path: Path) -> None:
    (tmp_path / "den.txt").write_text(DEN)
    lines = _route(str(tmp_path / "den.txt"), "911", "933", "--json", code=1).splitlines()
    d911, d933 = (json.loads(x) for x in lines)
    assert d911["priority"] == "emergency" and "e911-psap.xml.gz" in d911["unproven"]
    assert d933["trunk"] == "SAG:E911-CARRIER" and "unproven" not in d933


def test_a_sip_interface_that_refuses_priority_calls_is_reported(tmp_path: Path) -> None:
    """options disallow-priority-calls on the phones' sip-interface: the box answers
    priority calls through it with 380 ("Emergency Call Fallback"). fleet cannot tell which
    calls the box counts as priority, so both emergency numbers are unproven; without the
    option, nothing is reported on them."""
    on = CHI.replace(
        "        realm-id                                access\n",
        "        realm-id                                access\n"
        "        options                                 disallow-priority-calls\n",
        1,
    )
    assert on != CHI
    sbc = _audit(tmp_path, {"chi.txt": on})["chi"]
    for number in ("911", "933"):
        [f] = _on(sbc, number)
        assert f["rule"] == "coverage.uncertain", f
        assert "disallow-priority-calls" in f["message"] and "380" in f["message"]
        assert "policy-priority emergency" in f["message"]
    (tmp_path / "off").mkdir()
    clean = _audit(tmp_path / "off", {"chi.txt": CHI})["chi"]
    assert _on(clean, "911") == [] and _on(clean, "933") == [], clean["findings"]


def test_call_gapping_on_an_emergency_number_is_reported(tmp_path: Path) -> None:
    """A GAP-RATE network management control naming 933 rejects 933 calls over its rate
    where the realm applies controls: unproven. den-esbc-3's own control is of type
    PRIORITY (911 exemption), which is said in the explanation and reported as nothing."""
    gap = DEN.replace(
        "        type                                    PRIORITY\n",
        "        type                                    GAP-RATE\n"
        "        value                                   5\n"
        "        treatment                               reject\n",
    )
    sbc = _audit(tmp_path, {"den.txt": gap})["den"]
    [f] = _on(sbc, "933")
    assert f["rule"] == "coverage.uncertain" and "GAP-RATE 5, treatment REJECT" in f["message"]
    out = _route(str(SAMPLES / "den-esbc-3.txt"), "933", "--explain")
    assert "net-management-control E911-EXEMPT (type PRIORITY) names 933" in out
    assert "unproven" not in out


# --- the lab box over SSH -------------------------------------------------------------------


def _sweep(inv: Path, golden: Path, folder: Path, tag: str) -> dict[str, dict]:
    proc = run_fleet(
        "sweep", str(inv), "--golden", str(golden), "--store", str(folder / f"{tag}.db"), "--json"
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {d["id"]: d for d in json.loads(proc.stdout)["devices"]}


@pytest.mark.skipif("acme_packet" not in labfleet.sbc_profiles(), reason="no Oracle SBC simulator")
@pytest.mark.parametrize(
    ("fault", "said"),
    [("lrt-999", "local route table E911"), ("no-priority-calls", "disallow-priority-calls")],
)
def test_lab_box_served_with_the_fault_reports_it_unproven(
    tmp_path: Path, fault: str, said: str
) -> None:
    """The lab's Oracle box swept over SSH: healthy, 999 is proven; served with the fault,
    the SBC has coverage.uncertain on 999 and every phone behind it an unproven path."""
    assert fault in acme_sim.COVERAGE_FAULTS
    with running_lab(
        tmp_path, 4, faults=False, profile_names=("snom",), sbc_profile_names=("acme_packet",)
    ) as lab:
        sites = {p.site for p in lab.fleet.phones}
        box = next(s for s in lab.fleet.sbcs if s.profile == "acme_packet" and s.site in sites)
        phones = [p.id for p in lab.fleet.phones if p.site == box.site]
        before = _sweep(lab.inventory, lab.golden, tmp_path, "before")
        assert _on(before[box.id], "999") == [], before[box.id]["findings"]
        box.fault = fault
        lab.fleet.ssh.devices[box.id].config = registry.sbc(box.profile).render(box)
        after = _sweep(lab.inventory, lab.golden, tmp_path, "after")
    [f] = _on(after[box.id], "999")
    assert f["rule"] == "coverage.uncertain" and said in f["message"], f
    for pid in phones:
        paths = [x for x in after[pid]["findings"] if x["rule"] == "emergency.path"]
        assert any(x["subject"] == "999" and "unproven" in x["message"] for x in paths), paths
