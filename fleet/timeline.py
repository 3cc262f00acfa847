"""Since when, and for whom: the windows in which an emergency number was broken, read from
the stored snapshots, each bounded by evidence on both sides.

For one device and one number a snapshot says one of three things:

- *proven*: audited, nothing left unevaluated (no ``coverage.*`` finding but staleness), and no
  finding of the number rules (``emergency.dial/route/path/sbc_route/delay``) on the number or
  on a prefixed form of it (``9999`` for ``999``);
- *failed*: audited with such a finding;
- nothing: not audited, a coverage finding, not in that snapshot's scope, or a snapshot whose
  checks did not require the number. That is a gap, never a proof either way.

A window opens at the first *failed* and closes at the next *proven* (``fixed``); the last
*proven* before it bounds its start. So the outage began after ``last_proven`` and by
``first_failed``, and ended after ``last_failed`` and by ``fixed``: its length lies between
``last_failed - first_failed`` and ``fixed - last_proven``. A site's window joins the
overlapping windows of its devices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

NUMBER_RULES = frozenset(
    (
        "emergency.dial",
        "emergency.route",
        "emergency.path",
        "emergency.sbc_route",
        "emergency.delay",
    )
)
PREFIX_MAX = 3  # an outside-line code before an emergency number: "9", "0", "*9", "#81"


@dataclass(frozen=True, slots=True)
class Point:
    """One snapshot, as evidence."""

    snapshot: int
    at: str  # finished_at, UTC "…Z"
    firmware: str | None = None


@dataclass(frozen=True, slots=True)
class Gap:
    """A snapshot inside a window that said nothing about the number, and why."""

    snapshot: int
    at: str
    why: str


@dataclass(slots=True)
class Window:
    number: str
    site: str | None
    devices: list[str]
    first_failed: Point
    last_failed: Point
    last_proven: Point | None  # None: never proven in the stored history before it failed
    fixed: Point | None  # None: still broken at the newest snapshot read
    forms: list[str] = field(default_factory=list)  # what failed: "999", "9999"
    gaps: list[Gap] = field(default_factory=list)
    firmware: list[str] = field(default_factory=list)  # "A -> B, first seen <at>"

    @property
    def open(self) -> bool:
        return self.fixed is None

    def at_least_s(self) -> float:
        """How long it was certainly broken: from the first failure seen to the last."""
        return _seconds(self.first_failed.at, self.last_failed.at)

    def at_most_s(self) -> float | None:
        """How long it may have been broken: from the last proof before to the first after;
        None when either side has no proof."""
        if self.last_proven is None or self.fixed is None:
            return None
        return _seconds(self.last_proven.at, self.fixed.at)

    def to_dict(self) -> dict[str, Any]:
        def point(p: Point | None) -> dict[str, Any] | None:
            return None if p is None else {"snapshot": p.snapshot, "at": p.at}

        return {
            "number": self.number,
            "site": self.site,
            "devices": list(self.devices),
            "last_proven": point(self.last_proven),
            "first_failed": point(self.first_failed),
            "last_failed": point(self.last_failed),
            "fixed": point(self.fixed),
            "open": self.open,
            "at_least_s": self.at_least_s(),
            "at_most_s": self.at_most_s(),
            "forms": list(self.forms),
            "gaps": [{"snapshot": g.snapshot, "at": g.at, "why": g.why} for g in self.gaps],
            "firmware": list(self.firmware),
        }


@dataclass(slots=True)
class Timeline:
    first: Point | None  # the oldest and newest snapshots read
    last: Point | None
    snapshots: int
    numbers: list[str]
    sites: list[Window]  # per site and number: what a compliance officer reads first
    devices: list[Window]  # per device and number: the evidence beneath
    inferred: list[int] = field(default_factory=list)  # snapshots stored without their numbers

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "fleet.timeline/1",
            "from": None if self.first is None else self.first.at,
            "to": None if self.last is None else self.last.at,
            "snapshots": self.snapshots,
            "numbers": list(self.numbers),
            "sites": [w.to_dict() for w in self.sites],
            "devices": [w.to_dict() for w in self.devices],
            "numbers_inferred_in": list(self.inferred),
        }


def human(seconds: float) -> str:
    """``11 d 7 h``, ``3 h 5 min``, ``40 s``: a window's length as a person says it."""
    s = round(seconds)
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m and not d else ""]
    return " ".join(p for p in parts if p) or f"{s} s"


def _when(iso: str) -> dt.datetime:
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _seconds(a: str, b: str) -> float:
    return (_when(b) - _when(a)).total_seconds()


def form_of(subject: str, number: str) -> bool:
    """Whether a finding's subject is ``number`` or ``number`` behind an outside-line code."""
    if subject == number:
        return True
    head = subject[: -len(number)] if subject.endswith(number) else ""
    return 0 < len(head) <= PREFIX_MAX and all(c.isdigit() or c in "*#" for c in head)


