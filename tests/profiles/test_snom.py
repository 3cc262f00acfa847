"""Snom profile against its lab simulator: fetch, the exported provisioning files, and the
failures an operator meets (HTTPS-only web server, no settings XML, a login page). The round
trip to the fetched state and the faults are the lab contract's (test_lab_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from device_profiles.snom.profile import PROFILE, parse_info, provisioning_server, strip_uri
from device_profiles.snom.simulator import export_files
from fleet.collect.http import HttpPool
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab.spec import LabDevice, LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import make_lab
from tests.conftest import phone_host as _host

NewLab = Callable[..., labfleet.LabFleet]


@pytest.fixture
def new_lab(lab_factory: NewLab) -> NewLab:
    """A running lab of six snom phones of its own (``running_lab``), ``tweak``ed first."""

    def make(tweak: Callable[[labfleet.LabFleet], None] | None = None) -> labfleet.LabFleet:
        return lab_factory(6, profile_names=["snom"], faults=False, tweak=tweak)

    return make


async def _fetch_all(lab: labfleet.LabFleet, wanted: list[str]) -> list[Collected]:
    async with HttpPool() as pool:
        return [await PROFILE.fetch(_host(pool, s), wanted) for s in lab.phones]


async def _error(lab: labfleet.LabFleet, spec: LabPhone, **kw: str) -> DeviceError:
    async with HttpPool() as pool:
        with pytest.raises(DeviceError) as info:
            await PROFILE.fetch(_host(pool, spec, **kw), [])
    return info.value


def _assert_matches_spec(state: DeviceState, spec: LabPhone) -> None:
    assert (state.vendor, state.profile) == ("Snom", "snom")
    assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
    assert state.provisioning_server == spec.provisioning_server
    [line] = [ln for ln in state.lines if ln.enabled]
    assert (line.registrar, line.outbound_proxy, line.user, line.transport) == (
        spec.registrar,
        spec.outbound_proxy,
        spec.sip_user,
        "udp",
    )
    assert [e.number for e in line.emergency] == spec.emergency_numbers
    # Snom has a separate emergency route: emergency_proxy, not the outbound proxy.
    assert {(e.route, e.route_source) for e in line.emergency} == {
        (spec.emergency_route, "emergency_proxy")
    }
    assert line.dialplan is not None and line.dialplan.syntax == "snom"
    assert line.dialplan.source == "user_dp_str1"
    assert "!^999$!sip:999@\\d!d" in line.dialplan.text
    assert line.dialplan.options["auto_dial"] == "off"


def test_fetch_reads_every_lab_phone_as_specified(new_lab: NewLab) -> None:
    lab = new_lab()
    assert len({s.model for s in lab.phones}) > 1
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        _assert_matches_spec(PROFILE.to_state(c), spec)
        assert c.params["user_pass1"] == spec.sip_password
        assert PROFILE.is_secret("user_pass1")
        assert PROFILE.is_secret("admin_mode_password") and PROFILE.is_secret("http_pass")


def test_wanted_raw_param_comes_back_with_device_value(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["keyboard_lock_pw"] = "4711"
        lab.phones[0].extra["enable_keyboard_lock"] = "off"

    lab = new_lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, ["enable_keyboard_lock"]))
    assert first.params["enable_keyboard_lock"] == "off"
    assert PROFILE.to_state(first).raw["enable_keyboard_lock"] == "off"
    assert PROFILE.is_secret("keyboard_lock_pw")


def test_exported_files_are_a_container_and_its_settings(tmp_path: Path) -> None:
    # that they read back as the fetched state is the lab contract's (test_lab_contract.py)
    sim = registry.phone("snom")
    for spec in make_lab(tmp_path, 6, profile_names=["snom"], faults=False).fleet.phones:
        files = export_files(LabDevice(spec, sim.render(spec)))
        [master] = [n for n in files if n.endswith(".htm")]
        assert all(PROFILE.detect(t) for t in files.values())
        assert PROFILE.includes(master, files[master]) == [f"{spec.mac.upper()}.xml"]
        from_file = PROFILE.to_state(PROFILE.parse_files(master, files[master], files.get))
        # The files hold no firmware; model and MAC come from the container's name.
        assert (from_file.model, from_file.firmware, from_file.mac) == (spec.model, None, spec.mac)


def test_https_only_web_server_tells_operator_to_use_https(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[2].extra["webserver_type"] = "https"

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[2]))
    assert type(err) is DeviceError
    assert "https://" in str(err) and "webserver_type" in str(err)


def test_firmware_without_settings_xml_says_what_to_do(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_settings_xml"] = "missing"

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert not isinstance(err, AuthFailed | ProtocolError)
    assert "provisioning files" in str(err)


def test_non_xml_answer_is_protocol_error(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_settings_xml"] = "login-page"

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert isinstance(err, ProtocolError)
    assert "not the phone's settings XML" in str(err)


def test_no_sip_password_in_any_error_message(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_settings_xml"] = "login-page"
        lab.phones[2].extra["webserver_type"] = "https"
        lab.phones[3].extra["_settings_xml"] = "missing"

    lab = new_lab(tweak)

    async def errors() -> list[DeviceError]:
        out: list[DeviceError] = []
        async with HttpPool() as pool:
            for spec, kw in [
                (lab.phones[0], {"password": "wrong"}),
                (lab.phones[1], {}),
                (lab.phones[2], {}),
                (lab.phones[3], {}),
            ]:
                try:
                    await PROFILE.fetch(_host(pool, spec, **kw), [])
                except DeviceError as e:
                    out.append(e)
        return out

    found = asyncio.run(errors())
    assert len(found) == 4
    for err in found:
        for spec in lab.phones:
            assert spec.sip_password not in str(err)
            assert spec.admin_password not in str(err)


def test_info_page_identity() -> None:
    html = "<tr><td>Version:</td><td>snomD735-SIP 10.1.140.18</td></tr><td>00:04:13:AB:CD:EF</td>"
    assert parse_info(html) == {
        "model": "snomD735",
        "firmware": "10.1.140.18",
        "mac": "000413abcdef",
    }


def test_provisioning_server_drops_file_name_and_mac_macro() -> None:
    assert provisioning_server("https://prov.example.com/snom/{mac}.xml") == (
        "https://prov.example.com/snom"
    )
    assert provisioning_server("tftp://10.0.0.5") == "tftp://10.0.0.5"
    assert provisioning_server("") is None


def test_text_format_flags_and_indexes() -> None:
    text = (
        "<html><pre>\n# comment\nuser_host1&: pbx.example.org;transport=tcp\n"
        "user_name1!: 10\nkeyboard_lock_emergency$: 999 112\nemergency_proxy: sbc.example.org\n"
        "</pre></html>\n"
    )
    assert PROFILE.detect(text)
    state = PROFILE.to_state(PROFILE.parse_files("000413000001.htm", text, lambda _: None))
    [line] = state.lines
    assert (line.registrar, line.transport, line.user, state.mac) == (
        "pbx.example.org",
        "tcp",
        "10",
        "000413000001",
    )
    assert [(e.number, e.route, e.route_source) for e in line.emergency] == [
        ("999", "sbc.example.org", "emergency_proxy"),
        ("112", "sbc.example.org", "emergency_proxy"),
    ]


def test_missing_emergency_list_means_the_documented_default() -> None:
    text = "user_host1: pbx.example.org\nuser_name1: 10\n"
    [line] = PROFILE.to_state(PROFILE.parse_files("x.htm", text, lambda _: None)).lines
    assert [e.number for e in line.emergency] == ["911", "112", "110", "999", "19222"]
    assert {e.route_source for e in line.emergency} == {"user_host1"}


def test_a_stray_text_line_is_a_notice_and_a_container_with_nothing_beside_it_an_error() -> None:
    # A text line that is no setting: the phone skips it, fleet says so (file and line). A
    # file with no setting at all, and malformed XML: samples/malformed/ (test_contract.py).
    c = PROFILE.parse_files("bad.htm", "user_host1: a\nthis is not a setting\n", lambda _: None)
    assert c.params == {"user_host1": "a"}
    assert [(n.rule, n.severity, n.subject) for n in c.notices] == [
        ("config.malformed", "medium", "bad.htm:2")
    ]
    container = '<setting-files><file url="http://x/missing.xml"/></setting-files>'
    with pytest.raises(ConfigFileError, match=r"missing\.xml"):
        PROFILE.parse_files("m.htm", container, lambda _: None)


def test_inactive_and_empty_identities() -> None:
    xml = (
        "<settings><phone-settings>"
        '<user_active idx="1">off</user_active><user_host idx="1">a.example</user_host>'
        '<user_name idx="1">1</user_name>'
        '<user_active idx="2">on</user_active><user_host idx="2"></user_host>'
        '<user_name idx="2"></user_name></phone-settings></settings>'
    )
    [line] = PROFILE.to_state(PROFILE.parse_files("x.xml", xml, lambda _: None)).lines
    assert (line.index, line.enabled, line.emergency) == (1, False, [])


@pytest.mark.parametrize("answer", ["missing", "login-page"])
def test_settings_url_answering_otherwise_is_a_coverage_error(
    new_lab: NewLab, answer: str, tmp_path
) -> None:
    # /settings.xml is UNCONFIRMED (README): a phone that answers 404 or an HTML page there
    # must come out as coverage.error, never as a silently empty phone.
    from fleet.check import check_device
    from fleet.check import golden as golden_mod
    from fleet.model import DeviceResult

    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_settings_xml"] = answer

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    g = tmp_path / "g.yaml"
    g.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    res = DeviceResult("p", None, "phone", "snom", None, err.status, error=str(err))
    check_device(res, golden_mod.load(g), {})
    assert [(f.rule, f.severity) for f in res.findings] == [("coverage.error", "high")]
    assert "/settings.xml" in (res.error or "")


# FusionPBX resources/templates/provision/snom/820/{$mac}.xml: the XML dial plan.
XML_PLAN = """<settings><phone-settings>
<user_name idx="1">1001</user_name><user_host idx="1">pbx.example.com</user_host>
</phone-settings>
<dialplan>
<template Timeout="0" User="phone" match="0" rewrite="" scheme="sip"/>
<template Timeout="8" User="phone" match="1*" rewrite="" scheme="sip"/>
</dialplan></settings>"""


def test_xml_dialplan_is_handed_on_as_a_plan_no_engine_reads() -> None:
    state = PROFILE.to_state(PROFILE.parse_files("x.xml", XML_PLAN, lambda _: None))
    [line] = state.lines
    assert line.dialplan is not None and line.dialplan.syntax == "snom-xml"
    assert 'match="1*"' in line.dialplan.text and line.dialplan.source == "<dialplan>"
    assert state.dialplan == line.dialplan and state.notices == []
    # An empty <dialplan e="2"></dialplan> (FusionPBX snom/300) is no plan at all.
    empty = XML_PLAN.replace(XML_PLAN[XML_PLAN.index("<dialplan>") :], "<dialplan e='2'>")
    empty += "</dialplan></settings>"
    state = PROFILE.to_state(PROFILE.parse_files("x.xml", empty, lambda _: None))
    assert state.lines[0].dialplan.syntax == "snom" and state.dialplan is None


def test_xml_dialplan_beside_user_dp_str_is_uncertain() -> None:
    both = XML_PLAN.replace(
        "</phone-settings>",
        '<user_dp_str idx="1">!^999$!sip:999@\\d!d</user_dp_str></phone-settings>',
    )
    state = PROFILE.to_state(PROFILE.parse_files("x.xml", both, lambda _: None))
    assert state.lines[0].dialplan.syntax == "snom"
    assert [(n.rule, n.subject) for n in state.notices] == [("coverage.uncertain", "dialplan")]


def test_outbound_proxy_list_uses_the_first_proxy() -> None:
    # FusionPBX snom/D785: "<primary>:<port>;transport=udp,<secondary>:<port>;transport=udp"
    assert strip_uri("sbc1.example.com:5060;transport=udp,") == "sbc1.example.com:5060"
    assert strip_uri("sbc1.example.com:5060,sbc2.example.com:5060") == "sbc1.example.com:5060"


def test_container_listing_a_file_not_beside_it_is_a_coverage_notice() -> None:
    files = {
        "snomD785-000413A1B2C3.htm": '<setting-files><file url="http://p/000413A1B2C3.xml"/>'
        '<file url="http://p/dialplan.xml"/></setting-files>',
        "000413A1B2C3.xml": "<settings><phone-settings><user_host idx='1'>p</user_host>"
        "</phone-settings></settings>",
    }
    c = PROFILE.parse_files(
        "snomD785-000413A1B2C3.htm", files["snomD785-000413A1B2C3.htm"], files.get
    )
    assert [(n.rule, n.severity, n.subject) for n in c.notices] == [
        ("coverage.uncertain", "high", "dialplan.xml")
    ]


def test_listed_files_without_phone_settings_are_read() -> None:
    # <setting-files> may list a function-key file or a stand-alone <dialplan> file.
    files = {
        "m.htm": '<setting-files><file url="http://p/a.xml"/><file url="http://p/k.xml"/>'
        '<file url="http://p/d.xml"/></setting-files>',
        "a.xml": "<phone-settings><user_host idx='1'>p</user_host></phone-settings>",
        "k.xml": "<settings><functionKeys><fkey idx='0'>line</fkey></functionKeys></settings>",
        "d.xml": '<dialplan e="2"><TEMPLATE MATCH="999" Timeout="0" User="Phone"/></dialplan>',
    }
    state = PROFILE.to_state(PROFILE.parse_files("m.htm", files["m.htm"], files.get))
    assert state.dialplan is not None and 'MATCH="999"' in state.dialplan.text
