"""The Poly profile against its lab simulator, and its file parser on its own. The round trip
of the exported files to the fetched state and the faults are the lab contract's
(test_lab_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from device_profiles.polycom import simulator
from device_profiles.polycom.profile import PROFILE
from fleet.collect.http import HttpPool
from fleet.errors import ConfigFileError, DeviceError
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab.spec import LabDevice, LabPhone
from fleet.model import Collected, DeviceState
from tests.conftest import make_lab
from tests.conftest import phone_host as _host

NewLab = Callable[..., labfleet.LabFleet]


def _extra(**params: str) -> Callable[[labfleet.LabFleet], None]:
    """A ``tweak`` setting raw parameters on the lab's first phone before it starts."""

    def tweak(lab: labfleet.LabFleet) -> None:
        lab.phones[0].extra.update(params)

    return tweak


def _run(
    lab: labfleet.LabFleet, body: Callable[[HttpPool, labfleet.LabFleet], Awaitable[Any]]
) -> Any:
    """``body`` against a lab already running (``lab_factory``)."""

    async def main() -> Any:
        async with HttpPool() as pool:
            return await body(pool, lab)

    return asyncio.run(main())


def _fetch_all(lab: labfleet.LabFleet, wanted: list[str]) -> dict[str, Collected]:
    async def body(pool: HttpPool, lab: labfleet.LabFleet) -> dict[str, Collected]:
        return {s.id: await PROFILE.fetch(_host(pool, s), wanted) for s in lab.phones}

    return _run(lab, body)


def _failure(lab: labfleet.LabFleet, spec: LabPhone, password: str | None = None) -> DeviceError:
    async def body(pool: HttpPool, lab: labfleet.LabFleet) -> DeviceError:
        with pytest.raises(DeviceError) as info:
            await PROFILE.fetch(_host(pool, spec, password), [])
        return info.value

    return _run(lab, body)


def test_fetch_reports_what_each_phone_holds(lab_factory: NewLab) -> None:
    lab = lab_factory(6, profile_names=["polycom"], faults=False)
    got = _fetch_all(lab, ["reg.1.label"])
    assert {s.firmware.split(".")[0] for s in lab.phones} >= {"5", "6", "7", "8"}
    for spec in lab.phones:
        c = got[spec.id]
        state = PROFILE.to_state(c)
        assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
        [line] = state.lines
        assert line.registrar == spec.registrar
        assert line.outbound_proxy == spec.outbound_proxy
        assert line.user == spec.sip_user
        assert [e.number for e in line.emergency] == spec.emergency_numbers
        assert {e.route for e in line.emergency} == {spec.emergency_route}
        assert {e.route_source for e in line.emergency} == {"dialplan.routing.server.1.address"}
        assert line.dialplan is not None and line.dialplan.syntax == "mgcp"
        assert line.dialplan.text.split("|")[:2] == spec.emergency_numbers
        assert state.provisioning_server == spec.provisioning_server
        assert state.location_source == "ELIN"
        assert c.params["reg.1.label"] == spec.sip_user  # a `wanted` raw parameter
        assert "reg.1.auth.password" not in c.params  # the crawler never asks for secrets


def test_device_info_v2_only_firmware_is_read(lab_factory: NewLab) -> None:
    lab = lab_factory(4, profile_names=["polycom"], faults=False)
    edge = next(s for s in lab.phones if s.model.startswith("Edge"))
    got = _fetch_all(lab, [])[edge.id]
    assert "GET /api/v2/mgmt/device/info" in got.sources
    assert got.identity == {"model": edge.model, "firmware": edge.firmware, "mac": edge.mac}


def test_a_sweep_costs_few_round_trips(lab_factory: NewLab) -> None:
    lab = lab_factory(3, profile_names=["polycom"], faults=False)
    _fetch_all(lab, [])
    # 401 challenge + device/info + four config/get calls of at most 20 names each (the
    # fourth since LLDP's switch is read: a location source must be proven over the network)
    assert all(dev.requests <= 6 for dev in lab.devices.values())


