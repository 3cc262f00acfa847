"""Cisco MPP profile against its lab simulator: fetch, the exported file, and the failures an
operator meets after a firmware update (HTTPS-only admin pages, a page that is not XML). The
round trip to the fetched state and the faults are the lab contract's (test_lab_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from device_profiles.cisco_mpp.profile import PROFILE, provisioning_server
from device_profiles.cisco_mpp.simulator import export_files, https_only, uk_dial_plan
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
    """A running lab of six cisco_mpp phones of its own (``running_lab``), ``tweak``ed first."""

    def make(tweak: Callable[[labfleet.LabFleet], None] | None = None) -> labfleet.LabFleet:
        return lab_factory(6, profile_names=["cisco_mpp"], faults=False, tweak=tweak)

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
    assert (state.vendor, state.profile) == ("Cisco", "cisco_mpp")
    assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
    assert state.provisioning_server == spec.provisioning_server
    [line] = [ln for ln in state.lines if ln.enabled]
    assert (line.registrar, line.outbound_proxy, line.user) == (
        spec.registrar,
        spec.outbound_proxy,
        spec.sip_user,
    )
    assert [e.number for e in line.emergency] == spec.emergency_numbers
    # No separate emergency route on MPP: 999/112 leave through the outbound proxy.
    assert {(e.route, e.route_source) for e in line.emergency} == {
        (spec.emergency_route, "Outbound_Proxy_1_")
    }
    assert line.dialplan is not None and line.dialplan.syntax == "cisco"
    assert "999S0" in line.dialplan.text and "<9:>112S0" in line.dialplan.text
    assert line.dialplan.options["Interdigit_Short_Timer"] == "3"


def test_fetch_reads_every_lab_phone_as_specified(new_lab: NewLab) -> None:
    lab = new_lab()
    assert {s.scheme for s in lab.phones} == {"http", "https"}, "lab must mix firmware eras"
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        _assert_matches_spec(PROFILE.to_state(c), spec)
        assert c.params["Password_1_"] == spec.sip_password
        assert PROFILE.is_secret("Password_1_")


def test_wanted_raw_param_comes_back_with_device_value(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["Interdigit_Long_Timer"] = "7"

    lab = new_lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, ["Interdigit_Long_Timer"]))
    assert first.params["Interdigit_Long_Timer"] == "7"
    assert PROFILE.to_state(first).raw["Interdigit_Long_Timer"] == "7"


def test_an_exported_file_holds_no_model_or_firmware_and_names_its_mac(tmp_path: Path) -> None:
    # that it reads back as the fetched state is the lab contract's (test_lab_contract.py)
    sim = registry.phone("cisco_mpp")
    for spec in make_lab(tmp_path, 6, profile_names=["cisco_mpp"], faults=False).fleet.phones:
        [(name, text)] = export_files(LabDevice(spec, sim.render(spec))).items()
        assert PROFILE.detect(text)
        from_file = PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))
        assert (from_file.model, from_file.firmware, from_file.mac) == (None, None, spec.mac)


def test_https_only_phone_reached_over_http_says_use_https(new_lab: NewLab) -> None:
    lab = new_lab()
    spec = next(s for s in lab.phones if https_only(s.firmware))
    err = asyncio.run(_error(lab, spec, scheme="http"))
    assert "https://" in str(err) and "12.0(3)" in str(err)


def test_https_only_phone_redirecting_http_says_use_https(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        for s in lab.phones:
            s.scheme = "http"  # as an inventory written before the 12.0(3) update would say

    lab = new_lab(tweak)
    spec = next(s for s in lab.phones if https_only(s.firmware))
    err = asyncio.run(_error(lab, spec))
    assert type(err) is DeviceError
    assert "https://" in str(err)


def test_non_xml_answer_is_protocol_error(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_spacfg"] = "login-page"

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert isinstance(err, ProtocolError)
    assert "not the phone's XML flat profile" in str(err)


def test_web_admin_access_off_tells_operator(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["Enable_Web_Admin_Access"] = "No"

    lab = new_lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert not isinstance(err, AuthFailed)
    assert "admin access" in str(err)


def test_no_sip_password_in_any_error_message(new_lab: NewLab) -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_spacfg"] = "login-page"
        lab.phones[3].extra["Enable_Web_Admin_Access"] = "No"

    lab = new_lab(tweak)

    async def errors() -> list[DeviceError]:
        out: list[DeviceError] = []
        async with HttpPool() as pool:
            for spec, kw in [
                (lab.phones[0], {"password": "wrong"}),
                (lab.phones[0], {"scheme": "http"}),
                (lab.phones[1], {}),
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


def test_lab_dial_plan_dials_each_emergency_number_alone_and_after_nine() -> None:
    plan = uk_dial_plan(["999", "112"])
    patterns = plan.strip("()").split("|")
    for n in ("999", "112"):
        assert f"{n}S0" in patterns and f"<9:>{n}S0" in patterns


def test_provisioning_server_drops_options_and_file_name() -> None:
    rule = "[--key $B] https://prov.example.com:8443/cisco/$PSN.xml"
    assert provisioning_server(rule) == "https://prov.example.com:8443/cisco"
    assert provisioning_server("http://prov.example.com") == "http://prov.example.com"
    assert provisioning_server("") is None


def test_line_without_registrar_or_user_is_not_a_line() -> None:
    text = (
        "<flat-profile><Proxy_1_>sip.example.com</Proxy_1_><User_ID_1_>10</User_ID_1_>"
        "<Use_Outbound_Proxy_1_>No</Use_Outbound_Proxy_1_>"
        "<Outbound_Proxy_1_>unused.example.com</Outbound_Proxy_1_>"
        "<Emergency_Number_1_>999, 112</Emergency_Number_1_>"
        "<Line_Enable_2_>Yes</Line_Enable_2_><Proxy_2_/><User_ID_2_/></flat-profile>"
    )
    state = PROFILE.to_state(PROFILE.parse_files("x.xml", text, lambda _: None))
    [line] = state.lines
    assert line.outbound_proxy is None
    assert [(e.number, e.route, e.route_source) for e in line.emergency] == [
        ("999", "sip.example.com", "Proxy_1_"),
        ("112", "sip.example.com", "Proxy_1_"),
    ]


def _state(text: str, name: str = "x.xml", siblings: dict[str, str] | None = None) -> DeviceState:
    files = siblings or {}
    return PROFILE.to_state(PROFILE.parse_files(name, text, files.get))


HAND_WRITTEN = (
    '<?xml version="1.0"?>\n<flat-profile>\n<Proxy_1_>sip.example.com</Proxy_1_>\n'
    "<User_ID_1_>2001</User_ID_1_>\n<Password_1_>s3cret-pw</Password_1_>\n"
    "<Emergency_Number_1_>999,112</Emergency_Number_1_>\n"
    "<Dial_Plan_1_>(999S0|112S0|<9:>999S0|<9:>112S0|[2-8]xxx)</Dial_Plan_1_>\n"
    "</flat-profile>\n"
)


def test_unescaped_dial_plan_is_read_with_a_malformed_notice() -> None:
    # Hand-written profiles often carry <9:> raw inside <Dial_Plan_1_>: invalid XML. The
    # element's text is read as written, and the file and line are named.
    c = PROFILE.parse_files("hand.xml", HAND_WRITTEN, lambda _: None)
    [notice] = c.notices
    assert (notice.rule, notice.severity, notice.subject) == (
        "config.malformed",
        "medium",
        "Dial_Plan_1_",
    )
    assert notice.evidence == ["hand.xml:7"] and "hand.xml line 7" in notice.message
    assert "s3cret-pw" not in notice.message
    state = PROFILE.to_state(c)
    [line] = state.lines
    assert line.dialplan is not None
    assert line.dialplan.text == "(999S0|112S0|<9:>999S0|<9:>112S0|[2-8]xxx)"
    assert [n.rule for n in state.notices] == ["config.malformed"]


def test_unescaped_dial_plan_does_not_hide_other_xml_errors() -> None:
    text = HAND_WRITTEN.replace("<User_ID_1_>2001</User_ID_1_>", "<User_ID_1_>2001")
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("hand.xml", text, lambda _: None)
    assert info.value.file == "hand.xml" and info.value.line is not None


def test_line_counts_only_when_enabled_with_a_user_id() -> None:
    text = (
        "<flat-profile>"
        "<Proxy_1_>sip.example.com</Proxy_1_><User_ID_1_>2001</User_ID_1_>"  # default: Yes
        "<Line_Enable_2_>Yes</Line_Enable_2_><Proxy_2_>sip.example.com</Proxy_2_>"
        "<User_ID_2_></User_ID_2_><Emergency_Number_2_>999</Emergency_Number_2_>"
        "<Line_Enable_3_>No</Line_Enable_3_><Proxy_3_>sip.example.com</Proxy_3_>"
        "<User_ID_3_>2003</User_ID_3_>"
        "<Emergency_Number_1_>999</Emergency_Number_1_></flat-profile>"
    )
    state = _state(text)
    assert [(ln.index, ln.enabled) for ln in state.lines] == [(1, True), (2, False), (3, False)]
    assert state.lines[1].emergency == []  # a line without a user places no call
    assert state.normalised()["lines"] == "1"


def test_spa_without_emergency_number_setting_is_a_limitation() -> None:
    text = (
        "<flat-profile><Proxy_1_>sip.example.com</Proxy_1_><User_ID_1_>2001</User_ID_1_>"
        "<Dial_Plan_1_>(999S0|112S0)</Dial_Plan_1_></flat-profile>"
    )
    state = _state(text)
    assert state.emergency_setting is False
    [notice] = state.notices
    assert (notice.rule, notice.severity) == ("config.limitation", "info")
    assert "no Emergency Number setting" in notice.message
    # Present but blank: a setting left empty, as before.
    blank = _state(
        text.replace(
            "</flat-profile>", "<Emergency_Number_1_></Emergency_Number_1_></flat-profile>"
        )
    )
    assert blank.emergency_setting is True and blank.notices == []
    assert blank.lines[0].emergency == []


def test_mpp_dump_without_emergency_number_keeps_the_setting() -> None:
    # An MPP 3PCC phone has the setting; a dump naming the model cannot be older SPA firmware.
    text = (
        "<flat-profile><Product_Name>CP-7841-3PCC</Product_Name>"
        "<Proxy_1_>sip.example.com</Proxy_1_><User_ID_1_>2001</User_ID_1_></flat-profile>"
    )
    assert _state(text).emergency_setting is True


def test_empty_element_form_leaves_the_value_unchanged() -> None:
    # SPA provisioning guide: <X/> leaves the current value, <X></X> sets it empty.
    text = (
        "<flat-profile><Proxy_1_>sip.example.com</Proxy_1_><User_ID_1_>2001</User_ID_1_>"
        '<Dial_Plan_1_ ua="rw"/><Emergency_Number_1_>999</Emergency_Number_1_></flat-profile>'
    )
    state = _state(text)
    assert state.lines[0].dialplan is None
    assert "Dial_Plan_1_" not in state.raw


def test_profile_rule_b_file_is_included_and_applied_over_the_master() -> None:
    master = (
        "<flat-profile><Profile_Rule_B>http://10.0.0.1/cp-phone.xml</Profile_Rule_B>"
        "<Profile_Rule_C>http://10.0.0.1/$MA.xml</Profile_Rule_C>"
        "<Dial_Plan_1_>(x.)</Dial_Plan_1_></flat-profile>"
    )
    common = "<flat-profile><Dial_Plan_1_>(999S0|112S0)</Dial_Plan_1_></flat-profile>"
    assert PROFILE.includes("CP-8851-3PCC.cfg", master) == ["cp-phone.xml"]
    state = _state(master, "CP-8851-3PCC.cfg", {"cp-phone.xml": common})
    assert state.dialplan is not None and state.dialplan.text == "(999S0|112S0)"
    missing = _state(master, "CP-8851-3PCC.cfg")
    assert any(
        n.rule == "coverage.uncertain" and n.subject == "Profile_Rule_B" for n in missing.notices
    )
