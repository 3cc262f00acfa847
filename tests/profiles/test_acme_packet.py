"""Oracle ESBC / Acme Packet profile: local-policy route selection as the ESBC Configuration
Guide describes it, the lab SBC over SSH (fleet's run_cli and netmiko), faults, redaction."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import pytest

from device_profiles.acme_packet import simulator
from device_profiles.acme_packet.model import to_state
from device_profiles.acme_packet.parse import detect, parse_files
from device_profiles.acme_packet.routing import route
from fleet import profiles
from fleet.collect.ssh import Platform, SshOptions, SshTarget, run_cli
from fleet.errors import ConfigFileError, DeviceError
from fleet.lab import sbc as labsbc
from fleet.lab.spec import LabSbc
from fleet.model import DeviceState
from fleet.redact import MASK, redact_params

SAMPLES = Path(__file__).resolve().parents[2] / "device_profiles" / "acme_packet" / "samples"
NET = 93  # this file's own loopback range: 127.93.255.x
PHONE = "127.10.4.21"  # a lab phone
LON_PHONE = "10.20.4.21"  # a phone in lon-esbc-1.txt's PHONES realm (10.20.0.0/16)
ADMIN_PASSWORD = "lab-admin-Zq8v"
ENABLE_PASSWORD = "lab-enable-Xw3"
PROFILE = profiles.get("acme_packet")  # the registry's copy carries platform.yaml


def _spec(host: int = 1, fault: str | None = None, password: str = ADMIN_PASSWORD) -> LabSbc:
    return LabSbc(
        id="t-sbc",
        profile="acme_packet",
        site="lon",
        address=f"127.{NET}.255.{host}",
        port=8022,
        hostname="lon-sbc-1",
        admin_user=simulator.ADMIN_USER,
        admin_password=password,
        enable_password=ENABLE_PASSWORD,
        phone_networks=["127.10.0.0/16"],
        emergency_numbers=["999", "112"],
        fault=fault,
    )


def _sample_state(name: str) -> DeviceState:
    text = (SAMPLES / name).read_text()
    return to_state(parse_files(name, text, lambda n: None))


def _state_of(text: str) -> DeviceState:
    return to_state(PROFILE.parse_cli({"show running-config": text}))


# --- route selection tables ------------------------------------------------------------------
# Each row: number, source -> (winning rule, number as it leaves, trunk, priority).

LON = [
    # ESBC Config Guide "Route Preference": longest matching To address beats the * wildcard;
    # "Emergency Session Handling": policy-priority emergency on the 999/112 policies.
    (
        "999",
        LON_PHONE,
        "local-policy 1 (UK emergency 999)",
        "999",
        "SAG:EMERGENCY-CARRIER",
        "emergency",
    ),
    (
        "112",
        "10.20.7.7",
        "local-policy 2 (UK emergency 112)",
        "112",
        "SAG:EMERGENCY-CARRIER",
        "emergency",
    ),
    # "Route Preference" item 1: cost first, so the cost-0 attribute (CARRIER-A) beats cost 10;
    # realm CARRIER out-manipulationid CARRIER-OUT (HMR guide, element-rule uri-user
    # find-replace-all pattern-rule) turns national 0 into +44.
    (
        "02079460000",
        "10.20.7.7",
        "local-policy 3 (Outbound PSTN) attr 1",
        "+442079460000",
        "SAG:CARRIER-A",
        None,
    ),
    # "Routing Calls by Matching Digits": 9990 starts with 999, so the 999 policy matches it.
    (
        "9990",
        None,
        "local-policy 1 (UK emergency 999)",
        "9990",
        "SAG:EMERGENCY-CARRIER",
        "emergency",
    ),
    # "Routing Calls by Matching Digits": the first character must match: 1999 is not 999.
    ("1999", None, "local-policy 3 (Outbound PSTN) attr 1", "1999", "SAG:CARRIER-A", None),
]

CHI = [
    # realm access in-manipulationid STRIP9 rewrites the Request-URI before the local-policy
    # lookup (HMR guide, inbound HMR): 9911 reaches the 911 policy.
    (
        "9911",
        "172.16.9.9",
        "local-policy 1 (911 and 933 test line)",
        "911",
        "10.1.1.1",
        "emergency",
    ),
    ("911", None, "local-policy 1 (911 and 933 test line)", "911", "10.1.1.1", "emergency"),
    # to-address lists several entries: "911 933".
    ("933", None, "local-policy 1 (911 and 933 test line)", "933", "10.1.1.1", "emergency"),
    ("3125550100", None, "local-policy 2 (PSTN)", "3125550100", "SAG:SIPTRUNK", None),
    # From the core realm (a session agent's address) only the inbound policy applies
    # ("About the Ingress Realm": source-realm selects by ingress realm).
    ("2001", "10.1.2.1", "local-policy 3 (Inbound to phones)", "2001", "172.16.0.10", None),
]


@pytest.mark.parametrize(("number", "source", "rule", "sent", "trunk", "priority"), LON)
def test_lon_routes(
    number: str, source: str | None, rule: str, sent: str, trunk: str, priority: str | None
) -> None:
    d = route(_sample_state("lon-esbc-1.txt"), number, source)
    assert (d.outcome, d.route, d.sent, d.trunk, d.priority) == (
        "routed",
        rule,
        sent,
        trunk,
        priority,
    ), d.steps


@pytest.mark.parametrize(("number", "source", "rule", "sent", "trunk", "priority"), CHI)
def test_chi_routes(
    number: str, source: str | None, rule: str, sent: str, trunk: str, priority: str | None
) -> None:
    d = route(_sample_state("chi-esbc-2.txt"), number, source)
    assert (d.outcome, d.route, d.sent, d.trunk, d.priority) == (
        "routed",
        rule,
        sent,
        trunk,
        priority,
    ), d.steps


def test_no_policy_for_the_ingress_realm_is_no_route() -> None:
    # lon has no local-policy with source-realm CARRIER: a call from the carrier finds none.
    d = route(_sample_state("lon-esbc-1.txt"), "999", "198.51.100.10")
    assert d.outcome == "no-route"
    assert "realm CARRIER" in " ".join(d.steps)


def test_cost_is_preferred_over_a_longer_to_address() -> None:
    # "Route Preference": cost is always given preference, before the To-address match length.
    text = (
        (SAMPLES / "lon-esbc-1.txt")
        .read_text()
        .replace(
            "                cost                                    0\n",
            "                cost                                    5\n",
            1,
        )
    )
    d = route(_state_of(text), "999", LON_PHONE)
    assert (d.route, d.trunk) == ("local-policy 3 (Outbound PSTN) attr 1", "SAG:CARRIER-A")


def test_disabled_policy_and_disabled_group_are_skipped() -> None:
    text = (SAMPLES / "lon-esbc-1.txt").read_text()
    off = text.replace(
        "        state                                   enabled\n"
        "        policy-priority                         emergency",
        "        state"
        "                                   disabled\n        policy-priority"
        "                         emergency",
        1,
    )
    assert route(_state_of(off), "999", LON_PHONE).trunk == "SAG:CARRIER-A"
    # session-group CARRIER-A disabled: the catch-all fails over to its cost-10 CARRIER-B.
    grp = text.replace(
        "        group-name                              CARRIER-A\n"
        '        description                             "Carrier A"\n'
        "        state                                   enabled",
        "        group-name                              CARRIER-A\n"
        '        description                             "Carrier A"\n'
        "        state                                   disabled",
    )
    assert route(_state_of(grp), "0161", LON_PHONE).trunk == "SAG:CARRIER-B"


def test_state_summary() -> None:
    s = _sample_state("lon-esbc-1.txt").sbc
    assert s is not None
    assert s.emergency_numbers == ["999", "112"]
    assert s.addresses == ["10.20.0.2:5060", "203.0.113.10:5060"]
    assert s.trunks[:3] == ["SAG:EMERGENCY-CARRIER", "SAG:CARRIER-A", "SAG:CARRIER-B"]


def test_detect_and_bad_file() -> None:
    assert detect((SAMPLES / "chi-esbc-2.txt").read_text())
    assert not detect("hostname r1\ndial-peer voice 1 voip\n")
    with pytest.raises(ConfigFileError):
        parse_files("x.cfg", "interface Gi0/1\n ip address 10.0.0.1 255.0.0.0\n", lambda n: None)


def test_secrets_are_redacted() -> None:
    text = (SAMPLES / "lon-esbc-1.txt").read_text()
    collected = parse_files("lon.txt", text, lambda n: None)
    assert collected.params["session-agent[1].auth-attribute[1].password"] == "Tr0mb0ne-77"
    collected.params = redact_params(collected.params, PROFILE)
    raw = to_state(collected).raw
    assert raw["session-agent[1].auth-attribute[1].password"] == MASK
    assert "Tr0mb0ne-77" not in repr(raw)


# --- the lab SBC over SSH ----------------------------------------------------------------------


class _Loop:
    """An event loop in a thread of its own, so netmiko (blocking) can talk to the lab."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: object, timeout: float = 60) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _collect(spec: LabSbc, known_hosts: Path, password: str | None = None) -> dict[str, str]:
    async def go() -> dict[str, str]:
        running = await labsbc.start([spec])
        try:
            known_hosts.write_text("\n".join(running.known_hosts) + "\n")
            target = SshTarget(
                spec.address,
                spec.port,
                spec.admin_user,
                password or spec.admin_password,
                spec.enable_password,
                options=SshOptions(known_hosts=str(known_hosts)),
            )
            assert PROFILE.platform is not None
            return await run_cli(
                target, Platform.from_dict(PROFILE.platform), asyncio.Semaphore(5), read_timeout=10
            )
        finally:
            await running.close()

    return asyncio.run(go())