def test_seeded_emergency_faults_show_in_the_state(lab_factory: NewLab) -> None:
    lab = lab_factory(6, profile_names=["polycom"], faults=True)
    lost = next(s for s in lab.phones if s.extra.get("_fault") == "lost-112")
    moved = next(s for s in lab.phones if s.extra.get("_fault") == "decommissioned-route")
    broken = next(s for s in lab.phones if s.fault == "http500")
    healthy = [s for s in lab.phones if s not in (lost, moved, broken)]

    async def body(pool: HttpPool, lab: labfleet.LabFleet) -> dict[str, DeviceState]:
        out = {}
        for s in [lost, moved, *healthy]:
            out[s.id] = PROFILE.to_state(await PROFILE.fetch(_host(pool, s), []))
        with pytest.raises(DeviceError, match="HTTP 500"):
            await PROFILE.fetch(_host(pool, broken), [])
        return out

    states = _run(lab, body)
    lost_line = states[lost.id].lines[0]
    assert [e.number for e in lost_line.emergency] == ["999"]
    assert "112" not in lost_line.dialplan.text.split("|")
    assert {e.route for e in states[moved.id].lines[0].emergency} == {f"{lab.decommissioned}:5060"}


def test_rest_api_disabled_tells_how_to_enable_it(lab_factory: NewLab) -> None:
    tweak = _extra(**{"apps.restapi.enabled": "0"})
    lab = lab_factory(1, profile_names=["polycom"], faults=False, tweak=tweak)
    spec = lab.phones[0]
    err = _failure(lab, spec)
    assert type(err) is DeviceError
    assert 'apps.restapi.enabled="1"' in str(err)
    assert spec.sip_password not in str(err)


def test_config_get_error_status_is_reported(lab_factory: NewLab) -> None:
    tweak = _extra(_config_get_status="4001")
    lab = lab_factory(1, profile_names=["polycom"], faults=False, tweak=tweak)
    spec = lab.phones[0]
    err = _failure(lab, spec)
    assert "Status 4001" in str(err) and "busy" in str(err)
    assert spec.sip_password not in str(err) and spec.admin_password not in str(err)


def test_exported_files_are_a_master_and_the_files_it_lists(tmp_path: Path) -> None:
    # that they read back as the fetched state is the lab contract's (test_lab_contract.py)
    sim = registry.phone("polycom")
    for spec in make_lab(tmp_path, 4, profile_names=["polycom"], faults=False).fleet.phones:
        files = simulator.export_files(LabDevice(spec, sim.render(spec)))
        master = f"{spec.mac}.cfg"
        assert PROFILE.detect(files[master])
        assert PROFILE.includes(master, files[master])[-1] == f"{spec.mac}-fleet.cfg"
        from_files = PROFILE.to_state(PROFILE.parse_files(master, files[master], files.get))
        assert from_files.mac == spec.mac and from_files.model is None
        assert from_files.raw["reg.1.auth.password"] == spec.sip_password
        assert PROFILE.is_secret("reg.1.auth.password")


# ---------------------------------------------------------------- files only

MASTER = (
    '<APPLICATION APP_FILE_PATH="sip.ld" '
    'CONFIG_FILES="http://prov.example/[PHONE_MAC_ADDRESS]-reg.cfg, site.cfg"/>'
)
SITE = (
    '<polycomConfig><reg reg.1.address="2001" reg.1.server.1.address="site-pbx"/>'
    '<dialplan dialplan.digitmap="999|112" dialplan.routing.emergency.1.value="999"/>'
    "</polycomConfig>"
)
REG = '<phone1><reg reg.1.server.1.address="pbx" reg.1.server.1.port="5060"/></phone1>'
WEB = '<WEB_CONFIG><OVERRIDES dialplan.routing.emergency.1.value="999,112"/></WEB_CONFIG>'


