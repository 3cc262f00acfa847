"""`fleet audit` on provisioning files finds what a sweep finds, with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet import profiles
from fleet.lab import fleet as labfleet
from fleet.lab import registry
from fleet.lab.spec import LabDevice
from tests.conftest import make_lab, run_fleet


def export_lab(fleet: labfleet.LabFleet, folder: Path) -> dict[str, str]:
    """Each lab phone's configuration as its provisioning files; the file that is not
    included by another is named after the phone, unless it pulls in its other files by its
    own name (an Avaya J100's <mac>.cfg). Returns id -> file name; the device id an
    audit gives is that file's stem (see device_ids)."""
    names = {}
    for spec in fleet.phones:
        prof = profiles.get(spec.profile)
        sim = registry.phone(spec.profile)
        files = sim.export_files(LabDevice(spec, sim.render(spec)))
        included = {n for name, text in files.items() for n in prof.includes(name, text)}
        [master] = [n for n in files if n not in included]
        sub = folder / spec.id
        sub.mkdir()
        main = f"{spec.id}{Path(master).suffix}"
        others = set(files) - {master}
        if not others <= set(prof.includes(main, files[master])):
            main = master  # renamed, it would no longer pull in its files (a J100's <mac>.cfg)
        for name, text in files.items():
            (sub / (main if name == master else name)).write_text(text)
        names[spec.id] = main
    return names


def device_ids(names: dict[str, str]) -> dict[str, str]:
    """Lab phone id -> the id `fleet audit` gives it (its main file's stem)."""
    return {pid: Path(name).stem for pid, name in names.items()}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    lab = make_lab(tmp / "lab", 15)
    fleet, golden = lab.fleet, lab.golden
    files = tmp / "files"
    files.mkdir()
    names = export_lab(fleet, files)
    args = [str(files / pid / name) for pid, name in names.items()]
    # The Poly master files pull in their siblings; give the folders for the rest to be found.
    proc = run_fleet(
        "audit", *args, "--golden", str(golden), "--format", "json", "--store", str(tmp / "a.db")
    )
    return fleet, proc, json.loads(proc.stdout or "{}"), tmp, device_ids(names)


def _without_sbc(findings: list[dict]) -> list[dict]:
    """A phones-only audit cannot see the SBC that strips an outside-line 9 from a form the
    phone sends as dialled (a J100's): those stay unproven here, proven in the lab sweep."""
    return [f for f in findings if " as dialled" not in f["message"]]


def test_audit_finds_the_configuration_faults(audited):
    fleet, proc, report, _, ids = audited
    assert proc.returncode == 1, proc.stderr
    got = {d["id"]: d for d in report["devices"]}
    assert set(got) == set(ids.values())
    for p in fleet.phones:
        fault = p.extra.get("_fault")
        d = got[ids[p.id]]
        vendor = registry.phone(p.profile).fault_expect
        assert d["status"] == "audited", d
        rules = {(f["rule"], f["subject"]) for f in d["findings"] if f["rule"] == "emergency.route"}
        critical = [f for f in _without_sbc(d["findings"]) if f["severity"] == "critical"]
        if fault in vendor:
            found = {(f["rule"], f["subject"]) for f in d["findings"]}
            assert {e for e in vendor[fault] if e[1] not in ("9999", "9112")} <= found, d
        elif fault == "lost-112":
            assert rules == {("emergency.route", "112")}
        elif fault in ("default-911", "decommissioned-route"):
            assert rules == {("emergency.route", "999"), ("emergency.route", "112")}
        else:  # transport faults (down, auth, 500) do not show in the files
            assert critical == [], (p.id, fault, d["findings"])


def test_audit_stores_a_snapshot_without_secrets(audited):
    fleet, _, _, tmp, _ = audited
    blob = b"".join(p.read_bytes() for p in tmp.glob("a.db*"))
    assert blob
    for p in fleet.phones:
        assert p.sip_password.encode() not in blob
    listing = run_fleet("store", "list", "--store", str(tmp / "a.db"))
    assert " audit " in listing.stdout


def test_broken_and_unknown_files(tmp_path):
    golden = make_lab(tmp_path / "lab", 3, faults=False).golden
    folder = tmp_path / "prov"
    folder.mkdir()
    (folder / "broken.cfg").write_text(
        '<?xml version="1.0"?>\n<polycomConfig>\n  <reg reg.1.address="2001"\n'
    )
    (folder / "README.txt").write_text("not a phone configuration\n")
    proc = run_fleet(
        "audit",
        str(folder),
        "--golden",
        str(golden),
        "--format",
        "json",
        "--store",
        str(tmp_path / "b.db"),
    )
    report = json.loads(proc.stdout)
    # nothing is dropped: the broken file and the stray README are both devices, and fail
    by_id = {d["id"]: d for d in report["devices"]}
    assert set(by_id) == {"broken", "README"}
    assert by_id["broken"]["status"] == "error" and "broken.cfg" in by_id["broken"]["error"]
    assert [f["rule"] for f in by_id["README"]["findings"]] == ["coverage.unrecognised"]
    assert by_id["README"]["findings"][0]["severity"] == "high"
    assert report["summary"]["files"] == 2 and report["summary"]["unrecognised"] == 1
    assert proc.returncode == 1
    assert "skipped" not in proc.stderr
    explicit = run_fleet(
        "audit",
        str(folder / "README.txt"),
        "--golden",
        str(golden),
        "--format",
        "json",
        "--store",
        str(tmp_path / "c.db"),
    )
    assert explicit.returncode == 1
    [d] = json.loads(explicit.stdout)["devices"]
    assert d["status"] == "unrecognised" and "not a configuration" in d["error"]


def test_audit_walks_folders_recursively_and_accounts_for_every_file(tmp_path):
    lab = make_lab(tmp_path / "lab", 6, faults=False)
    fleet, golden = lab.fleet, lab.golden
    root = tmp_path / "tftp"
    (root / "phones" / "deep").mkdir(parents=True)
    names = export_lab(fleet, root / "phones" / "deep")
    (root / "notes.txt").write_text("a note\n")
    (root / "empty.bin").write_bytes(b"\0\0\0")
    (root / ".hidden").write_text("x\n")
    proc = run_fleet(
        "audit",
        str(root),
        "--golden",
        str(golden),
        "--format",
        "json",
        "--store",
        str(tmp_path / "r.db"),
    )
    report = json.loads(proc.stdout)
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    listed = [f for d in report["devices"] for f in (d.get("files") or [])]
    assert sorted(listed) == sorted(map(str, files))
    assert report["summary"]["files"] == len(files)
    by_id = {d["id"]: d for d in report["devices"]}
    assert by_id["notes"]["status"] == "unrecognised"
    assert by_id["empty"]["status"] == "error"
    assert all(pid in by_id for pid in device_ids(names).values())


def test_audit_closes_the_path_through_saved_sbc_configurations(tmp_path):
    """Phone files and `show running-config` captures from the same day, with the inventory
    mapping file ids to addresses: the phone → SBC → trunk path closes offline too."""
    lab = make_lab(tmp_path / "lab", 15)
    if not lab.fleet.sbcs:
        pytest.skip("no SBC simulators")
    fleet, inv, golden = lab.fleet, lab.inventory, lab.golden
    files = tmp_path / "files"
    files.mkdir()
    names = export_lab(fleet, files)
    args = [str(files / pid / name) for pid, name in names.items()]
    for s in fleet.sbcs:
        f = files / f"{s.id}.txt"
        f.write_text(registry.sbc(s.profile).render(s))
        args.append(str(f))
    proc = run_fleet(
        "audit",
        *args,
        "--golden",
        str(golden),
        "--inventory",
        str(inv),
        "--format",
        "json",
        "--store",
        str(tmp_path / "a.db"),
    )
    report = json.loads(proc.stdout)
    got = {d["id"]: d for d in report["devices"]}
    got |= {p.id: got[i] for p, i in ((p, device_ids(names)[p.id]) for p in fleet.phones)}
    for s in fleet.sbcs:
        assert got[s.id]["role"] == "sbc" and got[s.id]["status"] == "audited"
    for p in fleet.phones:
        paths = [f for f in got[p.id]["findings"] if f["rule"] == "emergency.path"]
        via = p.extra.get("_fault", "")
        if via.startswith("via-") and not via.endswith("down"):
            assert paths, (p.id, got[p.id]["findings"])
        elif not via:
            assert paths == [], (p.id, paths)


def test_audits_on_two_days_diff_like_sweeps(tmp_path):
    # phones-only: vendors that strip the outside-line 9 themselves (an Avaya J100 leaves it
    # to the SBC, which a phones-only audit cannot see: its 9112 stays unproven)
    names_ = [n for n in labfleet.phone_profiles() if n != "avaya"]
    lab = make_lab(tmp_path / "lab", 6, faults=False, sbcs=False, profile_names=names_)
    fleet, golden = lab.fleet, lab.golden
    files = tmp_path / "prov"
    files.mkdir()
    names = export_lab(fleet, files)
    args = [str(files / pid / name) for pid, name in names.items()]
    db = str(tmp_path / "a.db")
    assert (
        run_fleet(
            "audit", *args, "--golden", str(golden), "--store", db, "--tag", "monday"
        ).returncode
        == 0
    )
    # Tuesday: someone "tidied" the Poly file and 112 went with it
    poly = next(p for p in fleet.phones if p.profile == "polycom")
    master = files / poly.id / names[poly.id]
    changed = [
        f
        for f in master.parent.iterdir()
        if 'dialplan.routing.emergency.2.value="112"' in f.read_text()
    ]
    assert changed
    for f in changed:
        f.write_text(
            f.read_text().replace(
                'dialplan.routing.emergency.2.value="112"', 'dialplan.routing.emergency.2.value=""'
            )
        )
    assert (
        run_fleet(
            "audit", *args, "--golden", str(golden), "--store", db, "--tag", "tuesday"
        ).returncode
        == 1
    )
    diff = json.loads(
        run_fleet("diff", "monday", "tuesday", "--store", db, "--format", "json").stdout
    )
    keys = {(c["device"], c["key"]) for c in diff["changes"]}
    assert (poly.id, "dialplan.routing.emergency.2.value") in keys
    assert all(c["device"] == poly.id for c in diff["changes"])
    assert diff["groups"][0]["emergency"]


# --- hostile files end as that one device's error, quickly (issue 11, mutated vendor files) --

GS_SAMPLE = Path(__file__).parent.parent / "device_profiles/grandstream/samples/cfg000b82a1b2c3.xml"
UK_GOLDEN = Path(__file__).parent.parent / "inventory/golden-uk.yaml"


def _audit_one(path: Path) -> dict:
    from fleet.audit import audit
    from fleet.check import golden as golden_mod
    from fleet.report import json_report

    [device] = json.loads(json_report.render(audit([path], golden_mod.load(UK_GOLDEN))))["devices"]
    return device


@pytest.mark.parametrize(
    ("change", "said"),
    [
        # a dial plan the engine would spend minutes and gigabytes on (20,000 nested "(")
        (lambda t: t.replace("<P290>{", "<P290>" + "(" * 20_000 + "{", 1), "P290: the dial plan"),
        # a value far longer than any configuration holds
        (lambda t: t.replace("<P237>", "<P237>" + "9" * 100_000, 1), "P237: a value of 100,"),
        # an encoding Python does not know, named by the XML declaration (LookupError)
        (lambda t: '<?xml version="1.0" encoding="x-no-such"?>\n' + t.split("\n", 1)[1], ":1: "),
        # a multi-byte encoding the XML parser refuses (ValueError)
        (lambda t: '<?xml version="1.0" encoding="utf-32"?>\n' + t.split("\n", 1)[1], ":1: "),
    ],
    ids=["dial-plan-bomb", "huge-value", "unknown-encoding", "multibyte-encoding"],
)
def test_a_hostile_file_is_its_devices_error_naming_the_file(tmp_path: Path, change, said) -> None:
    f = tmp_path / GS_SAMPLE.name
    f.write_text(change(GS_SAMPLE.read_text()))
    device = _audit_one(f)
    assert device["status"] == "error"
    assert f.name in device["error"] and said in device["error"], device["error"]
    assert "a bug in fleet" not in device["error"]
    assert [x["rule"] for x in device["findings"]] == ["coverage.error"]


def test_a_file_name_over_name_max_is_an_input_error(tmp_path: Path) -> None:
    proc = run_fleet("audit", str(tmp_path / ("n" * 300 + ".cfg")), "--golden", str(UK_GOLDEN),
                     "--store", str(tmp_path / "s.db"))  # fmt: skip
    assert proc.returncode == 2 and "File name too long" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_boot_file_including_a_name_over_name_max_is_read(tmp_path: Path) -> None:
    site = Path(__file__).parent.parent / "device_profiles/yealink/samples/site"
    boot = tmp_path / "y000000000000.boot"
    common = next(site.glob("y0000000000*.cfg"))
    (tmp_path / common.name).write_text(common.read_text())
    boot.write_text(f"#!version:1.0.0.1\ninclude:config <{common.name}>\n"
                    f"include:config <{'n' * 300}.cfg>\noverwrite_mode = 1\n")  # fmt: skip
    device = _audit_one(boot)
    assert device["status"] == "audited", device.get("error")
    assert any("not beside it" in f["message"] for f in device["findings"])
