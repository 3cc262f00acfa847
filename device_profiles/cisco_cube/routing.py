"""IOS call routing as CUBE applies it to one call: inbound dial-peer, its incoming
translation, outbound dial-peer hunting, outgoing translation and POTS digit handling.

Sources (README, "Routing"): Cisco doc 211306 "Understand IOS and IOS XE Call Routing"
(inbound/outbound matching tables, dial-peer hunt, wildcards, dial-peer states), doc 61083
"Determine Voice Translation Rules" (rule syntax, sets, reject), the CME/SRST Enhanced 911
guide (emergency response location/zone, ELIN).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from device_profiles.samekey import Same
from fleet.model import DeviceState, RouteDecision

# What '.' and 'T' stand for in a dial-peer number pattern (doc 211306, Dial-Peer Wildcards:
# "any value 0-9, A-F and *, #, +"; T: "a variable length match of up to 32 digits").
_ANY = "[0-9A-Fa-f*#+]"
_LITERAL = set("0123456789*#ABCDEFabcdef")


@dataclass(frozen=True, slots=True)
class NumberPattern:
    text: str
    regex: re.Pattern[str]
    explicit: int  # digits the pattern names outright: the "longest match" measure
    fixed: int  # single-position wildcards ('.', '[..]')
    leading_literal: int  # explicit digits before the first wildcard (POTS digit-strip)


class _PatternReader:
    """One pass over a number pattern, counting what the "longest match" rule counts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.s = text.strip()
        self.out: list[str] = []
        self.explicit = self.fixed = 0
        self.leading: int | None = None
        self.last = (0, 0)  # (explicit, fixed) of the previous atom, for %, ? and + after it
        self.groups: list[tuple[int, int]] = []
        self.i = 0

    def literal(self, regex: str) -> None:
        self.out.append(regex)
        self.explicit += 1
        self.last = (1, 0)

    def wildcard(self, regex: str) -> None:
        self.out.append(regex)
        self.fixed += 1
        self.last = (0, 1)
        self.mark()

    def mark(self) -> None:
        # the first non-literal ends the explicitly matched leading digits
        self.leading = self.explicit if self.leading is None else self.leading

    def bracket(self) -> None:
        s, text = self.s, self.text
        j = s.find("]", self.i)
        if j < 0:
            raise ValueError(f"unclosed [ in {text!r}")
        body = s[self.i + 1 : j].replace(",", "")
        if not body or not re.fullmatch(r"\^?[0-9A-Fa-f*#-]+", body):
            raise ValueError(f"bad range [{body}] in {text!r}")
        self.wildcard("[" + body.replace("*", r"\*") + "]")
        self.i = j

    def close_group(self) -> None:
        if not self.groups:
            raise ValueError(f"unbalanced ) in {self.text!r}")
        e0, f0 = self.groups.pop()
        self.out.append(")")
        self.last = (self.explicit - e0, self.fixed - f0)

    def optional(self, c: str) -> None:
        # The atom before may occur zero times: it does not count as explicit.
        self.out.append("*" if c == "%" else "?")
        self.explicit -= self.last[0]
        self.fixed -= self.last[1]
        self.last = (0, 0)
        self.mark()

    def end(self, c: str) -> bool:
        """T or $: the pattern ends here (True: stop reading)."""
        rest = self.s[self.i + 1 :]
        if c == "T":
            if rest not in ("", "$"):
                raise ValueError(f"T must end the pattern: {self.text!r}")
            self.out.append(_ANY + "{0,32}$")
            self.mark()
            return True
        if rest:
            raise ValueError(f"$ must end the pattern: {self.text!r}")
        self.out.append("$")
        return False

    def step(self, c: str) -> bool:
        """Read the atom at ``i``; True when the pattern ends there."""
        if c in _LITERAL:
            self.literal(re.escape(c))
        elif c == ".":
            self.wildcard(_ANY)
        elif c == "[":
            self.bracket()
        elif c == "(":
            self.groups.append((self.explicit, self.fixed))
            self.out.append("(?:")
            self.mark()
        elif c == ")":
            self.close_group()
        elif c in "%?":
            self.optional(c)
        elif c == "+":
            self.out.append("+")
            self.mark()
        elif c in "T$":
            return self.end(c)
        elif c == "\\" and self.i + 1 < len(self.s):
            self.i += 1
            self.literal(re.escape(self.s[self.i]))
        elif c != ",":  # ',' is a one-second pause when dialling out; matches nothing
            raise ValueError(f"{c!r} is not valid in a number pattern: {self.text!r}")
        return False

    def read(self) -> NumberPattern:
        s = self.s
        if not s:
            raise ValueError("empty number pattern")
        if s.startswith("^"):
            self.i = 1
        if s[self.i : self.i + 1] == "+":  # leading + is the literal E.164 plus
            self.literal(r"\+")
            self.i += 1
        while self.i < len(s):
            if self.step(s[self.i]):
                break
            self.i += 1
        if self.groups:
            raise ValueError(f"unclosed ( in {self.text!r}")
        return NumberPattern(
            text=self.text,
            regex=re.compile("".join(self.out)),
            explicit=self.explicit,
            fixed=self.fixed,
            leading_literal=self.explicit if self.leading is None else self.leading,
        )


