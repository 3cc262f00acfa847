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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


@lru_cache(maxsize=4096)
def number_pattern(text: str) -> NumberPattern:
    """A destination-pattern / incoming called-number / answer-address as IOS reads it.

    Implicitly anchored at the start ("the gateway automatically assume a ^"), open at the
    end unless it ends in T or $: IOS matches the pattern as a prefix of the number."""
    s = text.strip()
    if not s:
        raise ValueError("empty number pattern")
    out: list[str] = []
    explicit = fixed = 0
    leading: int | None = None
    last = (0, 0)  # (explicit, fixed) of the previous atom, for %, ? and + after it
    groups: list[tuple[int, int]] = []
    i = 0
    if s.startswith("^"):
        i = 1
    if s[i : i + 1] == "+":  # leading + is the literal E.164 plus
        out.append(r"\+")
        explicit += 1
        last = (1, 0)
        i += 1
    while i < len(s):
        c = s[i]
        if c in _LITERAL:
            out.append(re.escape(c))
            explicit += 1
            last = (1, 0)
        elif c == ".":
            out.append(_ANY)
            fixed += 1
            last = (0, 1)
            leading = explicit if leading is None else leading
        elif c == "[":
            j = s.find("]", i)
            if j < 0:
                raise ValueError(f"unclosed [ in {text!r}")
            body = s[i + 1 : j].replace(",", "")
            if not body or not re.fullmatch(r"\^?[0-9A-Fa-f*#-]+", body):
                raise ValueError(f"bad range [{body}] in {text!r}")
            out.append("[" + body.replace("*", r"\*") + "]")
            fixed += 1
            last = (0, 1)
            leading = explicit if leading is None else leading
            i = j
        elif c == "(":
            groups.append((explicit, fixed))
            out.append("(?:")
            leading = explicit if leading is None else leading
        elif c == ")":
            if not groups:
                raise ValueError(f"unbalanced ) in {text!r}")
            e0, f0 = groups.pop()
            out.append(")")
            last = (explicit - e0, fixed - f0)
        elif c in "%?":
            # The atom before may occur zero times: it does not count as explicit.
            out.append("*" if c == "%" else "?")
            explicit -= last[0]
            fixed -= last[1]
            last = (0, 0)
            leading = explicit if leading is None else leading
        elif c == "+":
            out.append("+")
            leading = explicit if leading is None else leading
        elif c == "T":
            if s[i + 1 :] not in ("", "$"):
                raise ValueError(f"T must end the pattern: {text!r}")
            out.append(_ANY + "{0,32}$")
            leading = explicit if leading is None else leading
            break
        elif c == "$":
            if i != len(s) - 1:
                raise ValueError(f"$ must end the pattern: {text!r}")
            out.append("$")
        elif c == ",":  # a one-second pause when dialling out; matches nothing
            pass
        elif c == "\\" and i + 1 < len(s):
            i += 1
            out.append(re.escape(s[i]))
            explicit += 1
            last = (1, 0)
        else:
            raise ValueError(f"{c!r} is not valid in a number pattern: {text!r}")
        i += 1
    if groups:
        raise ValueError(f"unclosed ( in {text!r}")
    return NumberPattern(
        text=text,
        regex=re.compile("".join(out)),
        explicit=explicit,
        fixed=fixed,
        leading_literal=explicit if leading is None else leading,
    )


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


# --- dial-peer selection ----------------------------------------------------------------


def _peer_name(p: dict[str, Any]) -> str:
    return f"dial-peer {p['tag']}"


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


def _hunt_key(hunt: int) -> Any:
    def key(item: tuple[int, dict[str, Any], NumberPattern]) -> tuple[int, ...]:
        idx, p, pat = item
        longest = (-pat.explicit, -pat.fixed)
        pref = (int(p.get("preference") or 0),)
        if hunt in (2, 3, 5):
            return (*pref, *longest, idx)
        if hunt in (6, 7):
            return (idx,)
        return (*longest, *pref, idx)

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


