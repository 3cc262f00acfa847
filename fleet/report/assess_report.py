"""`fleet rollout assess` as text, JSON, JUnit and HTML: the regressions first, each with the
number, what the device does before and after, and the keys of the change that did it."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

if TYPE_CHECKING:  # the report layer reads the result; it does not run the assessment
    from fleet.assess import Assessment, Change

FORMATS = ("table", "json", "junit", "html")
KEYS_SHOWN = 3


def _side(lines: list[str]) -> str:
    return "; ".join(lines) if lines else "proven (no emergency or coverage finding)"


def _why(c: Change) -> list[str]:
    out = []
    for a in c.files:
        keys = a.keys[:KEYS_SHOWN]
        more = f" (+{len(a.keys) - len(keys)} more keys)" if len(a.keys) > len(keys) else ""
        what = "replaces its configuration" if a.replaces else "sets"
        out.append(f"{a.file} {what}: " + ("; ".join(keys) or "nothing new") + more)
    return out


def text(a: Assessment) -> str:
    base = f"snapshot {a.baseline}" + (f" ({a.baseline_tag})" if a.baseline_tag else "")
    n = len(a.regressions)
    out = [
        f"rollout assess: {len(a.files)} change file(s) against {base}: "
        f"{len(a.reached)} device(s) reached, "
        + (f"{n} emergency regression(s): DO NOT SHIP" if n else "no emergency regression")
    ]
    for u in a.unread:
        out.append(f"  not read (so not assessed): {u}")
    for u in a.untouched:
        out.append(f"  reaches no device of the baseline: {u}")
    for c in a.changes:
        head = "REGRESSION" if c.regression else "changed   "
        out.append(f"{head} {c.device} ({c.site or '-'}) {c.subject}")
        out.append(f"    before: {_side(c.before)}")
        out.append(f"    after:  {_side(c.after)}")
        out += [f"    because {w}" for w in _why(c)]
    if not a.changes:
        out.append("no device's emergency behaviour changes")
    return "\n".join(out) + "\n"


def as_json(a: Assessment) -> str:
    return json.dumps(a.to_dict(), indent=2) + "\n"


def junit(a: Assessment) -> str:
    suite = ET.Element(
        "testsuite",
        name="fleet rollout assess",
        tests=str(max(len(a.reached), 1)),
        failures=str(len({c.device for c in a.regressions})),
    )
    by_device: dict[str, list[Change]] = {}
    for c in a.changes:
        by_device.setdefault(c.device, []).append(c)
    for dev in sorted(a.reached):
        case = ET.SubElement(suite, "testcase", classname="assess", name=dev)
        bad = [c for c in by_device.get(dev, []) if c.regression]
        if bad:
            fail = ET.SubElement(case, "failure", message=f"{len(bad)} emergency regression(s)")
            fail.text = "\n".join(
                f"{c.subject}: {_side(c.before)} -> {_side(c.after)}" for c in bad
            )
    return ET.tostring(suite, encoding="unicode") + "\n"


def as_html(a: Assessment) -> str:
    e = html.escape
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{x}</td>"
            for x in (
                "<b>regression</b>" if c.regression else "changed",
                e(c.device),
                e(c.site or "-"),
                e(c.subject),
                e(_side(c.before)),
                e(_side(c.after)),
                "<br>".join(e(w) for w in _why(c)),
            )
        )
        + "</tr>"
        for c in a.changes
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("", "Device", "Site", "Number", "Before", "After", "Because")
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Rollout assessment</title>"
        "</head><body><h1>Rollout assessment</h1>"
        f"<pre>{e(text(a).splitlines()[0])}</pre>"
        f"<table border='1' cellpadding='4'><tr>{head}</tr>{rows}</table></body></html>\n"
    )


RENDER = {"table": text, "json": as_json, "junit": junit, "html": as_html}
