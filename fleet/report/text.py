"""Plain-text lines for the small commands: profiles, policy packs, the store's snapshots,
dial-plan outcomes and SBC route decisions. Each function returns the lines to print, so the
command decides where they go."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fleet.model import RouteDecision

if TYPE_CHECKING:
    from fleet.check.policies import Pack
    from fleet.dialplan import Outcome
    from fleet.profiles import Profile


def profile_lines(profiles: Iterable[Profile]) -> list[str]:
    return [
        f"{p.name:<12} {p.role:<6} {p.vendor:<10} {p.transport}"
        + (f"  dial plan: {p.dialplan_syntax}" if p.dialplan_syntax else "")
        for p in profiles
    ]


def columns(
    header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[str] = ()
) -> list[str]:
    """``rows`` under ``header``, each column as wide as its widest cell (so a long vendor or
    tag never pushes the rest out of line); columns named in ``right`` align right."""
    body = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if h in right else c.ljust(w)
            for c, w, h in zip(cells, widths, header, strict=True)
        ]
        return "  ".join(out).rstrip()

    return [line(header), *(line(row) for row in body)]


def profile_table(profiles: Iterable[Profile]) -> list[str]:
    """`fleet profiles`: one row per profile under a header."""
    return columns(
        ("profile", "role", "vendor", "transport", "dial plan"),
        ((p.name, p.role, p.vendor, p.transport, p.dialplan_syntax or "-") for p in profiles),
    )


def policy_table(packs: Iterable[tuple[str, Pack]]) -> list[str]:
    """`fleet profiles --policies`: one row per policy pack under a header, its citation on
    the line below, under the title."""
    packs = list(packs)
    rows = columns(
        ("pack", "numbers", "title"),
        ((name, ", ".join(pack.numbers), pack.title) for name, pack in packs),
    )
    at = rows[0].index("title")
    out = rows[:1]
    for line, (_, pack) in zip(rows[1:], packs, strict=True):
        out += [line, " " * at + pack.citation]
    return out


def snapshot_table(snapshots: Iterable[dict[str, Any]]) -> list[str]:
    """`fleet store list`: one row per stored snapshot under a header."""
    rows = []
    for s in snapshots:
        summary = s["summary"]
        f = summary["findings"]
        rows.append(
            (
                str(s["id"]),
                s["finished_at"],
                s["kind"],
                s["tag"] or "-",
                f"{summary['devices']:,}",
                str(summary.get("audited", "-")),
                str(f["critical"]),
                str(f["high"]),
            )
        )
    if not rows:
        return ["no snapshot stored yet"]
    return columns(
        ("id", "finished", "kind", "tag", "devices", "audited", "critical", "high"),
        rows,
        right=("id", "devices", "audited", "critical", "high"),
    )


def broken_profile_lines(broken: dict[str, str]) -> list[str]:
    return [
        f"fleet: profile folder device_profiles/{name} failed to load: {why}"
        for name, why in broken.items()
    ]


def policy_lines(packs: Iterable[tuple[str, Pack]]) -> list[str]:
    return [
        f"{name:<4} {', '.join(pack.numbers):<10} {pack.title}\n     {pack.citation}"
        for name, pack in packs
    ]


def snapshot_lines(snapshots: Iterable[dict[str, Any]]) -> list[str]:
    """One line per stored snapshot, as `fleet store list` prints them."""
    out = []
    for s in snapshots:
        f = s["summary"]["findings"]
        out.append(
            f"{s['id']:>5}  {s['finished_at']}  {s['kind']:<6} {s['tag'] or '-':<16} "
            f"{s['summary']['devices']:>6} devices  {f['critical']} critical, "
            f"{f['high']} high"
        )
    return out


def outcome_lines(digits: str, res: Outcome, *, as_json: bool, explain: bool) -> list[str]:
    """`fleet dialplan eval`: what the phone does with ``digits``."""
    if as_json:
        out = [json.dumps(res.to_dict())]
    else:
        how = ""
        if res.outcome == "dial":
            how = (
                f" {res.sent}"
                + (f" after {res.delay_s:g} s" if res.after_timeout else " at once")
                + (f" via {res.route}" if res.route else "")
            )
        out = [f"{digits:<14} {res.outcome}{how}" + (f"   [{res.matched}]" if res.matched else "")]
        out += [f"{'':<14} problem: {p}" for p in res.problems]
    if explain:
        out += [f"    {step}" for step in res.steps]
    return out


def route_lines(number: str, d: RouteDecision, *, as_json: bool, explain: bool) -> list[str]:
    """`fleet sbc route`: which route the SBC picks for ``number`` and what leaves."""
    if as_json:
        body = d.to_dict()
        if not explain:
            body = {k: v for k, v in body.items() if k != "steps"}
        return [json.dumps(body)]
    if d.outcome == "routed":
        out = [
            f"{number:<12} {d.route} → {d.trunk} as {d.sent}"
            + (f" [{d.priority}]" if d.priority else "")
            # a route whose destination fleet could not walk must not read as proven
            + (f" (unproven: {d.unproven})" if d.unproven else "")
        ]
    else:
        out = [f"{number:<12} {d.outcome}" + (f" ({d.route})" if d.route else "")]
    if explain:
        out += [f"    {step}" for step in d.steps]
    return out
