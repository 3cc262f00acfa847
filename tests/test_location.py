"""Caller location and callback identity on phones (issue 13 §4): per vendor, the location
source a phone is configured with and the callback identity each line presents, checked
against the golden's ``emergency.location`` / ``emergency.callback``: over the lab (real HTTP
to each simulator, the way `fleet sweep` reads it) and over `fleet audit` of public samples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleet import inventory
from fleet.audit import audit
from fleet.check import check_device
from fleet.check import golden as golden_mod
from fleet.collect.options import CrawlOptions
from fleet.errors import GoldenError
from fleet.lab import files as labfiles
from fleet.lab import registry
from fleet.model import DeviceResult, DeviceState, Finding, Line, Location, Snapshot
from fleet.pipeline import sweep
from tests.conftest import RunningLab, run_fleet, running_lab

PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"


@dataclasses.dataclass(frozen=True)
class Vendor:
    profile: str
    # what the lab renders by default (lldp-med | held | static), or none where the vendor
    # has no location setting (README "Location and callback")
    source: str
    # lab fault -> the parameter the emergency.location finding must name
    faults: dict[str, str] = dataclasses.field(default_factory=dict)


VENDORS = [
    Vendor(
        "cisco_mpp",
        "held",
        {"mpp-e911-off": "E911_Enable_1_ = No", "mpp-held-url-missing": "Primary_Request_URL_1_"},
    ),
    Vendor(
        "grandstream",
        "held",
        {"gs-held-server-missing": "P8568 = ", "gs-e911-off": "P8565 = 0"},
    ),
    Vendor(
        "polycom",
        "lldp-med",
        {
            "poly-no-location-source": "dialplan.routing.emergency.preferredSource",
        },
    ),
    Vendor(
        "yealink",
        "lldp-med",
        {
            "yealink-lldp-off": "static.network.lldp.enable = 0",
            "yealink-held-url-missing": "dialplan.emergency.held.server_url",
        },
    ),
    Vendor("avaya", "held", {"avaya-held-url-missing": "HELD_URL = "}),
    Vendor("snom", "none"),
]
FAULTS = [(v, f) for v in VENDORS for f in v.faults]
# lab faults only the phone's files show: its REST read does not ask for the parameter
# (device_profiles/polycom/README.md, "Location and callback")
FILE_FAULTS = [(Vendor("polycom", "lldp-med"), "poly-lldp-off", "device.net.lldpEnabled = 0")]
CONFIGURED = [v for v in VENDORS if v.source != "none"]
UNSET = [v for v in VENDORS if v.source == "none"]


def _golden(folder: Path, lab: RunningLab, name: str, **emergency: object) -> golden_mod.Golden:
    doc = labfiles.golden_dict(lab.fleet)
    doc["emergency"].update(emergency)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return golden_mod.load(path)


@dataclasses.dataclass(slots=True)
class Swept:
    lab: RunningLab
    snaps: dict[str, Snapshot]

    def result(self, golden: str, profile: str, fault: str | None = None) -> DeviceResult:
        for spec in self.lab.fleet.phones:
            if spec.profile == profile and spec.extra.get("_fault") == fault:
                return next(r for r in self.snaps[golden].results if r.id == spec.id)
        raise AssertionError(f"no {profile} phone with fault {fault}")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    folder = tmp_path_factory.mktemp("location")
    per = 2 + max(len(v.faults) for v in VENDORS)
    with running_lab(
        folder,
        per * len(VENDORS),
        net_from=150,
        faults=False,
        sbcs=False,
        profile_names=[v.profile for v in VENDORS],
        extra_faults=[(v.profile, f) for v, f in FAULTS]
        + [(v.profile, f) for v, f, _ in FILE_FAULTS],
    ) as lab:
        hosts = inventory.load(lab.inventory).hosts
        goldens = {
            # any source, and the lab's numbers (2000 + i) as the callback identity
            "any": _golden(
                folder, lab, "any", location={"source": "any"}, callback={"matches": r"2\d{3}"}
            ),
            # HELD only (the lab's LLDP-MED phones fail it), and a callback no lab line presents
            "held": _golden(
                folder, lab, "held", location={"source": "held"}, callback={"matches": r"\+44\d+"}
            ),
        }
        # one sweep over HTTP, then the second golden's checks on the very states it read
        first = asyncio.run(sweep(hosts, goldens["any"], CrawlOptions()))
        snaps = {"any": first}
        other = dataclasses.replace(first, results=[dataclasses.replace(r) for r in first.results])
        by_id = {h.id: h for h in hosts}
        for r in other.results:
            check_device(r, goldens["held"], by_id[r.id].facts())
        snaps["held"] = other
        yield Swept(lab, snaps)


def _location(res: DeviceResult) -> list[Finding]:
    return [f for f in res.findings if f.subject == "emergency.location"]


def _callback(res: DeviceResult) -> list[Finding]:
    return [f for f in res.findings if f.subject.endswith(" callback")]


@pytest.mark.parametrize("vendor", CONFIGURED, ids=[v.profile for v in CONFIGURED])
def test_a_configured_location_source_passes(swept: Swept, vendor: Vendor) -> None:
    res = swept.result("any", vendor.profile)
    assert res.status == "audited", res.error
    assert res.state is not None and res.state.location is not None
    assert res.state.location.source == vendor.source
    assert _location(res) == [] and _callback(res) == [], res.findings


@pytest.mark.parametrize("vendor", UNSET, ids=[v.profile for v in UNSET])
def test_a_vendor_with_no_location_setting_is_reported(swept: Swept, vendor: Vendor) -> None:
    res = swept.result("any", vendor.profile)
    assert res.status == "audited", res.error
    [f] = _location(res)
    assert (f.rule, f.actual) == ("emergency.location", "none")
    assert "setting found" in f.message, f.message
    assert _callback(res) == [], res.findings


@pytest.mark.parametrize(("vendor", "fault"), FAULTS, ids=[f for _, f in FAULTS])
def test_a_missing_location_source_names_the_parameter(
    swept: Swept, vendor: Vendor, fault: str
) -> None:
    res = swept.result("any", vendor.profile, fault)
    assert res.status == "audited", res.error
    [f] = _location(res)
    assert (f.rule, f.severity, f.actual) == ("emergency.location", "high", "none")
    assert any(vendor.faults[fault] in e for e in f.evidence), f.evidence


@pytest.mark.parametrize("vendor", VENDORS, ids=[v.profile for v in VENDORS])
def test_another_source_than_the_golden_wants_is_flagged(swept: Swept, vendor: Vendor) -> None:
    res = swept.result("held", vendor.profile)
    found = _location(res)
    if vendor.source == "held":
        assert found == []
    elif vendor.source == "none":
        assert [(f.rule, f.actual) for f in found] == [("emergency.location", "none")]
    else:
        [f] = found
        assert (f.rule, f.expected, f.actual) == (
            "emergency.location",
            "location source held",
            vendor.source,
        )
        assert f.evidence


@pytest.mark.parametrize("vendor", VENDORS, ids=[v.profile for v in VENDORS])
def test_a_callback_not_matching_is_flagged(swept: Swept, vendor: Vendor) -> None:
    spec = next(s for s in swept.lab.fleet.phones if s.profile == vendor.profile and not s.extra)
    res = swept.result("held", vendor.profile)
    [f] = _callback(res)
    assert (f.rule, f.subject, f.actual) == ("emergency.location", "line 1 callback", spec.sip_user)
    assert f.evidence and f.evidence[0].endswith(f"= {spec.sip_user}")


CASES = [(v, f, v.faults[f]) for v, f in FAULTS] + FILE_FAULTS


@pytest.mark.parametrize(("vendor", "fault", "param"), CASES, ids=[c[1] for c in CASES])
def test_the_faulty_phones_files_audit_to_the_same_finding(
    swept: Swept, vendor: Vendor, fault: str, param: str, tmp_path: Path
) -> None:
    """What the lab phone's provisioning server would hold for it, read by `fleet audit`."""
    spec = next(
        s
        for s in swept.lab.fleet.phones
        if s.profile == vendor.profile and s.extra.get("_fault") == fault
    )
    files = registry.phone(vendor.profile).export_files(swept.lab.fleet.devices[spec.id])
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    golden = golden_mod.load(swept.lab.folder / "any.yaml")
    [res] = [r for r in audit([tmp_path], golden).results if r.files]
    [f] = _location(res)
    assert (f.rule, f.actual) == ("emergency.location", "none")
    assert any(param in e for e in f.evidence), f.evidence


