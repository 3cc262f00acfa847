"""Caller location on the SBC hop of an emergency call (issue 13 §4, RAY BAUM'S Act).

A phone that provides no location of its own (no LLDP-MED, HELD or static address) has an
``emergency.location`` finding from the phone checks. The SBC on its emergency path may still
add one: a Cisco CUBE replaces the calling number with the ELIN of the caller's network. Where
every line's SBC does that for this phone, the finding is settled; where not, the finding says
what the SBC does instead (an ELIN gateway that only converts the ELINs the call already
carries, no location handling, a caller outside every ERL).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from fleet.model import DeviceResult, Finding, RouteDecision, SbcElin, SbcState


def added(sbc: SbcState, d: RouteDecision, source: str | None) -> tuple[bool | None, str]:
    """Whether the SBC adds a location to the call ``d`` from ``source``: True (it sends an
    ELIN for this caller), False (it adds none), None (fleet cannot tell: unproven)."""
    if d.outcome != "routed":
        return False, f"the call is {d.outcome} there (emergency.path says why)"
    loc = sbc.location
    if loc is None:
        return None, "fleet does not read this SBC's emergency location handling"
    where = f" ({loc.source})" if loc.source else ""
    if loc.mode == "elin":
        on_route = [e for e in loc.elins if not e.routes or d.route in e.routes]
        if not on_route:
            return False, f"{d.route} carries no emergency response location: no ELIN is sent"
        if not source:
            return None, (
                "the ELIN it sends depends on the caller's network and the phone's address "
                "is not known"
            )
        e = elin_sent(sbc, d, source)
        if e is not None:
            return True, f"{d.route} sends ELIN {e.elin} for {source} ({e.name})"
        nets = ", ".join(s for e in on_route for s in e.subnets) or "none"
        return False, f"{source} is in none of the ERL subnets on {d.route} ({nets}): no ELIN"
    if loc.mode == "unproven":
        # the configuration holds a step fleet does not evaluate that may add one
        return None, f"fleet cannot tell whether it adds a location{where}"
    if loc.mode == "elin-gateway":
        return False, (
            "it converts the ELINs the call already carries into the calling number"
            f"{where}, and adds none of its own"
        )
    if loc.mode != "none":  # a mode this check does not know: never read as "adds none"
        return None, f"fleet does not know location mode {loc.mode!r}{where}"
    return False, f"no emergency location handling is configured{where}"


def elin_sent(sbc: SbcState, d: RouteDecision, source: str | None) -> SbcElin | None:
    """The ELIN (and its location) the SBC sends in place of the calling number of the
    routed call ``d`` from ``source``; None where it sends none or fleet cannot tell which
    (``added`` says why). The first ERL on the route whose subnet holds the caller wins."""
    loc = sbc.location
    if d.outcome != "routed" or loc is None or loc.mode != "elin" or not source:
        return None
    for e in loc.elins:
        if (not e.routes or d.route in e.routes) and _in_any(source, e.subnets):
            return e
    return None


def emergency_call(sbc: SbcState | None, number: str, d: RouteDecision) -> bool:
    """Whether `fleet sbc route` treats the call to ``number`` as an emergency call: the SBC
    lists the number (or the number it sends) among its emergency numbers, or marks the call
    with an emergency priority; where the SBC lists none, fleet cannot tell, so every call
    counts (its location is shown rather than left out)."""
    if sbc is None or not sbc.emergency_numbers:
        return True
    calls = [d, *d.alternatives]
    if any(c.priority for c in calls):
        return True
    return any(n in sbc.emergency_numbers for n in [number, *(c.sent for c in calls if c.sent)])


def on_route(sbc: SbcState | None, d: RouteDecision, source: str | None) -> dict[str, Any]:
    """The location `fleet sbc route` shows for the decision ``d`` (JSON-ready): ``added``
    as ``added`` gives it (True / False / None: unproven) with its ``reason``, the ``elin``
    and ``erl`` it sends, the SBC's location ``mode`` and the ``settings`` it was read from,
    and ``alternatives``: one such object per alternative of an ambiguous decision, whose
    own verdict holds only where they all agree. ``sbc`` None: a device whose routing fleet
    does not read."""
    loc = sbc.location if sbc is not None else None
    out: dict[str, Any] = {"added": None, "reason": "", "elin": None, "erl": None}
    out["mode"] = loc.mode if loc is not None else None
    out["settings"] = loc.source if loc is not None else None
    if d.alternatives:
        alts = [on_route(sbc, a, source) for a in d.alternatives]
        said = {a["added"] for a in alts}
        out["added"] = said.pop() if len(said) == 1 else None
        out["reason"] = (
            "the same for every alternative"
            if out["added"] is not None
            else "it depends on which alternative the SBC takes"
        )
        out["alternatives"] = alts
    elif sbc is None or loc is None:
        out["reason"] = "fleet does not read this SBC's emergency location handling"
    elif d.outcome != "routed":
        out["added"], out["reason"] = False, f"nothing leaves the SBC ({d.outcome})"
    else:
        out["added"], out["reason"] = added(sbc, d, source)
        e = elin_sent(sbc, d, source)
        if e is not None:
            out["elin"], out["erl"] = e.elin, e.name
    return out


def _in_any(address: str, subnets: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a host name: no subnet holds it for sure
    for s in subnets:
        try:
            if ip in ipaddress.ip_network(s, strict=False):
                return True
        except ValueError:
            continue  # reported as config.malformed by the profile
    return False


def unlocated(f: Finding) -> bool:
    """A phone's finding that its calls carry no location, or that fleet cannot tell (the
    phone checks' ``emergency.location`` / ``coverage.uncertain`` on subject
    ``emergency.location``): an ELIN the SBC sends for this phone answers either. A finding
    that the location comes from the wrong kind of source (the golden's ``location.source``)
    or about a callback identity is not the SBC's to settle."""
    if f.subject != "emergency.location":
        return False
    return (f.rule == "emergency.location" and f.actual == "none") or f.rule == "coverage.uncertain"


# (sbc id, its state, the decision) for each enabled line's emergency call, or why the walk
# stopped before an SBC decided; recorded by path.py's walk, so no call is routed twice
Hop = tuple[str, SbcState, RouteDecision] | str


def settle(
    result: DeviceResult, hops: Mapping[str, list[Hop]], numbers: list[str], source: str | None
) -> None:
    """Remove the phone's no-location findings (``unlocated``) when the SBC adds a location
    on every emergency call of every line; otherwise add what each SBC does to their
    evidence. ``hops``: per number, each line's decision at its SBC, as the path walk
    reached it (or why it stopped short)."""
    findings = [f for f in result.findings if unlocated(f)]
    if not findings:
        return
    verdicts: list[tuple[bool | None, str]] = []
    for number in numbers:
        for hop in hops.get(number, []):
            if isinstance(hop, str):
                verdicts.append((None, f"{number}: {hop}"))
                continue
            sbc_id, state, d = hop
            for alt in d.alternatives or [d]:
                ok, why = added(state, alt, source)
                verdicts.append((ok, f"{number} via {sbc_id}: {why}"))
    if verdicts and all(ok is True for ok, _ in verdicts):
        for f in findings:
            result.findings.remove(f)
        return
    said = {True: "the SBC adds it", False: "the SBC adds none", None: "unproven"}
    for f in findings:
        f.evidence += list(dict.fromkeys(f"{said[ok]}: {why}" for ok, why in verdicts))
