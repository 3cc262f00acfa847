"""AudioCodes Mediant SBC profile: routing as the box applies it (each table row cites the
User's Manual section it follows), the .ini and CLI readers, and the lab SBC over real SSH with
fleet's run_cli and netmiko's audiocode_72 driver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import netmiko
import pytest

from device_profiles.audiocodes import simulator
from device_profiles.audiocodes.routing import prefix_match
from fleet import profiles
from fleet.collect.ssh import Platform, SshOptions, SshTarget, run_cli
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc
from fleet.model import DeviceState
from fleet.redact import MASK, redact_params

# The registry's profile: platform.yaml and folder attached.
PROFILE = profiles.get("audiocodes")
SAMPLES = Path(PROFILE.folder or "") / "samples"
NET = 91
PORT = 8022
CONFIG_COMMAND = "show running-config"


def _spec(n: int = 1, fault: str | None = None, **kw: str) -> LabSbc:
    return LabSbc(
        id=f"t-sbc-{n}",
        profile="audiocodes",
        site="lon",
        address=f"127.{NET}.255.{n}",
        port=PORT,
        hostname="lon-sbc-1",
        admin_user=simulator.ADMIN_USER,
        admin_password=kw.get("admin_password", "lab-admin-Zq8v"),
        enable_password="lab-enable-Xw3",
        phone_networks=["127.10.0.0/16"],
        emergency_numbers=["999", "112"],
        fault=fault,
    )


def _state(name: str) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    text = (SAMPLES / name).read_text()
    return PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))


def _route(state: DeviceState, number: str, source: str | None) -> tuple:
    assert PROFILE.route
    d = PROFILE.route(state, number, source)
    return d.outcome, d.route, d.sent, d.trunk, d.priority


# Dialing Plan Notation for Routing and Manipulation (User's Manual, "Dialing Plan Notation
# for Routing and Manipulation" / 7.6 "Phone Number Patterns for Routing and Manipulation").
@pytest.mark.parametrize(
    ("pattern", "number", "match"),
    [
        ("*", "999", True),  # '*' on its own: any number
        ("999#", "999", True),  # '#' at the end: end of number
        ("999#", "9999", False),
        ("999", "9991", True),  # no '#': a prefix
        ("54324xx#", "5432412", True),  # 'x': any single digit (manual's example)
        ("54324xx#", "543241", False),
        ("[4-8]", "5", True),  # range in square brackets
        ("[4-8]", "9", False),
        ("23xx[456]", "23114", True),  # manual's example: one of 4, 5, 6
        ("[5551200-5551300]#", "5551250", True),  # manual's range example
        ("[5551200-5551300]#", "5551301", False),
        ("0370105[081,213-218]", "0370105215", True),  # list form, real ini PREFIX table
        ("134[#]", "134#5", True),  # '[#]': the pound key itself
        ("$", "", True),  # '$': empty user part
        ("$", "1", False),
    ],
)
def test_prefix_notation(pattern: str, number: str, match: bool) -> None:
    assert prefix_match(pattern, number) is match


# "Configuring SBC IP-to-IP Routing": rows are searched top to bottom, first match wins, no
# match rejects; "Configuring Classification Rules": a phone address classifies to its IP
# Group; "Configuring Call Preemption for SBC Emergency Calls": the Emergency Message Condition
# (here header.to.url.user=='999' OR ...=='112') marks emergency calls when SBC Preemption
# Mode is enabled.
CLI_CASES = [
    # number, source, (outcome, route, sent, trunk, priority)
    (
        "999",
        "10.10.4.7",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "112",
        "10.10.4.7",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "02079460000",
        "10.10.4.7",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "02079460000", "IPG_Carrier_A", None),
    ),
    # '999#' ends the number: 9990 is a normal call to the catch-all row
    (
        "9990",
        "10.10.4.7",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "9990", "IPG_Carrier_A", None),
    ),
    # None = from the phone-facing side: the phones' Classification rule's IP Group
    (
        "999",
        None,
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    # a source IP Group by name
    (
        "01632960000",
        "IPG_Carrier_A",
        ("routed", "IP2IPRouting 4 (Carrier to Phones)", "01632960000", "IPG_Phones", None),
    ),
    # Classify by Proxy Set: the carrier's proxy address is IP Group IPG_Carrier_A
    (
        "2001",
        "198.51.100.20",
        ("routed", "IP2IPRouting 4 (Carrier to Phones)", "2001", "IPG_Phones", None),
    ),
    # no Proxy Set address and no Classification rule: a phone that registered through the
    # SBC is classified by the registration database to User-type IP Group IPG_Phones, one
    # that did not is rejected (User's Manual, classification order: registration database,
    # Proxy Set, Classification table): the source is ambiguous
    ("999", "192.0.2.99", ("ambiguous", None, None, None, None)),
]


@pytest.mark.parametrize(("number", "source", "want"), CLI_CASES)
def test_route_cli_sample(number: str, source: str | None, want: tuple) -> None:
    assert _route(_state("lon-sbc-1.txt"), number, source) == want


# The ini sample adds an inbound Message Manipulation (IP Group Inbound Message Manipulation
# Set 1) that removes an outside-line '9' from 4+-digit Request-URI users. The SBC evaluates
# the emergency condition after classification but before inbound manipulation ("SBC
# Supplementary Services" > 'Emergency Message Condition' note), and routes on the manipulated
# number: 9999 reaches the emergency trunk as 999, without emergency priority.
INI_CASES = [
    (
        "999",
        "10.31.0.8",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "112",
        "10.31.0.8",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", "emergency"),
    ),
    (
        "9999",
        "10.31.0.8",
        ("routed", "IP2IPRouting 1 (Emergency 999)", "999", "IPG_Carrier_Emergency", None),
    ),
    (
        "9112",
        "10.31.0.8",
        ("routed", "IP2IPRouting 2 (Emergency 112)", "112", "IPG_Carrier_Emergency", None),
    ),
    (
        "901612345678",
        "10.31.0.8",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "01612345678", "IPG_Carrier_A", None),
    ),
    (
        "99",
        "10.31.0.8",
        ("routed", "IP2IPRouting 3 (Phones to Carrier A)", "99", "IPG_Carrier_A", None),
    ),
    ("999", "10.20.0.8", ("ambiguous", None, None, None, None)),
]


@pytest.mark.parametrize(("number", "source", "want"), INI_CASES)
def test_route_ini_sample(number: str, source: str | None, want: tuple) -> None:
    assert _route(_state("man-sbc-1.ini"), number, source) == want


def test_options_row_does_not_route_invites() -> None:
    # Row 0 matches Request Type OPTIONS only (IP2IPRouting_RequestType [6]); an INVITE
    # passes it by. Routing steps say why the winning row won.
    assert PROFILE.route
    d = PROFILE.route(_state("lon-sbc-1.txt"), "999", "10.10.4.7")
    assert any("first match in table order" in s for s in d.steps)
    assert any("emergency priority" in s for s in d.steps)


def test_state_of_both_formats() -> None:
    cli, ini = _state("lon-sbc-1.txt"), _state("man-sbc-1.ini")
    assert cli.sbc and ini.sbc
    assert cli.sbc.addresses == ["10.20.0.2:5060", "192.0.2.10:5060"]
    assert ini.sbc.addresses == ["10.30.0.2:5060", "203.0.113.40:5060"]
    for st in (cli, ini):
        assert st.sbc and st.sbc.emergency_numbers == ["999", "112"]
        assert st.sbc.trunks == ["IPG_Phones", "IPG_Carrier_A", "IPG_Carrier_Emergency"]
        assert [r.target for r in st.sbc.routes] == [
            "Internal",
            "IPG_Carrier_Emergency",
            "IPG_Carrier_Emergency",
            "IPG_Carrier_A",
            "IPG_Phones",
        ]
    assert (ini.model, ini.firmware) == ("Mediant VE SBC", "7.40A.250.001")


def test_ini_70_prefixed_columns_and_errors() -> None:
    # Firmware 7.0 writes FORMAT IP2IPRouting_Index = IP2IPRouting_RouteName, ... (Mediant
    # 1000 7.00A ini, AsBuiltReport.AudioCodes.Mediant Tests/Res/M1000.ini).
    assert PROFILE.parse_files
    text = (
        "[ IP2IPRouting ]\n\nFORMAT IP2IPRouting_Index = IP2IPRouting_RouteName, "
        "IP2IPRouting_SrcIPGroupName, IP2IPRouting_DestUsernamePrefix, IP2IPRouting_DestType, "
        "IP2IPRouting_DestIPGroupName;\n"
        'IP2IPRouting 0 = "All", "Any", "*", 0, "Carrier";\n\n[ \\IP2IPRouting ]\n'
    )
    c = PROFILE.parse_files("old.ini", text, lambda _: None)
    assert c.params["IP2IPRouting/0/DestIPGroupName"] == "Carrier"
    with pytest.raises(ConfigFileError) as e:
        PROFILE.parse_files("bad.ini", text.replace('"Carrier";', '"Carrier", 7;'), lambda _: None)
    assert e.value.line == 4
    with pytest.raises(ConfigFileError):
        PROFILE.parse_files("x.txt", "hello\n", lambda _: None)


def test_secrets_are_redacted_from_both_formats() -> None:
    assert PROFILE.parse_files and PROFILE.to_state
    for name, keys in (
        ("lon-sbc-1.txt", ["voip/ip-group/2/password"]),
        (
            "man-sbc-1.ini",
            [
                "IPGroup/2/PasswordAsClient",
                "WebUsers/0/Password",
                "WebUsers/0/PwNonce",
                "SNMPREADONLYCOMMUNITYSTRING_0",
            ],
        ),
    ):
        c = PROFILE.parse_files(name, (SAMPLES / name).read_text(), lambda _: None)
        secrets = [c.params[k] for k in keys]
        c.params = redact_params(c.params, PROFILE)
        raw = PROFILE.to_state(c).raw
        for k, secret in zip(keys, secrets, strict=True):
            assert raw[k] == MASK
            assert secret not in str(raw)


def test_unclassified_address_alternatives() -> None:
    assert PROFILE.route
    d = PROFILE.route(_state("lon-sbc-1.txt"), "999", "192.0.2.99")
    assert [(a.source, a.outcome, a.trunk) for a in d.alternatives] == [
        ("IPG_Phones", "routed", "IPG_Carrier_Emergency"),
        ("(unclassified)", "rejected", None),
    ]
    assert any("registration database" in s for s in d.steps)


# --- real Mediant ini shapes (7.2+ FORMAT lines as the box writes them) --------------------

_IPG = "FORMAT Index = Type, Name, ProxySetName, SRDName, ClassifyByProxySet, SBCDialPlanName;"
_PS = "FORMAT Index = ProxyName, SBCIPv4SIPInterfaceName;"
_PIP = "FORMAT Index = ProxySetId, ProxyIpIndex, IpAddress, TransportType;"
_R = (
    "FORMAT Index = RouteName, SrcIPGroupName, SrcUsernamePrefix, DestUsernamePrefix, "
    "RequestType, MessageConditionName, Trigger, DestType, DestIPGroupName, DestAddress, "
    "DestTags, IPGroupSetName;"
)
_CL = (
    "FORMAT Index = ClassificationName, MessageConditionName, SrcAddress, DestHost, ActionType, "
    "SrcIPGroupName;"
)
_SIP = "[SIP Params]\nENABLESBCAPPLICATION = 1\n"


def _table(name: str, fmt: str, rows: list[str]) -> str:
    body = "\n".join(f"{name} {i} = {r};" for i, r in enumerate(rows))
    return f"[ {name} ]\n\n{fmt}\n{body}\n\n[ \\{name} ]\n\n"


def _ini(
    groups: list[str],
    routes: list[str],
    *,
    classification: list[str] | None = None,
    extra: str = "",
) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    text = (
        _SIP
        + _table("ProxySet", _PS, ['"PS_PBX", "SI"', '"PS_Carrier", "SI"', '"PS_Teams", "SI"'])
        + _table("IPGroup", _IPG, groups)
        + _table(
            "ProxyIp",
            _PIP,
            [
                '"0", 0, "192.0.2.10", 0',
                '"1", 0, "198.51.100.20:5060", 0',
                '"2", 0, "t.example", 2',
            ],
        )
        + _table("IP2IPRouting", _R, routes)
        + (_table("Classification", _CL, classification) if classification else "")
        + extra
    )
    c = PROFILE.parse_files("t.ini", text, lambda _: None)
    st = PROFILE.to_state(c)
    st.notices = [*c.notices, *st.notices]
    return st


_PBX = '0, "IPG_PBX", "PS_PBX", "DefaultSRD", 1, ""'
_CARRIER = '0, "IPG_Carrier", "PS_Carrier", "DefaultSRD", 1, ""'
_TEAMS = '0, "IPG_Teams", "PS_Teams", "DefaultSRD", 0, ""'
_PBX_OUT = '"PBX out", "IPG_PBX", "*", "*", 0, "", 0, 0, "IPG_Carrier", "", "", ""'
_IN = '"Carrier in", "IPG_Carrier", "*", "*", 0, "", 0, 0, "IPG_PBX", "", "", ""'


def test_no_phone_facing_group_is_ambiguous_not_any() -> None:
    # Only Server-type IP Groups classified by Proxy Set, no Classification rule, no
    # User-type group: the old fallback source "Any" matched no rule with a named source and
    # a correctly routed 999 came out as not routed. Now every classifiable group is tried.
    assert PROFILE.route
    st = _ini([_PBX, _CARRIER], [_PBX_OUT, _IN])
    d = PROFILE.route(st, "999", None)
    assert d.outcome == "ambiguous"
    assert {(a.source, a.outcome, a.trunk) for a in d.alternatives} == {
        ("IPG_PBX", "routed", "IPG_Carrier"),
        ("IPG_Carrier", "routed", "IPG_PBX"),
    }
    assert any("ambiguous" in s for s in d.steps)
    # the PBX's own address is classified by its Proxy Set: determined
    d = PROFILE.route(st, "999", "192.0.2.10")
    assert (d.outcome, d.trunk, d.source) == ("routed", "IPG_Carrier", "192.0.2.10")
    # all candidates agree: one decision, and the steps say so
    st = _ini([_PBX, _CARRIER], ['"All", "Any", "*", "*", 0, "", 0, 0, "IPG_Carrier", "", "", ""'])
    d = PROFILE.route(st, "999", None)
    assert (d.outcome, d.trunk) == ("routed", "IPG_Carrier")
    assert any("every candidate gives the same decision" in s for s in d.steps)


def test_classification_by_rule_and_condition() -> None:
    # Classification rule with a Message Condition on the Contact host (the Teams Direct
    # Routing shape, tlothering/AudioCodes_SBC_on_Azure): from the phone-facing side the
    # condition held at classification, so the routing row with the same condition matches.
    assert PROFILE.route
    cond = _table(
        "ConditionTable",
        "FORMAT Index = Name, Condition;",
        ['"MC_Teams", "header.contact.url.host contains \'pstnhub.microsoft.com\'"'],
    )
    routes = [
        '"Teams out", "IPG_Teams", "*", "*", 0, "MC_Teams", 0, 0, "IPG_Carrier", "", "", ""',
        _IN,
    ]
    rules = ['"CL_Teams", "MC_Teams", "52.*.*.*", "*", 1, "IPG_Teams"']
    st = _ini([_TEAMS, _CARRIER], routes, classification=rules, extra=cond)
    d = PROFILE.route(st, "999", None)
    assert (d.outcome, d.trunk) == ("routed", "IPG_Carrier")
    # by name the condition is unknown (a header the model does not carry): both ways
    d = PROFILE.route(st, "999", "IPG_Teams")
    assert d.outcome == "ambiguous"
    assert sorted(a.outcome for a in d.alternatives) == ["no-route", "routed"]
    # an address the rule's 52.*.*.* covers: classified only if the condition holds
    d = PROFILE.route(st, "999", "52.112.1.1")
    assert d.outcome == "ambiguous"
    assert ("(unclassified)", "rejected") in [(a.source, a.outcome) for a in d.alternatives]
    # an address no rule covers: rejected
    assert PROFILE.route(st, "999", "203.0.113.9").outcome == "rejected"


def test_refer_trigger_row_takes_no_new_call() -> None:
    # "Refer Terminate" rows (Call Trigger [2] REFER, Mediant 2600 User's Manual p.374) sit
    # above the real routes in real Teams configs; they re-route REFERs only.
    assert PROFILE.route
    refer = '"Refer Terminate", "Any", "*", "*", 0, "", 2, 2, "", "", "", ""'
    st = _ini([_PBX, _CARRIER], [refer, _PBX_OUT, _IN])
    d = PROFILE.route(st, "112", "IPG_PBX")
    assert (d.outcome, d.route, d.trunk) == ("routed", "IP2IPRouting 1 (PBX out)", "IPG_Carrier")


def test_destination_tags_and_ip_group_sets() -> None:
    # Destination Tags match the destination number's tag in the source IP Group's Dial Plan
    # (Mediant 3000 7.0 p.610); an IP Group Set destination is named by its set.
    assert PROFILE.route
    dp = _table("DialPlan", "FORMAT Index = Name;", ['"DP"']) + _table(
        "DialPlanRule",
        "FORMAT Index = DialPlanName, RuleIndex, Name, Prefix, Tag;",
        ['"DP", 0, "PSTN", "+44xxx", "pstn"', '"DP", 1, "EM", "999#", "emergency"'],
    )
    pbx = '0, "IPG_PBX", "PS_PBX", "DefaultSRD", 1, "DP"'
    routes = [
        '"to PSTN", "IPG_PBX", "*", "*", 0, "", 0, 0, "IPG_Carrier", "", "pstn", ""',
        '"back", "IPG_PBX", "*", "*", 0, "", 0, 11, "", "", "", "IPGS_PBX"',
    ]
    st = _ini([pbx, _CARRIER], routes, extra=dp)
    assert PROFILE.route(st, "+442079460000", "IPG_PBX").trunk == "IPG_Carrier"
    d = PROFILE.route(st, "999", "IPG_PBX")
    assert (d.outcome, d.trunk) == ("routed", "IPGS_PBX")
    assert any("destination tags 'pstn' do not match 999" in s for s in d.steps)


def test_source_username_prefix_leaves_the_decision_open() -> None:
    # A row for one caller (Source Username Prefix, M1000.ini 'Skype4B test') to an IP Group
    # that does not exist: for that caller the call cannot be sent; for others it passes by.
    assert PROFILE.route
    routes = [
        '"one user", "IPG_PBX", "0370105080", "*", 0, "", 0, 0, "Carrier", "", "", ""',
        _PBX_OUT,
    ]
    st = _ini([_PBX, _CARRIER], routes)
    d = PROFILE.route(st, "999", "IPG_PBX")
    assert d.outcome == "ambiguous"
    assert sorted((a.outcome, a.trunk or "") for a in d.alternatives) == [
        ("rejected", ""),
        ("routed", "IPG_Carrier"),
    ]
    assert [n.rule for n in st.notices] == ["config.malformed"]
    assert "'Carrier'" in st.notices[0].message


def test_outbound_manipulation_first_match_and_uncertain_notice() -> None:
    # Outbound Manipulation: the first matching rule ends the search unless the next one is
    # an 'Additional Manipulation' (Mediant 800 MSBR p.482); a destination rule right below a
    # source rule with the same match never applies, which the config's author may not
    # expect: coverage.uncertain.
    assert PROFILE.route
    om = _table(
        "IPOutboundManipulation",
        "FORMAT Index = ManipulationName, IsAdditionalManipulation, SrcIPGroupName, "
        "DestIPGroupName, DestUsernamePrefix, ManipulatedURI, RemoveFromLeft, Prefix2Add;",
        [
            '"SRC", 0, "Any", "IPG_Carrier", "*", 0, 0, "+44"',
            '"DST", 0, "Any", "IPG_Carrier", "*", 1, 3, "0"',
        ],
    )
    st = _ini([_PBX, _CARRIER], [_PBX_OUT], extra=om)
    d = PROFILE.route(st, "999", "IPG_PBX")
    assert (d.outcome, d.sent) == ("routed", "999")
    assert [(n.rule, n.subject) for n in st.notices] == [
        ("coverage.uncertain", "IPOutboundManipulation 1")
    ]
    # marked Additional: it applies (remove 3 from the left, add '0')
    st = _ini([_PBX, _CARRIER], [_PBX_OUT], extra=om.replace('"DST", 0,', '"DST", 1,'))
    assert PROFILE.route(st, "999", "IPG_PBX").sent == "0"
    assert not st.notices


def test_real_ini_export_quirks() -> None:
    # Mediant SW 7.20A export (tlothering/AudioCodes_SBC_on_Azure): a lone CR inside a header
    # comment, a comment wrapped onto a tab-indented line, rows disabled with '!'. The device
    # ignores a line whose parameter name has a syntax error ("General ini File Formatting
    # Rules"); fleet skips it with a config.malformed notice naming the line as editors count.
    assert PROFILE.parse_files
    text = (
        ";Network: \r\n;  \r;Virtual Network:  000d3ad6-c8da\n\t  000d3ad6-c9b7\r\n\r\n"
        + _SIP
        + "[ NATTranslation ]\n\nFORMAT Index = SrcIPInterfaceName, TargetIPAddress;\n"
        + '!NATTranslation 0 = "eth0", "SBC.PSTN.IP.HERE";\n\n[ \\NATTranslation ]\n\n'
        + _table("IPGroup", _IPG, [_PBX])
    )
    c = PROFILE.parse_files("q.ini", text, lambda _: None)
    assert [(n.rule, n.subject) for n in c.notices] == [("config.malformed", "q.ini:10")]
    assert not any(k.startswith("NATTranslation/") for k in c.params)
    assert "SBC.PSTN.IP.HERE" not in c.notices[0].message


def test_gateway_only_configuration_is_a_coverage_error() -> None:
    # An MP-124 FXS gateway ini (no SBC application, Tel-to-IP routing in [ PREFIX ]): fleet
    # does not evaluate it, so it must not report "no route" (or pass): ProtocolError.
    assert PROFILE.parse_files and PROFILE.to_state
    text = _table("ProxySet", "FORMAT ProxySet_Index = ProxySet_ProxyName;", ['"PS"']) + _table(
        "IPGroup", "FORMAT IPGroup_Index = IPGroup_Type, IPGroup_Description;", ['0, "SBC"']
    )
    c = PROFILE.parse_files("mp124.ini", text, lambda _: None)
    with pytest.raises(ProtocolError, match="no SBC application"):
        PROFILE.to_state(c)


def test_cli_capture_in_another_layout_is_an_error() -> None:
    # The block layout of `show running-config` is UNCONFIRMED against a real capture: a
    # capture laid out differently (here: tab indentation, or a nested level) must be a clear
    # error naming the line, never a smaller configuration read without a word.
    assert PROFILE.parse_files
    good = (SAMPLES / "lon-sbc-1.txt").read_text()
    assert PROFILE.parse_files("ok.txt", good, lambda _: None).params
    bad = good.replace("  dst-user-name-prefix", "\tdst-user-name-prefix", 1)
    n = bad.split("\n").index(next(ln for ln in bad.split("\n") if ln.startswith("\t"))) + 1
    with pytest.raises(ConfigFileError) as e:
        PROFILE.parse_files("bad.txt", bad, lambda _: None)
    assert e.value.line == n and "layout" in str(e.value)
    nested = good.replace("  route-name", "   route-name", 1)
    with pytest.raises(ConfigFileError):
        PROFILE.parse_files("nested.txt", nested, lambda _: None)


# --- the lab SBC over SSH -----------------------------------------------------------------


class _Lab:
    def __init__(self, specs: list[LabSbc], folder: Path) -> None:
        self.specs = specs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = asyncio.run_coroutine_threadsafe(labsbc.start(specs), self.loop).result(30)
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text("\n".join(self.running.known_hosts) + "\n")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.running.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Lab]:
    specs = [_spec(1)] + [_spec(n, f) for n, f in enumerate(simulator.FAULTS, start=2)]
    lab = _Lab(specs, tmp_path_factory.mktemp("audiocodes"))
    yield lab
    lab.close()


def _run(
    spec: LabSbc, known_hosts: Path, password: str | None = None, enable: str | None = None
) -> dict[str, str]:
    assert PROFILE.platform
    target = SshTarget(
        spec.address,
        spec.port,
        spec.admin_user,
        spec.admin_password if password is None else password,
        spec.enable_password if enable is None else enable,
        options=SshOptions(known_hosts=str(known_hosts)),
    )
    return asyncio.run(run_cli(target, Platform.from_dict(PROFILE.platform), asyncio.Semaphore(5)))


def _cli_state(out: dict[str, str]) -> DeviceState:
    assert PROFILE.parse_files and PROFILE.to_state
    return PROFILE.to_state(
        PROFILE.parse_files(CONFIG_COMMAND, out[CONFIG_COMMAND], lambda _: None)
    )


def test_run_cli_reads_the_lab_sbc(lab: _Lab) -> None:
    spec = lab.specs[0]
    out = _run(spec, lab.known_hosts)
    assert out[CONFIG_COMMAND] == lab.running.devices[spec.id].config
    state = _cli_state(out)
    assert state.sbc is not None
    assert f"{spec.address}:5060" in state.sbc.addresses
    assert {simulator.EMERGENCY_TRUNK, simulator.NORMAL_TRUNK} <= set(state.sbc.trunks)
    assert state.sbc.emergency_numbers == ["999", "112"]
    for n in ("999", "112"):
        assert _route(state, n, "127.10.3.9")[2:] == (n, simulator.EMERGENCY_TRUNK, "emergency")
    assert _route(state, "02079460000", "127.10.3.9")[2:] == (
        "02079460000",
        simulator.NORMAL_TRUNK,
        None,
    )
    # paging was switched off the way netmiko's driver does it
    cmds = lab.running.devices[spec.id].commands
    assert cmds[:6] == [
        "enable",
        "config system",
        "cli-settings",
        "window-height 0",
        "exit",
        "exit",
    ]


def test_netmiko_audiocode_72_reads_the_same_configuration(lab: _Lab) -> None:
    spec = lab.specs[0]
    got: dict[str, str] = {}

    def work() -> None:
        conn = netmiko.ConnectHandler(
            device_type="audiocode_72",
            host=spec.address,
            port=spec.port,
            username=spec.admin_user,
            password=spec.admin_password,
            secret=spec.enable_password,
            ssh_strict=False,
        )
        try:
            got["out"] = conn.send_command(CONFIG_COMMAND)
        finally:
            conn.disconnect()

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert got["out"].strip() == lab.running.devices[spec.id].config.strip()
    assert "window-height automatic" in lab.running.devices[spec.id].commands


@pytest.mark.parametrize("fault", sorted(simulator.FAULTS))
def test_faults_show_in_route(lab: _Lab, fault: str) -> None:
    spec = next(s for s in lab.specs if s.fault == fault)
    state = _cli_state(_run(spec, lab.known_hosts))
    broken = {subject for _, subject in simulator.FAULT_EXPECT[fault]}
    for n in ("999", "112"):
        outcome, _, sent, trunk, _ = _route(state, n, "127.10.3.9")
        ok = outcome == "routed" and sent == n and trunk == simulator.EMERGENCY_TRUNK
        assert ok is (n not in broken), (fault, n, sent, trunk)


def test_wrong_password_is_auth_failed(lab: _Lab) -> None:
    with pytest.raises(AuthFailed):
        _run(lab.specs[0], lab.known_hosts, password="not-it")
    with pytest.raises(AuthFailed):
        _run(lab.specs[0], lab.known_hosts, enable="not-it")


def test_unknown_host_key_is_refused(lab: _Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(DeviceError):
        _run(lab.specs[0], empty)


def test_lab_capture_is_detected_as_audiocodes(lab: _Lab) -> None:
    assert profiles.detect(lab.running.devices[lab.specs[0].id].config) is PROFILE
