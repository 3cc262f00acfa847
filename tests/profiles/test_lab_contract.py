"""The lab half of the profile contract (docs/profiles.md), checked over the lab's simulator
registry (``fleet.lab.registry``), so a new vendor's simulator is held to it without a test
file of its own. One lab holds every simulated vendor: a healthy phone of each model, one
phone per vendor fault, an SBC per site and one extra SBC per SBC fault, all read the way
`fleet sweep` reads them (``fleet.pipeline.sweep``: the crawler, the host's transport, the
profile's fetch) and checked against the lab's own golden.

- every healthy simulated device is read over its real interface and audited, as its spec;
- a wrong password is auth-failed, and no message carries a lab secret;
- what the simulator exports (a phone's provisioning files, an SBC's running configuration)
  read back by `fleet audit`'s path (``fleet.audit.audit``) is the state the sweep read:
  the whole DeviceState but ``raw`` (the files hold parameters a read does not ask for) and
  the identity a file does not hold (its model or firmware may be None, never different);
- each fault in ``fault_expect`` yields exactly those (rule, subject) findings (beside the
  emergency.path findings the sweep's path check adds for the numbers the fault breaks).
The file half (declarations, detect, malformed files, secrets) is tests/profiles/test_contract.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet import inventory
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.collect.options import CrawlOptions
from fleet.inventory import Host, Secret
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab.spec import LabDevice, LabPhone, LabSbc
from fleet.model import DeviceResult, DeviceState, Snapshot
from fleet.pipeline import sweep
from tests.conftest import RunningLab, running_lab

SIMS = list(registry.simulators().values())
PHONES = [s for s in SIMS if isinstance(s, registry.PhoneSimulator)]
SBCS = [s for s in SIMS if isinstance(s, registry.SbcSimulator)]
FAULTS = [(s, f) for s in SIMS for f in sorted(s.fault_expect)]
WRONG = "not-the-password-Qx7"


def _ids(sim: registry.Simulator) -> str:
    return sim.profile


def _extra_sbcs(fleet: labfleet.LabFleet) -> None:
    """A healthy SBC of every SBC vendor (the lab has one per site, so more vendors than sites
    need more) and one more per SBC fault, each a copy of a site SBC on 127.<net>.254.x."""
    wanted = [(s, None) for s in SBCS if s.profile not in {b.profile for b in fleet.sbcs}]
    wanted += [(s, f) for s, f in FAULTS if isinstance(s, registry.SbcSimulator)]
    sites = list(fleet.sbcs)
    for k, (sim, fault) in enumerate(wanted):
        base = sites[k % len(sites)]
        name = f"{base.site}-sbc-{sim.profile.replace('_', '')}-{fault or 'ok'}"
        fleet.sbcs.append(
            dataclasses.replace(
                base,
                id=name,
                profile=sim.profile,
                hostname=name,
                admin_user=sim.admin_user,
                address=f"127.{fleet.net}.254.{k + 1}",
                fault=fault,
                extra={"_fault": fault} if fault else {},
            )
        )


@dataclasses.dataclass(slots=True)
class Swept:
    lab: RunningLab
    hosts: list[Host]
    golden: golden_mod.Golden
    snap: Snapshot

    def result(self, device_id: str) -> DeviceResult:
        return next(r for r in self.snap.results if r.id == device_id)

    def healthy(self, profile: str) -> list[LabPhone | LabSbc]:
        devices: list[LabPhone | LabSbc] = [*self.lab.fleet.phones, *self.lab.fleet.sbcs]
        return [d for d in devices if d.profile == profile and not d.fault and not d.extra]

    def faulty(self, profile: str, fault: str) -> LabPhone | LabSbc:
        devices: list[LabPhone | LabSbc] = [*self.lab.fleet.phones, *self.lab.fleet.sbcs]
        [dev] = [d for d in devices if d.profile == profile and d.extra.get("_fault") == fault]
        return dev

    def secrets(self) -> set[str]:
        fleet = self.lab.fleet
        return {
            fleet.admin_password,
            fleet.enable_password,
            WRONG,
            *(p.sip_password for p in fleet.phones),
        }


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    # enough phones per vendor for one of each model after its faulty ones
    per = max(len(s.fault_expect) + len(s.models) for s in PHONES)
    phone_faults = [(s.profile, f) for s, f in FAULTS if s.role == "phone"]
    with running_lab(
        tmp_path_factory.mktemp("contract"),
        per * len(PHONES),
        net_from=180,
        faults=False,
        profile_names=[s.profile for s in PHONES],
        extra_faults=phone_faults,
        sbcs=bool(SBCS),
        tweak=_extra_sbcs,
    ) as lab:
        hosts = inventory.load(lab.inventory).hosts
        golden = golden_mod.load(lab.golden)
        snap = asyncio.run(sweep(hosts, golden, CrawlOptions()))
        yield Swept(lab, hosts, golden, snap)


def test_every_simulator_is_in_the_contract_lab(swept: Swept) -> None:
    assert {s.profile for s in SIMS} == {p.profile for p in swept.lab.fleet.phones} | {
        s.profile for s in swept.lab.fleet.sbcs
    }
    assert len(swept.snap.results) == len(swept.lab.fleet.phones) + len(swept.lab.fleet.sbcs)


@pytest.mark.parametrize("sim", PHONES, ids=_ids)
def test_every_simulated_phone_is_read_as_its_spec(
    swept: Swept, sim: registry.PhoneSimulator
) -> None:
    specs = [s for s in swept.healthy(sim.profile) if isinstance(s, LabPhone)]
    assert {(s.model, s.firmware) for s in specs} == set(sim.models), "every model is read"
    for spec in specs:
        res = swept.result(spec.id)
        assert (res.status, res.role, res.profile) == ("audited", "phone", sim.profile), res.error
        state = res.state
        assert state is not None
        assert (state.model, state.firmware, state.mac) == (spec.model, spec.firmware, spec.mac)
        assert state.provisioning_server == spec.provisioning_server
        [line] = [ln for ln in state.lines if ln.enabled]
        assert (line.registrar, line.outbound_proxy, line.user) == (
            spec.registrar,
            spec.outbound_proxy,
            spec.sip_user,
        )
        assert [e.number for e in line.emergency] == spec.emergency_numbers
        assert {e.route for e in line.emergency} == {spec.emergency_route}
        assert line.dialplan is not None
        # the lab's healthy phones pass the lab's golden
        assert [f for f in res.findings if f.rule.startswith("emergency.")] == [], res.findings


@pytest.mark.parametrize("sim", SBCS, ids=_ids)
def test_every_simulated_sbc_is_read_over_its_cli(swept: Swept, sim: registry.SbcSimulator) -> None:
    specs = swept.healthy(sim.profile)
    assert specs
    for spec in specs:
        res = swept.result(spec.id)
        assert (res.status, res.role, res.profile) == ("audited", "sbc", sim.profile), res.error
        assert res.state is not None and res.state.sbc is not None
        assert f"{spec.address}:5060" in res.state.sbc.addresses
        assert {sim.emergency_trunk, sim.normal_trunk} <= set(res.state.sbc.trunks)
        assert [f for f in res.findings if f.rule.startswith("emergency.")] == [], res.findings


@pytest.mark.parametrize("sim", SIMS, ids=_ids)
def test_a_wrong_password_is_auth_failed_with_no_secret_in_the_message(
    swept: Swept, sim: registry.Simulator
) -> None:
    from fleet.collect.crawler import crawl

    spec = swept.healthy(sim.profile)[-1]
    [host] = [h for h in swept.hosts if h.id == spec.id]
    wrong = dataclasses.replace(host, password=Secret(WRONG, "test"))
    [got] = asyncio.run(crawl([wrong], {}, CrawlOptions(retries=2, backoff=0.01)))
    assert got.error is not None and got.collected is None
    assert got.error.status == "auth-failed" and got.attempts == 1, got.error
    told = f"{got.error} {got.error!r}"
    assert not [s for s in swept.secrets() if s in told], told


def _exported(swept: Swept, sim: registry.Simulator, spec: LabPhone | LabSbc) -> dict[str, str]:
    fleet = swept.lab.fleet
    if isinstance(sim, registry.PhoneSimulator):
        dev = fleet.devices[spec.id]
        assert isinstance(dev, LabDevice)
        return sim.export_files(dev)
    return {f"{spec.id}.txt": fleet.ssh.devices[spec.id].config}


def _comparable(state: DeviceState) -> dict[str, object]:
    d = state.to_dict()
    for key in ("raw", "model", "firmware"):
        d.pop(key)
    return d


@pytest.mark.parametrize("sim", SIMS, ids=_ids)
def test_exported_files_audit_to_the_swept_state(
    swept: Swept, sim: registry.Simulator, tmp_path: Path
) -> None:
    for spec in swept.healthy(sim.profile):
        folder = tmp_path / spec.id
        folder.mkdir()
        for name, text in _exported(swept, sim, spec).items():
            (folder / name).write_text(text)
        [res] = audit([folder], swept.golden).results
        assert res.status == "audited" and res.profile == sim.profile, res.error
        fetched, from_files = swept.result(spec.id).state, res.state
        assert fetched is not None and from_files is not None
        # a file may not hold the model or firmware; what it holds is the device's
        assert from_files.model in (None, fetched.model)
        assert from_files.firmware in (None, fetched.firmware)
        assert _comparable(from_files) == _comparable(fetched)
        norm = fetched.normalised()
        assert {k: v for k, v in from_files.normalised().items() if v is not None} == {
            k: v for k, v in norm.items() if v is not None and k not in ("model", "firmware")
        } | {k: norm[k] for k in ("model", "firmware") if getattr(from_files, k) is not None}


@pytest.mark.parametrize(("sim", "fault"), FAULTS, ids=[f"{s.profile}-{f}" for s, f in FAULTS])
def test_each_simulator_fault_gives_exactly_its_findings(
    swept: Swept, sim: registry.Simulator, fault: str
) -> None:
    spec = swept.faulty(sim.profile, fault)
    res = swept.result(spec.id)
    assert res.status == "audited", res.error
    expect = set(sim.fault_expect[fault])
    found = {(f.rule, f.subject) for f in res.findings if f.rule.startswith("emergency.")}
    # fault_expect names the device's own checks; the sweep's whole-path check adds
    # emergency.path for a number the broken plan sends wrong (tests/test_sbc_path.py)
    path = {s for r, s in found if r == "emergency.path"}
    assert found - {("emergency.path", s) for s in path} == expect, res.findings
    assert all(any(e.endswith(s) for _, e in expect) for s in path), res.findings
