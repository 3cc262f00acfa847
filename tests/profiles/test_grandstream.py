"""Grandstream profile against its lab simulator: web API login and reads, the exported file,
the login lockout and firmware without the API (each dial-plan fault and the round trip to
the fetched state are the lab contract's, tests/profiles/test_lab_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from device_profiles.grandstream.profile import PROFILE, _answer, provisioning_server
from device_profiles.grandstream.simulator import export_files
from fleet.check.emergency import check_phone
from fleet.check.golden import EmergencyPolicy
from fleet.collect.http import HttpPool, HttpReply
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab.spec import LabDevice, LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import make_lab
from tests.conftest import phone_host as _host


def _lab_uk(net: int) -> EmergencyPolicy:
    """The lab golden's UK policy: emergency calls leave through a site SBC of the lab."""
    return EmergencyPolicy(
        numbers=["999", "112"],
        max_dial_delay_s=0,
        phone_route=[f"127.{net}.255.{k}" for k in (1, 2, 3)],
        prefixes=["9"],
    )


NewLab = Callable[..., labfleet.LabFleet]


@pytest.fixture
def new_lab(lab_factory: NewLab) -> NewLab:
    """A running lab of six grandstream phones of its own (``running_lab``), ``tweak``ed first."""

    def make(tweak: Callable[[labfleet.LabFleet], None] | None = None) -> labfleet.LabFleet:
        return lab_factory(6, profile_names=["grandstream"], faults=False, tweak=tweak)

    return make


async def _fetch_all(lab: labfleet.LabFleet, wanted: list[str]) -> list[Collected]:
    async with HttpPool() as pool:
        return [await PROFILE.fetch(_host(pool, s), wanted) for s in lab.phones]


async def _errors(lab: labfleet.LabFleet, attempts: list[tuple[LabPhone, str | None]]) -> list:
    out: list[DeviceError | None] = []
    async with HttpPool() as pool:
        for spec, password in attempts:
            try:
                await PROFILE.fetch(_host(pool, spec, password), [])
                out.append(None)
            except DeviceError as e:
                out.append(e)
    return out


def _assert_matches_spec(state: DeviceState, spec: LabPhone) -> None:
    assert (state.vendor, state.profile) == ("Grandstream", "grandstream")
    assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
    assert state.provisioning_server == spec.provisioning_server
    [line] = state.lines
    assert line.enabled and line.index == 1
    assert (line.registrar, line.outbound_proxy, line.user, line.transport) == (
        spec.registrar,
        spec.outbound_proxy,
        spec.sip_user,
        "udp",
    )
    assert [e.number for e in line.emergency] == spec.emergency_numbers
    # No separate emergency route: 999/112 leave through the outbound proxy (P48).
    assert {(e.route, e.route_source) for e in line.emergency} == {(spec.emergency_route, "P48")}
    assert line.dialplan is not None and line.dialplan.source == "P290"
    assert line.dialplan.options == {"P85": "4", "P72": "1"}


def test_fetch_reads_every_lab_phone_as_specified(new_lab: NewLab) -> None:
    lab = new_lab()
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        state = PROFILE.to_state(c)
        _assert_matches_spec(state, spec)
        assert check_phone(state, _lab_uk(lab.net)) == [], (
            "the lab's default plan must pass the UK golden"
        )
        # The SIP password is never read over the API, and would be redacted if it were.
        assert spec.sip_password not in str(c.params)
        assert PROFILE.is_secret("P34") and PROFILE.is_secret("P406")


def test_identity_behind_login_is_read_after_login(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["_identity"] = "login"

    lab = new_lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, []))
    spec = lab.phones[0]
    assert first.identity == {
        "model": spec.model,
        "firmware": spec.firmware,
        "mac": "00:0B:82:00:00:01",
    }
    assert PROFILE.to_state(first).mac == spec.mac


def test_wanted_raw_param_comes_back_with_device_value(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["P1362"] = "en"

    lab = new_lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, ["P1362"]))
    assert first.params["P1362"] == "en"
    assert PROFILE.to_state(first).raw["P1362"] == "en"


def test_wrong_password_is_auth_failed_and_says_not_retried(new_lab: NewLab) -> None:
    lab = new_lab()
    [err] = asyncio.run(_errors(lab, [(lab.phones[0], "not-the-password")]))
    assert isinstance(err, AuthFailed)
    assert "did not retry" in str(err)
    # One refused login costs the phone one failure, not several.
    assert lab.devices[lab.phones[0].id].sessions["grandstream"]["failures"] == 1


