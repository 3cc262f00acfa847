"""Oracle ESBC (Acme Packet): one call routed as the box routes it.

Routing follows the ESBC Configuration Guide, "Local Policy" chapter (README.md cites each rule):
the ingress realm comes from the source address (realm addr-prefix), the in-manipulationid of
that realm rewrites the Request-URI first, every enabled local-policy whose source-realm,
from-address and to-address match contributes its enabled policy-attributes, and the candidates
are ordered by cost, then longest to-address match, then wildcard last. The winner's
out-manipulation (session agent, else realm, else SIP interface) gives the number as it leaves.
What the winner's policy-priority means is a step of the decision; a next hop or setting that
decides the call outside the running configuration (a local route table file, an ENUM query,
a SIP interface refusing priority calls, call gapping on the number) makes the decision
``unproven``, with the reason, never a route fleet claims to have followed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from device_profiles.acme_packet.parse import unquote
from device_profiles.samekey import Same
from fleet.model import DeviceState, RouteDecision

MAX_SIP_MANIP_DEPTH = 8
OTHER_REALM = "(any other realm)"


# --- the routing data, typed (model.py writes it as plain dicts in SbcState.data) ---------


@dataclass(slots=True)
class Attribute:
    """A local-policy's policy-attribute: one next hop the policy offers."""

    index: int
    next_hop: str
    realm: str
    action: str
    cost: int
    state: str
    app_protocol: str
    methods: list[str]
    # defaults: SBC states stored before these were read
    eloc_lookup: str = "disabled"
    eloc_match: str = ""

    @property
    def trunk(self) -> str:
        # SAG: is case-insensitive on the box; sbc_trunks name groups as "SAG:<group-name>".
        if self.next_hop.lower().startswith("sag:"):
            return "SAG:" + self.next_hop[4:]
        return self.next_hop

    def takes_invite(self) -> bool:
        if self.state != "enabled" or self.app_protocol.upper() not in ("SIP", ""):
            return False
        return not self.methods or "INVITE" in {m.upper() for m in self.methods}


@dataclass(slots=True)
class Policy:
    index: int
    from_: list[str]
    to: list[str]
    source_realm: list[str]
    description: str
    state: str
    priority: str
    attributes: list[Attribute]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(
            index=d["index"],
            from_=d["from"],
            to=d["to"],
            source_realm=d["source_realm"],
            description=d["description"],
            state=d["state"],
            priority=d["priority"],
            attributes=[Attribute(**a) for a in d["attributes"]],
        )

    def name(self, pa: Attribute) -> str:
        """As an operator names it: "local-policy 3 (Emergency) attr 2"."""
        label = f"local-policy {self.index}"
        if self.description:
            label += f" ({self.description})"
        return label if len(self.attributes) == 1 else f"{label} attr {pa.index}"


@dataclass(slots=True)
class Realm:
    id: str
    addr_prefix: str
    in_manip: str
    out_manip: str

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        return _network(self.addr_prefix)


