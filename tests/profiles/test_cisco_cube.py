"""Cisco CUBE profile: IOS dial-peer selection and number translation as the box applies
them (each table row cites the Cisco document it follows), the lab CUBE over fleet's SSH
transport and netmiko's cisco_ios driver, the seeded faults, and secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from device_profiles.cisco_cube import routing, simulator
from fleet import profiles
from fleet.collect.ssh import Platform, SshOptions, SshTarget, run_cli
from fleet.errors import AuthFailed, ConfigFileError, DeviceError
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc, LabSbcDevice
from fleet.model import DeviceState
from fleet.redact import redact_params

PROFILE = profiles.get("cisco_cube")
SAMPLES = Path(PROFILE.folder or ".") / "samples"
NET = 92
PHONE = "127.10.0.5"  # a phone in the lab spec's phone network

# The Cisco documents the tables follow (README, "Sources").
DOC_ROUTING = "Cisco 211306 Understand IOS and IOS XE Call Routing"
DOC_XLATE = "Cisco 61083 Determine Voice Translation Rules"


def _spec(host: int = 1, **kw: Any) -> LabSbc:
    base: dict[str, Any] = dict(
        id="t-sbc",
        profile="cisco_cube",
        site="lon",
        address=f"127.{NET}.255.{host}",
        port=8022,
        hostname="lon-sbc-1",
        admin_user=simulator.ADMIN_USER,
        admin_password="lab-admin-Zq8v",
        enable_password="lab-enable-Xw3",
        phone_networks=["127.10.0.0/16"],
        emergency_numbers=["999", "112"],
    )
    base.update(kw)
    return LabSbc(**base)


def _state_of(name: str) -> DeviceState:
    text = (SAMPLES / name).read_text()
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(PROFILE.parse_files(name, text, lambda _n: None))


def _rendered(spec: LabSbc) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(
        PROFILE.parse_files("show running-config", simulator.render(spec), lambda _n: None)
    )


def _route(state: DeviceState, number: str, source: str | None) -> tuple[Any, ...]:
    assert PROFILE.route
    d = PROFILE.route(state, number, source)
    return d.outcome, d.route, d.sent, d.trunk, d.priority


# --- number patterns and translation rules --------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "number", "matches", "why"),
    [
        ("2...", "2001", True, f"{DOC_ROUTING}: Dial-Peer Wildcards, '.' one digit"),
        ("2...", "200", False, f"{DOC_ROUTING}: four positions need four digits"),
        ("2...", "20012", True, f"{DOC_ROUTING}: ^ assumed, no $: the pattern is a prefix"),
        ("2...$", "20012", False, f"{DOC_ROUTING}: '$' ends the string"),
        (".T", "112", True, f"{DOC_ROUTING}: T, variable length up to 32 digits"),
        ("9T", "112", False, f"{DOC_ROUTING}: 9T needs a leading 9"),
        ("[2,5-8]0000", "60000", True, f"{DOC_ROUTING}: commas break up a bracket range"),
        ("[2,5-8]0000", "30000", False, f"{DOC_ROUTING}: 3 is outside [2,5-8]"),
        ("91[^135]555", "912555", True, f"{DOC_ROUTING}: ^ inside brackets excludes"),
        ("91[^135]555", "913555", False, f"{DOC_ROUTING}: ^ inside brackets excludes"),
        ("+19191112222", "+19191112222", True, f"{DOC_ROUTING}: leading + is literal"),
        ("(206)?5015111", "5015111", True, f"{DOC_ROUTING}: ? zero or one time"),
        ("(206)?5015111", "2065015111", True, f"{DOC_ROUTING}: ? zero or one time"),
    ],
)
def test_number_patterns(pattern: str, number: str, matches: bool, why: str) -> None:
    assert routing.pattern_matches(pattern, number) is matches, why


def test_longest_match_measure() -> None:
    # DOC_ROUTING, Number String Dial-Peer Hunting: 200. is more specific than 2... for 2001
    assert routing.number_pattern("200.").explicit > routing.number_pattern("2...").explicit
    assert routing.number_pattern(".T").explicit == 0
    assert routing.number_pattern("74%").explicit == 1  # the 4 may occur zero times
    with pytest.raises(ValueError):
        routing.number_pattern("9T1")


@pytest.mark.parametrize(
    ("rule", "number", "result"),
    [  # every row is an example of DOC_XLATE
        ("/123/ /456/", "1234", "4564"),  # Simple Match and Replace, Example 1
        ("/123/ /456/", "6123123", "6456123"),  # only the first occurrence
        ("/^123/ /456/", "6123", None),  # Example 2: no match
        ("/^123$/ /456/", "1234", None),  # Example 3: exact number only
        ("/^40.../ /6666000/", "40123", "6666000"),  # Pattern Match with Wildcards 1
        ("/.*/ /5554000/", "", "5554000"),  # Example 2: matches the null number
        ("/.+/ /5554000/", "", None),  # Example 3: not the null number
        ("/^0+/ /909/", "000123456", "909123456"),  # Example 4
        (r"/^\(12\)3\(45\)$/ /6\1\2/", "12345", "61245"),  # Number Slice, Related Example
        (r"/^.*\(..\)/ /\1/", "123456", "56"),  # Truncate Numbers Down to the Last Two
        (
            r"/^2\(...$\)/ /01779345\1/ type unknown national plan unknown isdn",
            "2001",
            "01779345001",
        ),  # Number Type and Plan, Example 2
        (r"/^\(01...\)\-\(......?$\)/ /\1\2/", "01208-333444", "01208333444"),  # hyphens
        (r"/^9\(.*\)/ /\1/", "9911", "911"),  # outside-line 9 stripped (doc 61083 slices)
        (r"/^911$/ /\0/", "911", "911"),  # \0: the whole match (hhgarland.me's CUBE, README)
    ],
)
def test_translation_rules(rule: str, number: str, result: str | None) -> None:
    new, matched, rejected = routing.translate({"1": routing.parse_rule(rule)}, number)
    assert not rejected
    assert (new if matched else None) == result


def test_translation_reject_and_precedence() -> None:
    # DOC_XLATE, Reject Calls: "rule 1 reject /^234/" blocks 2345, not 1234
    rules = {"1": routing.parse_rule("reject /^234/")}
    assert routing.translate(rules, "2345")[2] is True
    assert routing.translate(rules, "1234") == ("1234", None, False)
    # rules run in precedence order, not as typed; the first match ends the search
    rules = {"20": routing.parse_rule("/^9/ /X/"), "3": routing.parse_rule("/^99/ /Y/")}
    assert routing.translate(rules, "999")[:2] == ("Y9", "3")


# --- route(): the two real-format samples ---------------------------------------------

LON = [  # samples/cube-lon-hq.cfg
    (
        "999",
        None,
        ("routed", "dial-peer 999", "999", "DP-EMERGENCY-SIP", "emergency"),
        f"{DOC_ROUTING}: longest match, 999 (3 explicit digits) beats .T",
    ),
    (
        "112",
        PHONE,
        ("routed", "dial-peer 112", "112", "DP-EMERGENCY-SIP", "emergency"),
        f"{DOC_ROUTING}: longest match",
    ),
    (
        "9999",
        "10.20.3.4",
        ("routed", "dial-peer 999", "999", "DP-EMERGENCY-SIP", "emergency"),
        f"{DOC_ROUTING} Table 1 (incoming called-number .) + {DOC_XLATE} Number Slice "
        r"(rule 10 /^9\(999\)$/ /\1/) before outbound matching",
    ),
    (
        "911",
        None,
        ("routed", "dial-peer 200", "911", "DP-CARRIER-SIP", None),
        f"{DOC_ROUTING}: only the catch-all .T matches 911",
    ),
    (
        "902079460000",
        None,
        ("routed", "dial-peer 200", "02079460000", "DP-CARRIER-SIP", None),
        f"{DOC_XLATE}: rule 30 strips the outside-line 9",
    ),
    (
        "2001",
        None,
        ("routed", "dial-peer 400", "2001", "DP-PBX-PRIMARY", None),
        f"{DOC_ROUTING}: same match length, preference 0 before preference 1",
    ),
    (
        "2000",
        None,
        ("routed", "dial-peer 402", "2000", "DP-VOICEMAIL", None),
        f"{DOC_ROUTING}: 2000 is a longer match than 2...",
    ),
    (
        "+442071234567",
        "203.0.113.10",
        ("routed", "dial-peer 200", "02071234567", "DP-CARRIER-SIP", None),
        f"{DOC_ROUTING} Table 1: incoming uri via CARRIER is matched first; {DOC_XLATE} slice",
    ),
    (
        "09011234567",
        None,
        ("rejected", "dial-peer 200", None, None, None),
        f"{DOC_XLATE}: Reject Calls (TO-CARRIER rule 1 reject /^09[0-9]/)",
    ),
    (
        "0123",
        None,
        ("routed", "dial-peer 200", "0123", "DP-CARRIER-SIP", None),
        f"{DOC_ROUTING}: Dial-Peer States, shutdown dial-peer 500 (0T) is not eligible",
    ),
]
DAL = [  # samples/cube-dal-gw.txt
    (
        "9911",
        "10.50.244.2",
        ("routed", "dial-peer 911", "911", "ITSP-E911", "emergency"),
        f"{DOC_ROUTING}: inbound via CUCM, rule 1 strips 9; VoIP 911 pref 0 before POTS pref 1",
    ),
    (
        "9911",
        "10.60.1.7",
        ("no-route", None, None, None, None),
        f"{DOC_ROUTING}: no inbound match is dial-peer 0 (no translation); no outbound match "
        "and the call fails",
    ),
    (
        "914155551234",
        "10.50.244.2",
        ("routed", "dial-peer 20", "14155551234", "ITSP-LD", None),
        f"{DOC_XLATE}: rule 2 slice; {DOC_ROUTING}: preference 0 before the PRI",
    ),
    (
        "919005551234",
        "10.50.244.2",
        ("rejected", "dial-peer 20", None, None, None),
        f"{DOC_XLATE}: Reject Calls in the outgoing TO-ITSP profile",
    ),
    (
        "95551234",
        "10.50.244.2",
        ("routed", "dial-peer 20", "19725551234", "ITSP-LD", None),
        f"{DOC_XLATE}: rule 3 adds 1972",
    ),
    (
        "411",
        None,
        ("routed", "dial-peer 30", "411", "PRI-SERVICE-CODES", None),
        "CCNA Voice 640-461 Example 6-12: POTS forward-digits 3 keeps 411",
    ),
    (
        "02079460000",
        None,
        ("routed", "dial-peer 40", "2079460000", "PRI-OPERATOR", None),
        "CCNA Voice 640-461 Example 6-12: a POTS dial-peer strips the explicitly matched digits",
    ),
]


@pytest.mark.parametrize(("number", "source", "want", "why"), LON)
def test_route_lon_sample(number: str, source: str | None, want: tuple[Any, ...], why: str) -> None:
    assert _route(_state_of("cube-lon-hq.cfg"), number, source) == want, why


@pytest.mark.parametrize(("number", "source", "want", "why"), DAL)
def test_route_dal_sample(number: str, source: str | None, want: tuple[Any, ...], why: str) -> None:
    assert _route(_state_of("cube-dal-gw.txt"), number, source) == want, why


def test_route_steps_explain_the_choice() -> None:
    assert PROFILE.route
    d = PROFILE.route(_state_of("cube-lon-hq.cfg"), "9999", "10.20.3.4")
    text = "\n".join(d.steps)
    assert "dial-peer 100" in text and "rule 10 turns 9999 into 999" in text
    assert "ELIN 02079460000" in text  # 10.20.3.4 is in emergency response location 1
    d = PROFILE.route(_state_of("cube-lon-hq.cfg"), "2001", None)
    assert "dial-peer 401" in "\n".join(d.steps)


def test_state_of_sample() -> None:
    st = _state_of("cube-lon-hq.cfg")
    assert st.sbc is not None
    assert st.sbc.addresses == ["10.20.1.5:5060", "198.51.100.2:5060"]
    assert st.sbc.emergency_numbers == ["999", "112"]
    assert st.sbc.trunks[:2] == ["DP-EMERGENCY-SIP", "DP-CARRIER-SIP"]
    assert "OLD-CARRIER-DECOMMISSIONED" not in st.sbc.trunks  # shutdown
    assert st.sbc.trunk_aliases["DP-EMERGENCY-SIP"] == [
        "dial-peer 999",
        "dial-peer 112",
        "ipv4:203.0.113.20:5060",
    ]
    assert st.model == "ISR4331/K9"


def test_detect_and_bad_files() -> None:
    for name in ("cube-lon-hq.cfg", "cube-dal-gw.txt"):
        assert profiles.detect((SAMPLES / name).read_text()) is PROFILE
    assert not PROFILE.detect("hostname r1\ninterface Gi0/0\n ip address 10.0.0.1 255.0.0.0\n")
    assert PROFILE.parse_files
    with pytest.raises(ConfigFileError):
        PROFILE.parse_files("r1.cfg", "hostname r1\n!\nend\n", lambda _n: None)
    bad = "dial-peer voice 1 voip\n destination-pattern 9T1\n session target ipv4:1.2.3.4\n!\n"
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("x.cfg", bad, lambda _n: None)
    assert info.value.line == 2


# --- the lab CUBE ------------------------------------------------------------------------


def _platform(**changes: Any) -> Platform:
    assert PROFILE.platform is not None
    return dataclasses.replace(PROFILE.platform, **changes)


async def _run_lab(spec: LabSbc, tmp: Path, body: Callable[..., Any]) -> Any:
    running = await labsbc.start([spec])
    try:
        kh = tmp / "known_hosts"
        kh.write_text("\n".join(running.known_hosts) + "\n")
        return await body(running.devices[spec.id], str(kh))
    finally:
        await running.close()


def _target(spec: LabSbc, known_hosts: str, **kw: Any) -> SshTarget:
    args = dict(
        hostname=spec.address,
        port=spec.port,
        username=spec.admin_user,
        password=spec.admin_password,
        enable_password=spec.enable_password,
        options=SshOptions(known_hosts=known_hosts),
    )
    args.update(kw)
    return SshTarget(**args)


def _netmiko(spec: LabSbc, **kw: Any) -> dict[str, str]:
    import netmiko

    with netmiko.ConnectHandler(
        device_type="cisco_ios",
        host=spec.address,
        port=spec.port,
        username=spec.admin_user,
        password=spec.admin_password,
        secret=spec.enable_password,
        ssh_strict=False,
        **kw,
    ) as conn:
        conn.enable()
        return {
            "prompt": conn.find_prompt(),
            "show running-config": conn.send_command("show running-config"),
            "show version": conn.send_command("show version"),
        }


def test_lab_round_trip_run_cli_and_netmiko(tmp_path: Path) -> None:
    spec = _spec(1)

    async def body(dev: LabSbcDevice, kh: str) -> tuple[dict[str, str], dict[str, str]]:
        outputs = await run_cli(_target(spec, kh), _platform(), asyncio.Semaphore(5))
        # netmiko is synchronous: a thread of its own while the lab serves on this loop
        nm = await asyncio.to_thread(_netmiko, spec)
        return outputs, nm

    outputs, nm = asyncio.run(_run_lab(spec, tmp_path, body))
    config = simulator.render(spec)
    assert outputs["show running-config"].strip() == config.strip()
    assert nm["show running-config"].strip() == config.strip()
    assert nm["prompt"] == "lon-sbc-1#"
    assert "Cisco IOS XE Software, Version 17.06.05" in nm["show version"]
    assert PROFILE.parse_cli and PROFILE.to_state and PROFILE.route
    state = PROFILE.to_state(PROFILE.parse_cli(outputs))
    assert (state.model, state.firmware) == ("ISR4331/K9", "17.06.05")
    assert state.sbc is not None
    assert state.sbc.addresses[0] == f"{spec.address}:5060"
    assert state.sbc.trunks[:2] == [simulator.EMERGENCY_TRUNK, simulator.NORMAL_TRUNK]
    assert state.sbc.emergency_numbers == ["999", "112"]
    assert [r.name for r in state.sbc.routes][:3] == [
        "dial-peer 999",
        "dial-peer 112",
        "dial-peer 200",
    ]
    for number in ("999", "112"):
        assert _route(state, number, PHONE) == (
            "routed",
            f"dial-peer {number}",
            number,
            simulator.EMERGENCY_TRUNK,
            "emergency",
        )
    assert _route(state, "902079460000", PHONE) == (
        "routed",
        "dial-peer 200",
        "02079460000",
        simulator.NORMAL_TRUNK,
        None,
    )


def test_lab_paging_before_terminal_length_0(tmp_path: Path) -> None:
    spec = _spec(2)

    async def body(dev: LabSbcDevice, kh: str) -> tuple[str, str]:
        async with asyncssh.connect(
            spec.address,
            spec.port,
            username=spec.admin_user,
            password=spec.admin_password,
            known_hosts=kh,
        ) as conn:
            proc = await conn.create_process(term_type="vt100", term_size=(80, 24))
            proc.stdin.write("show version\n")
            first = ""
            while "--More--" not in first:
                first += await asyncio.wait_for(proc.stdout.read(4096), 5)
            proc.stdin.write("q")
            proc.stdin.write("exit\n")
        # fleet's transport without the paging commands pages through with spaces
        outputs = await run_cli(_target(spec, kh), _platform(setup=[]), asyncio.Semaphore(2))
        return first, outputs["show running-config"]

    first, paged = asyncio.run(_run_lab(spec, tmp_path, body))
    assert first.rstrip().endswith("--More--")
    assert "Configuration register" not in first
    heads = re.findall(r"dial-peer voice \d+ voip", paged)
    assert heads == re.findall(r"dial-peer voice \d+ voip", simulator.render(spec))


def test_lab_wrong_password_and_unknown_host_key(tmp_path: Path) -> None:
    spec = _spec(3)

    async def body(dev: LabSbcDevice, kh: str) -> list[BaseException]:
        errors: list[BaseException] = []
        for target in (
            _target(spec, kh, password="wrong"),
            _target(spec, kh, enable_password="wrong"),
            _target(spec, str(tmp_path / "empty_known_hosts")),
        ):
            try:
                await run_cli(target, _platform(), asyncio.Semaphore(1))
            except DeviceError as e:
                errors.append(e)
        return errors

    (tmp_path / "empty_known_hosts").write_text("")
    errors = asyncio.run(_run_lab(spec, tmp_path, body))
    assert [type(e) for e in errors] == [AuthFailed, AuthFailed, DeviceError]
    assert "lab-admin" not in str(errors[0])


@pytest.mark.parametrize("fault", sorted(simulator.FAULTS))
def test_faults(fault: str) -> None:
    state = _rendered(_spec(fault=fault))
    failing = {
        subject for rule, subject in simulator.FAULT_EXPECT[fault] if rule == "emergency.sbc_route"
    }
    assert failing
    for number in ("999", "112"):
        outcome, route, sent, trunk, priority = _route(state, number, PHONE)
        healthy = (outcome, sent, trunk, priority) == (
            "routed",
            number,
            simulator.EMERGENCY_TRUNK,
            "emergency",
        )
        assert healthy is (number not in failing), (fault, number, route, sent, trunk)
        if not healthy:
            assert trunk == simulator.NORMAL_TRUNK  # the carrier catch-all .T takes it


def test_render_follows_spec() -> None:
    spec = _spec(
        4,
        hostname="dal-sbc-9",
        emergency_numbers=["911"],
        phone_networks=["127.20.0.0/16", "127.21.4.0/24"],
    )
    state = _rendered(spec)
    assert state.raw["hostname"] == "dal-sbc-9"
    assert state.sbc is not None and state.sbc.emergency_numbers == ["911"]
    assert _route(state, "9911", "127.21.4.9")[:4] == (
        "routed",
        "dial-peer 911",
        "911",
        simulator.EMERGENCY_TRUNK,
    )
    assert state.raw["voice emergency response location 1: subnet 2"] == (
        "127.21.4.0 255.255.255.0"
    )


def test_secrets_are_redacted() -> None:
    spec = _spec()
    cases = [
        (simulator.render(spec), [spec.admin_password, spec.enable_password]),
        (
            (SAMPLES / "cube-dal-gw.txt").read_text(),
            ["C1sco-Legacy-En", "Gw-Netops-2024", "Itsp-Digest-77"],
        ),
        ((SAMPLES / "cube-lon-hq.cfg").read_text(), ["0822455D0A16544541"]),
    ]
    assert PROFILE.parse_files and PROFILE.to_state
    for text, plain in cases:
        c = PROFILE.parse_files("x", text, lambda _n: None)
        secret_values = [v for k, v in c.params.items() if PROFILE.secret_keys.search(k)]
        assert secret_values
        c.params = redact_params(c.params, PROFILE)
        dumped = repr(PROFILE.to_state(c).raw)
        for value in [*plain, *secret_values]:
            assert value.split()[-1] not in dumped


# --- the CLI session without a network ---------------------------------------------------


def _cli() -> simulator.Cli:
    spec = _spec()
    return simulator.Cli(LabSbcDevice(spec=spec, config=simulator.render(spec)))


def test_cli_modes_errors_and_abbreviations() -> None:
    cli = _cli()
    assert cli.prompt() == "lon-sbc-1>"
    out = cli.handle("show running-config")
    assert out.splitlines()[1] == "% Invalid input detected at '^' marker."
    assert out.index("^") == len("lon-sbc-1>show ")  # caret under running-config
    assert "Version 17.06.05" in cli.handle("sh ver")
    assert cli.handle("te len 0") == "" and cli.paging is False
    cli.handle("enable")
    assert (cli.secret_input, cli.prompt()) == (True, "Password: ")
    for _ in range(2):
        assert cli.handle("nope") == ""
    assert cli.handle("nope").startswith("% Bad secrets")
    assert cli.prompt() == "lon-sbc-1>"
    cli.handle("en")
    cli.handle("lab-enable-Xw3")
    assert cli.prompt() == "lon-sbc-1#"
    assert cli.handle("sh run").startswith("Building configuration...")
    assert cli.handle("terminal length").startswith("% Incomplete command.")
    cli.handle("exit")
    assert cli.closed


def test_type7_is_the_ios_form() -> None:
    # The classic type 7 vector: "cisco" with salt 02 is "02050D480809".
    assert simulator.type7("cisco", seed=2) == "7 02050D480809"


def test_every_template_has_captures_that_parse() -> None:
    from fleet.cli_parse import parse

    folder = Path(PROFILE.folder or ".")
    for template in sorted((folder / "templates").glob("*.textfsm")):
        captures = sorted((SAMPLES / "templates" / template.stem).glob("*.raw"))
        assert captures, template.name
        for raw in captures:
            want = json.loads(raw.with_suffix(".parsed.json").read_text())
            assert parse(template, raw.read_text()) == want, raw


# --- trunk groups, e164-pattern-maps, dial-peer groups, ties ------------------------------

DOC_STATES = "Cisco 12426 Understanding the Operational Status of Dial Peers"
DOC_TRUNKGROUP = (
    "Cisco IOS 12.1(3)T Network Side ISDN PRI Signaling, Trunking, and Switching: "
    "Configuring Global or Interface Trunk Groups; dial-peer outbound status-check pots "
    "(endpoints 'voice ports or trunk groups')"
)


def _config_state(text: str) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(PROFILE.parse_files("x.cfg", text, lambda _n: None))


TRUNKGROUP_CFG = """\
trunk group PSTN-PRI
 hunt-scheme least-idle
