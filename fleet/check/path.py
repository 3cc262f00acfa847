"""The whole emergency path: phone → SBC → trunk.

Per SBC, each emergency number must leave unmodified on a trunk the golden template allows
(``emergency.sbc_route``). Per phone, for each emergency number and line: the number the
phone sends (through its dial plan), the server it sends it to, the inventory SBC that owns
that address, that SBC's route for the number from this phone, the trunk. A break anywhere
is ``emergency.path`` on the phone, with the chain hop by hop as evidence.
"""

from __future__ import annotations

from fleet import dialplan, profiles
from fleet.check import sbc_location
from fleet.check.emergency import entry_for, plan_of, split_hostport
from fleet.check.golden import EmergencyPolicy
from fleet.model import DeviceResult, Finding, RouteDecision, SbcState


def check_sbc(result: DeviceResult, policy: EmergencyPolicy) -> list[Finding]:
    state = result.state
    prof = profiles.get(result.profile)
    if state is None or state.sbc is None or prof.route is None:
        return []
    out = []
    for number in policy.numbers:
        d = prof.route(state, number, None)
        for alt in d.alternatives or [d]:
            why = _route_problem(alt, number, policy, _aliases(result))
            if not why:
                continue
            src = ""
            if d.alternatives:
                src = f" in the alternative {_alt(alt)} (the SBC's rules leave the decision "
                src += "open: each alternative is checked)"
            out.append(
                Finding(
                    # a route fleet cannot follow (a table file it cannot see) is a gap in
                    # what it knows, not a proven fault: coverage, never silence
                    "coverage.uncertain" if alt.unproven else "emergency.sbc_route",
                    "high" if alt.unproven else "critical",
                    number,
                    f"{number}{src}: {why}",
                    expected=f"{number} leaves unmodified on "
                    + (" or ".join(policy.sbc_trunks) or "an emergency trunk"),
                    actual=_decision_text(alt),
                    evidence=[*d.steps, *(alt.steps if alt is not d else []), _sentence(alt)],
                )
            )
    return out


def _route_problem(
    d: RouteDecision, number: str, policy: EmergencyPolicy, aliases: dict
) -> str | None:
    if d.outcome == "no-route":
        return f"the SBC has no route for it ({d.outcome})"
    if d.outcome == "ambiguous":
        return "unproven: the SBC's rules leave the call's source open"
    if d.outcome != "routed":
        return f"the SBC rejects it (by {d.route or 'its rules'})"
    if d.unproven:
        return f"unproven: {d.unproven}"
    if d.sent != number:
        return f"the SBC rewrites it to {d.sent} (by {d.route})"
    if policy.sbc_trunks and not _trunk_allowed(d.trunk, policy.sbc_trunks, aliases):
        return f"it leaves on {d.trunk or 'no trunk'} (by {d.route}), not an emergency trunk"
    return None


def _trunk_allowed(trunk: str | None, allowed: list[str], aliases: dict | None = None) -> bool:
    """``trunk`` or any other name the SBC gives it (a CUBE dial-peer's description, tag and
    session target) is among the golden's emergency trunks."""
    if trunk is None:
        return False
    names = {trunk, *((aliases or {}).get(trunk) or [])}
    want = {t.strip().lower() for t in allowed}
    return any(str(n).strip().lower() in want for n in names)


def _aliases(result: DeviceResult) -> dict[str, list[str]]:
    st = result.state
    return st.sbc.trunk_aliases if st and st.sbc else {}


def _decision_text(d: RouteDecision) -> str:
    if d.outcome != "routed":
        return d.outcome
    return f"{d.sent} on {d.trunk}" + (f" ({d.priority})" if d.priority else "")


def _alt(d: RouteDecision) -> str:
    """One alternative of an ambiguous decision, by what differs: its source or its rule."""
    return " via ".join(str(x) for x in (d.source, d.route) if x) or "unnamed"


def _sentence(d: RouteDecision) -> str:
    """The decision in one sentence, for evidence a person reads."""
    src = f" from {d.source}" if d.source else ""
    if d.outcome != "routed":
        by = f" by {d.route}" if d.route else ""
        return f"route: {d.number}{src} is {d.outcome}{by}"
    prio = f", marked {d.priority}" if d.priority else ""
    if d.unproven:
        return f"route: {d.number}{src} takes {d.route}{prio}; where it leaves is unproven"
    return f"route: {d.number}{src} takes {d.route} and leaves as {d.sent} on {d.trunk}{prio}"


