"""The whole emergency path: phone → SBC → trunk.

Per SBC, each emergency number must leave unmodified on a trunk the golden template allows
(``emergency.sbc_route``). Per phone, for each emergency number and line: the number the
phone sends (through its dial plan), the server it sends it to, the inventory SBC that owns
that address, that SBC's route for the number from this phone, the trunk. A break anywhere
is ``emergency.path`` on the phone, with the chain hop by hop as evidence.
"""

from __future__ import annotations

import json

from fleet import dialplan, profiles
from fleet.check.emergency import split_hostport
from fleet.check.golden import EmergencyPolicy
from fleet.model import DeviceResult, Finding, RouteDecision


def check_sbc(result: DeviceResult, policy: EmergencyPolicy) -> list[Finding]:
    state = result.state
    prof = profiles.get(result.profile)
    if state is None or state.sbc is None or prof.route is None:
        return []
    out = []
    for number in policy.numbers:
        d = prof.route(state, number, None)
        why = _route_problem(d, number, policy, _aliases(result))
        if why:
            out.append(
                Finding(
                    "emergency.sbc_route",
                    "critical",
                    number,
                    f"{number}: {why}",
                    expected=f"{number} leaves unmodified on "
                    + (" or ".join(policy.sbc_trunks) or "an emergency trunk"),
                    actual=_decision_text(d),
                    evidence=[*d.steps, _json(d)],
                )
            )
    return out


def _route_problem(
    d: RouteDecision, number: str, policy: EmergencyPolicy, aliases: dict
) -> str | None:
    if d.outcome != "routed":
        return (
            f"the SBC has no route for it ({d.outcome})"
            if d.outcome == "no-route"
            else f"the SBC rejects it (by {d.route or 'its rules'})"
        )
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


def _aliases(result: DeviceResult) -> dict:
    st = result.state
    return (st.sbc.data.get("trunk_aliases") or {}) if st and st.sbc else {}


def _decision_text(d: RouteDecision) -> str:
    if d.outcome != "routed":
        return d.outcome
    return f"{d.sent} on {d.trunk}" + (f" ({d.priority})" if d.priority else "")


def _json(d: RouteDecision) -> str:
    return "route: " + json.dumps({k: v for k, v in d.to_dict().items() if k != "steps"})


def check_paths(
    results: list[DeviceResult],
    policy: EmergencyPolicy,
    addresses: dict[str, str | None],
) -> None:
    """Add ``emergency.path`` findings to the phones in ``results``; ``addresses`` maps a
    device id to its own IP (the source the SBC sees), when known. Runs only when the
    results hold at least one SBC: a phones-only sweep has no path to prove."""
    sbcs = [r for r in results if r.role == "sbc"]
    if not sbcs:
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
        found: dict[tuple[str, str], Finding] = {}
        for number in policy.numbers:
            for line in r.state.lines:
                if not line.enabled:
                    continue
                entry = next((e for e in line.emergency if e.number == number), None)
                if entry is None:
                    continue  # emergency.route says so already
                chain, why = _walk(
                    r,
                    line.index,
                    number,
                    entry.route,
                    entry.route_source,
                    line.dialplan,
                    owner,
                    addresses.get(r.id),
                    policy,
                )
                if why and (number, why) not in found:
                    found[(number, why)] = Finding(
                        "emergency.path",
                        "critical",
                        number,
                        f"{number} does not reach an emergency trunk: {why}",
                        expected=f"{number} → SBC → "
                        + (" or ".join(policy.sbc_trunks) or "an emergency trunk"),
                        actual=why,
                        evidence=chain,
                    )
        r.findings += list(found.values())
        r.findings.sort(key=Finding.sort_key)


def _walk(
    phone: DeviceResult,
    line: int,
    number: str,
    route: str | None,
    route_source: str,
    plan: object,
    owner: dict[str, DeviceResult],
    source: str | None,
    policy: EmergencyPolicy,
) -> tuple[list[str], str | None]:
    sent = number
    if plan is not None:
        res = dialplan.evaluate_plan(plan, number)  # type: ignore[arg-type]
        if res is not None and res.outcome == "dial" and res.sent:
            sent = res.sent
    hop = f"{phone.id} line {line} sends {sent} to {route or 'nowhere'}"
    chain = [hop + (f" ({route_source})" if route_source else "")]
    if not route:
        return chain, "the phone has no server to send it to"
    host = split_hostport(route)[0]
    sbc = owner.get(host)
    if sbc is None:
        return chain, f"{host} is no SBC in the inventory"
    chain.append(f"{host} is {sbc.id} ({sbc.profile})")
    if sbc.status != "audited" or sbc.state is None:
        return chain, f"{sbc.id} was not audited ({sbc.status}): the path is unproven"
    prof = profiles.get(sbc.profile)
    if prof.route is None:
        return chain, f"{sbc.id}: fleet cannot evaluate {sbc.profile} routing"
    d = prof.route(sbc.state, sent, source)
    if d.outcome != "routed":
        chain.append(f"{sbc.id}: {d.outcome} for {sent}" + (f" from {source}" if source else ""))
        chain += [f"  {s}" for s in d.steps]
        return chain, f"{sbc.id} has no route for {sent} ({d.outcome})"
    chain.append(
        f"{sbc.id}: {d.route} sends {sent} as {d.sent} on {d.trunk}"
        + (f" ({d.priority})" if d.priority else "")
    )
    if d.sent != number:
        return chain, f"{sbc.id} rewrites it to {d.sent} ({d.route})"
    if policy.sbc_trunks and not _trunk_allowed(d.trunk, policy.sbc_trunks, _aliases(sbc)):
        chain.append(
            f"{d.trunk} is not among the emergency trunks ({', '.join(policy.sbc_trunks)})"
        )
        return chain, f"{sbc.id} sends it to {d.trunk}, not an emergency trunk"
    chain.append(f"{d.trunk} is an emergency trunk")
    return chain, None