!
interface Serial0/0/0:23
 no ip address
 isdn switch-type primary-ni
 trunk-group PSTN-PRI
!
dial-peer voice 911 pots
 description E911-PRI
 destination-pattern 911
 trunkgroup PSTN-PRI
 forward-digits all
!
dial-peer voice 9911 pots
 destination-pattern 9911
 trunkgroup PSTN-PRI
!
"""


def test_pots_trunkgroup_is_operational() -> None:
    # DOC_TRUNKGROUP: a POTS dial-peer reaches the PSTN through a voice port OR a trunk
    # group; DOC_STATES: destination-pattern plus an endpoint makes it operational.
    st = _config_state(TRUNKGROUP_CFG)
    assert _route(st, "911", None) == ("routed", "dial-peer 911", "911", "PSTN-PRI", None)
    # POTS digit strip still applies: 9911 matched explicitly leaves nothing
    assert _route(st, "9911", None)[:4] == ("routed", "dial-peer 9911", "", "PSTN-PRI")
    assert st.sbc is not None
    assert st.sbc.trunks == ["PSTN-PRI"]
    aliases = st.sbc.trunk_aliases["PSTN-PRI"]
    assert {"dial-peer 911", "E911-PRI", "trunkgroup PSTN-PRI"} <= set(aliases)
    assert st.sbc.data["trunk_groups"] == ["PSTN-PRI"]


TIE_CFG = """\
dial-peer voice 10 voip
 description CARRIER-A
 destination-pattern 91.
 session target ipv4:192.0.2.10