def test_locked_out_phone_says_so_even_with_the_right_password(new_lab: NewLab) -> None:
    lab = new_lab()
    spec = lab.phones[1]
    attempts = [(spec, "wrong")] * 5 + [(spec, None)]
    errors = asyncio.run(_errors(lab, attempts))
    assert all(isinstance(e, AuthFailed) for e in errors)
    assert "locked" in str(errors[-1]) and "inventory" in str(errors[-1])


def test_firmware_without_web_api_tells_operator_to_audit_files(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[2].extra["_api"] = "none"

    lab = new_lab(tweak)
    [err] = asyncio.run(_errors(lab, [(lab.phones[2], None)]))
    assert type(err) is DeviceError
    assert "no web API" in str(err) and "provisioning file" in str(err)


def test_no_password_in_any_error_message(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[2].extra["_api"] = "none"

    lab = new_lab(tweak)
    attempts = [(lab.phones[0], "wrong"), (lab.phones[2], None)]
    attempts += [(lab.phones[3], "wrong")] * 5 + [(lab.phones[3], None)]
    errors = asyncio.run(_errors(lab, attempts))
    assert all(errors)
    for err in errors:
        for spec in lab.phones:
            assert spec.sip_password not in str(err)
            assert spec.admin_password not in str(err)


def test_an_exported_file_is_named_for_the_mac_and_holds_no_model_or_firmware(
    tmp_path: Path,
) -> None:
    # that it reads back as the fetched state is the lab contract's (test_lab_contract.py)
    sim = registry.phone("grandstream")
    for spec in make_lab(tmp_path, 6, profile_names=["grandstream"], faults=False).fleet.phones:
        [(name, text)] = export_files(LabDevice(spec, sim.render(spec))).items()
        assert name == f"cfg{spec.mac}.xml" and PROFILE.detect(text)
        from_file = PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))
        # A provisioning file holds no model or firmware; it names its MAC.
        assert (from_file.model, from_file.firmware, from_file.mac) == (None, None, spec.mac)
        assert "P34" in PROFILE.parse_files(name, text, lambda _: None).params


def test_provisioning_server_from_p237_and_p212() -> None:
    assert provisioning_server("prov.example.com/gs/", "2") == "https://prov.example.com/gs"
    assert provisioning_server("192.0.2.5", "0") == "tftp://192.0.2.5"
    assert provisioning_server("http://prov.example.com/x", "2") == "http://prov.example.com/x"
    assert provisioning_server("prov.example.com", None) == "prov.example.com"
    assert provisioning_server(None, "1") is None


V2 = """<?xml version="1.0" encoding="UTF-8"?>
<gs_provision version="1">
  <config version="2">
    <item name="account.1.enable">Yes</item>
    <item name="account.1.sip.server.1.address">pbx.example.co.uk</item>
    <item name="account.1.sip.outboundProxy.1.address">sbc.example.co.uk:5061</item>
    <item name="account.1.sip.userid">2101</item>
    <item name="account.1.sip.subscriber.userId">2101</item>
    <item name="account.1.sip.subscriber.password">PLACEHOLDER-sip</item>
    <item name="account.1.sip.transport">TlsOrTcp</item>
    <item name="account.1.call.dialplan">{ 999 | 112 | [2-8]xxx }</item>
    <item name="account.1.call.noKeyEntryTimeout">3</item>
    <item name="account.1.call.keyAsSend">Pound</item>
    <item name="account.5.enable">No</item>
    <item name="account.5.sip.server.1.address">pbx.example.co.uk</item>
    <item name="provisioning.config.protocol">HTTPS</item>
    <item name="provisioning.config.serverPath">prov.example.co.uk/gs</item>
    <item name="keys.lock.enable">Yes</item>
    <item name="keys.lock.emergency">999,112</item>
  </config>
</gs_provision>
"""


def _uk(route: str) -> EmergencyPolicy:
    return EmergencyPolicy(numbers=["999", "112"], max_dial_delay_s=0, phone_route=[route])


def _state(name: str, text: str) -> DeviceState:
    return PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))


def test_xml_version_2_named_items_are_read() -> None:
    # The shape of Grandstream's grp261x_config_v2_1.0.5.15.xml (wazo-provd-plugins mirror).
    c = PROFILE.parse_files("cfg000b82a1b2c3.xml", V2, lambda _: None)
    assert c.params["account.1.sip.server.1.address"] == "pbx.example.co.uk"
    state = PROFILE.to_state(c)
    first, fifth = state.lines
    assert (first.index, first.enabled, first.registrar, first.outbound_proxy) == (
        1,
        True,
        "pbx.example.co.uk",
        "sbc.example.co.uk:5061",
    )
    assert (first.user, first.transport) == ("2101", "tls")
    assert first.dialplan is not None and first.dialplan.source == "P290"
    assert first.dialplan.text == "{ 999 | 112 | [2-8]xxx }"
    assert first.dialplan.options == {"P85": "3", "P72": "1"}
    assert (fifth.index, fifth.enabled) == (5, False)
    assert state.provisioning_server == "https://prov.example.co.uk/gs"
    assert [(e.number, e.route, e.source) for e in first.emergency] == [
        ("999", "sbc.example.co.uk:5061", "P8385"),
        ("112", "sbc.example.co.uk:5061", "P8385"),
    ]
    assert state.notices == [] and state.emergency_setting
    assert check_phone(state, _uk("sbc.example.co.uk")) == []
    # The v2 password name is a secret too.
    assert PROFILE.is_secret("account.1.sip.subscriber.password")
    assert PROFILE.is_secret("users.admin.password")