# ------------------------------------------------------------------ golden validation


def test_a_bad_location_source_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "golden.yaml"
    path.write_text(
        "fleet_golden: 1\nname: g\nemergency:\n  numbers: ['911']\n  location:\n    source: gps\n"
    )
    with pytest.raises(GoldenError) as e:
        golden_mod.load(path)
    assert e.value.line == 6 and "location.source" in str(e.value.field)


def test_a_bad_callback_regex_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "golden.yaml"
    path.write_text(
        "fleet_golden: 1\nname: g\nemergency:\n  numbers: ['911']\n"
        "  callback:\n    matches: '[0-9'\n"
    )
    with pytest.raises(GoldenError) as e:
        golden_mod.load(path)
    assert e.value.line == 6 and "callback.matches" in str(e.value.field)


# ------------------------------------------------------------------ fleet audit of samples


@dataclasses.dataclass(frozen=True)
class Sample:
    profile: str
    files: tuple[str, ...]  # under device_profiles/<profile>/samples/, the first the device
    source: str  # its location source
    callback: str | None  # line 1's callback identity
    param: str = ""  # with source none: what the emergency.location finding must name


SAMPLES = [
    # FusionPBX-derived UK site file, preferredSource ELIN (README: samples)
    Sample("polycom", ("uk-site-default911.cfg",), "lldp-med", "3101"),
    # FusionPBX-derived site file with a custom asserted identity (README: samples)
    Sample("yealink", ("site/805ec0a1b2c3.cfg", "site/y000000000028.cfg"), "static", "02079460000"),
    Sample("yealink", ("digitmap/001565c0ffee.cfg",), "held", "3105"),
    # wazo-provd MPP template filled (README: samples): E911 Geolocation with a HELD URL
    Sample("cisco_mpp", ("cp8851-00562b043615.xml",), "held", "4105"),
    # SPA-style profile: no E911 Geolocation section at all
    Sample("cisco_mpp", ("spa504g-flat-profile.xml",), "none", "1001", "Primary_Request_URL_1_"),
    # GXP2170 P-value file: E911 (P8565) not enabled, so no HELD request
    Sample("grandstream", ("gxp2170-pvalues.txt",), "none", "2001", "P8565"),
    # a vendor with no location setting (README): the line's own user is the callback
    Sample("snom", ("snom370-000413B4C5D6.htm",), "none", "3105"),
    Sample("avaya", ("mkrasselt-opensip-fritzbox.txt",), "none", "SIPUsername", "HELD_URL"),
]