def _inbound(
    data: dict[str, Any], number: str, source: str | None, steps: list[str]
) -> dict[str, Any] | None:
    peers = data.get("dial_peers", [])
    if source:
        m = re.fullmatch(r"(?i)(?:dial-peer\s+(?:voice\s+)?)?(\d+)(?:\s+voip)?", source.strip())
        if m:
            for p in peers:
                if p["tag"] == m.group(1):
                    steps.append(f"inbound: {_peer_name(p)} named as the source")
                    return p
    live = [p for p in peers if p["type"] == "voip" and not p.get("shutdown")]
    ip = _ip(source)
    if ip is not None:
        for p in live:
            uri = (p.get("incoming_uri") or "").split()
            if len(uri) == 2 and uri[0].lower() == "via":
                cls = data.get("uri_classes", {}).get(uri[1], {})
                if any(_uri_host_matches(h, str(ip)) for h in cls.get("hosts", [])):
                    steps.append(
                        f"inbound: {_peer_name(p)} (incoming uri via {uri[1]}) matches the "
                        f"Via host {ip}: URI is matched before the called number"
                    )
                    return p
    # Called number: incoming called-number and incoming called e164-pattern-map are one row
    # of doc 211306 Table 1; the longest match wins among them.
    cands = []
    for idx, p in enumerate(live):
        texts = [(p.get("incoming_called_number"), "incoming called-number")]
        if p.get("incoming_called_e164_map"):
            m = (data.get("e164_maps") or {}).get(p["incoming_called_e164_map"]) or {}
            what = f"incoming called e164-pattern-map {p['incoming_called_e164_map']}"
            texts += [(e, what) for e in m.get("e164", [])]
        for pat, what in texts:
            if pat and pattern_matches(pat, number):
                cands.append((idx, p, number_pattern(pat), what))
    if cands:
        cands.sort(key=lambda c: (-c[2].explicit, -c[2].fixed, c[0]))
        _, p, pat, what = cands[0]
        steps.append(
            f"inbound: {_peer_name(p)} ({what}, {pat.text}) matches the called number {number}"
        )
        return p
    steps.append(
        "inbound: no dial-peer matches by URI or called number (answer-address and "
        "destination-pattern match the calling number, which is not known here): dial-peer 0, "
        "no incoming translation"
    )
    return None


def _apply_profile(
    data: dict[str, Any], profile: str | None, direction: str, number: str, steps: list[str]
) -> tuple[str, bool]:
    if not profile:
        return number, False
    prof = data.get("translation_profiles", {}).get(profile)
    if prof is None:
        steps.append(f"translation-profile {direction} {profile} is not defined: no change")
        return number, False
    ruleset = prof.get("called")
    if not ruleset:
        steps.append(f"translation-profile {direction} {profile} does not translate called")
        return number, False
    rules = data.get("translation_rules", {}).get(ruleset)
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


def _pots_digits(p: dict[str, Any], number: str, steps: list[str]) -> str:
    """POTS dial-peers strip the explicitly matched leading digits unless told otherwise."""
    fwd = p.get("forward_digits")
    if fwd:
        if fwd != "all":
            n = int(fwd)
            number = number[-n:] if n else ""
            steps.append(f"{_peer_name(p)} forward-digits {fwd}: {number} sent")
    elif p.get("digit_strip", True):
        k = number_pattern(p["destination_pattern"]).leading_literal
        if k:
            number = number[k:]
            steps.append(f"{_peer_name(p)} (POTS) strips the {k} explicitly matched digit(s)")
    if p.get("prefix"):
        number = p["prefix"] + number
        steps.append(f"{_peer_name(p)} prefix {p['prefix']}")
    return number


def _elin(data: dict[str, Any], p: dict[str, Any], source: str | None) -> str | None:
    ip = _ip(source)
    if ip is None:
        return None
    locs = []
    if p.get("emergency_location"):
        locs = [p["emergency_location"]]
    elif p.get("emergency_zone"):
        locs = data.get("zones", {}).get(p["emergency_zone"], [])
    for loc in locs:
        erl = data.get("locations", {}).get(loc, {})
        for net in erl.get("subnets", []):
            try:
                if ip in ipaddress.ip_network(net, strict=False):
                    elins = erl.get("elins") or []
                    return f"location {loc} ({net}): ELIN {elins[0] if elins else 'none'}"
            except ValueError:
                continue
    return None


def target_of(p: dict[str, Any]) -> str:
    """Where a dial-peer sends the call: its session target or server group (VoIP), its
    voice port or trunk group (POTS)."""
    if p["type"] == "voip":
        if p.get("session_target"):
            return p["session_target"]
        return f"server-group {p['server_group']}" if p.get("server_group") else ""
    if p.get("port"):
        return f"port {p['port']}"
    return f"trunkgroup {p['trunkgroup']}" if p.get("trunkgroup") else ""