!
dial-peer voice 11 voip
 description CARRIER-B
 destination-pattern 9[0-9]5
 session target ipv4:192.0.2.11
!
dial-peer voice 20 voip
 description E911-A
 destination-pattern 911
 session target ipv4:192.0.2.20
!
dial-peer voice 21 voip
 description E911-A
 destination-pattern 911
 session target ipv4:192.0.2.21
!
dial-peer voice 30 voip
 description ITSP-1
 destination-pattern 999
 session target ipv4:198.51.100.1
!
dial-peer voice 31 voip
 description ITSP-2
 destination-pattern 999
 session target ipv4:198.51.100.2
!
dial-peer voice 40 voip
 description PRIMARY
 destination-pattern 112
 session target ipv4:198.51.100.1
!
dial-peer voice 41 voip
 description BACKUP
 preference 1
 destination-pattern 112
 session target ipv4:198.51.100.2
!
"""


def test_dial_peer_ties_are_not_picked_silently() -> None:
    # DOC_ROUTING, Number String Dial-Peer Hunting: "the gateway searches for a pattern with
    # the longest match ... If there are two dial-peers with the same match length, the
    # gateway looks at the explicitly defined dial-peer preference. Lastly, if both of those
    # are the same, it chooses one in a random order."
    assert PROFILE.route
    st = _config_state(TIE_CFG)
    # 911 (3 explicit digits) is longer than 91. (2 explicit): dial-peers 20/21
    # tie, but both are E911-A and send 911 unchanged: routed, and the steps say so
    d = PROFILE.route(st, "911", None)
    assert (d.outcome, d.trunk, d.sent) == ("routed", "E911-A", "911")
    assert not d.alternatives
    assert any("every tied dial-peer" in s for s in d.steps)
    # 999: same length, same preference, different carriers: ambiguous, one alternative each
    d = PROFILE.route(st, "999", None)
    assert d.outcome == "ambiguous"
    assert [(a.route, a.trunk, a.sent) for a in d.alternatives] == [
        ("dial-peer 30", "ITSP-1", "999"),
        ("dial-peer 31", "ITSP-2", "999"),
    ]
    # 112: preference 0 before preference 1: no tie
    assert _route(st, "112", None)[:4] == ("routed", "dial-peer 40", "112", "PRIMARY")
    # mixed wildcards, equal explicit digits and equal single-position wildcards: a tie
    d = PROFILE.route(st, "915", None)
    assert d.outcome == "ambiguous"
    assert {a.trunk for a in d.alternatives} == {"CARRIER-A", "CARRIER-B"}


def test_hunt_scheme_ties() -> None:
    assert PROFILE.route
    # dial-peer hunt 2: preference before length; 6: random selection among all matches
    st = _config_state("dial-peer hunt 2\n!\n" + TIE_CFG)
    assert _route(st, "112", None)[:4] == ("routed", "dial-peer 40", "112", "PRIMARY")
    st = _config_state("dial-peer hunt 6\n!\n" + TIE_CFG)
    d = PROFILE.route(st, "112", None)
    assert d.outcome == "ambiguous" and len(d.alternatives) == 2


# After hhgarland/hhgarland.me content/posts/2024-01-04-cube-reconfiguration.md (a CUBE
# with e164-pattern-maps, dial-peer groups and server groups, no destination-pattern).
E164_CFG = """\
voice class uri CCM sip
 host ipv4:10.113.20.20
