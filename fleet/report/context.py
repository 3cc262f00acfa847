"""Everything a human-facing report shows, computed once from the store: the verdict, the
counts, a table per site, emergency findings with their evidence, drift since the previous
snapshot, devices not audited, and the trend over the last snapshots. The HTML report, the
email and the metrics read this; none of them computes anything of its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.drift import Group, diff, fold
from fleet.model import DeviceResult, Finding, Snapshot

EMERGENCY_NUMBERS_SUBJECT_RULES = (
    "emergency.dial",
    "emergency.route",
    "emergency.path",
    "emergency.sbc_route",
    "emergency.delay",
)


@dataclass(slots=True)
class SiteRow:
    site: str
    devices: int = 0
    audited: int = 0
    phones: int = 0
    proven: int = 0  # audited phones with no emergency finding: every path proven
    failing: int = 0  # devices with an emergency finding
    unreachable: int = 0  # not audited, any reason
    last_proven: str | None = None  # when this site's paths were last all proven (stale)
    results: list[DeviceResult] = field(default_factory=list)

    @property
    def compliance(self) -> float:
        """Share of this site's devices audited with no emergency finding."""
        return (self.audited - self.failing) / self.devices if self.devices else 1.0


@dataclass(slots=True)
class TrendPoint:
    id: int
    finished_at: str
    devices: int
    failing: int  # devices with critical findings
    critical: int


@dataclass(slots=True)
class ReportContext:
    snapshot: Snapshot
    verdict: str
    ok: bool
    devices: int
    audited: int
    proven: int  # emergency paths (phones) proven: audited phones without emergency findings
    phones: int
    failing: int
    unreachable: int
    sites: list[SiteRow]
    emergency: list[tuple[DeviceResult, Finding]]  # worst first
    other: list[tuple[DeviceResult, Finding]]
    not_audited: list[DeviceResult]
    drift: list[Group]
    previous: Snapshot | None
    trend: list[TrendPoint]
    generated_at: str
    # devices audited with a coverage finding: not proven, not shown broken
    unproven: list[DeviceResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "devices": self.devices,
            "audited": self.audited,
            "proven": self.proven,
            "failing": self.failing,
            "unreachable": self.unreachable,
        }


def _is_emergency(f: Finding) -> bool:
    return f.rule.startswith("emergency.")


def unproven(r: DeviceResult) -> bool:
    """Not audited, or audited with something fleet could not read, evaluate or walk: its
    emergency calling is neither proven nor shown broken, and never counts as verified."""
    return r.status != "audited" or any(f.rule.startswith("coverage.") for f in r.findings)


def verdict(snap: Snapshot) -> tuple[str, bool]:
    """The subject line: what fails and where, or that every path is verified."""
    bad = [r for r in snap.results if any(_is_emergency(f) for f in r.findings)]
    phones = [r for r in snap.results if r.role == "phone"]
    if bad:
        subjects = {
            f.subject
            for r in bad
            for f in r.findings
            if _is_emergency(f) and f.subject.isdigit() and len(f.subject) <= 4
        }
        # 9999 is 999 behind the outside-line prefix: name each emergency number once
        numbers = sorted(n for n in subjects if not any(n != m and n.endswith(m) for m in subjects))
        sites = sorted({r.site or "?" for r in bad})
        what = "phones" if all(r.role == "phone" for r in bad) else "devices"
        reach = f"cannot reach {' or '.join(numbers)}" if numbers else "fail an emergency check"
        return (
            f"EMERGENCY: {len(bad)} {what if len(bad) != 1 else what[:-1]} {reach} — "
            f"{', '.join(sites)}"
        ), False
    missing = [r for r in snap.results if r.status != "audited"]
    if missing:
        return (
            f"{len(missing)} device(s) not audited: emergency calling unverified there "
            f"({', '.join(sorted({r.site or '?' for r in missing}))})"
        ), False
    partial = [r for r in snap.results if unproven(r)]
    if partial:
        return (
            f"{len(partial)} device(s) not fully evaluated: emergency calling unproven there "
            f"({', '.join(sorted({r.site or '?' for r in partial}))})"
        ), False
    return f"All {len(phones):,} emergency paths verified", True


def build(
    snap: Snapshot,
    previous: Snapshot | None = None,
    history: list[dict] | None = None,
    last_proven: Mapping[str, str | None] | None = None,
) -> ReportContext:
    text, ok = verdict(snap)
    sites: dict[str, SiteRow] = {}
    emergency: list[tuple[DeviceResult, Finding]] = []
    other: list[tuple[DeviceResult, Finding]] = []
    for r in snap.results:
        row = sites.setdefault(r.site or "-", SiteRow(r.site or "-"))
        row.devices += 1
        row.results.append(r)
        bad = any(_is_emergency(f) for f in r.findings)
        if r.status == "audited":
            row.audited += 1
        else:
            row.unreachable += 1
        if r.role == "phone":
            row.phones += 1
            if not unproven(r) and not bad:
                row.proven += 1
        if bad:
            row.failing += 1
        for f in r.findings:
            (emergency if _is_emergency(f) else other).append((r, f))
    for site, row in sites.items():
        row.last_proven = (last_proven or {}).get(site)
    emergency.sort(key=lambda rf: (rf[1].sort_key(), rf[0].site or "", rf[0].id))
    other.sort(key=lambda rf: (rf[1].sort_key(), rf[0].site or "", rf[0].id))
    drift_groups = fold(diff(previous, snap), snap, previous) if previous else []
    trend = [
        TrendPoint(
            h["id"],
            h["finished_at"],
            h["summary"]["devices"],
            h["summary"].get("failing", 0),
            h["summary"]["findings"]["critical"],
        )
        for h in (history or [])
    ]
    rows = sorted(sites.values(), key=lambda s: s.site)
    return ReportContext(
        snapshot=snap,
        verdict=text,
        ok=ok,
        devices=len(snap.results),
        audited=sum(s.audited for s in rows),
        proven=sum(s.proven for s in rows),
        phones=sum(s.phones for s in rows),
        failing=sum(s.failing for s in rows),
        unreachable=sum(s.unreachable for s in rows),
        sites=rows,
        emergency=emergency,
        other=other,
        not_audited=[r for r in snap.results if r.status != "audited"],
        drift=drift_groups,
        previous=previous,
        trend=trend,
        generated_at=snap.finished_at,
        unproven=[r for r in snap.results if r.status == "audited" and unproven(r)],
    )
