"""The per-site, per-number emergency gauges alert rules are written on (docs/alerting.md):
when each number was last proven at every device of a site, and how many devices fail or
are unproven now. Read from the store's history, not only the last snapshot."""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the report renders what the store and the timeline computed
    from fleet.store import Evidence


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(site: str, number: str) -> str:
    return f'{{site="{_esc(site)}",number="{_esc(number)}"}}'


def _epoch(iso: str) -> int:
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def render(ev: Evidence) -> str:
    from fleet.timeline import site_proofs

    last, now = site_proofs(ev.snapshots, ev.devices, ev.findings)
    lines = [
        "# HELP fleet_emergency_last_proven_timestamp_seconds When the number was last proven "
        "at every device of the site in one sweep (0: never in the stored history).",
        "# TYPE fleet_emergency_last_proven_timestamp_seconds gauge",
    ]
    for (site, number), at in sorted(last.items()):
        value = _epoch(at) if at else 0
        lines.append(
            f"fleet_emergency_last_proven_timestamp_seconds{_labels(site, number)} {value}"
        )
    lines += [
        "# HELP fleet_emergency_broken_devices Devices of the site on which the number fails "
        "in the last sweep.",
        "# TYPE fleet_emergency_broken_devices gauge",
    ]
    for (site, number), (failed, _gaps) in sorted(now.items()):
        lines.append(f"fleet_emergency_broken_devices{_labels(site, number)} {failed}")
    lines += [
        "# HELP fleet_emergency_unproven_devices Devices of the site that said nothing about "
        "the number in the last sweep (not audited, not fully evaluated).",
        "# TYPE fleet_emergency_unproven_devices gauge",
    ]
    for (site, number), (_failed, gaps) in sorted(now.items()):
        lines.append(f"fleet_emergency_unproven_devices{_labels(site, number)} {gaps}")
    return "\n".join(lines) + "\n"
