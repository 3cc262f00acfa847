"""Cisco MPP profile against its lab simulator: fetch, files round trip, and the failures an
operator meets after a firmware update (HTTPS-only admin pages, a page that is not XML)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from device_profiles.cisco_mpp.profile import PROFILE, provisioning_server
from device_profiles.cisco_mpp.simulator import export_files, https_only, uk_dial_plan
from fleet.collect.http import HttpPool
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import phone_host as _host


def _lab(tweak: Callable[[labfleet.LabFleet], None] | None = None) -> labfleet.LabFleet:
    # A loopback range of its own, so other labs may run at the same time.
    lab = labfleet.build(phones=6, profile_names=["cisco_mpp"], faults=False, net=77)
    if tweak:
        tweak(lab)
    return lab


async def _fetch_all(lab: labfleet.LabFleet, wanted: list[str]) -> list[Collected]:
    async with labfleet.running(lab), HttpPool() as pool:
        return [await PROFILE.fetch(_host(pool, s), wanted) for s in lab.phones]


async def _error(lab: labfleet.LabFleet, spec: LabPhone, **kw: str) -> DeviceError:
    async with labfleet.running(lab), HttpPool() as pool:
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


def test_fetch_reads_every_lab_phone_as_specified() -> None:
    lab = _lab()
    assert {s.scheme for s in lab.phones} == {"http", "https"}, "lab must mix firmware eras"
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        _assert_matches_spec(PROFILE.to_state(c), spec)
        assert c.params["Password_1_"] == spec.sip_password
        assert PROFILE.is_secret("Password_1_")


def test_wanted_raw_param_comes_back_with_device_value() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["Interdigit_Long_Timer"] = "7"

    lab = _lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, ["Interdigit_Long_Timer"]))
    assert first.params["Interdigit_Long_Timer"] == "7"
    assert PROFILE.to_state(first).raw["Interdigit_Long_Timer"] == "7"


def test_wrong_password_is_auth_failed() -> None:
    lab = _lab()
    err = asyncio.run(_error(lab, lab.phones[0], password="not-the-password"))
    assert isinstance(err, AuthFailed)


def test_exported_files_parse_back_to_the_fetched_state() -> None:
    lab = _lab()
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        files = export_files(lab.devices[spec.id])
        [(name, text)] = files.items()
        assert PROFILE.detect(text)
        from_file = PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))
        fetched = PROFILE.to_state(c)
        # A provisioning file holds no model or firmware; the MAC is in its name.
        assert (from_file.model, from_file.firmware, from_file.mac) == (None, None, spec.mac)
        from_file.model, from_file.firmware = fetched.model, fetched.firmware
        from_file.raw = fetched.raw = {}
        assert from_file == fetched


def test_https_only_phone_reached_over_http_says_use_https() -> None:
    lab = _lab()
    spec = next(s for s in lab.phones if https_only(s.firmware))
    err = asyncio.run(_error(lab, spec, scheme="http"))
    assert "https://" in str(err) and "12.0(3)" in str(err)


def test_https_only_phone_redirecting_http_says_use_https() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        for s in lab.phones:
            s.scheme = "http"  # as an inventory written before the 12.0(3) update would say

    lab = _lab(tweak)
    spec = next(s for s in lab.phones if https_only(s.firmware))
    err = asyncio.run(_error(lab, spec))
    assert type(err) is DeviceError
    assert "https://" in str(err)


def test_non_xml_answer_is_protocol_error() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_spacfg"] = "login-page"

    lab = _lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert isinstance(err, ProtocolError)
    assert "not the phone's XML flat profile" in str(err)


def test_web_admin_access_off_tells_operator() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["Enable_Web_Admin_Access"] = "No"

    lab = _lab(tweak)
    err = asyncio.run(_error(lab, lab.phones[1]))
    assert not isinstance(err, AuthFailed)
    assert "admin access" in str(err)


def test_no_sip_password_in_any_error_message() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[1].extra["_spacfg"] = "login-page"
        lab.phones[3].extra["Enable_Web_Admin_Access"] = "No"

    lab = _lab(tweak)

    async def errors() -> list[DeviceError]:
        out: list[DeviceError] = []
        async with labfleet.running(lab), HttpPool() as pool:
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


def test_malformed_file_names_file_and_line() -> None:
    text = "<flat-profile>\n<Proxy_1_>sip.example.com</Proxy_1_>\n<Dial_Plan_1_>(x</flat-profile>"
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("broken.xml", text, lambda _: None)
    assert info.value.file == "broken.xml" and info.value.line == 3


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
