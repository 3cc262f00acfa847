"""A sweep of lab phones carrying the classic dial-plan failures finds each one with the
right rule and subject: every simulator lists its vendor's failures in FAULTS and the
findings a UK sweep must produce in FAULT_EXPECT."""

from __future__ import annotations

import json

import pytest

from fleet.lab import registry
from tests.conftest import run_fleet, running_lab

VENDOR_FAULTS = [
    (sim.profile, fault, expect)
    for sim in registry.phones()
    for fault, expect in sim.fault_expect.items()
]


def test_every_phone_vendor_carries_classic_failures():
    vendors = {s.profile for s in registry.phones()}
    assert vendors == {v for v, _, _ in VENDOR_FAULTS}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    names = tuple(sorted({v for v, _, _ in VENDOR_FAULTS}))
    per = max(sum(1 for v, _, _ in VENDOR_FAULTS if v == n) for n in names) + 1
    tmp = tmp_path_factory.mktemp("dialplan")
    with running_lab(
        tmp,
        per * len(names),
        net_from=120,
        faults=False,
        profile_names=names,
        extra_faults=[(v, f) for v, f, _ in VENDOR_FAULTS],
    ) as lab:
        proc = run_fleet(
            "sweep",
            str(lab.inventory),
            "--golden",
            str(lab.golden),
            "--format",
            "json",
            "--store",
            str(tmp / "s.db"),
        )
    return lab.fleet, proc, json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("vendor", "fault", "expect"), VENDOR_FAULTS, ids=[f"{v}-{f}" for v, f, _ in VENDOR_FAULTS]
)
def test_classic_failure_is_found(swept, vendor, fault, expect):
    fleet, _, report = swept
    spec = next(p for p in fleet.phones if p.extra.get("_fault") == fault and p.profile == vendor)
    device = next(d for d in report["devices"] if d["id"] == spec.id)
    assert device["status"] == "audited", device
    found = {(f["rule"], f["subject"]) for f in device["findings"]}
    assert set(map(tuple, expect)) <= found, device["findings"]


def test_healthy_phones_of_every_vendor_pass(swept):
    fleet, proc, report = swept
    assert proc.returncode == 1
    healthy = [p for p in fleet.phones if "_fault" not in p.extra]
    assert {p.profile for p in healthy} == {v for v, _, _ in VENDOR_FAULTS}
    for p in healthy:
        d = next(d for d in report["devices"] if d["id"] == p.id)
        assert d["status"] == "audited"
        assert [f for f in d["findings"] if f["rule"].startswith("emergency.")] == [], d