@lru_cache(maxsize=1024)  # every call from a phone tests every realm's addr-prefix
def _network(prefix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if prefix in ("0.0.0.0", "::"):  # the default: every address
        prefix += "/0"
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return None


@dataclass(slots=True)
class Agent:
    hostname: str
    ip: str
    port: str
    state: str
    realm: str
    in_manip: str
    out_manip: str


@dataclass(slots=True)
class Group:
    name: str
    state: str
    dest: list[str]


@dataclass(slots=True)
class Port:
    address: str
    port: str
    transport: str
    allow_anonymous: str


@dataclass(slots=True)
class Interface:
    realm: str
    state: str
    anonymous_priority: str
    in_manip: str
    out_manip: str
    ports: list[Port]
    options: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interface:
        return cls(**{**d, "ports": [Port(**p) for p in d["ports"]]})

    def refuses_priority(self) -> bool:
        # "Emergency Call Fallback": priority calls through it are answered 380 (README [P2])
        return any(o.lstrip("+").lower() == "disallow-priority-calls" for o in self.options)


@dataclass(slots=True)
class RouteTable:
    """A local route table (local-routing-config): the name a next hop ``lrt:NAME`` gives,
    and the file on the box that holds its routes."""

    name: str
    file_name: str
    prefix_length: str
    string_lookup: str
    retarget_requests: str
    match_mode: str


@dataclass(slots=True)
class Control:
    """A network management control: call gapping (GAP-RATE, GAP-PERCENT) or the PRIORITY
    type (911 exemption) for the called numbers in ``destination``."""

    name: str
    state: str
    type: str
    value: str
    treatment: str
    destination: list[str]

    def matches(self, number: str) -> bool:
        """A destination-identifier entry is a number or prefix with ``^`` for any one
        digit (README [P3]); IP addresses, host names and URNs never match a dialled
        number."""
        for entry in self.destination:
            if not re.fullmatch(r"[0-9^*#+]+", entry):
                continue
            if re.match("".join("." if ch == "^" else re.escape(ch) for ch in entry), number):
                return True
        return False


@dataclass(slots=True)
class ElementRule:
    name: str
    type: str
    action: str
    comparison: str
    match: str
    new_value: str


@dataclass(slots=True)
class HeaderRule:
    name: str
    header: str
    action: str
    msg_type: str
    methods: list[str]
    new_value: str
    elements: list[ElementRule]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeaderRule:
        return cls(**{**d, "elements": [ElementRule(**e) for e in d["elements"]]})

    def applies_to_invite(self) -> bool:
        if self.msg_type not in ("any", "request", "out-of-dialog"):
            return False
        return not self.methods or "INVITE" in {m.upper() for m in self.methods}


@dataclass(slots=True)
class AcmeRouting:
    policies: list[Policy]
    realms: list[Realm]
    agents: list[Agent]
    groups: list[Group]
    interfaces: list[Interface]
    # sip-manipulation name -> its header-rules as stored; typed when a call reaches one
    stored_manipulations: dict[str, list[dict[str, Any]]]
    tables: list[RouteTable] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AcmeRouting:
        return cls(
            policies=[Policy.from_dict(p) for p in data["policies"]],
            realms=[Realm(**r) for r in data["realms"]],
            agents=[Agent(**a) for a in data["agents"]],
            groups=[Group(**g) for g in data["groups"]],
            interfaces=[Interface.from_dict(s) for s in data["interfaces"]],
            stored_manipulations=data["manipulations"],
            # absent from SBC states stored before they were read
            tables=[RouteTable(**t) for t in data.get("tables", [])],
            controls=[Control(**c) for c in data.get("controls", [])],
        )

    @staticmethod
    def of(data: dict[str, Any]) -> AcmeRouting:
        """``data`` typed once per SBC state: check/path.py routes every emergency number of
        every phone line through the same state, and typing it cost a third of each call."""
        return _typed(Same(data))

    def manipulation(self, name: str) -> list[HeaderRule] | None:
        rules = self.stored_manipulations.get(name)
        return None if rules is None else [HeaderRule.from_dict(hr) for hr in rules]

    def realm_manip(self, realm: str, direction: str) -> str:
        """The realm's in/out-manipulationid, else its SIP interface's."""
        attr = f"{direction}_manip"
        found = next((getattr(r, attr) for r in self.realms if r.id == realm), "")
        return found or next((getattr(s, attr) for s in self.interfaces if s.realm == realm), "")


@lru_cache(maxsize=256)  # SBC states, not calls: a fleet's SBCs, each routing many phones
def _typed(key: Same) -> AcmeRouting:
    return AcmeRouting.from_data(key.data)


@dataclass(slots=True)
class Candidate:
    """A policy-attribute that may take the call, with the Route Preference keys."""

    cost: int
    to_length: int  # digits of the longest to-address match; 0 for the wildcard
    order: int
    policy: Policy
    attribute: Attribute

    def key(self) -> tuple[int, int, int, int]:
        return (self.cost, -self.to_length, 1 if self.to_length == 0 else 0, self.order)


# --- the ingress realm --------------------------------------------------------------------


def _phone_side(cfg: AcmeRouting, steps: list[str]) -> list[str]:
    """Realms a phone's call may arrive in when the caller is not named: those whose SIP
    ports admit endpoints that are not session agents (allow-anonymous other than
    agents-only), else those no session agent lives in, else every realm."""
    realms = [r.id for r in cfg.realms if r.id]
    open_realms = [
        s.realm
        for s in cfg.interfaces
        if s.state == "enabled"
        and s.realm in realms
        and any(p.allow_anonymous != "agents-only" for p in s.ports)
    ]
    if open_realms := list(dict.fromkeys(open_realms)):
        steps.append(
            "source: phone side, realm "
            + " or ".join(open_realms)
            + " (its sip-port admits endpoints other than session agents)"
        )
        return open_realms
    agent_realms = {a.realm for a in cfg.agents}
    if free := [r for r in realms if r not in agent_realms]:
        steps.append(f"source: phone side, realm {' or '.join(free)} (no session agent in it)")
        return free
    steps.append(
        "source: phone side undetermined (every sip-port is agents-only and every realm has "
        "a session agent): each realm is a candidate"
    )
    return realms


def _unknown_realm(cfg: AcmeRouting, steps: list[str]) -> list[str]:
    """No realm-config in the capture: the realms the local-policies name, and any other."""
    named = [r for lp in cfg.policies if lp.state == "enabled" for r in lp.source_realm if r != "*"]
    steps.append(
        "ingress realm unknown: the capture holds no realm-config, so each source-realm the "
        "local-policies name is a candidate"
    )
    return [*dict.fromkeys(named), OTHER_REALM]


def _by_prefix(
    cfg: AcmeRouting,
    source: str,
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
    steps: list[str],
) -> list[str]:
    """The realm whose addr-prefix holds the address, most specific first."""
    best: tuple[int, str] | None = None
    for r in cfg.realms:
        net = r.network()
        if net is not None and addr in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r.id)
    if best is None:
        steps.append(f"source {source} matches no realm addr-prefix")
        return []
    steps.append(f"source {source} classified to realm {best[1]} (addr-prefix, most specific)")
    return [best[1]]