def test_master_precedence_first_listed_file_and_overrides_win() -> None:
    files = {
        "0004f2abcdef-reg.cfg": REG,
        "site.cfg": SITE,
        "0004f2abcdef-web.cfg": WEB,
    }
    c = PROFILE.parse_files("0004F2ABCDEF.cfg", MASTER, files.get)
    state = PROFILE.to_state(c)
    assert state.mac == "0004f2abcdef"
    assert state.lines[0].registrar == "pbx:5060"
    assert [e.number for e in state.lines[0].emergency] == ["999", "112"]
    # The phone's own override files come first; the listed ones with the MAC filled in.
    assert PROFILE.includes("0004f2a1b2c3.cfg", MASTER) == [
        "0004f2a1b2c3-phone.cfg",
        "0004f2a1b2c3-web.cfg",
        "0004f2a1b2c3-reg.cfg",
        "site.cfg",
    ]


def test_missing_emergency_server_falls_back_to_the_line_path() -> None:
    proxied = SITE.replace("/>", ' reg.1.outboundProxy.address="sbc"/>', 1)
    state = PROFILE.to_state(PROFILE.parse_files("x.cfg", proxied, lambda n: None))
    [entry] = state.lines[0].emergency
    assert (entry.route, entry.route_source) == ("sbc", "reg.1.outboundProxy.address")


# FusionPBX's current VVX templates (resources/templates/provision/polycom/6.x/{$mac}.cfg):
# root <PHONE>, and an <ALERT_INFO> element that sets voIpProt.SIP.alertInfo.3.class twice.
FUSION_DUPLICATE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    "<PHONE>\n"
    '\t<REGISTRATION reg.1.address="2001@pbx" reg.1.auth.password="s3cret"/>\n'
    "\t<ALERT_INFO\n"
    '\t\tvoIpProt.SIP.alertInfo.1.value="paging" voIpProt.SIP.alertInfo.3.class="paging"\n'
    '\t\tvoIpProt.SIP.alertInfo.5.value="1" voIpProt.SIP.alertInfo.3.class="custom1"\n'
    "\t/>\n"
    "</PHONE>\n"
)


def test_fusionpbx_phone_root_is_a_poly_file() -> None:
    assert PROFILE.detect(FUSION_DUPLICATE)
    assert PROFILE.detect(FUSION_DUPLICATE.replace("alertInfo.3.class", "alertInfo.9.class", 1))


def test_repeated_attribute_is_an_error_naming_file_line_column_and_key() -> None:
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("0004f2000003.cfg", FUSION_DUPLICATE, lambda n: None)
    e = info.value
    assert (e.file, e.line) == ("0004f2000003.cfg", 6)
    assert "column 38" in str(e) and "'voIpProt.SIP.alertInfo.3.class'" in str(e)
    assert "custom1" not in str(e) and "s3cret" not in str(e)


def test_repeated_attribute_in_a_listed_file_names_that_file() -> None:
    master = '<APPLICATION CONFIG_FILES="site.cfg"/>'
    with pytest.raises(ConfigFileError) as info:
        PROFILE.parse_files("0004f2000003.cfg", master, {"site.cfg": FUSION_DUPLICATE}.get)
    assert (info.value.file, info.value.line) == ("site.cfg", 6)


def test_parameter_repeated_on_two_elements_is_reported() -> None:
    text = (
        '<polycomConfig>\n<a dialplan.digitmap="999|112"/>\n<b dialplan.digitmap="x.T"/>\n'
        "</polycomConfig>"
    )
    c = PROFILE.parse_files("site.cfg", text, lambda n: None)
    [notice] = c.notices
    assert (notice.rule, notice.subject) == ("coverage.uncertain", "dialplan.digitmap")
    assert "lines 2, 3" in notice.message and "999" not in notice.message


# The vendor's sip.cfg (wazo-provd-plugins plugins/wazo_polycom/v3_2_4B/var/tftpboot/sip.cfg):
# a device-wide plan and no SIP line.
VENDOR_SIP = (
    '<sip><dialplan dialplan.impossibleMatchHandling="0" dialplan.removeEndOfDial="1" '
    'dialplan.digitmap="[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx|[2-9]xxxT" '
    'dialplan.digitmap.timeOut="3|3|3|3|3|3"><routing><server '
    'dialplan.routing.server.1.address="" dialplan.routing.server.1.port="5060"/><emergency '
    'dialplan.routing.emergency.1.value="911" dialplan.routing.emergency.1.server.1="1"/>'
    "</routing></dialplan></sip>"
)


