"""coverage.stale: a device whose emergency path was last proven longer ago than allowed."""

from __future__ import annotations

import datetime as dt
import re

from fleet.errors import InputError
from fleet.model import DeviceResult, Finding, Snapshot

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """``90m``, ``24h``, ``7d``, ``2w`` or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not m:
        raise InputError(f"expected a duration like 24h or 7d, got {text!r}", field="--max-age")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _when(iso: str) -> dt.datetime:
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def proven(r: DeviceResult) -> bool:
    """Audited, no emergency finding, nothing fleet could not evaluate (fail closed)."""
    return r.status == "audited" and not any(
        f.rule.startswith("emergency.")
        or (f.rule.startswith("coverage.") and f.rule != "coverage.stale")
        for f in r.findings
    )


def mark_stale(snap: Snapshot, last_proven: dict[str, str], max_age_s: float) -> None:
    now = _when(snap.finished_at)
    for r in snap.results:
        # a stored snapshot already marked at sweep time is marked again against this limit
        r.findings = [f for f in r.findings if f.rule != "coverage.stale"]
        if proven(r):
            continue
        last = last_proven.get(r.id)
        age = (now - _when(last)).total_seconds() if last else None
        if age is not None and age <= max_age_s:
            continue
        msg = (
            f"emergency path last proven {human(age)} ago ({last}), longer than the "
            f"allowed {human(max_age_s)}"
            if age is not None
            else "emergency path never proven in the stored history"
        )
        r.findings.append(
            Finding(
                "coverage.stale",
                "high",
                r.id,
                msg,
                expected=f"proven within {human(max_age_s)}",
                actual=last or "never",
            )
        )
        r.findings.sort(key=Finding.sort_key)


def site_unverified_since(snap: Snapshot, last_proven: dict[str, str]) -> dict[str, str]:
    """Per site with a device not proven now: since when (its longest-unproven device)."""
    now = _when(snap.finished_at)
    oldest: dict[str, str | None] = {}
    for r in snap.results:
        if proven(r):
            continue
        site, last = r.site or "-", last_proven.get(r.id)
        if site not in oldest:
            oldest[site] = last
            continue
        held = oldest[site]
        if held is not None and (last is None or last < held):
            oldest[site] = last  # ISO timestamps sort as text; None (never) is oldest
    return {
        site: f"{human((now - _when(last)).total_seconds())} ago ({last})" if last else "never"
        for site, last in oldest.items()
    }
