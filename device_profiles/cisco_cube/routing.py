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
    0: "IOS picks at random among equals (dial-peer hunt 0): modelled as the first configured",
    1: "IOS takes the least recently used among equals (dial-peer hunt 1): modelled as the "
    "first configured",
    2: "preference first, then longest match (dial-peer hunt 2); random among equals: "
    "modelled as the first configured",
    3: "preference first, then longest match (dial-peer hunt 3); least recently used among "
    "equals: modelled as the first configured",
    4: "least recent use first (dial-peer hunt 4): modelled as longest match, preference",
    5: "least recent use first (dial-peer hunt 5): modelled as preference, longest match",
    6: "random selection (dial-peer hunt 6): modelled as configuration order",
    7: "least recent use (dial-peer hunt 7): modelled as configuration order",
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
    cands = []
    for idx, p in enumerate(live):
        pat = p.get("incoming_called_number")
        if pat and pattern_matches(pat, number):
            cands.append((idx, p, number_pattern(pat)))
    if cands:
        cands.sort(key=lambda c: (-c[2].explicit, -c[2].fixed, c[0]))
        p = cands[0][1]
        steps.append(
            f"inbound: {_peer_name(p)} (incoming called-number {p['incoming_called_number']}) "
            f"matches the called number {number}"
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
    cands = []
    for idx, p in enumerate(data.get("dial_peers", [])):
        pat = p.get("destination_pattern")
        if not pat or p.get("shutdown"):
            continue
        if not (p.get("session_target") if p["type"] == "voip" else p.get("port")):
            continue  # operationally down: nowhere to send the call (doc 211306)
        if pattern_matches(pat, called):
            cands.append((idx, p, number_pattern(pat)))
    if not cands:
        steps.append(f"outbound: no dial-peer's destination-pattern matches {called}")
        return {**out, "outcome": "no-route"}
    cands.sort(key=_hunt_key(hunt))
    steps.append(
        f"outbound candidates for {called} (dial-peer hunt {hunt}): "
        + ", ".join(
            f"{_peer_name(p)} [{p['destination_pattern']}, {pat.explicit} explicit, "
            f"pref {p.get('preference') or 0}]"
            for _, p, pat in cands
        )
    )
    _, win, pat = cands[0]
    tied = [c for c in cands[1:] if _hunt_key(hunt)(c)[:-1] == _hunt_key(hunt)(cands[0])[:-1]]
    if tied:
        steps.append(_HUNT_TIES.get(hunt, _HUNT_TIES[0]))
    steps.append(f"outbound: {_peer_name(win)} wins")
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
    target = win.get("session_target") or f"port {win.get('port')}"
    steps.append(f"leaves on {win['trunk']} ({target}) as {sent}")
    return {
        **out,
        "outcome": "routed",
        "route": _peer_name(win),
        "sent": sent,
        "trunk": win["trunk"],
        "priority": priority,
    }