!
voice class e164-pattern-map 200
 description ** DIDNs sent to CCM **
  e164 333539....
 !
!
voice class e164-pattern-map 400
  e164 .T
!
voice class dpg 401
 dial-peer 400
!
voice class server-group 400
 ipv4 162.223.86.245 preference 1
 ipv4 162.223.83.245 preference 2
!
dial-peer voice 200 voip
 description TO-CCM
 session protocol sipv2
 session server-group 200
 destination e164-pattern-map 200
!
dial-peer voice 300 voip
 description FROM-CCM
 session protocol sipv2
 destination dpg 401
 incoming uri via CCM
!
dial-peer voice 400 voip
 description TO-ITSP
 session protocol sipv2
 session server-group 400
 destination e164-pattern-map 400
!
"""


def test_e164_pattern_map_dpg_and_server_group() -> None:
    # DOC_ROUTING, Outbound Dial-Peer Matching: destination e164-pattern-map is evaluated
    # with destination-pattern; Destination Server-Groups; Dial-Peer Groups.
    st = _config_state(E164_CFG)
    for source in (None, "10.113.20.20"):
        assert _route(st, "911", source)[:4] == ("routed", "dial-peer 400", "911", "TO-ITSP")
    assert PROFILE.route
    d = PROFILE.route(st, "911", "10.113.20.20")
    assert any("destination dpg 401" in s for s in d.steps)
    # the DID map wins by longest match for a DID
    assert _route(st, "3335391234", None)[:2] == ("routed", "dial-peer 200")
    assert st.sbc is not None
    assert st.sbc.data["server_groups"]["400"] == ["162.223.86.245", "162.223.83.245"]
    assert "server-group 400" in st.sbc.trunk_aliases["TO-ITSP"]


def test_incoming_called_e164_pattern_map_selects_the_inbound_dial_peer() -> None:
    # DOC_ROUTING Table 1: incoming called e164-pattern-map is the called-number row
    cfg = E164_CFG.replace(
        " incoming uri via CCM\n", " incoming called e164-pattern-map 400\n"
    ).replace("dial-peer 400\n", "dial-peer 200\n")
    st = _config_state(cfg)
    # 911 matches map 400 (.T) on dial-peer 300, whose dpg 401 now holds dial-peer 200
    assert _route(st, "911", None)[:4] == ("routed", "dial-peer 200", "911", "TO-CCM")


def test_what_fleet_cannot_evaluate_is_uncertain() -> None:
    cfg = (
        "voice class e164-pattern-map 9\n url flash:e164-pattern-map.cfg\n!\n"
        "dial-peer voice 1 voip\n destination e164-pattern-map 9\n"
        " session target dns:sbc.example.net\n!\n"
        "dial-peer voice 2 voip\n destination uri PSTN\n session target sip-server\n!\n"
        "dial-peer voice 3 voip\n destination-pattern 9T\n session server-group 77\n!\n"
    )
    st = _config_state(cfg)
    got = sorted((f.rule, f.subject) for f in st.notices)
    assert got == [
        ("coverage.uncertain", "dial-peer 2"),
        ("coverage.uncertain", "dial-peer 3"),
        ("coverage.uncertain", "voice class e164-pattern-map 9"),
    ]


def test_e164_entry_syntax_errors_name_the_line() -> None:
    bad = "voice class e164-pattern-map 1\n e164 9T1\n!\ndial-peer voice 1 voip\n!\n"
    assert PROFILE.parse_files
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("x.cfg", bad, lambda _n: None)
    assert info.value.line == 2


def test_includes_names_e164_pattern_files() -> None:
    cfg = (
        "dial-peer voice 1 voip\n!\nvoice class e164-pattern-map 9\n"
        " url flash:e164-pattern-map.cfg\n!\n"
    )
    assert PROFILE.includes("x.cfg", cfg) == ["e164-pattern-map.cfg"]
    assert PROFILE.includes("x.cfg", (SAMPLES / "cube-lon-hq.cfg").read_text()) == []


def test_an_unreadable_erl_subnet_is_reported_not_skipped_silently() -> None:
    text = (
        "hostname r1\n!\nvoice emergency response location 7\n elin 1 4085550100\n"
        " subnet 1 10.1.2.0 not-a-mask\n!\n"
        "dial-peer voice 911 voip\n destination-pattern 911\n session target ipv4:10.9.9.9\n!\n"
        "end\n"
    )
    state = PROFILE.to_state(PROFILE.parse_files("r1.cfg", text, lambda _n: None))
    [n] = [f for f in state.notices if f.rule == "config.malformed"]
    assert "location 7" in n.subject and "not-a-mask" in n.message


def test_a_changed_state_is_routed_as_it_now_is_not_from_the_cache() -> None:
    """route() keeps the typed routing data of each state it has seen (a path check routes
    every number through one SBC many times); a state whose data is another object must be
    routed from that data, and the first one still as before."""
    import copy

    state = _state_of("cube-lon-hq.cfg")
    first = _route(state, "999", None)
    assert first[0] == "routed"
    other = copy.deepcopy(state)
    assert other.sbc is not None
    other.sbc.data["dial_peers"] = []
    assert _route(other, "999", None)[0] == "no-route"
    assert _route(state, "999", None) == first
