"""Emergency checks on one phone: every required number is an emergency number on every
line, sent to the emergency route, and dials through the line's dial plan (itself and each
prefixed form) the way the phone evaluates it."""

from __future__ import annotations

import dataclasses
import re

from fleet import dialplan
from fleet.check.golden import EmergencyPolicy
from fleet.dialplan import Outcome
from fleet.model import DeviceState, DialPlan, EmergencyEntry, Finding, Line


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


def check_phone(
    state: DeviceState, policy: EmergencyPolicy, from_file: bool = False
) -> list[Finding]:
    """``from_file``: the state was read from a file, which may be a shared site or common
    file; with no SIP line it is unproven (``coverage.noline``) rather than broken."""
    lines = [ln for ln in state.lines if ln.enabled]
    findings: list[Finding] = []
    if not lines:
        findings += _no_line(policy, from_file)
        if state.emergency:
            shared = [Line(index=0, emergency=state.emergency)]
            for number in policy.numbers:
                findings += _number_findings(number, shared, policy, state)
        if state.dialplan is None:
            findings.append(_no_plan_finding([], "no dial plan", state))
            return findings
        # the device's own plan (a site file's) is still evaluated: a factory plan that turns
        # 112 into 11 is a fault before any phone loads it
        lines_for_dial = [Line(index=0, dialplan=state.dialplan)]
    else:
        lines_for_dial = [_with_plan(ln, state) for ln in lines]
        findings += _coverage(lines_for_dial, state)
        for number in policy.numbers:
            findings += _number_findings(number, lines, policy, state)
    for number in policy.numbers:
        for digits, why in dial_forms(number, lines_for_dial, policy):
            findings += dial_findings(lines_for_dial, digits, number, policy, why)
    findings += _malformed(lines_for_dial)
    if lines:
        findings += location_findings(state, policy, lines)
    return findings


def location_findings(
    state: DeviceState, policy: EmergencyPolicy, lines: list[Line]
) -> list[Finding]:
    """The golden's ``location`` and ``callback`` on a phone with enabled ``lines``."""
    out: list[Finding] = []
    if policy.location_required or policy.location_source not in (None, "any"):
        out += _location(state, policy)
    if policy.callback_matches is not None:
        out += _callbacks(lines, policy.callback_matches)
    return out


def _location_wanted(policy: EmergencyPolicy) -> str:
    if policy.location_source in (None, "any"):
        return "a location source (lldp-med, held or static)"
    return f"location source {policy.location_source}"


def _location(state: DeviceState, policy: EmergencyPolicy) -> list[Finding]:
    loc = state.location
    wanted = _location_wanted(policy)
    if loc is None:
        # a profile that reads only the short form: present or not is all fleet knows
        if state.location_source:
            if policy.location_source in (None, "any"):
                return []
            return [
                _uncertain(
                    f"the profile reads the location source only as "
                    f"{state.location_source!r}, not which kind it is",
                    wanted,
                    [],
                )
            ]
        if not policy.location_required:
            return []
        return [
            _no_location(
                wanted,
                [],
                "no caller location or identity source is "
                "configured (ELIN, HELD or a custom identity)",
            )
        ]
    if loc.uncertain:
        return [_uncertain(loc.uncertain, wanted, list(loc.evidence))]
    if loc.source == "none":
        if not policy.location_required:
            return []
        return [
            _no_location(
                wanted, list(loc.evidence), loc.detail or "no caller location source is configured"
            )
        ]
    if policy.location_source in (None, "any") or loc.source == policy.location_source:
        return []
    detail = f" ({loc.detail})" if loc.detail else ""
    return [
        Finding(
            "emergency.location",
            "high",
            "emergency.location",
            f"emergency calls take their location from {loc.source}{detail}, not from "
            f"{policy.location_source} as the golden requires",
            expected=wanted,
            actual=loc.source,
            evidence=list(loc.evidence),
        )
    ]


def _no_location(wanted: str, evidence: list[str], why: str) -> Finding:
    return Finding(
        "emergency.location",
        "high",
        "emergency.location",
        f"{why}: the call carries no dispatchable location",
        expected=wanted,
        actual="none",
        evidence=evidence,
    )


def _uncertain(why: str, wanted: str, evidence: list[str]) -> Finding:
    return Finding(
        "coverage.uncertain",
        "high",
        "emergency.location",
        f"whether emergency calls carry a location is unproven: {why}",
        expected=wanted,
        actual="unconfirmed",
        evidence=evidence,
    )


def _callbacks(lines: list[Line], pattern: str) -> list[Finding]:
    """Each enabled line's callback identity against the golden's ``callback.matches``."""
    out = []
    for ln in lines:
        cb = ln.callback
        if cb is not None and re.fullmatch(pattern, cb):
            continue
        where = [f"{ln.callback_source} = {cb}"] if cb is not None and ln.callback_source else []
        out.append(
            Finding(
                "emergency.location",
                "high",
                f"line {ln.index} callback",
                f"line {ln.index} presents {cb!r} as its emergency callback identity, which "
                f"does not match the golden's {pattern!r}: the dispatcher cannot call back"
                if cb is not None
                else f"line {ln.index} presents no emergency callback identity",
                expected=f"matches {pattern}",
                actual=cb if cb is not None else "none",
                evidence=where,
            )
        )
    return out


def _no_line(policy: EmergencyPolicy, from_file: bool) -> list[Finding]:
    if from_file:
        return [
            Finding(
                "coverage.noline",
                "high",
                "lines",
                "no SIP line is configured in this file (a shared site or common file?): which "
                "server its emergency calls go to is unproven; its dial plan is still checked",
                expected="at least one enabled SIP line",
                actual="no line",
            )
        ]
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


