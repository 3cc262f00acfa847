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


def test_the_demo_keeps_todays_vendors_and_faults_in_order():
    # What `fleet demo` seeded when these lists were constants in fleet/lab/fleet.py.
    assert labfleet.phone_profiles() == ("polycom", "yealink", "cisco_mpp", "grandstream", "snom")
    assert labfleet.sbc_profiles() == ["audiocodes", "cisco_cube", "acme_packet"]
    per_vendor: dict[str, list[str]] = {}
    for vendor, fault in labfleet.seeded_faults():
        per_vendor.setdefault(vendor, []).append(fault)
    assert per_vendor == {
        "polycom": ["lost-112", "decommissioned-route", "http500"],
        "yealink": ["default-911", "auth"],
        "cisco_mpp": ["down"],
    }
    assert labfleet.seeded_sbc_faults() == (
        ("audiocodes", "catchall-112", "snom"),
        ("cisco_cube", "rewrite-999", "grandstream"),
        ("acme_packet", "no-emergency", "cisco_mpp"),
        ("audiocodes", "down", "yealink"),
    )
    lab = labfleet.build(30, net=77)
    faults = {p.id: p.extra["_fault"] for p in lab.phones if "_fault" in p.extra}
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
    assert [(s.id, s.address) for s in lab.sbcs[3:]] == [
        ("lon-sbc-catchall-112", "127.77.255.10"),
        ("lon-sbc-rewrite-999", "127.77.255.11"),
        ("man-sbc-no-emergency", "127.77.255.12"),
        ("edi-sbc-down", "127.77.255.13"),
    ]


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
        lab = labfleet.build(12, net=79)
        print(json.dumps([
            labfleet.phone_profiles(),
            [(p.id, p.extra.get("_fault")) for p in lab.phones if p.profile == "zz_sixth"],
            sorted(labfleet.inventory_dict(lab)["groups"]),
        ]))
        """,
        path=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    vendors, sixth, groups = json.loads(out.stdout)
    assert vendors == ["polycom", "yealink", "cisco_mpp", "grandstream", "snom", "zz_sixth"]
    assert sixth == [["lon-zzsixth-0006", "lost-112"], ["man-zzsixth-0012", None]]
    assert "zz_sixth-phones" in groups
