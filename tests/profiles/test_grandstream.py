"""Grandstream profile against its lab simulator: web API login and reads, the files round trip,
the login lockout, firmware without the API, and each dial-plan fault seen by a UK sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from device_profiles.grandstream.profile import PROFILE, _answer, provisioning_server
from device_profiles.grandstream.simulator import FAULT_EXPECT, FAULTS, export_files
from fleet.check.emergency import check_phone
from fleet.check.golden import EmergencyPolicy
from fleet.collect.http import HttpPool, HttpReply
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import phone_host as _host

UK = EmergencyPolicy(
    numbers=["999", "112"],
    max_dial_delay_s=0,
    phone_route=[f"127.73.255.{k}" for k in (1, 2, 3)],
    prefixes=["9"],
)


def _lab(tweak: Callable[[labfleet.LabFleet], None] | None = None) -> labfleet.LabFleet:
    lab = labfleet.build(phones=6, profile_names=["grandstream"], faults=False, net=73)
    if tweak:
        tweak(lab)
    return lab


async def _fetch_all(lab: labfleet.LabFleet, wanted: list[str]) -> list[Collected]:
    async with labfleet.running(lab), HttpPool() as pool:
        return [await PROFILE.fetch(_host(pool, s), wanted) for s in lab.phones]


async def _errors(lab: labfleet.LabFleet, attempts: list[tuple[LabPhone, str | None]]) -> list:
    out: list[DeviceError | None] = []
    async with labfleet.running(lab), HttpPool() as pool:
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


def test_fetch_reads_every_lab_phone_as_specified() -> None:
    lab = _lab()
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        state = PROFILE.to_state(c)
        _assert_matches_spec(state, spec)
        assert check_phone(state, UK) == [], "the lab's default plan must pass the UK golden"
        # The SIP password is never read over the API, and would be redacted if it were.
        assert spec.sip_password not in str(c.params)
        assert PROFILE.is_secret("P34") and PROFILE.is_secret("P406")


def test_identity_behind_login_is_read_after_login() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["_identity"] = "login"

    lab = _lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, []))
    spec = lab.phones[0]
    assert first.identity == {
        "model": spec.model,
        "firmware": spec.firmware,
        "mac": "00:0B:82:00:00:01",
    }
    assert PROFILE.to_state(first).mac == spec.mac


def test_wanted_raw_param_comes_back_with_device_value() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra["P1362"] = "en"

    lab = _lab(tweak)
    [first, *_] = asyncio.run(_fetch_all(lab, ["P1362"]))
    assert first.params["P1362"] == "en"
    assert PROFILE.to_state(first).raw["P1362"] == "en"


def test_wrong_password_is_auth_failed_and_says_not_retried() -> None:
    lab = _lab()
    [err] = asyncio.run(_errors(lab, [(lab.phones[0], "not-the-password")]))
    assert isinstance(err, AuthFailed)
    assert "did not retry" in str(err)
    # One refused login costs the phone one failure, not several.
    assert lab.devices[lab.phones[0].id].sessions["grandstream"]["failures"] == 1


def test_locked_out_phone_says_so_even_with_the_right_password() -> None:
    lab = _lab()
    spec = lab.phones[1]
    attempts = [(spec, "wrong")] * 5 + [(spec, None)]
    errors = asyncio.run(_errors(lab, attempts))
    assert all(isinstance(e, AuthFailed) for e in errors)
    assert "locked" in str(errors[-1]) and "inventory" in str(errors[-1])


def test_firmware_without_web_api_tells_operator_to_audit_files() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[2].extra["_api"] = "none"

    lab = _lab(tweak)
    [err] = asyncio.run(_errors(lab, [(lab.phones[2], None)]))
    assert type(err) is DeviceError
    assert "no web API" in str(err) and "provisioning file" in str(err)


def test_no_password_in_any_error_message() -> None:
    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[2].extra["_api"] = "none"

    lab = _lab(tweak)
    attempts = [(lab.phones[0], "wrong"), (lab.phones[2], None)]
    attempts += [(lab.phones[3], "wrong")] * 5 + [(lab.phones[3], None)]
    errors = asyncio.run(_errors(lab, attempts))
    assert all(errors)
    for err in errors:
        for spec in lab.phones:
            assert spec.sip_password not in str(err)
            assert spec.admin_password not in str(err)


def test_exported_files_parse_back_to_the_fetched_state() -> None:
    lab = _lab()
    collected = asyncio.run(_fetch_all(lab, []))
    for spec, c in zip(lab.phones, collected, strict=True):
        [(name, text)] = export_files(lab.devices[spec.id]).items()
        assert name == f"cfg{spec.mac}.xml" and PROFILE.detect(text)
        from_file = PROFILE.to_state(PROFILE.parse_files(name, text, lambda _: None))
        fetched = PROFILE.to_state(c)
        # A provisioning file holds no model or firmware; it names its MAC.
        assert (from_file.model, from_file.firmware, from_file.mac) == (None, None, spec.mac)
        from_file.model, from_file.firmware = fetched.model, fetched.firmware
        from_file.raw = fetched.raw = {}
        assert from_file == fetched
        assert "P34" in PROFILE.parse_files(name, text, lambda _: None).params


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_gives_the_expected_uk_findings(fault: str) -> None:
    lab = _lab()
    labfleet.apply_fault(lab.phones[0], fault)
    [first, *_] = asyncio.run(_fetch_all(lab, []))
    found = {(f.rule, f.subject) for f in check_phone(PROFILE.to_state(first), UK)}
    assert found == set(FAULT_EXPECT[fault])


def test_provisioning_server_from_p237_and_p212() -> None:
    assert provisioning_server("prov.example.com/gs/", "2") == "https://prov.example.com/gs"
    assert provisioning_server("192.0.2.5", "0") == "tftp://192.0.2.5"
    assert provisioning_server("http://prov.example.com/x", "2") == "http://prov.example.com/x"
    assert provisioning_server("prov.example.com", None) == "prov.example.com"
    assert provisioning_server(None, "1") is None


def test_malformed_xml_names_file_and_line() -> None:
    text = '<gs_provision version="1">\n<config version="1">\n<P47>x</P4>\n</config></gs_provision>'
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("cfg.xml", text, lambda _: None)
    assert info.value.file == "cfg.xml" and info.value.line == 3


def test_xml_version_2_is_refused_with_advice() -> None:
    text = (
        '<gs_provision><config version="2"><item name="account.1.sip.server"/></config>'
        "</gs_provision>"
    )
    with pytest.raises(ConfigFileError, match="version 1"):
        PROFILE.parse_files("cfg.xml", text, lambda _: None)


def test_text_form_bad_line_is_named() -> None:
    text = "# Account 1\nP271 = 1\nP47 sip.example.com\n"
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("gs.txt", text, lambda _: None)
    assert info.value.line == 3


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