def test_xml_version_2_unknown_alias_is_uncertain_not_guessed() -> None:
    text = V2.replace(">TlsOrTcp<", ">TLS<").replace(
        '>Yes</item>\n    <item name="account.1.sip.s',
        '>Si</item>\n    <item name="account.1.sip.s',
        1,
    )
    state = _state("cfg.xml", text)
    rules = {(n.rule, n.subject) for n in state.notices}
    assert ("coverage.uncertain", "account.1.sip.transport") in rules
    assert ("coverage.uncertain", "account.1.enable") in rules


def test_xml_unknown_config_version_is_refused() -> None:
    text = '<gs_provision version="1"><config version="3"><item name="x"/></config></gs_provision>'
    with pytest.raises(ConfigFileError, match="version"):
        PROFILE.parse_files("cfg.xml", text, lambda _: None)


def test_keypad_lock_list_is_the_phones_emergency_numbers() -> None:
    # P1382 Enable Keypad Locking, P8385 "Emergency" (GRP261x 1.0.5.15 template value).
    base = "P271 = 1\nP47 = sip.example.co.uk\nP35 = 2101\nP290 = { 999 | 112 | 911 }\n"
    state = _state("gs.txt", base + "P1382 = 1\nP8385 = 112,911,110\n")
    [line] = state.lines
    assert [e.number for e in line.emergency] == ["112", "911", "110"]
    assert {(e.source, e.route, e.route_source) for e in line.emergency} == {
        ("P8385", "sip.example.co.uk", "P47")
    }
    assert state.emergency_setting
    found = {(f.rule, f.subject) for f in check_phone(state, _uk("sip.example.co.uk"))}
    assert found == {("emergency.route", "999")}  # a locked keypad does not dial 999


def test_without_keypad_locking_no_number_is_special() -> None:
    base = "P271 = 1\nP47 = sip.example.co.uk\nP35 = 2101\n"
    for extra in ("", "P1382 = 0\nP8385 = 112,911,110\n"):
        state = _state("gs.txt", base + extra)
        [line] = state.lines
        assert line.emergency == [] and not state.emergency_setting and state.notices == []


def test_keypad_locking_without_its_list_is_uncertain() -> None:
    text = "P271 = 1\nP47 = sip.example.co.uk\nP35 = 2101\nP1382 = 1\n"
    state = _state("gs.txt", text)
    assert [(n.rule, n.subject) for n in state.notices] == [("coverage.uncertain", "P8385")]
    assert state.lines[0].emergency == []


def test_six_accounts_are_read() -> None:
    # GRP261x 1.0.5.15 template: accounts 3-6 at P501.., P601.., P1701.., P1801...
    text = "".join(
        f"P{b}01 = 1\nP{b}02 = pbx{i}.example.com\nP{b}04 = 10{i}\nP{b}59 = {{ x+ }}\n"
        for i, b in ((3, 5), (4, 6), (5, 17), (6, 18))
    )
    state = _state("gs.txt", text + "P1791 = 7\n")
    assert [(ln.index, ln.registrar, ln.user) for ln in state.lines] == [
        (i, f"pbx{i}.example.com", f"10{i}") for i in (3, 4, 5, 6)
    ]
    assert [ln.dialplan.source for ln in state.lines if ln.dialplan] == [
        "P559",
        "P659",
        "P1759",
        "P1859",
    ]
    assert state.lines[2].dialplan is not None
    assert state.lines[2].dialplan.options == {"P85": "7"}


def test_every_accounts_password_is_secret() -> None:
    # "Authenticate Password" of accounts 1-6 (GRP261x 1.0.5.15, GXP21xx 1.0.11.16 templates).
    for key in ("P34", "P406", "P506", "P606", "P1706", "P1806"):
        assert PROFILE.is_secret(key), key
    for key in ("P2", "P196", "P1359", "P1361", "P6769", "P4505", "P8395", "P1383", "P281"):
        assert PROFILE.is_secret(key), key
    for key in ("P47", "P290", "P8385", "P3406", "P18060", "P26049"):
        assert not PROFILE.is_secret(key), key


