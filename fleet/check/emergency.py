"""Emergency checks on one phone: every required number is an emergency number on every
line, sent to the emergency route, and dials through the line's dial plan (itself and each
prefixed form) the way the phone evaluates it."""

from __future__ import annotations

import json

from fleet import dialplan
from fleet.check.golden import EmergencyPolicy
from fleet.dialplan import Outcome
from fleet.model import DeviceState, EmergencyEntry, Finding, Line


def route_matches(route: str | None, wanted: list[str]) -> bool:
    """host[:port] equality; a wanted value without a port accepts any port."""
    if not route:
        return False
    host, port = split_hostport(route)
    for w in wanted:
        wh, wp = split_hostport(w)
        if wh == host and (not wp or wp == port):
            return True
    return False


def split_hostport(hostport: str) -> tuple[str, str]:
    s = hostport.strip().lower()
    head, sep, tail = s.rpartition(":")
    if sep and tail.isdigit() and ":" not in head:
        return head, tail
    return s, ""


def check_phone(state: DeviceState, policy: EmergencyPolicy) -> list[Finding]:
    lines = [ln for ln in state.lines if ln.enabled]
    if not lines:
        return [
            Finding(
                "emergency.route",
                "critical",
                n,
                f"the phone has no SIP line configured: {n} cannot be called",
                expected=f"{n} sent to {_route_text(policy)}",
                actual="no line",
            )
            for n in policy.numbers
        ]
    findings: list[Finding] = []
    for number in policy.numbers:
        findings += _number_findings(number, lines, policy)
        for digits in [number, *(p + number for p in policy.prefixes)]:
            findings += dial_findings(lines, digits, number, policy)
    findings += _malformed(lines)
    if policy.location_required and not state.location_source:
        findings.append(
            Finding(
                "emergency.location",
                "high",
                "emergency.location",
                "no caller location or identity source is configured (ELIN, HELD or a custom "
                "identity): the call carries no dispatchable location",
                expected="a location source",
                actual="none",
            )
        )
    return findings


def _number_findings(number: str, lines: list[Line], policy: EmergencyPolicy) -> list[Finding]:
    missing: list[Line] = []
    wrong: dict[str, list[tuple[Line, EmergencyEntry]]] = {}
    for ln in lines:
        entry = next((e for e in ln.emergency if e.number == number), None)
        if entry is None:
            missing.append(ln)
        elif policy.phone_route and not route_matches(entry.route, policy.phone_route):
            wrong.setdefault(entry.route or "", []).append((ln, entry))
    out: list[Finding] = []
    if missing:
        have = sorted({e.number for ln in missing for e in ln.emergency})
        sources = sorted({e.source for ln in missing for e in ln.emergency})
        out.append(
            Finding(
                "emergency.route",
                "critical",
                number,
                f"{number} is not one of the phone's emergency numbers{_on(missing, lines)}"
                f" (it has {', '.join(have) if have else 'none'}): the phone does not treat it "
                "as an emergency call",
                expected=f"{number} among the emergency numbers, sent to {_route_text(policy)}",
                actual=", ".join(have) if have else "no emergency numbers",
                evidence=[f"{s} = {_value_of(missing, s)}" for s in sources]
                or ["no emergency number parameter is set"],
            )
        )
    for route, hits in wrong.items():
        entry = hits[0][1]
        out.append(
            Finding(
                "emergency.route",
                "critical",
                number,
                f"{number} is sent to {route or 'nowhere'}{_on([h[0] for h in hits], lines)}, "
                f"not to the emergency route {_route_text(policy)}",
                expected=_route_text(policy),
                actual=route or "no route",
                evidence=[f"{entry.route_source or entry.source} = {route}"],
            )
        )
    return out