def test_device_wide_plan_is_filled_without_a_line() -> None:
    from fleet import dialplan

    state = PROFILE.to_state(PROFILE.parse_files("sip.cfg", VENDOR_SIP, lambda n: None))
    assert state.lines == []
    plan = state.dialplan
    assert plan is not None and plan.source == "dialplan.digitmap"
    assert plan.options["dialplan.impossibleMatchHandling"] == "0"
    assert plan.options["dialplan.digitmap.timeOut"] == "3|3|3|3|3|3"
    res = dialplan.evaluate_plan(plan, "112")
    assert res is not None and (res.outcome, res.sent) == ("dial", "11")


def test_a_file_without_any_digit_map_claims_no_plan() -> None:
    # Absent is not empty: the firmware's own default applies, which fleet does not assume.
    text = '<polycomConfig reg.1.address="2001" reg.1.server.1.address="pbx"/>'
    state = PROFILE.to_state(PROFILE.parse_files("x.cfg", text, lambda n: None))
    assert state.dialplan is None and state.lines[0].dialplan is None
    empty = text.replace("/>", ' dialplan.digitmap=""/>')
    state = PROFILE.to_state(PROFILE.parse_files("x.cfg", empty, lambda n: None))
    assert state.dialplan is not None and state.dialplan.text == ""
    assert state.lines[0].dialplan == state.dialplan


# FusionPBX resources/templates/provision/polycom/650/{$mac}.cfg: model-specific lists.
MODEL_MASTER = (
    '<!-- <APPLICATION_SPIP320 CONFIG_FILES_SPIP320="commented.cfg"/> -->\n'
    '<APPLICATION APP_FILE_PATH="sip.ld" CONFIG_FILES="0004f2000001-registration.cfg, '
    'phone1.cfg, sip.cfg, custom.cfg">\n'
    '<APPLICATION_VVX1500 CONFIG_FILES_VVX1500="phone1.cfg, sip.cfg"/>\n'
    '<APPLICATION_SPIP300 APP_FILE_PATH_SPIP300="sip_212.ld" '
    'CONFIG_FILES_SPIP300="phone1_212.cfg, sip_212.cfg"/>\n'
    "</APPLICATION>"
)


def test_includes_lists_every_config_files_entry() -> None:
    assert PROFILE.includes("0004f2000001.cfg", MODEL_MASTER) == [
        "0004f2000001-phone.cfg",
        "0004f2000001-web.cfg",
        "0004f2000001-registration.cfg",
        "phone1.cfg",
        "sip.cfg",
        "custom.cfg",
        "phone1_212.cfg",
        "sip_212.cfg",
    ]
    # the default master keeps the placeholder: each phone fills in its own MAC
    wazo = '<APPLICATION CONFIG_FILES="[PHONE_MAC_ADDRESS]-user.cfg, common.cfg"/>'
    assert PROFILE.includes("000000000000.cfg", wazo) == [
        "[PHONE_MAC_ADDRESS]-user.cfg",
        "common.cfg",
    ]


def test_model_lists_and_missing_files_are_reported() -> None:
    files = {n: SITE for n in ("phone1.cfg", "sip.cfg", "custom.cfg")}
    c = PROFILE.parse_files("0004f2000001.cfg", MODEL_MASTER, files.get)
    assert c.sources[1] == "0004f2000001-registration.cfg (missing)"
    got = {(n.rule, n.subject) for n in c.notices}
    assert got == {
        ("coverage.uncertain", "0004f2000001-registration.cfg"),
        ("coverage.uncertain", "CONFIG_FILES"),
    }
    model = next(n for n in c.notices if n.subject == "CONFIG_FILES")
    assert "SPIP300, VVX1500" in model.message