def test_account_active_unset_is_checked_and_uncertain() -> None:
    # "Account Active ... Default is 0" (GRP261x) but "Default is 1" (GXP21xx 1.0.11.16).
    state = _state("gs.txt", "P47 = sip.example.com\nP35 = 10\n")
    [line] = state.lines
    assert line.enabled
    assert [(n.rule, n.subject) for n in state.notices] == [("coverage.uncertain", "P271")]


def test_bypass_dial_plan_for_dialing_is_uncertain() -> None:
    state = _state("gs.txt", "P271 = 1\nP47 = sip.example.com\nP2382 = mpk,dialing\n")
    assert [(n.rule, n.subject) for n in state.notices] == [("coverage.uncertain", "P2382")]


def test_inactive_or_empty_accounts() -> None:
    text = "P271 = 0\nP47 = sip.example.com\nP35 = 10\nP401 = 1\nP402 =\nP404 =\n"
    state = PROFILE.to_state(PROFILE.parse_files("gs.txt", text, lambda _: None))
    [line] = state.lines  # account 2 has neither server nor user: not a line
    assert not line.enabled and line.emergency == []
    assert line.dialplan is not None and line.dialplan.text == "{ x+ | \\+x+ | *x+ | *xx*x+ }"


def test_not_an_api_answer_is_protocol_error() -> None:
    reply = HttpReply(200, httpx.Headers(), b'{"result": 0}', "http://x/cgi-bin/api.values.get")
    with pytest.raises(ProtocolError):
        _answer(reply)


def test_text_form_like_the_vendor_template_form_feed_and_stray_line() -> None:
    # gxp2130_40_60_70_35_config_1.0.11.16.txt: a form feed inside a comment, and a bare
    # "Screensaver XML Download Interval" line.
    text = (
        "P271 = 1\n# Number: 5 - 1440o<\x0c Default is 1440\nP5005 = 1440\n"
        "Screensaver XML Download Interval\nP47 = sip.example.com\n"
    )
    c = PROFILE.parse_files("gxp2170.txt", text, lambda _: None)
    assert c.params["P47"] == "sip.example.com" and c.params["P5005"] == "1440"
    [notice] = c.notices
    assert notice.rule == "config.malformed" and "line(s) 4 " in notice.message


def test_server_without_host_is_no_server() -> None:
    # FusionPBX's templates write "{server_address}:{sip_port}" for unused accounts: ":".
    text = "P271 = 1\nP47 = sip.example.com\nP35 = 10\nP401 = 1\nP402 = :\n"
    state = _state("gs.txt", text)
    assert [ln.index for ln in state.lines] == [1]
    assert [(n.rule, n.subject) for n in state.notices] == [("config.malformed", "P402")]


def test_e911_service_numbers_and_held_location() -> None:
    # Settings/E911 Service, GRP261x template for firmware 1.0.9.103 (FusionPBX grp2614 with
    # its "Pvalue" notes): P8565 Enable 911, P8568 Location Server, P8597 E911 Emergency Numbers.
    v2 = V2.replace(
        '<item name="keys.lock.enable">Yes</item>',
        '<item name="e911.enable">Yes</item>\n'
        '    <item name="e911.held.server.1.address">held.example.co.uk</item>\n'
        '    <item name="e911.held.server.1.password">PLACEHOLDER-held</item>\n'
        '    <item name="e911.emergency">999,112,911</item>\n'
        '    <item name="keys.lock.enable">No</item>',
    )
    state = _state("cfg.xml", v2)
    assert [(e.number, e.source) for e in state.lines[0].emergency] == [
        ("999", "P8597"),
        ("112", "P8597"),
        ("911", "P8597"),
    ]
    assert state.location_source == "HELD held.example.co.uk" and state.emergency_setting
    # With keypad locking on too, only numbers a locked keypad still dials count.
    text = (
        "P271 = 1\nP47 = sip.example.com\nP8565 = 1\nP8597 = 911,999,112\n"
        "P1382 = 1\nP8385 = 112,911\n"
    )
    state = _state("gs.txt", text)
    assert [e.number for e in state.lines[0].emergency] == ["911", "112"]
    assert state.location_source is None  # no Location Server
    assert PROFILE.is_secret("P8570") and PROFILE.is_secret("P8573")


def test_e911_enabled_without_its_numbers_is_uncertain() -> None:
    state = _state("gs.txt", "P271 = 1\nP47 = sip.example.com\nP8565 = 1\n")
    assert [(n.rule, n.subject) for n in state.notices] == [("coverage.uncertain", "P8597")]
    assert state.lines[0].emergency == [] and state.emergency_setting
