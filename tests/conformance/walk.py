"""The conformance walker: third-party configuration files, audited as `fleet audit` does,
against verdicts derived by hand from the vendors' documentation (README.md beside this).

``python -m tests.conformance.walk`` prints the counts (files, verdicts right, false alarms,
misses); ``tests/conformance/test_conformance.py`` asserts every case."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet import dialplan, profiles
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.model import DeviceResult, DeviceState

ROOT = Path(__file__).parent
GOLDEN_BASE = {
    "uk": {"fleet_golden": 1, "name": "conformance-uk", "policy": ["uk"]},
    "us": {"fleet_golden": 1, "name": "conformance-us", "policy": ["us"]},
}
# The findings a verdict lists: every emergency and coverage finding, whatever its severity.
COUNTED = re.compile(r"^(emergency|coverage)\.")
SENDS = ("at-once", "after-timer", "never", "no-plan")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Case:
    folder: Path
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        if self.folder.parent.name == "conformance":  # device_profiles/<vendor>/conformance/
            return f"{self.folder.parent.parent.name}/{self.folder.name}"
        return f"{self.folder.parent.name}/{self.folder.name}"

    @property
    def files(self) -> list[Path]:
        return sorted(
            p
            for p in self.folder.rglob("*")
            if p.is_file() and p.name != "case.yaml" and not p.name.startswith(".")
        )


@dataclass
class Outcome:
    case: Case
    problems: list[str] = field(default_factory=list)  # each a verdict that did not hold
    false_alarms: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    verdicts: int = 0  # verdict items checked
    right: int = 0


def cases() -> list[Case]:
    """Cases here, and in a vendor folder's own conformance/ (so a vendor is one folder)."""
    found = sorted(ROOT.glob("*/*/case.yaml"))
    found += sorted((ROOT.parent.parent / "device_profiles").glob("*/conformance/*/case.yaml"))
    return [Case(p.parent, _load(p)) for p in found]


def _load(path: Path) -> dict[str, Any]:
    """A case.yaml that does not parse is that case's failure, not the whole walk's."""
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        return {"_error": f"{path.name}: {e}"}
    return spec if isinstance(spec, dict) else {"_error": f"{path.name}: not a mapping"}


def check_spec(case: Case) -> list[str]:
    """What is missing from the case itself: provenance for every file, cited sources."""
    s, errs = case.spec, []
    if "_error" in s:
        return [s["_error"]]
    if s.get("profile") not in profiles.registry():
        errs.append(f"profile {s.get('profile')!r} is not a profile")
    prov = {p.get("file"): p for p in s.get("provenance", [])}
    for f in case.files:
        rel = str(f.relative_to(case.folder))
        p = prov.get(rel)
        if p is None:
            errs.append(f"{rel}: no provenance")
            continue
        for key in ("repository", "path", "commit", "licence"):
            if not p.get(key):
                errs.append(f"{rel}: provenance has no {key}")
        if p.get("commit") and not HEX40.match(str(p["commit"])):
            errs.append(f"{rel}: commit {p['commit']!r} is not a 40-hex commit id")
    v = s.get("verdict") or {}
    if not v.get("sources"):
        errs.append("verdict has no sources")
    for g in ("uk", "us"):
        if g not in v:
            errs.append(f"verdict has no {g} findings list")
    return errs


def golden_for(case: Case, pack: str, tmp: Path) -> golden_mod.Golden:
    doc = dict(GOLDEN_BASE[pack])
    extra = (case.spec.get("verdict") or {}).get("golden") or {}
    if extra:
        doc["emergency"] = dict(extra)
    path = tmp / f"{case.folder.name}-{pack}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return golden_mod.load(path)


def run(case: Case, tmp: Path) -> Outcome:
    out = Outcome(case)
    out.problems += check_spec(case)
    if "_error" in case.spec:
        return out
    v = case.spec.get("verdict") or {}
    for pack in ("uk", "us"):
        snap = audit(case.files, golden_for(case, pack, tmp))
        res = _device(case, snap.results, out)
        if res is None:
            return out
        if pack == "uk":
            _check_device(case, res, v, out)
        _check_findings(res, pack, v.get(pack) or [], out)
    return out


def _device(case: Case, results: list[DeviceResult], out: Outcome) -> DeviceResult | None:
    want = case.spec.get("device")
    if want is None and len(results) == 1:
        return results[0]
    hit = [r for r in results if r.id == want]
    if not hit:
        out.problems.append(
            f"audit gave devices {[r.id for r in results]}; name one with device: in case.yaml"
        )
        return None
    return hit[0]