@dataclass(slots=True)
class _Seen:
    """One device in one snapshot."""

    site: str | None
    status: str
    firmware: str | None
    rules: list[tuple[str, str]] = field(default_factory=list)  # (rule, subject)

    def says(self, number: str) -> tuple[str, str | list[str]]:
        """("proven", ""), ("failed", [forms]) or ("gap", why)."""
        if self.status != "audited":
            return "gap", f"not audited ({self.status})"
        if cover := sorted(
            r for r, _ in self.rules if r.startswith("coverage.") and r != "coverage.stale"
        ):
            return "gap", f"not fully evaluated ({', '.join(dict.fromkeys(cover))})"
        forms = [s for r, s in self.rules if r in NUMBER_RULES and form_of(s, number)]
        return ("failed", sorted(set(forms))) if forms else ("proven", "")


def build(
    snapshots: Sequence[tuple[int, str, str, list[str]]],
    devices: Iterable[Sequence[Any]],
    findings: Iterable[Sequence[Any]],
    *,
    numbers: Sequence[str] = (),
    sites: Sequence[str] = (),
) -> Timeline:
    """The timeline from :class:`fleet.store.Evidence` rows; ``numbers`` / ``sites`` narrow it."""
    order = {sid: i for i, (sid, *_rest) in enumerate(snapshots)}
    seen: dict[str, dict[int, _Seen]] = {}
    for sid, dev, site, _role, status, firmware in devices:
        if sid in order and (not sites or site in sites):
            seen.setdefault(dev, {})[sid] = _Seen(site, status, firmware)
    for sid, dev, rule, subject in findings:
        if (got := seen.get(dev, {}).get(sid)) is not None:
            got.rules.append((rule, subject or ""))
    checked, inferred = _checked(snapshots, seen)
    # the policy's own order (999 before 112), as the snapshots recorded it
    wanted = list(numbers) or list(
        dict.fromkeys(
            n for sid, *_ in snapshots for n in sorted(checked[sid], key=_policy_order(snapshots))
        )
    )
    per_device = [
        w
        for dev in sorted(seen)
        for n in wanted
        for w in _windows(dev, n, snapshots, seen[dev], checked)
    ]
    points = [Point(sid, at) for sid, _k, at, _n in snapshots]
    return Timeline(
        points[0] if points else None,
        points[-1] if points else None,
        len(snapshots),
        wanted,
        _sites(per_device),
        per_device,
        inferred,
    )


def _policy_order(snapshots: Sequence[tuple[int, str, str, list[str]]]) -> Any:
    recorded = list(dict.fromkeys(n for *_, nums in snapshots for n in nums))
    return lambda n: (recorded.index(n) if n in recorded else len(recorded), n)


def _num_key(n: str) -> tuple[int, str]:
    return (len(n), n)


def _checked(
    snapshots: Sequence[tuple[int, str, str, list[str]]], seen: dict[str, dict[int, _Seen]]
) -> tuple[dict[int, set[str]], list[int]]:
    """Each snapshot's required numbers; a snapshot stored before they were recorded gets
    those its findings name (so it can show failures, and proves only numbers it checked)."""
    out: dict[int, set[str]] = {}
    inferred = []
    for sid, _kind, _at, nums in snapshots:
        if nums:
            out[sid] = set(nums)
            continue
        inferred.append(sid)
        out[sid] = {
            s
            for by in seen.values()
            if (x := by.get(sid)) is not None
            for r, s in x.rules
            if r in NUMBER_RULES and s.isdigit()
        }
    return out, inferred


def _windows(
    dev: str,
    number: str,
    snapshots: Sequence[tuple[int, str, str, list[str]]],
    by_snap: dict[int, _Seen],
    checked: dict[int, set[str]],
) -> list[Window]:
    out: list[Window] = []
    last_proven: Point | None = None
    current: Window | None = None
    pending: list[Gap] = []  # gaps since the last word
    firmware_then: str | None = None
    usual = _usual_interval(snapshots)
    before: str | None = None
    for sid, _kind, at, _nums in snapshots:
        if before is not None and usual and _seconds(before, at) > 1.5 * usual:
            # no sweep at all for a while: evidenced only at both ends, and said so
            pending.append(
                Gap(0, before, f"no snapshot until {at} ({human(_seconds(before, at))})")
            )
        before = at
        x = by_snap.get(sid)
        if x is None or number not in checked[sid]:
            why = "not in this snapshot" if x is None else f"{number} not checked in this run"
            pending.append(Gap(sid, at, why))
            continue
        word, detail = x.says(number)
        point = Point(sid, at, x.firmware)
        if word == "gap":
            pending.append(Gap(sid, at, str(detail)))
        elif word == "failed":
            if current is None:
                current = Window(number, x.site, [dev], point, point, last_proven, None)
                current.gaps += pending
                if firmware_then is not None and x.firmware != firmware_then:
                    current.firmware.append(f"{firmware_then} -> {x.firmware}, first seen {at}")
            else:
                current.gaps += pending
                current.last_failed = point
            current.forms = sorted(set(current.forms) | set(detail))
            pending = []
        else:  # proven
            if current is not None:
                current.gaps += pending
                current.fixed = point
                out.append(current)
                current = None
            last_proven, firmware_then, pending = point, x.firmware, []
    if current is not None:
        out.append(current)
    return out


