"""The lab's simulator registry: the lab imports the profiles, never the reverse; a simulator
is a typed SIMULATOR found in its vendor's folder; the lab's vendors and the demo's seeded
faults come from the simulators, so a new vendor's folder adds itself."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from fleet import profiles
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from tests.conftest import ROOT


def _python(code: str, *, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (nothing of this test process loaded), with ``path``'s
    vendor folders added to device_profiles when given."""
    prelude = ""
    if path is not None:
        prelude = f"import device_profiles; device_profiles.__path__.append({str(path)!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_loading_the_profiles_loads_no_simulator_and_no_lab():
    out = _python(
        """
        import json, sys
        from fleet import profiles
        reg = profiles.registry()
        assert reg, "no profiles"
        lab = [m for m in sys.modules if m == "fleet.lab" or m.startswith("fleet.lab.")]
        print(json.dumps(sorted(lab + [m for m in sys.modules if m.endswith(".simulator")])))
        """
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_every_simulator_is_typed_and_matches_its_profile():
    assert registry.broken() == {}
    sims = registry.simulators()
    folders = {p.folder.name for p in profiles.registry().values() if p.folder}
    with_sim = {f for f in folders if (ROOT / "device_profiles" / f / "simulator.py").is_file()}
    assert set(sims) == with_sim
    for name, sim in sims.items():
        prof = profiles.get(name)
        assert sim.profile == name == prof.name
        assert sim.role == prof.role, name
        assert set(sim.fault_expect) <= set(sim.faults), name
        if isinstance(sim, registry.PhoneSimulator):
            assert sim.models and len(sim.oui) == 6, name
        else:
            assert sim.emergency_trunk != sim.normal_trunk, name
            assert {f.behind for f in sim.demo_faults} <= set(labfleet.phone_profiles()), name


# The five phone vendors the demo had when these lists were constants in fleet/lab/fleet.py.
TODAYS_FIVE = ("polycom", "yealink", "cisco_mpp", "grandstream", "snom")


def _faults_by_vendor(lab: labfleet.LabFleet) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in lab.phones:
        if "_fault" in p.extra:
            out.setdefault(p.profile, []).append(p.extra["_fault"])
    return out


def test_the_demo_keeps_todays_vendors_and_faults_in_order():
    # What `fleet demo` seeded when these lists were constants in fleet/lab/fleet.py; a vendor
    # added since (its own folder) comes after today's five, in the registry's order, and
    # seeds its own simulator's demo faults.
    vendors = labfleet.phone_profiles()
    assert vendors[: len(TODAYS_FIVE)] == TODAYS_FIVE
    added = vendors[len(TODAYS_FIVE) :]
    assert list(added) == [s.profile for s in registry.phones() if s.profile in added]
    assert labfleet.sbc_profiles() == ["audiocodes", "cisco_cube", "acme_packet"]
    per_vendor: dict[str, list[str]] = {}
    for vendor, fault in labfleet.seeded_faults():
        per_vendor.setdefault(vendor, []).append(fault)
    assert per_vendor == {
        "polycom": ["lost-112", "decommissioned-route", "http500"],
        "yealink": ["default-911", "auth"],
        "cisco_mpp": ["down"],
    } | {v: list(registry.phone(v).demo_faults) for v in added if registry.phone(v).demo_faults}
    assert labfleet.seeded_sbc_faults() == (
        ("audiocodes", "catchall-112", "snom"),
        ("cisco_cube", "rewrite-999", "grandstream"),
        ("acme_packet", "no-emergency", "cisco_mpp"),
        ("audiocodes", "down", "yealink"),
    )
    # today's five alone: the very devices, faults and SBCs of the demo before
    five = labfleet.build(30, net=77, profile_names=TODAYS_FIVE)
    faults = {p.id: p.extra["_fault"] for p in five.phones if "_fault" in p.extra}
    assert faults == {
        "lon-polycom-0001": "lost-112",
        "lon-yealink-0002": "default-911",
        "lon-ciscompp-0003": "down",
        "lon-grandstream-0004": "via-lon-sbc-rewrite-999",
        "lon-snom-0005": "via-lon-sbc-catchall-112",
        "man-polycom-0006": "decommissioned-route",
        "man-yealink-0007": "auth",
        "man-ciscompp-0008": "via-man-sbc-no-emergency",
        "edi-polycom-0011": "http500",
        "edi-yealink-0012": "via-edi-sbc-down",
    }
    sbcs = [
        ("lon-sbc-catchall-112", "127.77.255.10"),
        ("lon-sbc-rewrite-999", "127.77.255.11"),
        ("man-sbc-no-emergency", "127.77.255.12"),
        ("edi-sbc-down", "127.77.255.13"),
    ]
    assert [(s.id, s.address) for s in five.sbcs[3:]] == sbcs
    # the whole registry's demo: today's five get the same faults in the same order on their
    # own phones, the SBC faults are the same, and each added vendor its demo faults
    lab = labfleet.build(30, net=77)
    assert {p.profile for p in lab.phones} == set(vendors)
    by_vendor = _faults_by_vendor(lab)
    assert {v: by_vendor.get(v) for v in TODAYS_FIVE} == {
        v: _faults_by_vendor(five).get(v) for v in TODAYS_FIVE
    }
    for v in added:
        assert by_vendor.get(v, []) == list(registry.phone(v).demo_faults), v
    assert [(s.id, s.address) for s in lab.sbcs[3:]] == sbcs


def _vendor(folder: Path, name: str, body: str) -> None:
    (folder / name).mkdir()
    (folder / name / "__init__.py").write_text("")
    (folder / name / "simulator.py").write_text(textwrap.dedent(body))


def test_a_broken_simulator_is_reported_and_touches_nothing_else(tmp_path):
    _vendor(tmp_path, "zz_raises", "raise RuntimeError('simulator bug')\n")
    _vendor(tmp_path, "zz_untyped", "FAULTS = {}\n")
    out = _python(
        """
        import json
        from fleet import profiles
        before = sorted(profiles.registry())
        broken_profiles = profiles.broken()
        from fleet.lab import fleet as labfleet, registry
        lab = labfleet.build(10, net=78)
        print(json.dumps([before, broken_profiles, registry.broken(), len(lab.phones)]))
        """,
        path=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    before, broken_profiles, broken_sims, phones = json.loads(out.stdout)
    assert before == sorted(profiles.registry()) and broken_profiles == {}
    assert set(broken_sims) == {"zz_raises", "zz_untyped"}
    assert "simulator bug" in broken_sims["zz_raises"]
    assert "SIMULATOR" in broken_sims["zz_untyped"]
    assert phones == 10


def test_a_new_vendor_folder_adds_itself_to_the_lab(tmp_path):
    # A sixth phone vendor: a profile and a simulator in its own folder, nothing in fleet/lab/.
    _vendor(
        tmp_path,
        "zz_sixth",
        """
        import dataclasses
        from device_profiles.snom import simulator as base

        SIMULATOR = dataclasses.replace(
            base.SIMULATOR, profile="zz_sixth", demo_faults=("lost-112",), order=60
        )
        """,
    )
    (tmp_path / "zz_sixth" / "profile.py").write_text(
        "import dataclasses\nfrom device_profiles.snom.profile import PROFILE as BASE\n"
        "PROFILE = dataclasses.replace(BASE, name='zz_sixth', vendor='Sixth')\n"
    )
    out = _python(
        """
        import json
        from fleet.lab import fleet as labfleet
        vendors = labfleet.phone_profiles()
        lab = labfleet.build(2 * len(vendors), net=79)
        print(json.dumps([
            vendors,
            [(p.id, p.extra.get("_fault")) for p in lab.phones if p.profile == "zz_sixth"],
            sorted(labfleet.inventory_dict(lab)["groups"]),
        ]))
        """,
        path=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    vendors, sixth, groups = json.loads(out.stdout)
    # the registry's vendors with zz_sixth in its place: by order (60), then name
    known = [(registry.phone(v).order, v) for v in labfleet.phone_profiles()]
    assert vendors == [v for _, v in sorted([*known, (60, "zz_sixth")])]
    # one phone per vendor per site: its first (lon) carries its demo fault, its second (man)
    # is healthy
    k, n = vendors.index("zz_sixth"), len(vendors)
    assert sixth == [
        [f"lon-zzsixth-{k + 1:04d}", "lost-112"],
        [f"man-zzsixth-{k + n + 1:04d}", None],
    ]
    assert "zz_sixth-phones" in groups