def is_outbound(p: dict[str, Any]) -> bool:
    """Operationally up for outbound matching (doc 211306, Dial-Peer States; doc 12426
    "Understanding the Operational Status of Dial Peers"): an outbound matching mechanism
    (destination-pattern or destination e164-pattern-map) and somewhere to send the call
    (VoIP: session target or session server-group; POTS: a voice port or a trunk group)."""
    matcher = p.get("destination_pattern") or p.get("e164_map")
    return bool(matcher) and bool(target_of(p))


def _outbound_match(data: dict[str, Any], p: dict[str, Any], called: str) -> NumberPattern | None:
    """The pattern of ``p`` that matches ``called`` best, or None. destination-pattern and
    destination e164-pattern-map are evaluated together (doc 211306, Outbound Dial-Peer
    Matching: "it evaluates all potential destination-pattern matches and destination
    e164-pattern-map matching commands")."""
    pats = []
    if p.get("destination_pattern"):
        pats.append(p["destination_pattern"])
    if p.get("e164_map"):
        pats += (data.get("e164_maps", {}).get(p["e164_map"]) or {}).get("e164", [])
    best = None
    for text in pats:
        if pattern_matches(text, called):
            pat = number_pattern(text)
            if best is None or (pat.explicit, pat.fixed) > (best.explicit, best.fixed):
                best = pat
    return best


def _finish(
    data: dict[str, Any],
    out: dict[str, Any],
    win: dict[str, Any],
    called: str,
    source: str | None,
    steps: list[str],
) -> dict[str, Any]:
    """The call once ``win`` is the outbound dial-peer: outgoing translation, POTS digits,
    emergency marking, the trunk it leaves on."""
    sent, rejected = _apply_profile(
        data, win.get("translation_outgoing"), "outgoing", called, steps
    )
    if rejected:
        return {**out, "outcome": "rejected", "route": _peer_name(win)}
    if win["type"] == "pots":
        sent = _pots_digits(win, sent, steps)
    priority = None
    if win.get("emergency_zone") or win.get("emergency_location"):
        priority = "emergency"
        what = (
            f"emergency response zone {win['emergency_zone']}"
            if win.get("emergency_zone")
            else f"emergency response location {win['emergency_location']}"
        )
        elin = _elin(data, win, source)
        steps.append(
            f"{_peer_name(win)} carries {what}: an emergency call"
            + (f"; calling number replaced by {elin}" if elin else "")
        )
    steps.append(f"leaves on {win['trunk']} ({target_of(win)}) as {sent}")
    return {
        **out,
        "outcome": "routed",
        "route": _peer_name(win),
        "sent": sent,
        "trunk": win["trunk"],
        "priority": priority,
    }


def _tie_key(hunt: int, item: tuple[int, dict[str, Any], NumberPattern]) -> tuple[int, ...]:
    """The part of the hunt order that the configuration decides; what is left is random
    or least-recently-used, which depends on call history (doc 211306, dial-peer hunt)."""
    key = _hunt_key(hunt)(item)[:-1]
    return () if hunt in (4, 5, 6, 7) else key


def _decide(
    data: dict[str, Any],
    out: dict[str, Any],
    cands: list[tuple[int, dict[str, Any], NumberPattern]],
    hunt: int,
    called: str,
    source: str | None,
    steps: list[str],
) -> dict[str, Any]:
    """The winner among ordered candidates; when the configuration leaves a tie for IOS to
    break at random (or by least recent use), every tied dial-peer is an alternative."""
    first = _tie_key(hunt, cands[0])
    tied = [c for c in cands if _tie_key(hunt, c) == first]
    if len(tied) == 1:
        win = tied[0][1]
        steps.append(f"outbound: {_peer_name(win)} wins")
        return _finish(data, out, win, called, source, steps)
    names = ", ".join(_peer_name(c[1]) for c in tied)
    steps.append(
        f"outbound: {names} tie ({_HUNT_TIES.get(hunt, _HUNT_TIES[0])}): IOS may take any of them"
    )
    alts = []
    for _, p, _ in tied:
        alt_steps = [*steps, f"outbound: if IOS picks {_peer_name(p)}"]
        alts.append(_finish(data, {**out, "steps": alt_steps}, p, called, source, alt_steps))
    same = {(a["outcome"], a.get("sent"), a.get("trunk"), a.get("priority")) for a in alts}
    if len(same) == 1:
        a = alts[0]
        steps.append(
            f"every tied dial-peer ({names}) gives the same result: {a['outcome']}"
            + (f" on {a['trunk']} as {a['sent']}" if a["outcome"] == "routed" else "")
            + f"; reported as {_peer_name(tied[0][1])}"
        )
        return {**a, "steps": steps}
    steps.append("the tied dial-peers differ in trunk, number or priority: ambiguous")
    return {**out, "outcome": "ambiguous", "alternatives": alts}