def _ingress_realms(cfg: AcmeRouting, source: str | None, steps: list[str]) -> list[str]:
    """Candidate ingress realms for a call from ``source`` (empty: the box takes none)."""
    realms = cfg.realms
    if source is None:
        return _phone_side(cfg, steps) if realms else _unknown_realm(cfg, steps)
    if any(r.id == source for r in realms):
        steps.append(f"source: realm {source}")
        return [source]
    try:
        addr = ipaddress.ip_address(source)
    except ValueError:
        if not realms:
            steps.append(f"source: realm {source} (the capture holds no realm-config)")
            return [source]
        steps.append(f"source {source!r} is neither a realm nor an IP address")
        return []
    for a in cfg.agents:
        if a.ip == source and a.realm:
            steps.append(f"source {source} is session-agent {a.hostname}: realm {a.realm}")
            return [a.realm]
    if not realms:
        return _unknown_realm(cfg, steps)
    return _by_prefix(cfg, source, addr, steps)


# --- header manipulation (HMR) ------------------------------------------------------------


def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None


def _expand(m: re.Match[str], template: str) -> str:
    """``$1``-style back references of an HMR new-value, without re's template parser (a
    value from the configuration must never raise)."""

    def group(g: re.Match[str]) -> str:
        n = int(g[1])
        return (m.group(n) or "") if n <= (m.re.groups or 0) else g[0]

    return re.sub(r"\$(\d+)", group, template)


def _eval_new_value(expr: str, original: str, steps: list[str]) -> str:
    parts = re.findall(r'"[^"]*"|\$ORIGINAL|[^+]+|\+', expr)
    if len(parts) > 1 and "$ORIGINAL" in parts:
        out = ""
        for p in parts:
            if p == "+":
                continue
            out += original if p == "$ORIGINAL" else unquote(p)
        return out
    if "$" in expr and not re.fullmatch(r"\$\d+", expr):
        steps.append(f"new-value {expr!r} uses HMR variables fleet does not evaluate")
    return unquote(expr) if expr != "$ORIGINAL" else original


_USER_ELEMENTS = ("uri-user", "uri-user-only", "uri-phone-number-only")


def _hits(er: ElementRule, pattern: re.Pattern[str] | None, user: str, *, folds: bool) -> bool:
    """The element-rule's match-value holds for ``user`` (an empty match-value always does);
    ``folds``: a case-insensitive comparison-type is honoured."""
    if not er.match:
        return True
    if pattern is not None:
        return bool(pattern.search(user))
    if folds and er.comparison == "case-insensitive":
        return user.lower() == er.match.lower()
    return user == er.match


def _apply_element(
    er: ElementRule, pattern: re.Pattern[str] | None, user: str, steps: list[str]
) -> str:
    """One element-rule's action on the Request-URI user."""
    if er.action == "replace":
        return (
            _eval_new_value(er.new_value, user, steps)
            if _hits(er, pattern, user, folds=True)
            else user
        )
    if er.action == "find-replace-all" and er.match:
        finder = pattern or re.compile(re.escape(er.match))
        template = unquote(er.new_value)
        return finder.sub(lambda m: _expand(m, template), user)
    if er.action == "delete-element" and _hits(er, pattern, user, folds=False):
        return ""
    return user


