"""Emergency checks on one phone: every required number is an emergency number on every
line, sent to the emergency route; where a dial-plan engine exists for the line's syntax, the
number (and each prefixed form) is also evaluated through the line's dial plan."""

from __future__ import annotations

from fleet import dialplan
from fleet.check.golden import EmergencyPolicy
from fleet.model import DeviceState, EmergencyEntry, Finding, Line


def route_matches(route: str | None, wanted: list[str]) -> bool:
    """host[:port] equality; a wanted value without a port accepts any port."""
    if not route:
        return False
    host, _, port = (
        route.strip().lower().rpartition(":")
        if _has_port(route)
        else (route.strip().lower(), "", "")
    )
    for w in wanted:
        wh, _, wp = w.strip().lower().rpartition(":") if _has_port(w) else (w.lower(), "", "")
        if wh == host and (not wp or wp == port):
            return True
    return False


def _has_port(s: str) -> bool:
    head, sep, tail = s.rpartition(":")
    return bool(sep) and tail.isdigit() and "]" not in tail and head.count(":") == 0


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
        findings += _dial_findings(number, lines, policy)
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


def _dial_findings(number: str, lines: list[Line], policy: EmergencyPolicy) -> list[Finding]:
    """The seam for dial-plan evaluation: engines come per syntax (fleet.dialplan)."""
    out: list[Finding] = []
    for ln in lines:
        if ln.dialplan is None:
            continue
        engine = dialplan.engine_for(ln.dialplan.syntax)
        if engine is None:
            continue
        for digits in [number, *(p + number for p in policy.prefixes)]:
            res = engine(ln.dialplan, digits)
            evidence = [f"{ln.dialplan.source} = {ln.dialplan.text}"]
            if res.outcome != "dial" or res.sent != number:
                out.append(
                    Finding(
                        "emergency.dial",
                        "critical",
                        digits,
                        f"line {ln.index}: dialling {digits} gives {res.outcome}"
                        + (f", sending {res.sent}" if res.sent and res.sent != number else ""),
                        expected=f"dial {number}",
                        actual=res.outcome,
                        evidence=evidence,
                    )
                )
            elif res.delay_s > policy.max_dial_delay_s:
                out.append(
                    Finding(
                        "emergency.delay",
                        "high",
                        digits,
                        f"line {ln.index}: {digits} is sent only after {res.delay_s:g} s",
                        expected=f"within {policy.max_dial_delay_s:g} s",
                        actual=f"{res.delay_s:g} s",
                        evidence=evidence,
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