def _check_device(case: Case, res: DeviceResult, v: dict[str, Any], out: Outcome) -> None:
    out.verdicts += 1
    want_status = v.get("status", "audited")
    if res.status != want_status:
        out.problems.append(f"status {res.status} ({res.error}), expected {want_status}")
        return
    out.right += 1
    if res.state is None:
        return
    if res.profile != case.spec["profile"]:
        out.problems.append(f"read as {res.profile}, expected {case.spec['profile']}")
    for number, want in (v.get("numbers") or {}).items():
        got = phone_verdict(res.state, str(number), want.get("line"))
        _compare(str(number), got, {k: w for k, w in want.items() if k != "line"}, out)
    sbc = dict(v.get("sbc") or {})
    source = sbc.pop("source", None)
    for number, want in sbc.items():
        _compare(f"SBC {number}", sbc_verdict(res, str(number), source), want, out)


def _compare(label: str, got: dict[str, Any], want: dict[str, Any], out: Outcome) -> None:
    """One verdict: every key the case gives must hold."""
    out.verdicts += 1
    bad = {k: (got.get(k), w) for k, w in want.items() if got.get(k) != w}
    if bad:
        out.problems.append(
            f"{label}: " + "; ".join(f"{k} is {g!r}, expected {w!r}" for k, (g, w) in bad.items())
        )
    else:
        out.right += 1


def phone_verdict(state: DeviceState, number: str, line: int | None = None) -> dict[str, Any]:
    """What the phone does with ``number`` keyed on ``line`` (default: the first enabled line,
    else the device's own plan): sends at once, after a timer or never, what, to which route."""
    lines = [ln for ln in state.lines if ln.enabled]
    ln = (
        next((x for x in lines if x.index == line), None) if line else (lines[0] if lines else None)
    )
    plan = (ln.dialplan if ln else None) or state.dialplan
    got: dict[str, Any] = {}
    entries = ln.emergency if ln else state.emergency
    entry = next((e for e in entries if e.number == number), None)
    got["emergency"] = entry is not None
    got["route"] = entry.route if entry else None
    if plan is None:
        got["sends"] = "no-plan"
        return got
    res = dialplan.evaluate_plan(plan, number)
    if res is None:
        got["sends"] = "no-plan"
    elif res.outcome != "dial":
        got["sends"] = "never"
    else:
        got["sends"] = "after-timer" if (res.after_timeout or res.delay_s) else "at-once"
        got["sent"] = res.sent
        if res.delay_s:
            got["delay_s"] = res.delay_s
    return got


def sbc_verdict(res: DeviceResult, number: str, source: str | None) -> dict[str, Any]:
    prof = profiles.get(res.profile)
    if prof.route is None or res.state is None:
        return {"outcome": "not-evaluated"}
    d = prof.route(res.state, number, source)
    got: dict[str, Any] = {"outcome": d.outcome, "sent": d.sent, "trunk": d.trunk}
    # an ambiguous decision: each alternative as {source, route, outcome, sent, trunk}
    got["alternatives"] = [
        {
            "source": a.source,
            "route": a.route,
            "outcome": a.outcome,
            "sent": a.sent,
            "trunk": a.trunk,
        }
        for a in d.alternatives
    ]
    return got


def _check_findings(res: DeviceResult, pack: str, want: list[str], out: Outcome) -> None:
    raised = [f for f in res.findings if COUNTED.match(f.rule)]
    matched: set[int] = set()
    for w in want:
        out.verdicts += 1
        rule, _, subject = str(w).partition(" ")
        hits = [
            i
            for i, f in enumerate(raised)
            if f.rule == rule and (not subject or f.subject == subject)
        ]
        if hits:
            matched.update(hits)
            out.right += 1
        else:
            out.misses.append(f"{pack}: {w} not raised")
    for i, f in enumerate(raised):
        if i not in matched:
            out.false_alarms.append(f"{pack}: {f.rule} {f.subject}: {f.message}")


def main() -> int:
    import tempfile

    tot = {"cases": 0, "files": 0, "verdicts": 0, "right": 0, "false_alarms": 0, "misses": 0}
    by_profile: dict[str, int] = {}
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            o = run(case, Path(tmp))
            tot["cases"] += 1
            tot["files"] += len(case.files)
            by_profile[case.spec.get("profile", "?")] = by_profile.get(
                case.spec.get("profile", "?"), 0
            ) + len(case.files)
            tot["verdicts"] += o.verdicts
            tot["right"] += o.right
            tot["false_alarms"] += len(o.false_alarms)
            tot["misses"] += len(o.misses)
            for p in o.problems + o.false_alarms + o.misses:
                bad += 1
                print(f"{case.name}: {p}")
    print(
        f"{tot['cases']} cases, {tot['files']} files; verdicts right {tot['right']}/"
        f"{tot['verdicts']}; false alarms {tot['false_alarms']}; misses {tot['misses']}"
    )
    print("files per profile: " + ", ".join(f"{k} {n}" for k, n in sorted(by_profile.items())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