def _usual_interval(snapshots: Sequence[tuple[int, str, str, list[str]]]) -> float:
    """The median time between consecutive snapshots (0 with fewer than three)."""
    times = [at for _sid, _kind, at, _nums in snapshots]
    steps = sorted(_seconds(a, b) for a, b in pairwise(times))
    return steps[len(steps) // 2] if len(steps) >= 2 else 0.0


def _sites(per_device: list[Window]) -> list[Window]:
    """Per site and number, the devices' overlapping windows joined into one."""
    groups: dict[tuple[str | None, str], list[Window]] = {}
    for w in per_device:
        groups.setdefault((w.site, w.number), []).append(w)
    out: list[Window] = []
    for (site, number), ws in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or "", _num_key(kv[0][1]))
    ):
        ws.sort(key=lambda w: w.first_failed.at)
        cluster: list[Window] = []
        for w in ws:
            if cluster and not _overlaps(cluster, w):
                out.append(_join(site, number, cluster))
                cluster = []
            cluster.append(w)
        out.append(_join(site, number, cluster))
    return out


def _end(w: Window) -> str:
    return w.fixed.at if w.fixed else "\uffff"  # an open window reaches past every date


def _overlaps(cluster: list[Window], w: Window) -> bool:
    return w.first_failed.at <= max(_end(c) for c in cluster)


def _join(site: str | None, number: str, ws: list[Window]) -> Window:
    first = min(ws, key=lambda w: w.first_failed.at)
    proven = [
        w.last_proven for w in ws if w.last_proven and w.last_proven.at < first.first_failed.at
    ]
    fixed = (
        None
        if any(w.open for w in ws)
        else max((w.fixed for w in ws if w.fixed), key=lambda p: p.at)
    )
    silent: dict[tuple[int, str], dict[str, int]] = {}  # per snapshot: why -> devices
    for w in ws:
        for g in w.gaps:
            why = silent.setdefault((g.snapshot, g.at), {})
            why[g.why] = why.get(g.why, 0) + 1
    gaps = [
        Gap(sid, at, "; ".join(f"{n} of {len(ws)}: {why}" for why, n in sorted(whys.items())))
        for (sid, at), whys in sorted(silent.items())
    ]
    return Window(
        number,
        site,
        sorted({d for w in ws for d in w.devices}),
        first.first_failed,
        max((w.last_failed for w in ws), key=lambda p: p.at),
        max(proven, key=lambda p: p.at) if proven else None,
        fixed,
        sorted({f for w in ws for f in w.forms}, key=_num_key),
        gaps,
        sorted({f for w in ws for f in w.firmware}),
    )


def site_proofs(
    snapshots: Sequence[tuple[int, str, str, list[str]]],
    devices: Iterable[Sequence[Any]],
    findings: Iterable[Sequence[Any]],
) -> tuple[dict[tuple[str, str], str | None], dict[tuple[str, str], tuple[int, int]]]:
    """Per (site, number): when it was last proven at every device of the site in one
    snapshot (None: never in the stored history); and, at the newest snapshot, how many devices
    failed and how many said nothing (not audited, not fully evaluated)."""
    seen: dict[int, dict[str, _Seen]] = {}
    for sid, dev, site, _role, status, firmware in devices:
        seen.setdefault(sid, {})[dev] = _Seen(site, status, firmware)
    for sid, dev, rule, subject in findings:
        if (got := seen.get(sid, {}).get(dev)) is not None:
            got.rules.append((rule, subject or ""))
    by_dev: dict[str, dict[int, _Seen]] = {}
    for sid, devs in seen.items():
        for dev, x in devs.items():
            by_dev.setdefault(dev, {})[sid] = x
    checked, _ = _checked(snapshots, by_dev)
    last: dict[tuple[str, str], str | None] = {}
    now: dict[tuple[str, str], tuple[int, int]] = {}
    newest = snapshots[-1][0] if snapshots else None
    for sid, _kind, at, _nums in snapshots:
        per_site: dict[tuple[str, str], list[str]] = {}
        for x in seen.get(sid, {}).values():
            for n in checked[sid]:
                per_site.setdefault((x.site or "-", n), []).append(x.says(n)[0])
        for key, words in per_site.items():
            last.setdefault(key, None)
            if all(w == "proven" for w in words):
                last[key] = at
            if sid == newest:
                now[key] = (words.count("failed"), words.count("gap"))
    return last, now
