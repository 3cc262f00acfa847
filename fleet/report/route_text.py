"""`fleet sbc route`: the lines for one called number, with what the SBC does with the caller's
location on an emergency call (issue 13 §4).

The location object is computed by the command (``fleet.check.sbc_location.on_route``: this
layer does not import the checks) and handed in as JSON-ready data; ``None`` means the number
is not an emergency call on this SBC, and nothing is shown. The plain table never shows it:
only ``--explain`` and ``--json`` do, so the table a script parses stays as it was."""

from __future__ import annotations

import json
from typing import Any

from fleet.model import RouteDecision
from fleet.report import text

VERDICT = {True: "added", False: "none added", None: "unproven"}
# outcomes after which nothing leaves the SBC: no location line (the route line says why)
STOPPED = ("no-route", "rejected")


def route_lines(
    number: str,
    d: RouteDecision,
    location: dict[str, Any] | None,
    *,
    as_json: bool,
    explain: bool,
) -> list[str]:
    """Which route the SBC picks for ``number``, what leaves, and, for an emergency call
    with ``--explain`` or ``--json``, whether the SBC adds the caller's location."""
    if as_json:
        body = json.loads(text.route_lines(number, d, as_json=True, explain=explain)[0])
        return [json.dumps(_with_location(body, location))]
    out = text.route_lines(number, d, as_json=False, explain=explain)
    if d.outcome == "unproven" and d.steps:
        out[0] += f" ({d.steps[0]})"  # fleet could not route it at all: say why on the line
    if explain and location is not None:
        out += location_lines(d, location)
    return out


def _with_location(body: dict[str, Any], location: dict[str, Any] | None) -> dict[str, Any]:
    """The decision's JSON as before issue 13 (key for key, in order), ``location`` after
    the other keys, on the decision and on each of its alternatives."""
    if location is None:
        return body
    top = {k: v for k, v in location.items() if k != "alternatives"}
    for alt, loc in zip(
        body.get("alternatives", []), location.get("alternatives", []), strict=True
    ):
        alt["location"] = loc
    body["location"] = top
    return body


def location_lines(d: RouteDecision, location: dict[str, Any]) -> list[str]:
    """One ``location:`` line per way the call can leave: the decision itself, or each
    alternative of an ambiguous one (named by its source, or by its rule for a tie)."""
    alts = location.get("alternatives")
    if not alts:
        if d.outcome in STOPPED:
            return []
        return [_line("location", location, d.source)]
    out = []
    for alt, loc in zip(d.alternatives, alts, strict=True):
        if alt.outcome in STOPPED:
            continue
        label = f"from {alt.source}" if alt.source != d.source else f"via {alt.route}"
        out.append(_line(f"location {label}", loc, d.source))
    return out


def _line(label: str, loc: dict[str, Any], source: str | None) -> str:
    line = f"    {label}: {VERDICT[loc['added']]}: {loc['reason']}"
    if loc["added"] is None and loc["mode"] == "elin" and source is None:
        # the ELIN depends on the caller's subnet: the one thing the user can still give
        line += " (give the caller's address with --source)"
    return line