def check_paths(
    results: list[DeviceResult],
    policy: EmergencyPolicy,
    addresses: dict[str, str | None],
    outside: dict[str, str] | None = None,
) -> None:
    """Add ``emergency.path`` findings to the phones in ``results``; ``addresses`` maps a
    device id to its own IP (the source the SBC sees), when known. ``outside`` maps the
    address of each inventory SBC that is not in this run to its id: a phone whose calls go
    there has an unproven path, never a proven one. With no SBC in the run or outside it, a
    phones-only fleet has no path to prove."""
    outside = {k.lower(): v for k, v in (outside or {}).items()}
    sbcs = [r for r in results if r.role == "sbc"]
    if not sbcs and not outside:
        return
    owner: dict[str, DeviceResult] = {}
    for r in sbcs:
        host = addresses.get(r.id)
        if host:
            owner.setdefault(host.lower(), r)
        if r.state is not None and r.state.sbc is not None:
            for a in r.state.sbc.addresses:
                owner.setdefault(split_hostport(a)[0], r)
    for r in results:
        if r.role != "phone" or r.status != "audited" or r.state is None:
            continue
        try:
            hops: dict[str, list[sbc_location.Hop]] = {}
            found = _phone_paths(r, policy, owner, outside, addresses.get(r.id), hops)
            settle_prefixed(r, policy, owner, outside, addresses.get(r.id))
            if getattr(policy, "location_source", None) in (None, "any"):
                # an ELIN from the SBC is a location, not the kind a golden may insist on
                sbc_location.settle(r, hops, policy.numbers, addresses.get(r.id))
        except Exception as e:  # one device's path, not the run: fail closed on this phone
            found = [
                Finding(
                    "coverage.error",
                    "high",
                    "emergency.path",
                    f"fleet could not walk this phone's emergency path ({type(e).__name__}): "
                    "the path is unproven",
                    expected="the path walked",
                    actual="error",
                )
            ]
        r.findings += found
        r.findings.sort(key=Finding.sort_key)


def _phone_paths(
    r: DeviceResult,
    policy: EmergencyPolicy,
    owner: dict[str, DeviceResult],
    outside: dict[str, str],
    source: str | None,
    hops: dict[str, list[sbc_location.Hop]] | None = None,
) -> list[Finding]:
    """The phone's ``emergency.path`` findings; ``hops`` gets, per number, each line's
    decision at its SBC (or why the walk stopped short), for the location check."""
    assert r.state is not None
    found: dict[tuple[str, str], Finding] = {}
    for number in policy.numbers:
        for line in r.state.lines:
            if not line.enabled:
                continue
            entry = entry_for(r.state, line, number)
            if entry is None:
                continue  # emergency.route says so already
            call = _Call(r, line.index, number, entry.route, entry.route_source)
            chain, why = _walk(call, plan_of(line, r.state), owner, outside, source, policy)
            if hops is not None:
                hops.setdefault(number, []).append(
                    call.hop or f"line {line.index}: {why or 'no audited SBC on the path'}"
                )
            if why and (number, why) not in found:
                found[(number, why)] = Finding(
                    "emergency.path",
                    "critical",
                    number,
                    f"{number} does not reach an emergency trunk: {why}"
                    if not why.startswith("unproven")
                    else f"{number}: the path to an emergency trunk is {why}",
                    expected=f"{number} → SBC → "
                    + (" or ".join(policy.sbc_trunks) or "an emergency trunk"),
                    actual=why,
                    evidence=chain,
                )
    return list(found.values())


def settle_prefixed(
    r: DeviceResult,
    policy: EmergencyPolicy,
    owner: dict[str, DeviceResult],
    outside: dict[str, str],
    source: str | None,
) -> None:
    """A phone that sends a prefixed form as dialled (9112: nothing on the phone strips the
    9; an Avaya J100's plan cannot) relies on its server to strip it. Walk that form through
    the SBC: where every line's SBC turns it into the number on an emergency trunk, the
    phone's ``emergency.dial`` finding is settled; where not, the walk joins its evidence."""
    assert r.state is not None
    for f in [f for f in r.findings if f.rule == "emergency.dial"]:
        number = next((n for n in policy.numbers if f.subject.endswith(n) and f.subject != n), None)
        if number is None or not _sent_as_dialled(r, f.subject):
            continue
        walks = []
        for line in r.state.lines:
            entry = entry_for(r.state, line, number) if line.enabled else None
            if entry is not None:
                call = _Call(r, line.index, number, entry.route, entry.route_source, f.subject)
                walks.append(_walk(call, plan_of(line, r.state), owner, outside, source, policy))
        if walks and all(why is None for _, why in walks):
            r.findings.remove(f)
            if (late := _late(r, f.subject, number, policy)) is not None:
                r.findings.append(late)
            continue
        for chain, why in walks:
            if why:
                f.evidence += [f"and the server does not strip it either: {why}", *chain]
                break


def _sent_as_dialled(r: DeviceResult, digits: str) -> bool:
    """Every enabled line sends ``digits`` exactly as keyed (at once or after a timer)."""
    assert r.state is not None
    outs = []
    for line in r.state.lines:
        plan = plan_of(line, r.state) if line.enabled else None
        if line.enabled:
            outs.append(dialplan.evaluate_plan(plan, digits) if plan is not None else None)
    return bool(outs) and all(
        o is not None and o.outcome == "dial" and o.sent == digits for o in outs
    )