def dial_findings(
    lines: list[Line], digits: str, number: str, policy: EmergencyPolicy
) -> list[Finding]:
    """``digits`` keyed on each line must end with ``number`` sent at once (or within the
    allowed delay), on no route of the plan's own other than the emergency route. Lines with
    the same result share one finding."""
    groups: dict[tuple[str, str, str], tuple[list[Line], Outcome, str, str]] = {}
    for ln in lines:
        if ln.dialplan is None:
            continue
        res = dialplan.evaluate_plan(ln.dialplan, digits)
        if res is None:
            continue
        problem = _problem(res, number, policy)
        if problem is None:
            continue
        rule, why = problem
        key = (rule, why, ln.dialplan.text)
        if key in groups:
            groups[key][0].append(ln)
        else:
            groups[key] = ([ln], res, rule, why)
    out = []
    for (_, _, text), (hit, res, rule, why) in groups.items():
        plan = hit[0].dialplan
        assert plan is not None
        out.append(
            Finding(
                rule,
                "critical" if rule == "emergency.dial" else "high",
                digits,
                f"{digits}{_on(hit, lines)}: {why}",
                expected=f"{number} sent at once"
                if policy.max_dial_delay_s == 0
                else f"{number} sent within {policy.max_dial_delay_s:g} s",
                actual=_actual(res),
                evidence=[
                    f"{plan.source} = {text}",
                    "evaluation: " + json.dumps(res.to_dict(), separators=(", ", ": ")),
                ],
            )
        )
    return out


def _problem(res: Outcome, number: str, policy: EmergencyPolicy) -> tuple[str, str] | None:
    m = f" (entry {res.matched})" if res.matched else ""
    if res.outcome == "block":
        return "emergency.dial", f"the dial plan bars it{m}: the phone never sends it"
    if res.outcome == "no-match":
        return "emergency.dial", "matches no dial-plan entry: the phone never sends it"
    if res.outcome == "wait":
        return "emergency.dial", (
            "the phone waits for more digits or the Send key and never places the call by itself"
        )
    if res.sent != number and res.matched is None:
        return "emergency.dial", (
            f"matches no dial-plan entry: the phone sends {res.sent} as soon as no entry can match"
        )
    if res.sent != number:
        return "emergency.dial", f"the dial plan rewrites it to {res.sent}{m}"
    # A plan's own route is checked when it names a host; a gateway or account name
    # ("gw0", "line 2") is resolved elsewhere on the phone and shows in the evidence.
    if (
        res.route
        and _is_host(res.route)
        and policy.phone_route
        and not route_matches(res.route, policy.phone_route)
    ):
        return (
            "emergency.dial",
            f"the dial plan sends it via {res.route}{m}, not the "
            f"emergency route {_route_text(policy)}",
        )
    if res.delay_s > policy.max_dial_delay_s:
        # the timer may be an inter-digit timer or an auto-dial one: say which entry waits
        return (
            "emergency.delay",
            f"the phone waits {res.delay_s:g} s for a timer{m} before sending it",
        )
    return None


def _is_host(route: str) -> bool:
    return " " not in route and ("." in route or ":" in route)


def _actual(res: Outcome) -> str:
    if res.outcome != "dial":
        return res.outcome
    after = f" after {res.delay_s:g} s" if res.delay_s else " at once"
    via = f" via {res.route}" if res.route else ""
    return f"dial {res.sent}{after}{via}"


def _malformed(lines: list[Line]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for ln in lines:
        plan = ln.dialplan
        if plan is None or plan.text in seen:
            continue
        seen.add(plan.text)
        res = dialplan.evaluate_plan(plan, "")
        if res is not None and res.problems:
            out.append(
                Finding(
                    "dialplan.malformed",
                    "medium",
                    plan.source,
                    f"the dial plan is malformed: {'; '.join(res.problems)}",
                    expected="a well-formed plan",
                    actual=plan.text,
                    evidence=[f"{plan.source} = {plan.text}"],
                )
            )
    return out


def _on(some: list[Line], all_lines: list[Line]) -> str:
    if len(all_lines) == 1 or len(some) == len(all_lines):
        return ""
    return " on line" + ("s " if len(some) > 1 else " ") + ", ".join(str(ln.index) for ln in some)


def _value_of(lines: list[Line], source: str) -> str:
    vals = [e.number for ln in lines for e in ln.emergency if e.source == source]
    return ",".join(dict.fromkeys(vals))


def _route_text(policy: EmergencyPolicy) -> str:
    return " or ".join(policy.phone_route) if policy.phone_route else "the emergency route"