def _apply_header_rule(name: str, hr: HeaderRule, user: str, steps: list[str]) -> str:
    """A Request-URI manipulate header-rule's element-rules, in order."""
    for er in hr.elements:
        if er.type not in _USER_ELEMENTS:
            continue
        where = f"sip-manipulation {name} header-rule {hr.name} element-rule {er.name}"
        regex = er.comparison == "pattern-rule"
        pattern = _compile(er.match) if regex and er.match else None
        if regex and er.match and pattern is None:
            steps.append(
                f"{where}: pattern-rule is not a regular expression fleet can read; "
                "rule skipped, the number as it leaves is uncertain"
            )
            continue
        before = user
        user = _apply_element(er, pattern, user, steps)
        if user != before:
            steps.append(f"{where}: Request-URI user {before} -> {user}")
    return user


def _apply_manipulation(
    cfg: AcmeRouting, name: str, user: str, steps: list[str], depth: int = 0
) -> str:
    rules = cfg.manipulation(name)
    if rules is None and name.upper().startswith("ACME_"):
        # Built-in rules (prefix ACME_); ACME_NAT_TO_FROM_IP rewrites the To and From hosts
        # only ("Built-In SIP Manipulations", README [D13]).
        steps.append(f"sip-manipulation {name} is built in: Request-URI user unchanged")
        return user
    if rules is None:
        steps.append(
            f"sip-manipulation {name} is not configured (built-in or missing): "
            "Request-URI user unchanged"
        )
        return user
    for hr in rules:
        if not hr.applies_to_invite():
            continue
        if hr.action == "sip-manip" and depth < MAX_SIP_MANIP_DEPTH:
            user = _apply_manipulation(cfg, unquote(hr.new_value), user, steps, depth + 1)
        elif hr.header.lower() == "request-uri" and hr.action == "manipulate":
            user = _apply_header_rule(name, hr, user, steps)
    return user


# --- local-policy -------------------------------------------------------------------------


def _to_match(entry: str, number: str) -> int | None:
    """Match length of one to-address entry (left-to-right digits); 0 for a bare wildcard."""
    if entry == "*":
        return 0
    if "*" in entry:
        pattern = ".*".join(re.escape(p) for p in entry.split("*"))
        m = re.match(pattern, number)
        return len(entry.replace("*", "")) if m else None
    return len(entry) if number.startswith(entry) else None


def _resolve(cfg: AcmeRouting, next_hop: str) -> tuple[list[Agent], str | None]:
    """Session agents behind a next-hop, and why it cannot be used (None: usable)."""
    by_name = {a.hostname: a for a in cfg.agents}
    by_ip = {a.ip: a for a in cfg.agents if a.ip}
    if next_hop.lower().startswith("sag:"):
        group = next((g for g in cfg.groups if g.name == next_hop[4:]), None)
        if group is None:
            return [], f"session-group {next_hop[4:]} is not configured"
        if group.state != "enabled":
            return [], f"session-group {group.name} is disabled"
        members = [by_name.get(d) or by_ip.get(d) for d in group.dest]
        usable = [a for a in members if a and a.state == "enabled"]
        if not usable:
            return [], f"session-group {group.name} has no enabled session agent"
        return usable, None
    agent = by_name.get(next_hop) or by_ip.get(next_hop)
    if agent is None:
        return [], None  # a plain address: no session agent, no agent manipulation
    if agent.state != "enabled":
        return [], f"session-agent {agent.hostname} is disabled"
    return [agent], None


def _candidates(cfg: AcmeRouting, user: str, realm: str, steps: list[str]) -> list[Candidate]:
    """Candidates from every matching local-policy (Route Preference: the list is built from
    source realm, From and To, then ordered by cost, To match length, wildcard last)."""
    out: list[Candidate] = []
    for lp in cfg.policies:
        if lp.state != "enabled":
            continue
        if "*" not in lp.source_realm and realm not in lp.source_realm:
            continue
        if "*" not in lp.from_:
            steps.append(
                f"local-policy {lp.index}: from-address {' '.join(lp.from_)} needs a known "
                "caller; skipped"
            )
            continue
        lengths = [n for n in (_to_match(e, user) for e in lp.to) if n is not None]
        if not lengths:
            continue
        for pa in lp.attributes:
            if pa.takes_invite():
                out.append(Candidate(pa.cost, max(lengths), len(out), lp, pa))
    out.sort(key=Candidate.key)
    return out


