"""`fleet sbc route --explain` / `--json` say what the SBC does with the caller's location on an
emergency call (issue 13 §4): the real CLI on the profiles' sample configurations, and on the
lab's SBCs read over real SSH (one of them through netmiko, whose routing fleet does not read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fleet.lab import fleet as labfleet
from tests.conftest import run_fleet, running_lab

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "device_profiles"
DAL = SAMPLES / "cisco_cube" / "samples" / "cube-dal-gw.txt"  # US: 911, two ERLs
LON_CUBE = SAMPLES / "cisco_cube" / "samples" / "cube-lon-hq.cfg"  # UK: 999 and 112
CHI_INI = SAMPLES / "audiocodes" / "samples" / "chi-sbc-e911.ini"  # SBC PSAP mode
MAN_INI = SAMPLES / "audiocodes" / "samples" / "man-sbc-1.ini"  # no E9-1-1 handling
LON_CLI = SAMPLES / "audiocodes" / "samples" / "lon-sbc-1.txt"  # the CLI form
CHI_ACME = SAMPLES / "acme_packet" / "samples" / "chi-esbc-2.txt"  # ELIN_Gateway SPL
LON_ACME = SAMPLES / "acme_packet" / "samples" / "lon-esbc-1.txt"  # no ELIN_Gateway


def route(*args: str, code: int = 0) -> list[str]:
    proc = run_fleet("sbc", "route", *args)
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return proc.stdout.splitlines()


def located(lines: list[str]) -> list[str]:
    return [ln.strip() for ln in lines if ln.strip().startswith("location")]


def test_cube_explain_names_the_elin_sent_for_the_callers_erl() -> None:
    floor1 = route(str(DAL), "911", "--source", "10.60.1.25", "--explain")
    assert floor1[0].startswith("911          dial-peer 911 → ITSP-E911 as 911")
    assert located(floor1) == [
        "location: added: dial-peer 911 sends ELIN 9725550100 for 10.60.1.25 "
        "(voice emergency response location 1 (DAL-HQ-FLOOR1))"
    ]
    floor2 = route(str(DAL), "911", "--source", "10.60.2.7", "--explain")
    assert located(floor2) == [
        "location: added: dial-peer 911 sends ELIN 9725550200 for 10.60.2.7 "
        "(voice emergency response location 2 (DAL-HQ-FLOOR2))"
    ]
    outside = route(str(DAL), "911", "--source", "10.99.0.5", "--explain")
    assert located(outside) == [
        "location: none added: 10.99.0.5 is in none of the ERL subnets on dial-peer 911 "
        "(10.60.1.0/24, 10.60.2.0/24): no ELIN"
    ]
    # without the caller's address the ERL is unknown: unproven, and the user is told how
    unknown = route(str(DAL), "911", "--explain")
    assert located(unknown) == [
        "location: unproven: the ELIN it sends depends on the caller's network and the "
        "phone's address is not known (give the caller's address with --source)"
    ]


def test_only_the_sbcs_emergency_calls_get_a_location_line() -> None:
    """The UK CUBE treats 999 and 112 as emergency numbers, not 911 (which it routes to the
    carrier like any call); a phone dialling 9999 reaches the 999 dial-peer: an emergency
    call, with the ELIN of its ERL."""
    lines = route(str(LON_CUBE), "911", "999", "9999", "--source", "10.20.3.4", "--explain")
    by_number: dict[str, list[str]] = {}
    for ln in lines:
        if not ln.startswith(" "):
            by_number[ln.split()[0]] = []
        by_number[list(by_number)[-1]].append(ln)
    assert located(by_number["911"]) == []
    elin = (
        "location: added: dial-peer 999 sends ELIN 02079460000 for 10.20.3.4 "
        "(voice emergency response location 1 (LON-HQ))"
    )
    assert located(by_number["999"]) == [elin]
    assert located(by_number["9999"]) == [elin]
    as_json = [json.loads(ln) for ln in route(str(LON_CUBE), "911", "999", "--json")]
    assert "location" not in as_json[0]
    assert as_json[1]["location"]["added"] is None  # no --source: which ERL is unknown


def test_an_sbc_that_marks_no_call_as_emergency_shows_every_calls_location(
    tmp_path: Path,
) -> None:
    """Without its `emergency response zone` lines the UK CUBE names no emergency number:
    fleet cannot tell which calls are, so each routed call says what happens to location."""
    text = LON_CUBE.read_text()
    assert text.count("\n emergency response zone 1\n") == 2  # on dial-peers 999 and 112
    cube = tmp_path / "cube.cfg"
    cube.write_text(text.replace("\n emergency response zone 1\n", "\n"))
    lines = route(str(cube), "911", "999", "--source", "10.20.3.4", "--explain")
    none = (
        "location: none added: no emergency location handling is configured "
        "(voice emergency response location|zone)"
    )
    assert located(lines) == [none, none]
    assert [ln.split()[0] for ln in lines if not ln.startswith(" ")] == ["911", "999"]


def test_audiocodes_ini_psap_mode_and_no_e911_say_they_add_none() -> None:
    lines = route(str(CHI_INI), "911", "--source", "10.1.2.3", "--explain")
    assert lines[0] == "911          ambiguous"
    # one line per way the call can leave; the unclassified alternative is rejected: none
    assert located(lines) == [
        "location from IPG_Phones: none added: it converts the ELINs the call already "
        "carries into the calling number (IPGroup IPG_Carrier_Emergency SBCPSAPMode = 1), "
        "and adds none of its own"
    ]
    lines = route(str(MAN_INI), "999", "--source", "10.1.2.3", "--explain")
    assert located(lines) == [
        "location from IPG_Phones: none added: no emergency location handling is configured "
        "(SBCPSAPMode = 0 on every IP Group, E911Gateway = 0)"
    ]


def test_audiocodes_cli_says_what_it_read_or_that_it_is_unproven() -> None:
    """The CLI form's E9-1-1 keywords are read only where the AudioCodes profile can cite
    them: a box whose location fleet did not read is unproven, never "none added"."""
    from fleet.audit import audit_one, gather

    state = audit_one(gather([LON_CLI])[0])
    assert state is not None and state.sbc is not None
    lines = located(route(str(LON_CLI), "999", "--source", "10.1.2.3", "--explain"))
    assert len(lines) == 1 and lines[0].startswith("location from IPG_Phones: "), lines
    if state.sbc.location is None:
        assert lines[0].endswith(
            "unproven: fleet does not read this SBC's emergency location handling"
        ), lines
    else:
        assert state.sbc.location.source in lines[0], (lines, state.sbc.location)


def test_acme_elin_gateway_and_no_spl_say_they_add_none() -> None:
    lines = route(str(CHI_ACME), "911", "--source", "10.1.2.3", "--explain")
    assert located(lines) == [
        "location: none added: it converts the ELINs the call already carries into the "
        "calling number (spl-config[1] spl-options +ELIN_Gateway), and adds none of its own"
    ]
    lines = route(str(LON_ACME), "999", "--source", "10.20.1.5", "--explain")
    assert lines[0].startswith("999          local-policy 1 (UK emergency 999) → ")
    assert located(lines) == [
        "location: none added: no emergency location handling is configured "
        "(no spl-config spl-options ELIN_Gateway)"
    ]
    # a call that leaves nowhere (no local-policy from the carrier realm) gets no line
    assert located(route(str(LON_ACME), "999", "--source", "10.1.2.3", "--explain")) == []


CASES = [
    (DAL, "911", "10.60.1.25"),
    (DAL, "999", "10.60.1.25"),
    (LON_CUBE, "911", None),
    (CHI_INI, "911", "10.1.2.3"),
    (MAN_INI, "999", "10.1.2.3"),
    (LON_CLI, "999", None),
    (CHI_ACME, "911", "10.1.2.3"),
    (LON_ACME, "999", "10.20.1.5"),
]


@pytest.mark.parametrize(("sample", "number", "source"), CASES)
def test_the_table_and_json_stay_as_they_were_but_for_the_location_key(
    sample: Path, number: str, source: str | None
) -> None:
    """Scripts that parse `sbc route` see the same table and the same JSON, key for key and
    byte for byte, with ``location`` after the other keys (on each alternative too)."""
    from fleet.audit import audit_one, gather
    from fleet.profiles import detect
    from fleet.report import text

    prof = detect(sample.read_text()[:65536])
    assert prof is not None and prof.route is not None
    state = audit_one(gather([sample])[0])
    assert state is not None
    d = prof.route(state, number, source)
    src = ["--source", source] if source else []
    assert route(str(sample), number, *src) == text.route_lines(
        number, d, as_json=False, explain=False
    )
    for flags in ([], ["--explain"]):
        [line] = route(str(sample), number, *src, "--json", *flags)
        body = json.loads(line)
        [before] = text.route_lines(number, d, as_json=True, explain=bool(flags))
        alts = body.get("alternatives", [])
        if "location" in body:
            assert list(body)[-1] == "location"
            assert all(list(a)[-1] == "location" for a in alts), alts
            assert {"added", "reason", "elin", "erl", "mode", "settings"} <= set(body["location"])
        for part in (body, *alts):
            part.pop("location", None)
        assert json.dumps(body) == before


def test_json_gives_the_location_per_decision_and_per_alternative() -> None:
    [cube] = route(str(DAL), "911", "--source", "10.60.2.7", "--json")
    assert json.loads(cube)["location"] == {
        "added": True,
        "reason": "dial-peer 911 sends ELIN 9725550200 for 10.60.2.7 "
        "(voice emergency response location 2 (DAL-HQ-FLOOR2))",
        "elin": "9725550200",
        "erl": "voice emergency response location 2 (DAL-HQ-FLOOR2)",
        "mode": "elin",
        "settings": "voice emergency response location|zone",
    }
    [ac] = route(str(CHI_INI), "911", "--source", "10.1.2.3", "--json")
    body = json.loads(ac)
    alts = {a["source"]: a["location"] for a in body["alternatives"]}
    assert alts["IPG_Phones"]["added"] is False
    assert alts["IPG_Phones"]["mode"] == "elin-gateway"
    assert alts["(unclassified)"] == {
        **alts["IPG_Phones"],
        "reason": "nothing leaves the SBC (rejected)",
    }
    # both alternatives agree that no location is added: so does the decision
    assert body["location"]["added"] is False


def test_a_cube_tie_names_each_dial_peer_and_leaves_the_decision_unproven(tmp_path: Path) -> None:
    """Two dial-peers for 911 at the same preference, only one in the emergency response
    zone: IOS may take either, so the call may leave with the ELIN or without one."""
    backup = (
        " description PRI-E911-BACKUP\n preference 1\n destination-pattern 911\n"
        " port 0/0/0:23\n forward-digits all\n emergency response zone 1\n"
    )
    text = DAL.read_text()
    assert backup in text
    cube = tmp_path / "cube.txt"
    tied = backup.replace(" preference 1\n", "").replace(" emergency response zone 1\n", "")
    cube.write_text(text.replace(backup, tied))
    lines = route(str(cube), "911", "--source", "10.60.1.25", "--explain")
    assert lines[0] == "911          ambiguous"
    assert located(lines) == [
        "location via dial-peer 911: added: dial-peer 911 sends ELIN 9725550100 for 10.60.1.25 "
        "(voice emergency response location 1 (DAL-HQ-FLOOR1))",
        "location via dial-peer 9110: none added: dial-peer 9110 carries no emergency response "
        "location: no ELIN is sent",
    ]
    [line] = route(str(cube), "911", "--source", "10.60.1.25", "--json")
    top = json.loads(line)["location"]
    assert (top["added"], top["reason"]) == (None, "it depends on which alternative the SBC takes")


# --- the lab over real SSH ----------------------------------------------------------------


@pytest.mark.skipif(
    {"cisco_cube", "acme_packet", "audiocodes"} - set(labfleet.sbc_profiles()),
    reason="no SBC simulators",
)
def test_lab_sbcs_over_ssh_and_an_sbc_read_through_netmiko(tmp_path: Path) -> None:
    with running_lab(tmp_path, 3, faults=False, profile_names=("snom",)) as lab:
        inv = str(lab.inventory)
        sbc = {s.profile: s for s in lab.fleet.sbcs}
        phone = {p.site: p.address for p in lab.fleet.phones}
        cube = sbc["cisco_cube"]
        lines = route(inv, "--host", cube.id, "999", "--source", phone[cube.site], "--explain")
        assert lines[0].startswith("999          dial-peer 999 → "), lines
        assert located(lines) == [
            f"location: added: dial-peer 999 sends ELIN 02079460000 for {phone[cube.site]} "
            f"(voice emergency response location 1 ({cube.site.upper()}-PHONES))"
        ]
        acme = sbc["acme_packet"]
        lines = route(inv, "--host", acme.id, "999", "--source", phone[acme.site], "--explain")
        [line] = located(lines)
        assert line.startswith("location: none added: it converts the ELINs"), lines
        # AudioCodes' CLI over SSH: what it read (the settings named), or unproven; the
        # lines say what the JSON says, for each alternative the call can leave by
        ac = sbc["audiocodes"]
        args = (inv, "--host", ac.id, "999", "--source", phone[ac.site])
        [line] = route(*args, "--json")
        body = json.loads(line)
        said = {True: "added", False: "none added", None: "unproven"}
        alts = [a for a in body.get("alternatives", [body]) if a["outcome"] == "routed"]
        assert alts, body
        assert located(route(*args, "--explain")) == [
            ("location" + (f" from {a['source']}" if "alternatives" in body else "") + ": ")
            + f"{said[a['location']['added']]}: {a['location']['reason']}"
            for a in alts
        ]

        # the same CUBE declared as a netmiko device: read over SSH, but fleet does not walk
        # its routing, so each number is unproven (exit 1) and so is its location
        doc = {
            "hosts": {
                "core-sbc": {
                    "address": f"{cube.address}:{cube.port}",
                    "role": "sbc",
                    "transport": "netmiko",
                    "device_type": "cisco_ios",
                    "commands": ["show running-config"],
                    "credentials": {
                        "username": cube.admin_user,
                        "password": "${file:lab-admin.secret}",
                        "enable": "${file:lab-enable.secret}",
                    },
                    "ssh": {"known_hosts": "lab_known_hosts"},
                }
            }
        }
        netmiko_inv = lab.inventory.parent / "netmiko.yaml"
        netmiko_inv.write_text(yaml.safe_dump(doc))
        lines = route(str(netmiko_inv), "999", "--explain", code=1)
        assert lines[0] == (
            "999          unproven (fleet cannot evaluate netmiko routing: a call through it "
            "is unproven)"
        ), lines
        assert located(lines) == [
            "location: unproven: fleet does not read this SBC's emergency location handling"
        ]
        [line] = route(str(netmiko_inv), "--host", "core-sbc", "999", "--json", code=1)
        body = json.loads(line)
        assert body["outcome"] == "unproven" and body["location"]["added"] is None


def test_a_route_into_a_table_fleet_cannot_see_is_unproven_on_the_table_line_and_exits_1() -> None:
    """An Oracle next hop ``lrt:`` sends the call where a route-table file on the box says:
    the plain line must not read as a proven route, and the exit code says it."""
    den = SAMPLES / "acme_packet" / "samples" / "den-esbc-3.txt"
    lines = route(str(den), "911", code=1)
    assert lines[0].startswith("911          local-policy 1 (911 via the PSAP route table)")
    assert "(unproven: its next hop is local route table E911-PSAP" in lines[0]
    body = json.loads(route(str(den), "911", "--json", code=1)[0])
    assert body["unproven"].startswith("its next hop is local route table E911-PSAP")
    # a proven route on the same box still exits 0 and carries no unproven key
    assert "unproven" not in json.loads(route(str(LON_ACME), "999", "--json")[0])
