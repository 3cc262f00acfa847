"""Prometheus text exposition for node_exporter's textfile collector, written atomically
(the collector must never read half a file)."""

from __future__ import annotations

import calendar
import contextlib
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from fleet.model import Snapshot


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(snap: Snapshot) -> str:
    sites = sorted({r.site or "-" for r in snap.results})
    per = {s: [r for r in snap.results if (r.site or "-") == s] for s in sites}
    lines: list[str] = []

    def family(name: str, kind: str, help_: str) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")

    family("fleet_devices", "gauge", "Devices in the last sweep.")
    for s in sites:
        lines.append(f'fleet_devices{{site="{_esc(s)}"}} {len(per[s])}')
    family("fleet_devices_audited", "gauge", "Devices whose configuration was read and checked.")
    for s in sites:
        n = sum(r.status == "audited" for r in per[s])
        lines.append(f'fleet_devices_audited{{site="{_esc(s)}"}} {n}')
    family(
        "fleet_devices_unreachable",
        "gauge",
        "Devices not audited (unreachable, auth-failed or error).",
    )
    for s in sites:
        n = sum(r.status != "audited" for r in per[s])
        lines.append(f'fleet_devices_unreachable{{site="{_esc(s)}"}} {n}')
    family(
        "fleet_devices_not_audited",
        "gauge",
        "Devices not audited, by site and why (unreachable, auth-failed, error).",
    )
    for s in sites:
        # every reason, zeros too: an alert on auth-failed must see the series drop to 0
        for status in ("unreachable", "auth-failed", "error"):
            n = sum(r.status == status for r in per[s])
            lines.append(f'fleet_devices_not_audited{{site="{_esc(s)}",status="{status}"}} {n}')
    family(
        "fleet_emergency_failures", "gauge", "Devices with an emergency finding, by site and rule."
    )
    for s in sites:
        by_rule = Counter(
            rule
            for r in per[s]
            for rule in {f.rule for f in r.findings if f.rule.startswith("emergency.")}
        )
        for rule in sorted(by_rule):
            lines.append(
                f'fleet_emergency_failures{{site="{_esc(s)}",rule="{_esc(rule)}"}} {by_rule[rule]}'
            )
    family("fleet_last_sweep_timestamp_seconds", "gauge", "When the last sweep finished.")
    finished = calendar.timegm(time.strptime(snap.finished_at, "%Y-%m-%dT%H:%M:%SZ"))
    lines.append(f'fleet_last_sweep_timestamp_seconds{{kind="{snap.kind}"}} {finished}')
    family("fleet_sweep_duration_seconds", "gauge", "How long the last sweep took.")
    lines.append(f'fleet_sweep_duration_seconds{{kind="{snap.kind}"}} {snap.duration_s}')
    return "\n".join(lines) + "\n"


def write(snap: Snapshot, path: Path, extra: str = "") -> None:
    """``extra``: more families (the store's per-site, per-number history)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(snap) + extra)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        # a full disk or a signal mid-write: no cut-off temporary file left beside the
        # collector's .prom files (the error itself still ends the run with exit 2)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