def _out_manip(cfg: AcmeRouting, agents: list[Agent], pa: Attribute) -> str:
    """The out-manipulationid the call leaves through: session agent, else realm, else SIP
    interface."""
    return (agents[0].out_manip if agents else "") or cfg.realm_manip(pa.realm, "out")


@dataclass(slots=True)
class Call:
    """One call being routed from one ingress realm."""

    cfg: AcmeRouting
    number: str
    source: str | None
    steps: list[str] = field(default_factory=list)
    realm: str = ""  # the ingress realm it is routed from

    def decision(self, outcome: str, **fields: Any) -> RouteDecision:
        return RouteDecision(self.number, self.source, outcome, steps=self.steps, **fields)


# --- emergency priority and what fleet cannot see ------------------------------------------


def _priority_step(cfg: AcmeRouting, lp: Policy, realm: str) -> str:
    """What the winning local-policy's policy-priority means for this call (README [D3],
    [P1]): only values above none mark it."""
    name = f"local-policy {lp.index}" + (f" ({lp.description})" if lp.description else "")
    if lp.priority == "none":
        return (
            f"{name} has policy-priority none: the box does not mark this call as a priority call"
        )
    said = f"{name} has policy-priority {lp.priority}: the box handles it as a priority session "
    said += "(exempt from session-agent, realm and SIP interface session constraints)"
    anon = next((s.anonymous_priority for s in cfg.interfaces if s.realm == realm), None)
    if anon is None:
        return said
    said += f"; realm {realm}'s sip-interface has anonymous-priority {anon}: a caller that fails "
    # none is the lowest value and emergency the highest [D3]; the order between is not given
    if lp.priority == "emergency" or anon == "none":
        return said + f"admission control is still routed by it ({lp.priority} >= {anon})"
    if anon == "emergency":
        return said + f"admission control is not routed by it ({lp.priority} < {anon})"
    return said + (
        f"admission control is routed by it only if {lp.priority} ranks at or above {anon} "
        "(Oracle gives no order between none and emergency)"
    )


def _table_reason(cfg: AcmeRouting, pa: Attribute, user: str) -> str:
    """Why a next hop ``lrt:NAME`` cannot be followed: the table is a file on the box."""
    name = pa.next_hop[4:]
    table = next((t for t in cfg.tables if t.name == name), None)
    if table is None:
        said = (
            f"its next hop is local route table {name}, which no local-routing-config in the "
            "capture defines: fleet cannot see where the box sends it"
        )
    else:
        said = (
            f"its next hop is local route table {name} (local-routing-config file-name "
            f"{table.file_name or '(none)'}): the routes are in that file on the box "
            "(/code/lrt), not in the running configuration, so fleet cannot see where the "
            f"box sends {user}"
        )
        if table.retarget_requests != "disabled":
            said += " nor the number it leaves as (retarget-requests replaces the Request-URI)"
    if pa.eloc_lookup == "enabled":
        said += (
            "; eloc-str-lkup is enabled, so the box looks the table up by the caller's "
            "emergency location string"
            + (f" ({pa.eloc_match})" if pa.eloc_match else "")
            + " rather than by the number"
        )
    return said


def _unproven(call: Call, c: Candidate, user: str) -> list[str]:
    """What in the box's configuration decides this call where fleet cannot see it."""
    cfg, pa, reasons = call.cfg, c.attribute, []
    hop = pa.next_hop.lower()
    if hop.startswith("lrt:"):
        reasons.append(_table_reason(cfg, pa, user))
    elif hop.startswith("enum:"):
        reasons.append(
            f"its next hop is an ENUM query ({pa.next_hop}): the answer of that server "
            "decides where it goes, and fleet cannot see it"
        )
    for realm in dict.fromkeys(r for r in (call.realm, pa.realm) if r):
        if any(s.realm == realm and s.refuses_priority() for s in cfg.interfaces):
            reasons.append(
                f"realm {realm}'s sip-interface has options disallow-priority-calls: the box "
                "answers priority calls through it with 380, and fleet cannot tell whether "
                "it counts this call as one"
                + (
                    f" (its local-policy has policy-priority {c.policy.priority})"
                    if c.policy.priority != "none"
                    else ""
                )
            )
    for ctl in cfg.controls:
        if ctl.state != "enabled" or not ctl.matches(user):
            continue
        if ctl.type == "PRIORITY":
            call.steps.append(
                f"net-management-control {ctl.name} (type PRIORITY) names {user}: where the "
                "ingress realm applies network management controls, the box exempts it from "
                "call gapping (911 exemption handling)"
            )
        elif ctl.type in ("GAP-RATE", "GAP-PERCENT"):
            reasons.append(
                f"net-management-control {ctl.name} ({ctl.type} {ctl.value}, treatment "
                f"{ctl.treatment or 'none'}) names {user}: where the ingress realm applies "
                "network management controls, the box gaps such calls and rejects or diverts "
                "those over the limit; fleet cannot know the load"
            )
    return reasons