@lru_cache(maxsize=4096)
def number_pattern(text: str) -> NumberPattern:
    """A destination-pattern / incoming called-number / answer-address as IOS reads it.

    Implicitly anchored at the start ("the gateway automatically assume a ^"), open at the
    end unless it ends in T or $: IOS matches the pattern as a prefix of the number."""
    return _PatternReader(text).read()


def pattern_matches(pattern: str, number: str) -> bool:
    return number_pattern(pattern).regex.match(number) is not None


# --- voice translation-rule -------------------------------------------------------------


@lru_cache(maxsize=1024)
def _translation_regex(match: str) -> re.Pattern[str]:
    """Cisco's rule regex in Python's: \\( \\) delimit the sets kept for \\1..\\9 (doc
    61083, Number Slice); other escapes are literals."""
    out: list[str] = []
    i = 0
    while i < len(match):
        c = match[i]
        if c == "\\" and i + 1 < len(match):
            n = match[i + 1]
            out.append("(" if n == "(" else ")" if n == ")" else re.escape(n))
            i += 2
            continue
        out.append("(?:" if c == "(" else c)
        i += 1
    return re.compile("".join(out))


def _expand(replace: str, m: re.Match[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(replace):
        c = replace[i]
        if c == "\\" and i + 1 < len(replace):
            n = replace[i + 1]
            if n.isdigit():
                idx = int(n)
                out.append((m.group(idx) or "") if idx <= (m.re.groups or 0) else "")
            else:
                out.append(n)
            i += 2
            continue
        out.append(m.group(0) if c == "&" else c)
        i += 1
    return "".join(out)


_RULE = re.compile(
    r"^(?:(?P<reject>reject)\s+/(?P<rmatch>[^/]*)/|/(?P<match>[^/]*)/\s+/(?P<replace>[^/]*)/)"
    r"\s*(?P<options>.*)$"
)


def parse_rule(text: str) -> dict[str, Any]:
    """One ``rule N`` body as stored in params: "/m/ /r/ [type ..]" or "reject /m/ [..]"."""
    m = _RULE.match(text.strip())
    if not m:
        raise ValueError(f"not a translation rule: {text!r}")
    reject = bool(m.group("reject"))
    return {
        "reject": reject,
        "match": m.group("rmatch") if reject else m.group("match"),
        "replace": "" if reject else m.group("replace"),
        "options": m.group("options").strip(),
    }


def _options_allow(options: str) -> bool:
    # A SIP call's numbers carry type and plan "unknown" (there is no ISDN IE), so a rule
    # restricted to another match type or plan does not apply. UNCONFIRMED for CUBE.
    for kind in ("type", "plan"):
        m = re.search(rf"\b{kind}\s+(\S+)", options)
        if m and m.group(1).lower() not in ("any", "unknown"):
            return False
    return True


def translate(rules: dict[str, dict[str, Any]], number: str) -> tuple[str, str | None, bool]:
    """Apply one voice translation-rule set: rules in precedence order, the first that
    matches rewrites the first occurrence (doc 61083). Returns (number, rule, rejected)."""
    for prec in sorted(rules, key=int):
        r = rules[prec]
        if not _options_allow(r.get("options", "")):
            continue
        m = _translation_regex(r["match"]).search(number)
        if m is None:
            continue
        if r["reject"]:
            return number, prec, True
        return number[: m.start()] + _expand(r["replace"], m) + number[m.end() :], prec, False
    return number, None, False


# --- the routing data, typed --------------------------------------------------------------


@dataclass(slots=True)
class DialPeer:
    """One dial-peer as ``SbcState.data["dial_peers"]`` holds it (model.py writes it with
    ``asdict``, so the stored field order is this one)."""

    tag: str
    type: str  # voip | pots
    description: str = ""
    destination_pattern: str = ""
    session_target: str = ""
    preference: int = 0
    translation_incoming: str = ""
    translation_outgoing: str = ""
    incoming_called_number: str = ""
    incoming_uri: str = ""
    answer_address: str = ""
    emergency_zone: str = ""
    emergency_location: str = ""
    port: str = ""
    digit_strip: bool = True
    forward_digits: str = ""
    prefix: str = ""
    bind_control: str = ""
    shutdown: bool = False
    trunkgroup: str = ""
    e164_map: str = ""
    dpg: str = ""
    server_group: str = ""
    destination_uri: str = ""
    incoming_called_e164_map: str = ""
    # how a golden template names the trunk this dial-peer leaves on
    trunk: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DialPeer:
        try:
            return cls(**d)
        except TypeError:
            # A snapshot stored by another fleet version may lack fields (they take the
            # default) or hold ones this version does not know (they are dropped).
            return cls(**{k: v for k, v in d.items() if k in _PEER_FIELDS})

    @property
    def name(self) -> str:
        return f"dial-peer {self.tag}"

    @property
    def emergency(self) -> bool:
        return bool(self.emergency_zone or self.emergency_location)


_PEER_FIELDS = frozenset(DialPeer.__dataclass_fields__)


@dataclass(slots=True)
class CubeRouting:
    """What ``route`` reads of ``SbcState.data``."""

    dial_peers: list[DialPeer]
    hunt: int
    voip_incoming_profile: str
    e164_maps: dict[str, dict[str, Any]]
    dpgs: dict[str, list[dict[str, Any]]]
    translation_rules: dict[str, dict[str, dict[str, Any]]]
    translation_profiles: dict[str, dict[str, str]]
    uri_classes: dict[str, dict[str, Any]]
    locations: dict[str, dict[str, Any]]
    zones: dict[str, list[str]]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CubeRouting:
        return cls(
            dial_peers=[DialPeer.from_dict(p) for p in data.get("dial_peers", [])],
            hunt=int(data.get("hunt") or 0),
            voip_incoming_profile=data.get("voip_incoming_profile") or "",
            e164_maps=data.get("e164_maps") or {},
            dpgs=data.get("dpgs") or {},
            translation_rules=data.get("translation_rules") or {},
            translation_profiles=data.get("translation_profiles") or {},
            uri_classes=data.get("uri_classes") or {},
            locations=data.get("locations") or {},
            zones=data.get("zones") or {},
        )

    @staticmethod
    def of(data: dict[str, Any]) -> CubeRouting:
        """``data`` typed once per SBC state: check/path.py routes every emergency number of
        every phone line through the same state, and typing the dial-peers cost a third of
        each call."""
        return _typed(Same(data))

    def e164(self, tag: str) -> list[str]:
        return list((self.e164_maps.get(tag) or {}).get("e164", []))


@lru_cache(maxsize=256)  # SBC states, not calls: a fleet's SBCs, each routing many phones
def _typed(key: Same) -> CubeRouting:
    return CubeRouting.from_data(key.data)


@dataclass(slots=True)
class Candidate:
    """An outbound dial-peer that matches, with its table position and best pattern."""

    index: int
    peer: DialPeer
    pattern: NumberPattern


@dataclass(slots=True)
class Call:
    """One call being routed: what every step reads and appends to."""

    cfg: CubeRouting
    number: str
    source: str | None
    steps: list[str]

    def decision(self, outcome: str, **fields: Any) -> RouteDecision:
        return RouteDecision(self.number, self.source, outcome, steps=self.steps, **fields)


# --- dial-peer selection ----------------------------------------------------------------


def _ip(source: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not source:
        return None
    host = source.strip()
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _uri_host_matches(host: str, ip: str) -> bool:
    if host.lower().startswith("ipv4:") or host.lower().startswith("ipv6:"):
        return host.split(":", 1)[1].split(":")[0] == ip
    if host.lower().startswith("dns:"):
        return False
    try:  # a bare host is a regex (doc 211306, Voice Class URI: "host 172\.18\.110\.20[567]")
        return re.fullmatch(host, ip) is not None
    except re.error:
        return False


def _hunt_key(hunt: int) -> Callable[[Candidate], tuple[int, ...]]:
    def key(c: Candidate) -> tuple[int, ...]:
        longest = (-c.pattern.explicit, -c.pattern.fixed)
        pref = (int(c.peer.preference or 0),)
        if hunt in (2, 3, 5):
            return (*pref, *longest, c.index)
        if hunt in (6, 7):
            return (c.index,)
        return (*longest, *pref, c.index)

    return key


_HUNT_TIES = {
    0: "dial-peer hunt 0: longest match, then preference, then IOS picks at random",
    1: "dial-peer hunt 1: longest match, then preference, then the least recently used",
    2: "dial-peer hunt 2: preference, then longest match, then IOS picks at random",
    3: "dial-peer hunt 3: preference, then longest match, then the least recently used",
    4: "dial-peer hunt 4: least recent use first, which depends on call history",
    5: "dial-peer hunt 5: least recent use first, which depends on call history",
    6: "dial-peer hunt 6: random selection",
    7: "dial-peer hunt 7: least recent use",
}


def _named_source(call: Call) -> DialPeer | None:
    """The dial-peer the source names outright ("dial-peer 100", "100 voip", "100")."""
    if not call.source:
        return None
    m = re.fullmatch(r"(?i)(?:dial-peer\s+(?:voice\s+)?)?(\d+)(?:\s+voip)?", call.source.strip())
    if not m:
        return None
    return next((p for p in call.cfg.dial_peers if p.tag == m.group(1)), None)


def _by_uri(call: Call, live: list[DialPeer]) -> DialPeer | None:
    ip = _ip(call.source)
    if ip is None:
        return None
    for p in live:
        uri = p.incoming_uri.split()
        if len(uri) != 2 or uri[0].lower() != "via":
            continue
        cls = call.cfg.uri_classes.get(uri[1], {})
        if any(_uri_host_matches(h, str(ip)) for h in cls.get("hosts", [])):
            call.steps.append(
                f"inbound: {p.name} (incoming uri via {uri[1]}) matches the "
                f"Via host {ip}: URI is matched before the called number"
            )
            return p
    return None


def _by_called(call: Call, live: list[DialPeer]) -> DialPeer | None:
    # Called number: incoming called-number and incoming called e164-pattern-map are one row
    # of doc 211306 Table 1; the longest match wins among them.
    cands: list[tuple[Candidate, str]] = []
    for idx, p in enumerate(live):
        texts = [(p.incoming_called_number, "incoming called-number")]
        if p.incoming_called_e164_map:
            what = f"incoming called e164-pattern-map {p.incoming_called_e164_map}"
            texts += [(e, what) for e in call.cfg.e164(p.incoming_called_e164_map)]
        for pat, what in texts:
            if pat and pattern_matches(pat, call.number):
                cands.append((Candidate(idx, p, number_pattern(pat)), what))
    if not cands:
        return None
    cands.sort(key=lambda c: (-c[0].pattern.explicit, -c[0].pattern.fixed, c[0].index))
    best, what = cands[0]
    call.steps.append(
        f"inbound: {best.peer.name} ({what}, {best.pattern.text}) matches the called number "
        f"{call.number}"
    )
    return best.peer


def _inbound(call: Call) -> DialPeer | None:
    named = _named_source(call)
    if named is not None:
        call.steps.append(f"inbound: {named.name} named as the source")
        return named
    live = [p for p in call.cfg.dial_peers if p.type == "voip" and not p.shutdown]
    found = _by_uri(call, live) or _by_called(call, live)
    if found is not None:
        return found
    call.steps.append(
        "inbound: no dial-peer matches by URI or called number (answer-address and "
        "destination-pattern match the calling number, which is not known here): dial-peer 0, "
        "no incoming translation"
    )
    return None


def _apply_profile(
    call: Call, profile: str | None, direction: str, number: str
) -> tuple[str, bool]:
    if not profile:
        return number, False
    steps = call.steps
    prof = call.cfg.translation_profiles.get(profile)
    if prof is None:
        steps.append(f"translation-profile {direction} {profile} is not defined: no change")
        return number, False
    ruleset = prof.get("called")
    if not ruleset:
        steps.append(f"translation-profile {direction} {profile} does not translate called")
        return number, False
    rules = call.cfg.translation_rules.get(ruleset)
    if rules is None:
        steps.append(f"voice translation-rule {ruleset} (profile {profile}) is not defined")
        return number, False
    new, rule, rejected = translate(rules, number)
    where = f"translation-profile {direction} {profile} (voice translation-rule {ruleset})"
    if rejected:
        steps.append(f"{where}: rule {rule} rejects {number}")
        return number, True
    if rule is None:
        steps.append(f"{where}: no rule matches {number}")
    else:
        steps.append(f"{where}: rule {rule} turns {number} into {new}")
    return new, False


def _pots_digits(p: DialPeer, number: str, steps: list[str]) -> str:
    """POTS dial-peers strip the explicitly matched leading digits unless told otherwise."""
    fwd = p.forward_digits
    if fwd:
        if fwd != "all":
            n = int(fwd)
            number = number[-n:] if n else ""
            steps.append(f"{p.name} forward-digits {fwd}: {number} sent")
    elif p.digit_strip:
        k = number_pattern(p.destination_pattern).leading_literal
        if k:
            number = number[k:]
            steps.append(f"{p.name} (POTS) strips the {k} explicitly matched digit(s)")
    if p.prefix:
        number = p.prefix + number
        steps.append(f"{p.name} prefix {p.prefix}")
    return number


def _elin(cfg: CubeRouting, p: DialPeer, source: str | None) -> str | None:
    ip = _ip(source)
    if ip is None:
        return None
    locs: list[str] = []
    if p.emergency_location:
        locs = [p.emergency_location]
    elif p.emergency_zone:
        locs = cfg.zones.get(p.emergency_zone, [])
    for loc in locs:
        erl = cfg.locations.get(loc, {})
        for net in erl.get("subnets", []):
            try:
                if ip in ipaddress.ip_network(net, strict=False):
                    elins = erl.get("elins") or []
                    return f"location {loc} ({net}): ELIN {elins[0] if elins else 'none'}"
            except ValueError:
                continue  # not a network: model.py reports it as config.malformed
    return None


def target_of(peer: DialPeer) -> str:
    """Where a dial-peer sends the call: its session target or server group (VoIP), its
    voice port or trunk group (POTS)."""
    if peer.type == "voip":
        if peer.session_target:
            return peer.session_target
        return f"server-group {peer.server_group}" if peer.server_group else ""
    if peer.port:
        return f"port {peer.port}"
    return f"trunkgroup {peer.trunkgroup}" if peer.trunkgroup else ""


def is_outbound(peer: DialPeer) -> bool:
    """Operationally up for outbound matching (doc 211306, Dial-Peer States; doc 12426
    "Understanding the Operational Status of Dial Peers"): an outbound matching mechanism
    (destination-pattern or destination e164-pattern-map) and somewhere to send the call
    (VoIP: session target or session server-group; POTS: a voice port or a trunk group)."""
    matcher = peer.destination_pattern or peer.e164_map
    return bool(matcher) and bool(target_of(peer))


def _outbound_match(cfg: CubeRouting, p: DialPeer, called: str) -> NumberPattern | None:
    """The pattern of ``p`` that matches ``called`` best, or None. destination-pattern and
    destination e164-pattern-map are evaluated together (doc 211306, Outbound Dial-Peer
    Matching: "it evaluates all potential destination-pattern matches and destination
    e164-pattern-map matching commands")."""
    pats = []
    if p.destination_pattern:
        pats.append(p.destination_pattern)
    if p.e164_map:
        pats += cfg.e164(p.e164_map)
    best = None
    for text in pats:
        if pattern_matches(text, called):
            pat = number_pattern(text)
            if best is None or (pat.explicit, pat.fixed) > (best.explicit, best.fixed):
                best = pat
    return best


def _finish(call: Call, win: DialPeer, called: str) -> RouteDecision:
    """The call once ``win`` is the outbound dial-peer: outgoing translation, POTS digits,
    emergency marking, the trunk it leaves on."""
    steps = call.steps
    sent, rejected = _apply_profile(call, win.translation_outgoing, "outgoing", called)
    if rejected:
        return call.decision("rejected", route=win.name)
    if win.type == "pots":
        sent = _pots_digits(win, sent, steps)
    priority = None
    if win.emergency:
        priority = "emergency"
        what = (
            f"emergency response zone {win.emergency_zone}"
            if win.emergency_zone
            else f"emergency response location {win.emergency_location}"
        )
        elin = _elin(call.cfg, win, call.source)
        steps.append(
            f"{win.name} carries {what}: an emergency call"
            + (f"; calling number replaced by {elin}" if elin else "")
        )
    steps.append(f"leaves on {win.trunk} ({target_of(win)}) as {sent}")
    return call.decision("routed", route=win.name, sent=sent, trunk=win.trunk, priority=priority)


def _tie_key(hunt: int, c: Candidate) -> tuple[int, ...]:
    """The part of the hunt order that the configuration decides; what is left is random
    or least-recently-used, which depends on call history (doc 211306, dial-peer hunt)."""
    key = _hunt_key(hunt)(c)[:-1]
    return () if hunt in (4, 5, 6, 7) else key


def _decide(call: Call, cands: list[Candidate], hunt: int, called: str) -> RouteDecision:
    """The winner among ordered candidates; when the configuration leaves a tie for IOS to
    break at random (or by least recent use), every tied dial-peer is an alternative."""
    steps = call.steps
    first = _tie_key(hunt, cands[0])
    tied = [c for c in cands if _tie_key(hunt, c) == first]
    if len(tied) == 1:
        win = tied[0].peer
        steps.append(f"outbound: {win.name} wins")
        return _finish(call, win, called)
    names = ", ".join(c.peer.name for c in tied)
    steps.append(
        f"outbound: {names} tie ({_HUNT_TIES.get(hunt, _HUNT_TIES[0])}): IOS may take any of them"
    )
    alts = []
    for c in tied:
        alt = Call(
            call.cfg, call.number, call.source, [*steps, f"outbound: if IOS picks {c.peer.name}"]
        )
        alts.append(_finish(alt, c.peer, called))
    same = {(a.outcome, a.sent, a.trunk, a.priority) for a in alts}
    if len(same) == 1:
        a = alts[0]
        steps.append(
            f"every tied dial-peer ({names}) gives the same result: {a.outcome}"
            + (f" on {a.trunk} as {a.sent}" if a.outcome == "routed" else "")
            + f"; reported as {tied[0].peer.name}"
        )
        a.steps = steps
        return a
    steps.append("the tied dial-peers differ in trunk, number or priority: ambiguous")
    return call.decision("ambiguous", alternatives=alts)


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    """One call as IOS routes it: inbound dial-peer, incoming translation, outbound hunt."""
    if state.sbc is None:
        return RouteDecision(
            number=number, source=source, outcome="no-route", steps=["no SBC routing configuration"]
        )
    call = Call(CubeRouting.of(state.sbc.data), number, source, [])
    return _route(call)


def _route(call: Call) -> RouteDecision:
    cfg, steps = call.cfg, call.steps
    inbound = _inbound(call)
    profile = inbound.translation_incoming if inbound else None
    if not profile and cfg.voip_incoming_profile:
        profile = cfg.voip_incoming_profile
        steps.append(f"global voip-incoming translation-profile {profile}")
    called, rejected = _apply_profile(call, profile, "incoming", call.number)
    if rejected:
        return call.decision("rejected")
    if inbound and inbound.dpg:
        return _route_dpg(call, inbound, called)
    cands = []
    for idx, p in enumerate(cfg.dial_peers):
        if p.shutdown or not is_outbound(p):
            continue  # shutdown or operationally down: nowhere to send the call (doc 211306)
        pat = _outbound_match(cfg, p, called)
        if pat is not None:
            cands.append(Candidate(idx, p, pat))
    if not cands:
        steps.append(f"outbound: no dial-peer's destination-pattern matches {called}")
        return call.decision("no-route")
    cands.sort(key=_hunt_key(cfg.hunt))
    steps.append(
        f"outbound candidates for {called} (dial-peer hunt {cfg.hunt}): "
        + ", ".join(
            f"{c.peer.name} [{c.pattern.text}, {c.pattern.explicit} explicit, "
            f"pref {c.peer.preference or 0}]"
            for c in cands
        )
    )
    return _decide(call, cands, cfg.hunt, called)


def _route_dpg(call: Call, inbound: DialPeer, called: str) -> RouteDecision:
    """``destination dpg N`` on the inbound dial-peer binds the outbound dial-peers
    statically: they are taken from the group by its preference, the called number is not
    matched against their patterns (doc 211306, Dial-Peer Groups)."""
    steps = call.steps
    tag = inbound.dpg
    group = call.cfg.dpgs.get(tag)
    if group is None:
        steps.append(f"{inbound.name} destination dpg {tag}: the group is not defined")
        return call.decision("no-route")
    by_tag = {p.tag: p for p in call.cfg.dial_peers}
    cands = []
    for idx, member in enumerate(group):
        p = by_tag.get(member["tag"])
        if p is None or p.shutdown or not is_outbound(p):
            steps.append(f"voice class dpg {tag}: dial-peer {member['tag']} is not usable")
            continue
        pat = number_pattern(".T")  # the group, not the pattern, decides
        cands.append(Candidate(idx, replace(p, preference=member["preference"]), pat))
    if not cands:
        steps.append(f"voice class dpg {tag}: no usable outbound dial-peer")
        return call.decision("no-route")
    cands.sort(key=lambda c: (c.peer.preference, c.index))
    steps.append(
        f"inbound {inbound.name} has destination dpg {tag}: outbound dial-peers "
        + ", ".join(f"{c.peer.name} (pref {c.peer.preference})" for c in cands)
        + ", without matching the called number"
    )
    # Equal preference inside a group: IOS's order among them is not documented here.
    return _decide(call, cands, 2, called)