def route(data: dict[str, Any], number: str, source: str | None) -> dict[str, Any]:
    """The RouteDecision fields for one call, as IOS routes it."""
    steps: list[str] = []
    out: dict[str, Any] = {"number": number, "source": source, "steps": steps}
    inbound = _inbound(data, number, source, steps)
    called = number
    profile = inbound.get("translation_incoming") if inbound else None
    if not profile and data.get("voip_incoming_profile"):
        profile = data["voip_incoming_profile"]
        steps.append(f"global voip-incoming translation-profile {profile}")
    called, rejected = _apply_profile(data, profile, "incoming", called, steps)
    if rejected:
        return {**out, "outcome": "rejected"}
    hunt = int(data.get("hunt") or 0)
    peers = data.get("dial_peers", [])
    if inbound and inbound.get("dpg"):
        return _route_dpg(data, out, inbound, peers, called, source, steps)
    cands = []
    for idx, p in enumerate(peers):
        if p.get("shutdown") or not is_outbound(p):
            continue  # shutdown or operationally down: nowhere to send the call (doc 211306)
        pat = _outbound_match(data, p, called)
        if pat is not None:
            cands.append((idx, p, pat))
    if not cands:
        steps.append(f"outbound: no dial-peer's destination-pattern matches {called}")
        return {**out, "outcome": "no-route"}
    cands.sort(key=_hunt_key(hunt))
    steps.append(
        f"outbound candidates for {called} (dial-peer hunt {hunt}): "
        + ", ".join(
            f"{_peer_name(p)} [{pat.text}, {pat.explicit} explicit, "
            f"pref {p.get('preference') or 0}]"
            for _, p, pat in cands
        )
    )
    return _decide(data, out, cands, hunt, called, source, steps)


def _route_dpg(
    data: dict[str, Any],
    out: dict[str, Any],
    inbound: dict[str, Any],
    peers: list[dict[str, Any]],
    called: str,
    source: str | None,
    steps: list[str],
) -> dict[str, Any]:
    """``destination dpg N`` on the inbound dial-peer binds the outbound dial-peers
    statically: they are taken from the group by its preference, the called number is not
    matched against their patterns (doc 211306, Dial-Peer Groups)."""
    tag = inbound["dpg"]
    group = (data.get("dpgs") or {}).get(tag)
    if group is None:
        steps.append(f"{_peer_name(inbound)} destination dpg {tag}: the group is not defined")
        return {**out, "outcome": "no-route"}
    by_tag = {p["tag"]: p for p in peers}
    cands = []
    for idx, member in enumerate(group):
        p = by_tag.get(member["tag"])
        if p is None or p.get("shutdown") or not is_outbound(p):
            steps.append(f"voice class dpg {tag}: dial-peer {member['tag']} is not usable")
            continue
        pat = number_pattern(".T")  # the group, not the pattern, decides
        cands.append((idx, {**p, "preference": member["preference"]}, pat))
    if not cands:
        steps.append(f"voice class dpg {tag}: no usable outbound dial-peer")
        return {**out, "outcome": "no-route"}
    cands.sort(key=lambda c: (c[1]["preference"], c[0]))
    steps.append(
        f"inbound {_peer_name(inbound)} has destination dpg {tag}: outbound dial-peers "
        + ", ".join(f"{_peer_name(p)} (pref {p['preference']})" for _, p, _ in cands)
        + ", without matching the called number"
    )
    # Equal preference inside a group: IOS's order among them is not documented here.
    return _decide(data, out, cands, 2, called, source, steps)
