"""Everything a human-facing report shows, computed once from the store: the verdict, the
counts, a table per site, emergency findings with their evidence, drift since the previous
snapshot, devices not audited, and the trend over the last snapshots. The HTML report, the
email and the metrics read this; none of them computes anything of its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.drift import Group, diff, fold
from fleet.model import DeviceResult, Finding, Snapshot
from fleet.report import causes
from fleet.report.causes import Cause

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
    # every device here not proven now, with when the store last saw it proven (None: never)
    not_proven: list[tuple[DeviceResult, str | None]] = field(default_factory=list)

    @property
    def compliance(self) -> float:
        """Share of this site's devices audited with no emergency finding."""
        return (self.audited - self.failing) / self.devices if self.devices else 1.0

    def not_proven_by_when(self) -> list[tuple[str | None, list[DeviceResult]]]:
        """The devices not proven now, by when each was last proven: newest first, those
        never proven last. One sweep usually proved many of them, so one line each."""
        by: dict[str | None, list[DeviceResult]] = {}
        for r, when in self.not_proven:
            by.setdefault(when, []).append(r)
        dated = sorted((w for w in by if w is not None), reverse=True)
        return [(w, by[w]) for w in dated] + ([(None, by[None])] if None in by else [])


@dataclass(slots=True)
class TrendPoint:
    id: int
    finished_at: str
    devices: int
    failing: int  # devices with critical findings
    critical: int


@dataclass(frozen=True, slots=True)
class NumberRow:
    """One emergency number at one site: when it was last proven at every device of the
    site in one sweep, and the longest window still open (None: none open)."""

    site: str
    number: str
    last_proven: str | None
    open_since: str | None = None  # the first failure of the longest open window
    open_last_proven: str | None = None  # the last proof before it
    open_devices: int = 0


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
    # devices not audited by status (unreachable, auth-failed, error): each needs other work
    not_audited_by: dict[str, int] = field(default_factory=dict)
    # the findings by root cause, worst first (fleet.report.causes)
    causes: list[Cause] = field(default_factory=list)
    # whether SiteRow.not_proven dates come from a store (without one, "never" is unknown)
    proof_history: bool = False
    # per site and emergency number, from the store's history (fleet.timeline)
    numbers: list[NumberRow] = field(default_factory=list)
    # devices in this snapshot only / in the previous one only (same scope)
    appeared: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)

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


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, the word plural unless ``n`` is 1: "1 device", "2 devices"."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _sites(results: list[DeviceResult], named: int = 6) -> list[str]:
    """The sites named, sorted; a device with no site adds none (never a bare "?"). Past
    ``named`` sites the rest is a count: the line is an email subject too."""
    sites = sorted({r.site for r in results if r.site})
    if len(sites) <= named:
        return sites
    return [*sites[: named - 1], f"{len(sites) - named + 1} more sites"]


def verdict(snap: Snapshot) -> tuple[str, bool]:
    """The subject line: what fails and where, what was not audited, or that every path is
    verified. It never claims more than was audited."""
    bad = [r for r in snap.results if any(_is_emergency(f) for f in r.findings)]
    phones = [r for r in snap.results if r.role == "phone"]
    failing = {id(r) for r in bad}
    missing = [r for r in snap.results if r.status != "audited" and id(r) not in failing]
    if bad:
        subjects = {
            f.subject
            for r in bad
            for f in r.findings
            if _is_emergency(f) and f.subject.isdigit() and len(f.subject) <= 4
        }
        # 9999 is 999 behind the outside-line prefix: name each emergency number once
        numbers = sorted(n for n in subjects if not any(n != m and n.endswith(m) for m in subjects))
        # audited, but something fleet could not read or evaluate: unproven, not broken
        partial = [
            r
            for r in snap.results
            if id(r) not in failing and r.status == "audited" and unproven(r)
        ]
        sites = _sites(bad + missing + partial)
        what = "phone" if all(r.role == "phone" for r in bad) else "device"
        fail = "fails" if len(bad) == 1 else "fail"
        reach = f"cannot reach {' or '.join(numbers)}" if numbers else f"{fail} an emergency check"
        others = [f"{len(missing):,} more not audited"] if missing else []
        others += [f"{len(partial):,} not fully evaluated"] if partial else []
        also = f"; {', '.join(others)}" if others else ""
        where = f" — {', '.join(sites)}" if sites else ""
        return f"EMERGENCY: {plural(len(bad), what)} {reach}{also}{where}", False
    if not snap.results:
        return "No device in this run: nothing verified", False
    if missing and len(missing) == len(snap.results):
        where = f" ({', '.join(_sites(missing))})" if _sites(missing) else ""
        return (
            f"No device audited: emergency calling unverified on "
            f"{'the' if len(missing) == 1 else 'all'} {plural(len(missing), 'device')}{where}"
        ), False
    if missing:
        where = f" ({', '.join(_sites(missing))})" if _sites(missing) else ""
        return (
            f"{plural(len(missing), 'device')} not audited: emergency calling unverified "
            f"there{where}"
        ), False
    partial = [r for r in snap.results if unproven(r)]
    if partial:
        where = f" ({', '.join(_sites(partial))})" if _sites(partial) else ""
        return (
            f"{plural(len(partial), 'device')} not fully evaluated: emergency calling unproven "
            f"there{where}"
        ), False
    if not phones:
        return f"No emergency finding on {plural(len(snap.results), 'device')} (no phone)", True
    if len(phones) == 1:
        return "The one emergency path verified", True
    return f"All {len(phones):,} emergency paths verified", True


def build(
    snap: Snapshot,
    previous: Snapshot | None = None,
    history: list[dict] | None = None,
    last_proven: Mapping[str, str | None] | None = None,
    device_last_proven: Mapping[str, str] | None = None,
) -> ReportContext:
    """``device_last_proven``: per device, when the store last saw its path proven
    (Store.last_proven_until); it dates each path not proven now, per site."""
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
        _date_not_proven(row, device_last_proven or {})
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
        appeared=sorted({r.id for r in snap.results} - {r.id for r in previous.results})
        if previous
        else [],
        vanished=sorted({r.id for r in previous.results} - {r.id for r in snap.results})
        if previous
        else [],
        previous=previous,
        trend=trend,
        generated_at=snap.finished_at,
        unproven=[r for r in snap.results if r.status == "audited" and unproven(r)],
        not_audited_by=dict(Counter(r.status for r in snap.results if r.status != "audited")),
        causes=causes.group(snap.results),
        proof_history=device_last_proven is not None,
    )


def proven_now(r: DeviceResult) -> bool:
    """Audited, fully evaluated and no emergency finding: its path is proven by this run."""
    return not unproven(r) and not any(_is_emergency(f) for f in r.findings)


def _date_not_proven(row: SiteRow, last: Mapping[str, str]) -> None:
    row.not_proven = [(r, last.get(r.id)) for r in row.results if not proven_now(r)]