def test_lab_round_trip(tmp_path: Path) -> None:
    spec = _spec(1)
    outputs = _collect(spec, tmp_path / "known_hosts")
    text = outputs["show running-config"]
    assert text.rstrip().endswith("task done")
    state = _state_of(text)
    assert state.sbc is not None
    assert f"{spec.address}:5060" in state.sbc.addresses
    assert {simulator.EMERGENCY_TRUNK, simulator.NORMAL_TRUNK} <= set(state.sbc.trunks)
    for number in ("999", "112"):
        d = route(state, number, PHONE)
        assert (d.outcome, d.sent, d.trunk, d.priority) == (
            "routed",
            number,
            simulator.EMERGENCY_TRUNK,
            "emergency",
        ), d.steps
    d = route(state, "02079460000", PHONE)
    assert (d.trunk, d.sent, d.priority) == (simulator.NORMAL_TRUNK, "+442079460000", None)
    assert route(state, "999", None).trunk == simulator.EMERGENCY_TRUNK


def test_lab_paging_off_before_the_configuration(tmp_path: Path) -> None:
    spec = _spec(2)
    dev = labsbc.device(spec)

    async def go() -> dict[str, str]:
        running = await labsbc.start([spec])
        try:
            (tmp_path / "kh").write_text("\n".join(running.known_hosts) + "\n")
            target = SshTarget(
                spec.address,
                spec.port,
                spec.admin_user,
                spec.admin_password,
                spec.enable_password,
                options=SshOptions(known_hosts=str(tmp_path / "kh")),
            )
            assert PROFILE.platform is not None
            # the marker must be answered when paging stays on
            plat = dataclasses.replace(PROFILE.platform, setup=())
            return await run_cli(target, plat, asyncio.Semaphore(5), read_timeout=10)
        finally:
            await running.close()

    paged = asyncio.run(go())["show running-config"]
    assert simulator.MORE not in paged
    # The lab erases the marker with "\r<spaces>\r" and run_cli keeps those spaces at the start
    # of the next page (reported to the lead): compare the lines without their indent.
    assert [ln.strip() for ln in paged.splitlines()] == [
        ln.strip() for ln in dev.config.splitlines()
    ]


