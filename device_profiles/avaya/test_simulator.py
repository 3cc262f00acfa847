"""The lab's Avaya file server: what it serves (the boot files and the phone's own
``<mac>.cfg``), and that each seeded fault reads back, from the exported files, as the
findings the simulator promises (tests/profiles/test_lab_contract.py walks the same list over
the network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles.avaya import simulator as sim
from fleet import profiles
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabDevice, LabPhone, LabRequest


def _spec(fault: str | None = None) -> LabPhone:
    lab = labfleet.build(6, faults=False, profile_names=["avaya"], net=201, sbcs=False)
    spec = lab.phones[0]
    if fault:
        labfleet.apply_fault(spec, fault)
    return spec


def _device(fault: str | None = None) -> LabDevice:
    spec = _spec(fault)
    return LabDevice(spec=spec, config=sim.render(spec))


def _get(dev: LabDevice, path: str, method: str = "GET") -> tuple[int, str]:
    res = sim.handle(dev, LabRequest(method, path, {}, {}, b""))
    body = res.body if isinstance(res.body, str) else res.body.decode()
    return res.status, body


def test_serves_the_upgrade_file_the_settings_and_the_phones_own_file() -> None:
    dev = _device()
    status, upgrade = _get(dev, "/J100Supgrade.txt")
    assert status == 200
    assert upgrade.splitlines()[1:] == [
        "SET APPNAME FW_S_J179_R4_1_3_0_6.bin",
        "GET 46xxsettings.txt",
    ]
    status, settings = _get(dev, "/46xxsettings.txt")
    assert status == 200 and "SET PHNEMERGNUM 999" in settings
    assert "SET PHNMOREEMERGNUMS 112" in settings
    assert settings.splitlines()[-2:] == ["GET $MACADDR.cfg", "# END"]
    # the account lives in the per-phone file, named by the MAC (lower case, no separators)
    assert dev.spec.sip_password not in settings and "SIP_USER" not in settings
    status, own = _get(dev, f"/{dev.spec.mac}.cfg")
    assert status == 200
    assert f"SET FORCE_SIP_PASSWORD {dev.spec.sip_password}" in own
    assert f"SET SIP_USER_ID {dev.spec.sip_user}" in own
    assert _get(dev, "/c81fea999999.cfg")[0] == 404
    assert _get(dev, f"/{dev.spec.mac.upper()}.cfg")[0] == 404
    assert _get(dev, "/46xxsettings.txt", "POST")[0] == 405


def test_exported_files_read_back_as_the_spec() -> None:
    dev = _device()
    files = sim.export_files(dev)
    assert sorted(files) == sorted([sim.UPGRADE, sim.SETTINGS, f"{dev.spec.mac}.cfg"])
    prof = profiles.get("avaya")
    assert prof.parse_files is not None and prof.to_state is not None
    # the per-phone file is the device; its boot files beside it are read first
    name = f"{dev.spec.mac}.cfg"
    c = prof.parse_files(name, files[name], files.get)
    assert c.notices == []
    assert c.sources == [sim.UPGRADE, sim.SETTINGS, name]
    s = prof.to_state(c)
    assert (s.model, s.firmware, s.mac) == (dev.spec.model, dev.spec.firmware, dev.spec.mac)
    [line] = s.lines
    assert line.registrar == dev.spec.emergency_route and line.user == dev.spec.sip_user
    assert [e.number for e in line.emergency] == ["999", "112"]
    assert line.dialplan is not None and line.dialplan.syntax == "avaya"


def test_without_the_mac_the_settings_file_alone_says_so() -> None:
    files = sim.export_files(_device())
    prof = profiles.get("avaya")
    assert prof.parse_files is not None
    c = prof.parse_files(sim.UPGRADE, files[sim.UPGRADE], files.get)
    assert [(n.rule, n.subject) for n in c.notices] == [("coverage.uncertain", "$MACADDR.cfg")]
    assert "FORCE_SIP_PASSWORD" not in c.params


@pytest.fixture(scope="module")
def uk(tmp_path_factory: pytest.TempPathFactory) -> golden_mod.Golden:
    path = tmp_path_factory.mktemp("golden") / "golden.yaml"
    path.write_text("fleet_golden: 1\nname: avaya-lab\npolicy: [uk]\n")
    return golden_mod.load(path)


@pytest.mark.parametrize("fault", sorted(sim.FAULT_EXPECT | sim.NOTICE_EXPECT))
def test_each_fault_is_found_in_the_exported_files(
    fault: str, uk: golden_mod.Golden, tmp_path: Path
) -> None:
    for name, text in sim.export_files(_device(fault)).items():
        (tmp_path / name).write_text(text)
    snap = audit([tmp_path], uk)
    [res] = snap.results
    assert res.status == "audited", res.error
    found = {(f.rule, f.subject) for f in res.findings}
    expect = sim.FAULT_EXPECT.get(fault) or sim.NOTICE_EXPECT[fault]
    # this golden has no outside-line prefix: the prefixed forms (9999, 9112) are the lab
    # contract's, proven through the SBC (tests/profiles/test_lab_contract.py)
    unprefixed = {(r, s) for r, s in expect if s not in ("9999", "9112")}
    assert unprefixed <= found, res.findings


def test_the_demo_seeds_an_avaya_fault() -> None:
    assert ("avaya", "no-emergency-number") in labfleet.seeded_faults()
