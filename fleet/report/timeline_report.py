"""`fleet timeline` as text, JSON, CSV and a self-contained HTML page a compliance officer can
attach to a regulator's request: per site and number first, the devices' evidence beneath."""

from __future__ import annotations

import csv
import html
import io
import json

from fleet.timeline import Gap, Point, Timeline, Window, human

FORMATS = ("table", "json", "csv", "html")
DEVICES_SHOWN = 10  # per site window in text; every one in JSON, CSV and HTML


def _gap(g: Gap) -> str:
    if g.snapshot == 0:  # a stretch with no snapshot at all
        return f"from {g.at}: {g.why}"
    return f"snapshot {g.snapshot} at {g.at} said nothing for {g.why}"


def _span(w: Window) -> str:
    least = human(w.at_least_s())
    most = w.at_most_s()
    if w.open:
        since = w.last_proven.at if w.last_proven else "before the stored history"
        return (
            f"still broken at the newest snapshot; broken since at least {w.first_failed.at} "
            f"(last proven {since})"
        )
    if most is None:
        return f"broken for at least {least} (never proven before it in the stored history)"
    return f"broken for between {least} and {human(most)}"


def _phrase(w: Window) -> str:
    count = len(w.devices)
    who = f"{count} device{'s' if count != 1 else ''}"
    where = f" at {w.site}" if w.site else ""
    lp = w.last_proven.at if w.last_proven else "never"
    fixed = w.fixed.at if w.fixed else "not yet"
    forms = [f for f in w.forms if f != w.number]
    also = f" (also as {', '.join(forms)})" if forms else ""
    return (
        f"{w.number}{also} unavailable from {who}{where}: last proven {lp}, first failed "
        f"{w.first_failed.at}, last failed {w.last_failed.at}, fixed {fixed}; {_span(w)}"
    )


def text(t: Timeline) -> str:
    if t.first is None or t.last is None:
        return "no stored snapshot in this range: nothing to tell\n"
    head = (
        f"{t.snapshots} snapshot{'s' if t.snapshots != 1 else ''} from {t.first.at} to "
        f"{t.last.at}; numbers {', '.join(t.numbers) or 'none recorded'}"
    )
    out = [head]
    if t.inferred:
        out.append(
            f"  {len(t.inferred)} snapshot(s) were stored without the numbers their checks "
            "required: only the numbers their findings name are read from them"
        )
    if not t.sites:
        out.append("no emergency number was seen broken in this range")
        return "\n".join(out) + "\n"
    for w in t.sites:
        out.append("")
        out.append(("OPEN  " if w.open else "") + _phrase(w))
        for f in w.firmware:
            out.append(f"  firmware {f}")
        for g in w.gaps:
            out.append(f"  gap: {_gap(g)}")
        shown = w.devices[:DEVICES_SHOWN]
        more = len(w.devices) - len(shown)
        out.append(
            "  devices: "
            + ", ".join(shown)
            + (f" and {more} more (--format json lists all)" if more else "")
        )
    return "\n".join(out) + "\n"


def as_json(t: Timeline) -> str:
    return json.dumps(t.to_dict(), indent=2) + "\n"


CSV_COLUMNS = (
    "scope",
    "site",
    "number",
    "device",
    "last_proven",
    "first_failed",
    "last_failed",
    "fixed",
    "open",
    "at_least_s",
    "at_most_s",
    "forms",
    "gaps",
    "firmware",
)


def as_csv(t: Timeline) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    for scope, windows in (("site", t.sites), ("device", t.devices)):
        for w in windows:
            out.writerow(
                [
                    scope,
                    w.site or "",
                    w.number,
                    ";".join(w.devices),
                    w.last_proven.at if w.last_proven else "",
                    w.first_failed.at,
                    w.last_failed.at,
                    w.fixed.at if w.fixed else "",
                    "yes" if w.open else "no",
                    f"{w.at_least_s():.0f}",
                    "" if (m := w.at_most_s()) is None else f"{m:.0f}",
                    ";".join(w.forms),
                    len(w.gaps),
                    ";".join(w.firmware),
                ]
            )
    return buf.getvalue()


_STYLE = (
    "body{font-family:Arial,sans-serif;max-width:60em;margin:1em auto;color:#222}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0}"
    "td,th{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top}"
    ".open{color:#a00;font-weight:bold}"
)


def _row(cells: list[str], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _at(p: Point | None, none: str) -> str:
    return html.escape(p.at if p else none)


def _site_row(w: Window) -> str:
    e = html.escape
    gaps = "<br>".join(e(_gap(g)) for g in w.gaps)
    fixed = '<span class="open">still broken</span>' if w.open else _at(w.fixed, "")
    return _row(
        [
            e(w.site or "-"),
            e(w.number),
            str(len(w.devices)),
            _at(w.last_proven, "never"),
            _at(w.first_failed, ""),
            _at(w.last_failed, ""),
            fixed,
            e(_span(w)),
            "<br>".join(e(f) for f in w.firmware) or "-",
            gaps or "none",
        ]
    )


def _device_row(w: Window) -> str:
    e = html.escape
    return _row(
        [
            e(w.devices[0]),
            e(w.site or "-"),
            e(w.number),
            _at(w.last_proven, "never"),
            _at(w.first_failed, ""),
            _at(w.last_failed, ""),
            _at(w.fixed, "still broken"),
        ]
    )


SITE_HEAD = "Site|Number|Devices|Last proven|First failed|Last failed|Fixed|Duration|Firmware|Gaps"
DEVICE_HEAD = "Device|Site|Number|Last proven|First failed|Last failed|Fixed"


def _head(spec: str) -> str:
    return _row(spec.split("|"), "th")


def as_html(t: Timeline) -> str:
    e = html.escape
    span = f"{t.first.at} to {t.last.at}" if t.first and t.last else "no snapshot"
    sites = "".join(_site_row(w) for w in t.sites)
    intro = (
        f"{t.snapshots} stored snapshots, {span}; numbers {', '.join(t.numbers) or 'none'}. "
        "Each window is bounded by evidence: the outage began after last proven and by first "
        "failed, and ended after last failed and by fixed. A gap is a snapshot that said "
        "nothing about the number."
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>Emergency calling timeline</title>"
        f"<style>{_STYLE}</style></head><body><h1>Emergency calling timeline</h1>"
        f"<p>{e(intro)}</p>"
        + (
            f"<table>{_head(SITE_HEAD)}{sites}</table>"
            if sites
            else "<p>No emergency number was seen broken.</p>"
        )
        + f"<h2>Per device</h2><table>{_head(DEVICE_HEAD)}"
        + "".join(_device_row(w) for w in t.devices)
        + "</table></body></html>\n"
    )


RENDER = {"table": text, "json": as_json, "csv": as_csv, "html": as_html}