def test_netmiko_reads_the_same_configuration(tmp_path: Path) -> None:
    netmiko = pytest.importorskip("netmiko")
    spec = _spec(3)
    loop = _Loop()
    try:
        running = loop.run(labsbc.start([spec]))
        try:
            # netmiko 4.x has no Oracle/Acme driver: "generic" with the ACLI steps spelled out.
            conn = netmiko.ConnectHandler(
                device_type="generic",
                host=spec.address,
                port=spec.port,
                username=spec.admin_user,
                password=spec.admin_password,
                secret=spec.enable_password,
                ssh_strict=False,
                system_host_keys=False,
                alt_host_keys=False,
                use_keys=False,
                allow_agent=False,
            )
            try:
                conn.set_base_prompt()
                conn.enable(
                    cmd="enable", pattern=r"[Pp]assword", enable_pattern=r"#", check_state=False
                )
                conn.send_command("cli more disabled")
                text = conn.send_command("show running-config", read_timeout=30)
            finally:
                conn.disconnect()
        finally:
            loop.run(running.close())
    finally:
        loop.close()
    assert text.strip() == running.devices[spec.id].config.strip()
    assert route(_state_of(text), "999", PHONE).trunk == simulator.EMERGENCY_TRUNK


@pytest.mark.parametrize("fault", sorted(simulator.FAULTS))
def test_faults_show_in_routing(fault: str) -> None:
    state = _state_of(simulator.render(_spec(fault=fault)))
    broken = {subject for _, subject in simulator.FAULT_EXPECT[fault]}
    for number in ("999", "112"):
        d = route(state, number, PHONE)
        if number in broken:
            assert (d.trunk, d.priority) == (simulator.NORMAL_TRUNK, None), d.steps
        else:
            assert (d.trunk, d.priority) == (simulator.EMERGENCY_TRUNK, "emergency"), d.steps