def _late(r: DeviceResult, digits: str, number: str, policy: EmergencyPolicy) -> Finding | None:
    """A prefixed form the SBC settles may still leave the phone late: its own timer."""
    assert r.state is not None
    delays = []
    for line in r.state.lines:
        plan = plan_of(line, r.state) if line.enabled else None
        res = dialplan.evaluate_plan(plan, digits) if plan is not None else None
        if res is not None and res.outcome == "dial" and res.delay_s > policy.max_dial_delay_s:
            delays.append((res.delay_s, plan, res))
    if not delays:
        return None
    delay, plan, res = max(delays, key=lambda d: d[0])
    assert plan is not None
    return Finding(
        "emergency.delay",
        "high",
        digits,
        f"{digits}: the phone waits {delay:g} s for a timer before sending it as dialled "
        f"(the SBC then turns it into {number})",
        expected=f"{number} sent within {policy.max_dial_delay_s:g} s",
        actual=f"dial {digits} after {delay:g} s",
        evidence=[f"{plan.source} = {plan.text}", "evaluation: " + dialplan.describe(res)],
    )


class _Call:
    __slots__ = ("dialled", "hop", "line", "number", "phone", "route", "route_source")

    def __init__(
        self,
        phone: DeviceResult,
        line: int,
        number: str,
        route: str | None,
        route_source: str,
        dialled: str | None = None,
    ) -> None:
        self.phone, self.line, self.number = phone, line, number
        self.route, self.route_source = route, route_source
        self.dialled = dialled or number  # what the user keys: the number, or a prefixed form
        # the SBC's decision for this call, once the walk reached an audited SBC
        self.hop: tuple[str, SbcState, RouteDecision] | None = None


def _walk(
    call: _Call,
    plan: object,
    owner: dict[str, DeviceResult],
    outside: dict[str, str],
    source: str | None,
    policy: EmergencyPolicy,
) -> tuple[list[str], str | None]:
    number, route = call.number, call.route
    sent = call.dialled
    if plan is not None:
        res = dialplan.evaluate_plan(plan, call.dialled)  # type: ignore[arg-type]
        if res is not None and res.outcome == "dial" and res.sent:
            sent = res.sent
    hop = f"{call.phone.id} line {call.line} sends {sent} to {route or 'nowhere'}"
    chain = [hop + (f" ({call.route_source})" if call.route_source else "")]
    if not route:
        return chain, "the phone has no server to send it to"
    host = split_hostport(route)[0]
    sbc = owner.get(host)
    if sbc is None:
        if host in outside:
            chain.append(f"{host} is {outside[host]} in the inventory, which is not in this run")
            return chain, f"unproven: SBC {outside[host]} is not in this run"
        return chain, f"{host} is no SBC in the inventory"
    chain.append(f"{host} is {sbc.id} ({sbc.profile})")
    if sbc.status != "audited" or sbc.state is None:
        return chain, f"{sbc.id} was not audited ({sbc.status}): the path is unproven"
    prof = profiles.get(sbc.profile)
    if prof.route is None:
        return chain, f"{sbc.id}: fleet cannot evaluate {sbc.profile} routing"
    d = prof.route(sbc.state, sent, source)
    if sbc.state.sbc is not None:
        call.hop = (sbc.id, sbc.state.sbc, d)
    if d.outcome == "ambiguous" and d.alternatives:
        chain.append(
            f"{sbc.id}: its rules leave the decision for {sent} open (an undetermined source "
            "or a tie); each alternative is checked: " + ", ".join(_alt(a) for a in d.alternatives)
        )
        chain += [f"  {s}" for s in d.steps]
        for alt in d.alternatives:
            why = _hop(chain, sbc, alt, sent, number, source, policy)
            if why:
                return chain, why + f" (in the alternative {_alt(alt)})"
        return chain, None
    return chain, _hop(chain, sbc, d, sent, number, source, policy)


def _hop(
    chain: list[str],
    sbc: DeviceResult,
    d: RouteDecision,
    sent: str,
    number: str,
    source: str | None,
    policy: EmergencyPolicy,
) -> str | None:
    if d.outcome != "routed":
        chain.append(f"{sbc.id}: {d.outcome} for {sent}" + (f" from {source}" if source else ""))
        chain += [f"  {s}" for s in d.steps]
        return f"{sbc.id} has no route for {sent} ({d.outcome})"
    chain.append(
        f"{sbc.id}: {d.route} sends {sent} as {d.sent} on {d.trunk}"
        + (f" ({d.priority})" if d.priority else "")
    )
    if d.unproven:
        chain.append(f"{sbc.id}: {d.unproven}")
        return f"unproven: {sbc.id} {d.route}: {d.unproven}"
    if d.sent != number:
        return f"{sbc.id} rewrites it to {d.sent} ({d.route})"
    if policy.sbc_trunks and not _trunk_allowed(d.trunk, policy.sbc_trunks, _aliases(sbc)):
        chain.append(
            f"{d.trunk} is not among the emergency trunks ({', '.join(policy.sbc_trunks)})"
        )
        return f"{sbc.id} sends it to {d.trunk}, not an emergency trunk"
    chain.append(f"{d.trunk} is an emergency trunk")
    if sbc.state is not None and sbc.state.sbc is not None:
        chain.append(f"{sbc.id} location: {sbc_location.added(sbc.state.sbc, d, source)[1]}")
    return None