def _take(call: Call, c: Candidate, agents: list[Agent], user: str) -> RouteDecision:
    """The decision once ``c`` wins."""
    name, pa, steps = c.policy.name(c.attribute), c.attribute, call.steps
    to_desc = "*" if c.to_length == 0 else f"{c.to_length}-digit"
    steps.append(
        f"{name} wins: to-address match {to_desc}, cost {c.cost}, next-hop "
        f"{pa.next_hop} realm {pa.realm}"
    )
    if pa.action == "redirect":
        steps.append("action redirect: a 3xx goes back to the caller")
        return call.decision("rejected", route=name, sent=user)
    steps.append(_priority_step(call.cfg, c.policy, call.realm))
    # on the number as it arrived: the table lookup and the network management controls see
    # the Request-URI the local-policy matched, before any outbound manipulation
    reasons = _unproven(call, c, user)
    steps += [f"unproven: {r}" for r in reasons]
    if out_manip := _out_manip(call.cfg, agents, pa):
        user = _apply_manipulation(call.cfg, out_manip, user, steps)
    priority = c.policy.priority if c.policy.priority != "none" else None
    return call.decision(
        "routed",
        route=name,
        sent=user,
        trunk=pa.trunk,
        priority=priority,
        unproven="; ".join(reasons),
    )


def _route_from(call: Call, realm: str) -> RouteDecision:
    cfg, steps = call.cfg, call.steps
    call.realm = realm
    user = call.number
    if in_manip := cfg.realm_manip(realm, "in"):
        user = _apply_manipulation(cfg, in_manip, user, steps)
    candidates = _candidates(cfg, user, realm, steps)
    if not candidates:
        steps.append(f"no enabled local-policy matches {user} from realm {realm}")
        return call.decision("no-route", sent=user)
    for c in candidates:
        agents, why = _resolve(cfg, c.attribute.next_hop)
        if why:
            steps.append(f"{c.policy.name(c.attribute)}: {why}; next candidate")
            continue
        return _take(call, c, agents, user)
    steps.append("every matching route's next hop is unusable")
    return call.decision("no-route", sent=user)


def _same(a: RouteDecision, b: RouteDecision) -> bool:
    return (a.outcome, a.route, a.sent, a.trunk, a.priority, a.unproven) == (
        b.outcome,
        b.route,
        b.sent,
        b.trunk,
        b.priority,
        b.unproven,
    )


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    data = (state.sbc.data if state.sbc else None) or {}
    steps: list[str] = []
    if not data:
        return RouteDecision(number, source, "no-route", steps=["no routing data"])
    cfg = AcmeRouting.of(data)
    realms = _ingress_realms(cfg, source, steps)
    if not realms:
        steps.append("no ingress realm: the box answers nothing for an unknown source")
        return RouteDecision(number, source, "rejected", steps=steps)
    if len(realms) == 1:
        return _route_from(Call(cfg, number, source, steps), realms[0])
    decisions = [_route_from(Call(cfg, number, r), r) for r in realms]
    first = decisions[0]
    if all(_same(d, first) for d in decisions):
        first.source = source
        first.steps = [
            *steps,
            f"every candidate realm ({', '.join(realms)}) routes it alike",
            *first.steps,
        ]
        return first
    steps.append(
        "the configuration leaves the ingress realm open and the candidates route it "
        "differently: "
        + "; ".join(f"from {d.source}: {d.outcome} {d.trunk or ''}".rstrip() for d in decisions)
    )
    return RouteDecision(number, source, "ambiguous", steps=steps, alternatives=decisions)