def test_unknown_host_key_is_device_error(tmp_path: Path) -> None:
    spec = _spec(5)

    async def go() -> None:
        running = await labsbc.start([spec])
        try:
            empty = tmp_path / "empty_known_hosts"
            empty.write_text("")
            target = SshTarget(
                spec.address,
                spec.port,
                spec.admin_user,
                spec.admin_password,
                spec.enable_password,
                options=SshOptions(known_hosts=str(empty)),
            )
            assert PROFILE.platform is not None
            await run_cli(target, Platform.from_dict(PROFILE.platform), asyncio.Semaphore(5))
        finally:
            await running.close()

    with pytest.raises(DeviceError):
        asyncio.run(go())


# --- captures without realm-config, list values, regexes from the configuration -------------

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "acme_packet"


def _elements_only(text: str, wanted: str) -> str:
    """What `show running-config <element>` prints: only those elements of a capture."""
    out, keep = [], False
    for line in text.splitlines(keepends=True):
        if line[:1].strip():
            keep = line.strip() == wanted
        if keep:
            out.append(line)
    return "".join(out)


def test_a_local_policy_capture_is_recognised_and_routed_without_realms() -> None:
    # `show running-config local-policy` has no realm-config: recognised by its elements.
    text = _elements_only((SAMPLES / "chi-esbc-2.txt").read_text(), "local-policy")
    assert "realm-config" not in text and detect(text)
    state = _state_of(text)
    # A realm named as the source is taken as given (the capture cannot contradict it).
    d = route(state, "911", "access")
    assert (d.outcome, d.trunk, d.priority) == ("routed", "10.1.1.1", "emergency"), d.steps
    assert "no realm-config" in " ".join(d.steps)
    # The phone side unknown: each source-realm the policies name is a candidate, and they
    # route 911 differently, so the decision says so instead of rejecting the call.
    d = route(state, "911", None)
    assert d.outcome == "ambiguous", d.steps
    assert "ingress realm unknown" in " ".join(d.steps)
    by_source = {a.source: (a.outcome, a.trunk) for a in d.alternatives}
    assert by_source["access"] == ("routed", "10.1.1.1")
    assert by_source["core"] == ("routed", "172.16.0.10")