def _audit_golden(tmp_path: Path, **emergency: object) -> golden_mod.Golden:
    doc = {"fleet_golden": 1, "name": "loc", "emergency": {"numbers": ["999"], **emergency}}
    path = tmp_path / "golden.yaml"
    path.write_text(yaml.safe_dump(doc))
    return golden_mod.load(path)


def _copy(sample: Sample, tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir(parents=True)
    for name in sample.files:
        src = PROFILES / sample.profile / "samples" / name
        (folder / src.name).write_text(src.read_text())
    return folder


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s.profile}-{s.source}" for s in SAMPLES])
def test_audit_of_a_sample_reads_its_location_and_callback(sample: Sample, tmp_path: Path) -> None:
    folder = _copy(sample, tmp_path)
    if sample.source == "none":
        golden = _audit_golden(tmp_path, location={"source": "any"})
        [res] = [r for r in audit([folder], golden).results if r.files]
        assert res.state is not None and res.state.location is not None
        assert res.state.location.source == "none"
        assert [ln.callback for ln in res.state.lines][:1] == [sample.callback]
        [f] = [f for f in res.findings if f.subject == "emergency.location"]
        assert (f.rule, f.actual) == ("emergency.location", "none")
        assert all(sample.param in e for e in f.evidence[:1]), f.evidence
        assert not sample.param or f.evidence, f
        return
    ok = _audit_golden(tmp_path, location={"source": sample.source})
    [res] = [r for r in audit([folder], ok).results if r.files]
    assert res.state is not None and res.state.location is not None
    assert res.state.location.source == sample.source
    assert [ln.callback for ln in res.state.lines][:1] == [sample.callback]
    assert [f for f in res.findings if f.rule == "emergency.location"] == []
    other = "lldp-med" if sample.source != "lldp-med" else "held"
    bad = _audit_golden(tmp_path, location={"source": other}, callback={"matches": "none"})
    [res] = [r for r in audit([folder], bad).results if r.files]
    found = {f.subject for f in res.findings if f.rule == "emergency.location"}
    assert "emergency.location" in found and "line 1 callback" in found, res.findings


