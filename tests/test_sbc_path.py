"""SBCs over SSH and the whole emergency path, phone → SBC → trunk, swept from the lab."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from fleet.lab import fleet as labfleet
from fleet.lab import registry
from tests.conftest import run_fleet, running_lab

pytestmark = pytest.mark.skipif(not labfleet.sbc_profiles(), reason="no SBC simulators")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sbclab")
    with running_lab(folder, 30, net_from=150) as running:
        fleet, inv, golden = running.fleet, running.inventory, running.golden
        proc = run_fleet(
            "sweep",
            str(inv),
            "--golden",
            str(golden),
            "--format",
            "json",
            "--store",
            str(folder / "s.db"),
        )
        yield fleet, inv, golden, proc, json.loads(proc.stdout or "{}")


def _dev(report, device_id):
    return next(d for d in report["devices"] if d["id"] == device_id)


def test_sbcs_are_swept_over_ssh(lab):
    fleet, _, _, proc, report = lab
    assert proc.returncode == 1, proc.stderr
    for s in fleet.sbcs:
        d = _dev(report, s.id)
        assert d["role"] == "sbc" and d["profile"] == s.profile
        assert d["status"] == ("unreachable" if s.fault == "down" else "audited"), d


def test_healthy_sbcs_route_emergency_numbers_to_the_emergency_trunk(lab):
    fleet, inv, _, _, report = lab
    for s in fleet.sbcs:
        if s.fault:
            continue
        d = _dev(report, s.id)
        assert not [f for f in d["findings"] if f["rule"].startswith("emergency.")], d
        trunk = registry.sbc(s.profile).emergency_trunk
        out = run_fleet("sbc", "route", str(inv), "--host", s.id, "999", "112", "--json")
        rows = [json.loads(x) for x in out.stdout.splitlines()]
        assert [(r["outcome"], r["sent"], r["trunk"]) for r in rows] == [
            ("routed", "999", trunk),
            ("routed", "112", trunk),
        ], out.stderr


def test_each_sbc_fault_is_found_on_the_sbc(lab):
    fleet, _, _, _, report = lab
    faulty = [s for s in fleet.sbcs if s.fault and s.fault != "down"]
    assert faulty
    for s in faulty:
        expect = registry.sbc(s.profile).fault_expect[s.fault]
        found = {(f["rule"], f["subject"]) for f in _dev(report, s.id)["findings"]}
        assert set(map(tuple, expect)) <= found, (s.id, found)


def test_phones_behind_a_broken_sbc_get_emergency_path(lab):
    fleet, _, _, _, report = lab
    by_id = {s.id: s for s in fleet.sbcs}
    victims = [p for p in fleet.phones if p.extra.get("_fault", "").startswith("via-")]
    assert len(victims) == sum(1 for s in fleet.sbcs if s.fault)
    for p in victims:
        sbc = by_id[p.extra["_fault"].removeprefix("via-")]
        d = _dev(report, p.id)
        paths = [f for f in d["findings"] if f["rule"] == "emergency.path"]
        assert paths, (p.id, d["findings"])
        f = paths[0]
        assert f["severity"] == "critical"
        # hop by hop: the phone, the SBC that owns the address, what the SBC did
        assert f["evidence"][0].startswith(f"{p.id} line 1 sends ")
        assert f"is {sbc.id} ({sbc.profile})" in f["evidence"][1]
        if sbc.fault == "down":
            assert "not audited" in f["message"]
        expected = {subj for _, subj in registry.sbc(sbc.profile).fault_expect.get(sbc.fault, [])}
        assert expected <= {x["subject"] for x in paths} or sbc.fault == "down"


def test_path_closes_for_healthy_phones_and_not_for_unknown_servers(lab):
    fleet, _, _, _, report = lab
    for p in fleet.phones:
        d = _dev(report, p.id)
        if d["status"] != "audited":
            continue
        paths = [f for f in d["findings"] if f["rule"] == "emergency.path"]
        fault = p.extra.get("_fault", "")
        if fault == "decommissioned-route":
            assert any("is no SBC in the inventory" in f["message"] for f in paths)
        elif not fault:
            assert paths == [], (p.id, paths)
            assert not [f for f in d["findings"] if f["rule"].startswith("emergency.")]


def test_sbc_route_on_a_saved_configuration(lab, tmp_path):
    fleet, _, _, _, _ = lab
    healthy = next(s for s in fleet.sbcs if not s.fault)
    sim = registry.sbc(healthy.profile)
    saved = tmp_path / f"{healthy.id}.cfg"
    saved.write_text(sim.render(healthy))
    out = run_fleet("sbc", "route", str(saved), "999", "--explain")
    assert out.returncode == 0, out.stderr
    assert sim.emergency_trunk in out.stdout and len(out.stdout.splitlines()) > 1


def test_netmiko_transport_reads_an_ios_device(lab, tmp_path):
    fleet, inv_path, _, _, _ = lab
    cube = next((s for s in fleet.sbcs if s.profile == "cisco_cube" and not s.fault), None)
    if cube is None:
        pytest.skip("no CUBE in the lab")
    host = {
        "address": f"{cube.address}:{cube.port}",
        "site": cube.site,
        "role": "other",
        "transport": "netmiko",
        "device_type": "cisco_ios",
        "commands": ["show running-config"],
        "credentials": {
            "username": cube.admin_user,
            "password": "${file:lab-admin.secret}",
            "enable": "${file:lab-enable.secret}",
        },
        "ssh": {"known_hosts": "lab_known_hosts"},
    }
    via_profile = {**host, "profile": "cisco_cube", "role": "sbc"}
    doc = {"hosts": {"ios-generic": host, "ios-cube": via_profile}}
    path = inv_path.parent / "netmiko.yaml"
    path.write_text(yaml.safe_dump(doc))
    rules = tmp_path / "golden.yaml"
    rules.write_text(
        "fleet_golden: 1\nname: ios\nemergency: {numbers: ['999', '112'], sbc_trunks: ["
        + repr(registry.sbc("cisco_cube").emergency_trunk)
        + "]}\nrules:\n"
        "  - {id: hostname, scope: {role: other}, key: 'raw:show running-config', "
        f"matches: 'hostname {cube.hostname}', severity: high}}\n"
        "  - {id: no-telnet, scope: {role: other}, key: 'raw:show running-config', "
        "matches: 'transport input telnet', severity: low}\n"
    )
    proc = run_fleet(
        "sweep",
        str(path),
        "--golden",
        str(rules),
        "--format",
        "json",
        "--store",
        str(tmp_path / "n.db"),
    )
    report = json.loads(proc.stdout)
    generic = _dev(report, "ios-generic")
    assert generic["status"] == "audited", generic
    assert [f["rule"] for f in generic["findings"]] == ["rule.no-telnet"]
    cube_dev = _dev(report, "ios-cube")
    assert cube_dev["status"] == "audited"
    assert not [f for f in cube_dev["findings"] if f["rule"] == "emergency.sbc_route"]


def test_sbc_secrets_never_reach_the_store_or_the_report(lab):
    fleet, inv, _, proc, _ = lab
    secrets = {fleet.admin_password, fleet.enable_password}
    for s in fleet.sbcs:
        text = registry.sbc(s.profile).render(s)
        for m in re.finditer(r"(?i)\b(?:secret|password)\s+(?:[0-9]\s+)?\"?([^\s\"]+)", text):
            secrets.add(m.group(1))
    secrets = {x for x in secrets if len(x) >= 6}
    assert len(secrets) >= 5
    blob = b"".join(p.read_bytes() for p in inv.parent.glob("s.db*"))
    assert blob
    for secret in secrets:
        assert secret.encode() not in blob, secret[:3]
        assert secret not in proc.stdout