def test_a_capture_without_local_policy_reports_coverage_not_a_route() -> None:
    # A real `show running-config session-agent` capture (rianrd1/ROTAS-SIP teste.txt).
    path = CONFORMANCE / "rotas-session-agent-capture" / "teste.txt"
    text = path.read_text()
    assert detect(text)
    collected = parse_files(path.name, text, lambda n: None)
    assert [(n.rule, n.subject) for n in collected.notices] == [
        ("coverage.uncertain", "local-policy")
    ]
    state = to_state(collected)
    assert state.sbc is None  # no "no route" claim from a partial capture
    assert collected.params["session-agent[27].hostname"]


def test_detect_does_not_take_other_vendors_files() -> None:
    assert not detect("hostname r1\n!\ndial-peer voice 1 voip\n destination-pattern 911\n")
    assert not detect("[ IPGroup ]\nFORMAT Index = Name;\nIPGroup 0 = PHONES;\n")
    assert not detect("local-policy is what we call it\n")


LIST_ONE_LINE = """local-policy
        from-address                            *
        to-address                              911 933
        source-realm                            access
        policy-attribute
                next-hop                                10.1.1.1
                realm                                   core
"""
# ACLI prints a list's further values alone on the following lines, at the value column;
# some layouts print even the first value there.
LIST_BELOW = """local-policy
        from-address                            *
        to-address                              911
                                                933
        source-realm                            access
        policy-attribute
                next-hop                                10.1.1.1
                realm                                   core
"""
LIST_ALL_BELOW = """local-policy
        from-address
                                                *
        to-address
                                                911
                                                933
        source-realm                            access
        policy-attribute
                next-hop                                10.1.1.1
                realm                                   core
"""


@pytest.mark.parametrize("text", [LIST_BELOW, LIST_ALL_BELOW], ids=["first-beside", "all-below"])
def test_list_values_on_the_following_lines_parse_like_one_line(text: str) -> None:
    one = parse_files("one.txt", LIST_ONE_LINE, lambda n: None).params
    below = parse_files("below.txt", text, lambda n: None).params
    assert below["local-policy[1].to-address"] == "911 933"
    assert below == one
    d = route(_state_of(text), "933", "access")
    assert (d.outcome, d.trunk) == ("routed", "10.1.1.1"), d.steps


def test_session_group_dest_list_from_a_real_capture() -> None:
    # rianrd1/ROTAS-SIP: `dest 172.26.50.39` then `172.26.50.140` alone on the next line.
    path = CONFORMANCE / "rotas-transporte-dest-list" / "CORE_ITX_VIVO_TRANSPORTE_VSI_1.sql"
    text = path.read_text()
    state = _state_of(text)
    assert state.sbc is not None
    group = state.sbc.data["groups"][0]
    assert group["dest"] == ["172.26.50.39", "172.26.50.140"]
    # With the first member disabled the group still has an enabled one: the hunt goes on.
    off = text.replace(
        "        hostname                                172.26.50.39    \n"
        "        ip-address                              172.26.50.39\n"
        "        port                                    5060\n"
        "        state                                   enabled",
        "        hostname                                172.26.50.39    \n"
        "        ip-address                              172.26.50.39\n"
        "        port                                    5060\n"
        "        state                                   disabled",
    )
    assert off != text
    d = route(_state_of(off), "999", "10.85.0.35")
    assert (d.outcome, d.trunk) == ("routed", "SAG:vsiitx"), d.steps


def _chi_with(match: str, new: str) -> str:
    text = (SAMPLES / "chi-esbc-2.txt").read_text()
    text = text.replace("match-value                             ^9(911)$", f"match-value  {match}")
    return text.replace("new-value                               $1", f"new-value  {new}")


