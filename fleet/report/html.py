"""The self-contained HTML report: one file, no external assets, for people who will not open
a terminal (a service manager reading email on a phone, a NOC wall, a printout).

Everything shown comes from ReportContext; this module only formats it. The template lives in
``fleet/report/templates`` and is loaded as package data, so it is found when installed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2
from markupsafe import Markup, escape

from fleet.model import SEVERITIES, DeviceResult, Finding
from fleet.report import json_report
from fleet.report.causes import Cause
from fleet.report.charts import bar_chart, pct, trend_chart
from fleet.report.context import ReportContext, SiteRow

_env: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.PackageLoader("fleet.report", "templates"),
            # Device configs, error messages and inventory names all reach the page.
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters.update(
            when=when,
            code=code_spans,
            pct=pct,
        )
        # an address as the JSON gives it: a user or password in a URL never reaches a page
        _env.globals.update(address=json_report.address, mac=json_report.device_mac)
    return _env


def environment() -> jinja2.Environment:
    """The templates' environment (the report page and the email body share its filters)."""
    return _environment()


def render(ctx: ReportContext) -> str:
    """The report as one HTML5 document (inline CSS and SVG, no scripts, no external refs)."""
    snap = ctx.snapshot
    emergency_devices, other_devices = by_device(ctx.emergency), by_device(ctx.other)
    in_emergency = {r.id for r, _ in emergency_devices}
    in_other = {r.id for r, _ in other_devices}

    def finding_link(device_id: str) -> str:
        """Where a root cause's device leads: its emergency findings, else its other
        findings, else its row in the site table (an SBC that only explains others)."""
        if device_id in in_emergency:
            return finding_anchor(device_id)
        if device_id in in_other:
            return "other-" + finding_anchor(device_id)
        return anchor(device_id)

    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            ctx=ctx,
            snap=snap,
            tone=verdict_tone(ctx),
            severities=SEVERITIES,
            site_tone=site_tone,
            unverified_for=unverified_for,
            device_counts=device_counts,
            fails_emergency=fails_emergency,
            anchor=anchor,
            finding_anchor=finding_anchor,
            proof_lines=proof_lines,
            emergency_causes=[c for c in ctx.causes if is_emergency(c)],
            other_causes=[c for c in ctx.causes if not is_emergency(c)],
            finding_link=finding_link,
            emergency_devices=emergency_devices,
            other_devices=other_devices,
            statuses=NOT_AUDITED,
            compliance_svg=Markup(
                bar_chart(
                    [(s.site, s.compliance, site_tone(s)) for s in ctx.sites],
                    title="Compliance by site",
                )
            ),
            trend_svg=Markup(
                trend_chart(
                    [f"#{p.id}" for p in ctx.trend],
                    [
                        ("devices failing emergency", [p.failing for p in ctx.trend], "bad"),
                        ("critical findings", [p.critical for p in ctx.trend], "muted"),
                    ],
                    title="Trend over the last snapshots",
                )
            )
            if ctx.trend
            else None,
        )
    )


def verdict_tone(ctx: ReportContext) -> str:
    """bad: an emergency check fails; warn: nothing fails but some devices went unchecked."""
    if ctx.failing:
        return "bad"
    return "good" if ctx.ok else "warn"


def site_tone(row: SiteRow) -> str:
    if row.failing:
        return "bad"
    return "warn" if row.unreachable or row.not_proven else "good"


# Why a device was not audited, as the summary breaks it down: each calls for other work
# (the network, the credentials, the device or fleet itself).
NOT_AUDITED = (("unreachable", "unreachable"), ("auth-failed", "auth failed"), ("error", "error"))


def is_emergency(c: Cause) -> bool:
    return c.rule.startswith("emergency.")


def by_device(
    pairs: Sequence[tuple[DeviceResult, Finding]],
) -> list[tuple[DeviceResult, list[Finding]]]:
    """(device, its findings) in the order of each device's worst finding: an engineer
    fixes a phone, not a rule, so the details read one device at a time."""
    out: dict[str, tuple[DeviceResult, list[Finding]]] = {}
    for r, f in pairs:
        out.setdefault(r.id, (r, []))[1].append(f)
    return list(out.values())


def finding_anchor(device_id: str) -> str:
    return "find-" + re.sub(r"[^A-Za-z0-9_.-]", "_", device_id)


@dataclass(frozen=True, slots=True)
class ProofLine:
    """Devices of one site not proven now that were last proven at the same time."""

    label: str  # "last proven 2026-11-28 22:06 UTC (2 days ago)", "never proven"
    devices: list[DeviceResult]
    more: int  # devices left out beyond the limit


def proof_lines(row: SiteRow, now: str, known: bool, limit: int = 0) -> list[ProofLine]:
    """Each path of ``row`` not proven now, grouped by when the store last saw it proven;
    ``known`` False: no store history was given, so "never" would be a guess.
    ``limit`` > 0 names at most that many devices a line (the email)."""
    lines = []
    for last, devices in row.not_proven_by_when():
        if not known:
            label = "last proven: not known (no stored history)"
        elif last is None:
            label = "never proven"
        else:
            ago = unverified_for(last, now)
            label = f"last proven {when(last)}" + (f" ({ago} ago)" if ago else "")
        shown = devices[:limit] if limit else devices
        lines.append(ProofLine(label, shown, len(devices) - len(shown)))
    return lines


def fails_emergency(r: DeviceResult) -> bool:
    return any(f.rule.startswith("emergency.") for f in r.findings)


def device_counts(r: DeviceResult) -> list[tuple[str, int]]:
    """(severity, count) for the severities this device has, worst first."""
    return [(s, n) for s in SEVERITIES if (n := sum(1 for f in r.findings if f.severity == s))]


def anchor(device_id: str) -> str:
    return "dev-" + re.sub(r"[^A-Za-z0-9_.-]", "_", device_id)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def when(ts: str | None) -> str:
    """A stored ISO timestamp as a reader expects it: ``2026-11-28 22:06 UTC``."""
    t = _parse(ts)
    if t is None:
        return ts or "—"
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if t.utcoffset() is not None else "")


def unverified_for(last_proven: str | None, now: str | None) -> str | None:
    """How long since a site's paths were last all proven, e.g. ``3 days 4 h``."""
    a, b = _parse(last_proven), _parse(now)
    if a is None or b is None:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    s = max(0, int((b - a).total_seconds()))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


def code_spans(text: str) -> Markup:
    """Escape ``text``, then show its `backticked` parts (drift keys) as code."""
    escaped = str(escape(text))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))