def test_fleet_audit_reports_a_location_finding_in_json(tmp_path: Path) -> None:
    sample = next(s for s in SAMPLES if s.source != "held")
    folder = _copy(sample, tmp_path)
    _audit_golden(tmp_path, location={"source": "held"})
    out = tmp_path / "report.json"
    proc = run_fleet(
        "audit",
        str(folder),
        "--golden",
        str(tmp_path / "golden.yaml"),
        "--format",
        "json",
        "--output",
        str(out),
        "--store",
        str(tmp_path / "fleet.db"),
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    findings = [f for d in report["devices"] for f in d["findings"]]
    [f] = [f for f in findings if f["rule"] == "emergency.location"]
    assert f["expected"] == "location source held" and f["actual"] == sample.source
    # the parameter it came from, as the file holds it
    assert f["evidence"] and " = " in f["evidence"][0], f


# ------------------------------------------------------------------ stored snapshots


def test_a_snapshot_stored_before_locations_loads_and_a_new_one_round_trips() -> None:
    old = {"vendor": "Poly", "profile": "polycom", "lines": [{"index": 1, "user": "2001"}]}
    state = DeviceState.from_dict(old)
    assert state.location is None and state.lines[0].callback is None
    assert "location" not in state.to_dict() and "callback" not in state.to_dict()["lines"][0]
    new = DeviceState(
        "Poly",
        "polycom",
        lines=[Line(1, user="2001", callback="2001", callback_source="reg.1.address")],
        location=Location("held", "https://lis", ["x = 1"]),
    )
    assert DeviceState.from_dict(json.loads(json.dumps(new.to_dict()))) == new


def test_a_source_not_required_only_checks_the_kind_when_one_is_configured(
    tmp_path: Path,
) -> None:
    """``required: false``: a phone with no location passes, one with another kind does not."""
    none = next(s for s in SAMPLES if s.source == "none")
    static = next(s for s in SAMPLES if s.source == "static")
    golden = _audit_golden(tmp_path, location={"source": "held", "required": False})
    for sample, want in ((none, []), (static, [("emergency.location", "static")])):
        folder = _copy(sample, tmp_path / sample.profile)
        [res] = [r for r in audit([folder], golden).results if r.files]
        got = [(f.rule, f.actual) for f in res.findings if f.subject == "emergency.location"]
        assert got == want, res.findings


@pytest.mark.parametrize(
    ("mac_lines", "source", "callback"),
    [
        # the guide: CUSTOM with a blank identity (%NULL%: set to blank) uses the LLDP-MED ELIN
        (["dialplan.emergency.custom_asserted_id = %NULL%"], "lldp-med", "2001"),
        # ... and with LLDP off there is nothing left
        (
            ["dialplan.emergency.custom_asserted_id = %NULL%", "static.network.lldp.enable = 0"],
            "none",
            "2001",
        ),
        # ELIN with LLDP off falls back to the custom identity
        (
            ["dialplan.emergency.asserted_id_source = ELIN", "static.network.lldp.enable = 0"],
            "static",
            "02079460000",
        ),
    ],
)
def test_yealink_identity_fallbacks_follow_the_admin_guide(
    mac_lines: list[str], source: str, callback: str, tmp_path: Path
) -> None:
    """A site's MAC file overriding the common file's CUSTOM identity, read by `fleet audit`."""
    sample = next(s for s in SAMPLES if s.profile == "yealink" and s.source == "static")
    folder = _copy(sample, tmp_path)
    mac = folder / Path(sample.files[0]).name
    mac.write_text(mac.read_text() + "\n" + "\n".join(mac_lines) + "\n")
    golden = _audit_golden(tmp_path, location={"source": "any"})
    [res] = [r for r in audit([folder], golden).results if r.files]
    assert res.state is not None and res.state.location is not None
    assert res.state.location.source == source, res.state.location
    assert res.state.lines[0].callback == callback
    found = [f.actual for f in res.findings if f.subject == "emergency.location"]
    assert found == (["none"] if source == "none" else [])