@pytest.mark.parametrize(
    ("match", "new"),
    [("^9(911$", "$1"), ("^9(911)$", "$2"), ("*9", "$1"), ("^9(?P<x)$", "\\q")],
    ids=["unbalanced", "missing-group", "nothing-to-repeat", "bad-group-name"],
)
def test_a_bad_pattern_rule_never_raises(match: str, new: str) -> None:
    text = _chi_with(match, new)
    collected = parse_files("chi.txt", text, lambda n: None)
    state = to_state(collected)
    d = route(state, "9911", "172.16.9.9")  # must not raise re.error
    assert d.outcome in ("routed", "no-route")
    bad = [n for n in collected.notices if n.rule == "config.malformed"]
    if match == "^9(911)$":  # a valid pattern whose $2 names no group: left as written
        assert not bad
        assert d.sent == "$2"
        return
    assert [n.subject for n in bad] == [
        "sip-manipulation[1].header-rule[1].element-rule[1].match-value"
    ]
    line = text.splitlines().index(f"                        match-value  {match}") + 1
    assert f"chi.txt line {line}:" in bad[0].message
    assert match not in bad[0].message  # the value is not quoted (it might be a secret)
    assert "uncertain" in " ".join(d.steps)


def test_prompts_from_vendor_documentation_and_a_real_session() -> None:
    import re

    plat = PROFILE.platform
    assert plat is not None and plat.enable is not None
    prompt, superuser = re.compile(plat.prompt), re.compile(plat.enable.prompt)
    # "Using the ACLI": ORACLE> enable / Password: / ORACLE#; configuration prompts
    # ORACLE(configure)#; a real session (rianrd1/ROTAS-SIP): *eSBCJZN02# with unsaved
    # changes, **eSBCJZN02# saved but not activated.
    for p in ("ORACLE> ", "ORACLE# ", "ORACLE(configure)# ", "*eSBCJZN02# ", "**eSBCJZN02# "):
        assert prompt.search(p), p
    assert superuser.search("eSBCJZN02(network-interface)# ")
    assert not superuser.search("ORACLE> ")
    assert plat.setup == ("cli more disabled",)  # ACLI Reference, cli


def test_paging_command_refused_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # If a box does not know `cli more disabled` (the more-marker text is UNCONFIRMED, so
    # fleet cannot rely on answering it), collection stops with a ProtocolError naming the
    # command: the device's status is "error" and the check reports coverage.error.
    from fleet.errors import ProtocolError

    real = simulator.Cli.handle

    def handle(self: simulator.Cli, line: str) -> str:
        if line.split()[:2] == ["cli", "more"]:
            return "% command not found\n"
        return real(self, line)

    monkeypatch.setattr(simulator.Cli, "handle", handle)
    with pytest.raises(ProtocolError, match="cli more disabled") as e:
        _collect(_spec(6), tmp_path / "known_hosts")
    assert e.value.status == "error"


def test_a_changed_state_is_routed_as_it_now_is_not_from_the_cache() -> None:
    """As for CUBE: the typed routing data is kept per state, never shared with a copy whose
    data changed."""
    import copy

    text = (
        Path(__file__).resolve().parents[2]
        / "device_profiles"
        / "acme_packet"
        / "samples"
        / "lon-esbc-1.txt"
    ).read_text()
    prof = profiles.get("acme_packet")
    assert prof.parse_files and prof.to_state and prof.route
    state = prof.to_state(prof.parse_files("lon-esbc-1.txt", text, lambda _n: None))
    first = prof.route(state, "999", None)
    assert first.outcome == "routed"
    other = copy.deepcopy(state)
    assert other.sbc is not None
    key = next(k for k in other.sbc.data if "polic" in k)
    other.sbc.data[key] = [] if isinstance(other.sbc.data[key], list) else {}
    assert prof.route(other, "999", None).outcome != "routed"
    again = prof.route(state, "999", None)
    assert (again.outcome, again.trunk, again.sent) == (first.outcome, first.trunk, first.sent)