def _with_plan(ln: Line, state: DeviceState) -> Line:
    """The line as it dials: its own plan, else the device's."""
    if ln.dialplan is not None or state.dialplan is None:
        return ln
    return dataclasses.replace(ln, dialplan=state.dialplan)


def plan_of(ln: Line, state: DeviceState) -> DialPlan | None:
    return ln.dialplan or state.dialplan


def _coverage(lines: list[Line], state: DeviceState) -> list[Finding]:
    """``coverage.dialplan`` for lines whose plan fleet cannot evaluate."""
    none = [ln for ln in lines if ln.dialplan is None]
    unread: dict[str, list[Line]] = {}
    for ln in lines:
        if ln.dialplan is not None and dialplan.engine_for(ln.dialplan.syntax) is None:
            unread.setdefault(ln.dialplan.syntax, []).append(ln)
    out = []
    if none:
        out.append(_no_plan_finding(none, "no dial plan", state, lines))
    for syntax, hit in unread.items():
        out.append(_no_plan_finding(hit, f"a dial plan in syntax {syntax!r}", state, lines))
    return out


def _no_plan_finding(
    hit: list[Line], what: str, state: DeviceState, all_lines: list[Line] | None = None
) -> Finding:
    where = _on(hit, all_lines) if all_lines else ""
    plan = hit[0].dialplan if hit else None
    readable = "no engine of fleet's reads" if plan is not None else "fleet found none"
    return Finding(
        "coverage.dialplan",
        "high",
        "dialplan",
        f"{what}{where}: {readable}, so whether the emergency numbers dial is unproven",
        expected="a dial plan fleet can evaluate",
        actual=plan.syntax if plan is not None else "none",
        evidence=[f"{plan.source} = {plan.text}"] if plan is not None else [],
    )


# Numbers outside any private plan, to tell whether a plan uses a prefix as an access code.
_EXTERNAL = ("2125551234", "12125551234", "02079460000", "442079460000", "0299999999")


def dial_forms(
    number: str, lines: list[Line], policy: EmergencyPolicy
) -> list[tuple[str, str | None]]:
    """``number`` itself, each golden prefix before it, and each pack prefix that some line's
    plan uses as an outside-line prefix (with why), as (digits, why)."""
    forms: list[tuple[str, str | None]] = [(number, None)]
    forms += [(p + number, None) for p in policy.prefixes]
    for p in policy.pack_prefixes:
        if p in policy.prefixes:
            continue
        why = next((w for ln in lines if ln.dialplan and (w := access_code(ln.dialplan, p))), None)
        if why:
            forms.append((p + number, why))
    return forms


def access_code(plan: DialPlan, prefix: str) -> str | None:
    """Why ``prefix`` is an outside-line prefix in ``plan`` (None when it is not): before an
    outside number it is stripped, or the entry that takes it starts with ``prefix`` itself
    (``9xxxxxxxxxx``, ``9,1xxxxxxxxxx``). A catch-all that happens to fit the prefixed number
    (``xxxxxxxxxxx.``) does not make 9 an access code."""
    for n in _EXTERNAL:
        res = dialplan.evaluate_plan(plan, prefix + n)
        if res is None or res.outcome != "dial" or not res.sent or not res.sent.endswith(n):
            continue
        if res.sent != prefix + n:
            return f"{prefix} is an outside-line prefix in this plan: {prefix}{n} sends {res.sent}"
        entry = (res.matched or "").lstrip(" ({[<!^")
        if entry.startswith(prefix):
            return (
                f"{prefix} is an outside-line prefix in this plan: {prefix}{n} takes entry "
                f"{res.matched!r}"
            )
    return None


def entry_for(state: DeviceState, ln: Line, number: str) -> EmergencyEntry | None:
    """How ``ln`` treats ``number``: its emergency entry; on firmware with no emergency-number
    setting, an ordinary call to the line's server."""
    entry = next((e for e in ln.emergency if e.number == number), None)
    if entry is not None or state.emergency_setting:
        return entry
    server = ln.outbound_proxy or ln.registrar
    return EmergencyEntry(
        number,
        server,
        "no emergency-number setting on this firmware",
        "an ordinary call to the line's server",
    )


def _number_findings(
    number: str, lines: list[Line], policy: EmergencyPolicy, state: DeviceState
) -> list[Finding]:
    missing: list[Line] = []
    wrong: dict[str, list[tuple[Line, EmergencyEntry]]] = {}
    for ln in lines:
        entry = entry_for(state, ln, number)
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
    lines: list[Line], digits: str, number: str, policy: EmergencyPolicy, why: str | None = None
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
        rule, what = problem
        key = (rule, what, ln.dialplan.text)
        if key in groups:
            groups[key][0].append(ln)
        else:
            groups[key] = ([ln], res, rule, what)
    out = []
    for (_, _, text), (hit, res, rule, what) in groups.items():
        plan = hit[0].dialplan
        assert plan is not None
        out.append(
            Finding(
                rule,
                "critical" if rule == "emergency.dial" else "high",
                digits,
                f"{digits}{_on(hit, lines)}: {what}",
                expected=f"{number} sent at once"
                if policy.max_dial_delay_s == 0
                else f"{number} sent within {policy.max_dial_delay_s:g} s",
                actual=_actual(res),
                evidence=[
                    f"{plan.source} = {text}",
                    "evaluation: " + dialplan.describe(res),
                    *([why] if why else []),
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
    if res.sent != number and res.sent == res.digits:
        return "emergency.dial", (
            f"the phone sends {res.sent} as dialled{m}, not {number}: nothing strips the prefix"
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
