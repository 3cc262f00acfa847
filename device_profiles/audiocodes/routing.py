"""How a Mediant SBC handles one INVITE from a phone, step by step as the User's Manual orders
it ("SBC Call Processing"): classification to a source IP Group, inbound message manipulation,
IP-to-IP routing (first matching row in index order), the row's Modified Destination User
Name, IP-to-IP outbound manipulation, outbound message manipulation of the destination IP Group.

The INVITE is modelled as a phone sends it: Request-URI user and To user are the dialled
number, no Resource-Priority or other optional headers. Conditions on anything else are
evaluated against that message (an absent header fails ``==`` / ``contains``), and every such
assumption is written into the decision's steps.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from fleet.model import DeviceState, RouteDecision

ANY = {"", "*", "any", "-1"}
# Subjects and value references that are the dialled number in a phone's INVITE.
NUMBER_REFS = {
    "header.request-uri.url.user",
    "header.to.url.user",
    "param.call.dst.user",
    "header.request.uri.url",
    "header.request-uri.url",
}
DEST_TYPES = {
    "0": "IP Group",
    "1": "Dest Address",
    "2": "Request URI",
    "3": "ENUM",
    "4": "Hunt Group",
    "5": "Dial Plan",
    "6": "LDAP",
    "8": "Gateway",
    "9": "Routing Server",
    "10": "All Users",
    "11": "IP Group Set",
    "12": "Destination Tag",
    "13": "Internal",
}
INVITE_REQUEST_TYPES = {"0", "1", "4", "5"}  # All, INVITE, INVITE & REGISTER, INVITE & SUBSCRIBE
# IP2IPRouting_Trigger (Mediant 2600 User's Manual p.374, Mediant 800 MSBR p.472): [0] Any
# "used for all scenarios (re-routes and non-re-routes)", [4] Initial only "used for regular
# requests"; [1] 3xx, [2] REFER, [3] 3xx or REFER, [5] Broken Connection only re-route.
INITIAL_TRIGGERS = {"0", "4", ""}
# Undetermined row matches (caller, headers) tried both ways along one path, at most.
MAX_BRANCHES = 8


# --- Dial plan notation ("Dialing Plan Notation for Routing and Manipulation") -------------


def _bracket(body: str) -> list[str]:
    """``[4-8]`` / ``[456]`` / ``[081,213-218]`` -> the digit strings it stands for."""
    out: list[str] = []
    items = body.split(",") if "," in body else ([body] if "-" in body else list(body))
    for item in items:
        item = item.strip()
        if "-" in item:
            lo, hi = item.split("-", 1)
            width = len(lo)
            out.extend(str(v).zfill(width) for v in range(int(lo), int(hi) + 1))
        elif item:
            out.append(item)
    return out


@lru_cache(maxsize=4096)  # a table's few patterns, read for every call (the lists: read only)
def _tokens(pattern: str) -> tuple[list[list[str]], bool] | None:
    """Pattern -> list of alternatives per position group, and whether it is anchored (``#``)."""
    pat = pattern.strip()
    end = False
    if pat.endswith("#") and not pat.endswith("[#]"):
        pat, end = pat[:-1], True
    toks: list[list[str]] = []
    i = 0
    while i < len(pat):
        ch = pat[i]
        if ch == "[":
            j = pat.find("]", i)
            if j < 0:
                return None
            body = pat[i + 1 : j]
            toks.append(["#"] if body == "#" else _bracket(body))
            i = j + 1
        elif ch in "xX":
            toks.append(["x"])
            i += 1
        else:
            toks.append([ch])
            i += 1
    return toks, end


def prefix_match(pattern: str, number: str) -> bool:
    """Does ``number`` match a username-prefix pattern? ``*`` alone is any number, ``x`` any
    single digit, ``[n-m]`` a range, ``#`` at the end the end of the number, ``$`` an empty
    user part; anything else is a prefix."""
    pat = pattern.strip()
    if pat.lower() in ANY - {""} or pat == "":
        return True
    if pat == "$":
        return number == ""
    parsed = _tokens(pat)
    if parsed is None:
        return False
    toks, end = parsed

    def walk(pos: int, ti: int) -> bool:
        if ti == len(toks):
            return pos == len(number) if end else True
        for alt in toks[ti]:
            if alt == "x":
                if pos < len(number) and walk(pos + 1, ti + 1):
                    return True
            elif number.startswith(alt, pos) and walk(pos + len(alt), ti + 1):
                return True
        return False

    return walk(0, 0)


# --- Message conditions (SIP Message Manipulation syntax) --------------------------------

_CMP = re.compile(
    r"^\s*(?P<neg>!)?(?P<subj>[\w.\-]+)\s*(?P<op>==|!=|num>|num<|>=|<=|>|<|!contains|contains|"
    r"!exists|exists|regex)\s*(?P<val>'(?:[^']*)'|\S.*?)?\s*$",
    re.I,
)


def _subject_value(subject: str, number: str) -> str | None:
    s = subject.lower()
    if s in NUMBER_REFS:
        return number
    if s.startswith("header.request-uri.methodtype"):
        return "INVITE"
    return None  # a header the phone's INVITE does not carry


def eval_condition(cond: str, number: str) -> tuple[bool, list[str]]:
    """Evaluate a condition against a phone's INVITE for ``number``; returns (result, notes
    about parts that depend on headers the model leaves absent)."""
    if not (clauses := _clauses(cond)):
        return True, []
    notes: list[str] = []
    result = False
    for ands in clauses:
        ok = True
        for term in ands:
            r, note = _eval_term(term, number)
            if note:
                notes.append(note)
            ok = ok and r
        result = result or ok
    return result, notes


# A box holds a handful of conditions and every call evaluates them: each is read once.
@lru_cache(maxsize=1024)
def _clauses(cond: str) -> tuple[tuple[str, ...], ...]:
    """A condition as OR-ed clauses of AND-ed terms; none for the empty condition."""
    if not (text := cond.strip()):
        return ()
    return tuple(
        tuple(t.strip().strip("()") for t in re.split(r"\s+AND\s+", part, flags=re.I))
        for part in re.split(r"\s+OR\s+", text, flags=re.I)
    )


@lru_cache(maxsize=1024)
def _term(term: str) -> tuple[bool, str, str, str] | None:
    """(negated, subject, operator, value) of one term; None when it is not understood."""
    if not (m := _CMP.match(term)):
        return None
    val = (m.group("val") or "").strip().strip("'")
    return bool(m.group("neg")), m.group("subj"), m.group("op").lower(), val


def _eval_term(term: str, number: str) -> tuple[bool, str | None]:
    if (parsed := _term(term)) is None:
        return False, f"condition term {term!r} not understood: taken as false"
    neg, subj, op, val = parsed
    actual = _subject_value(subj, number)
    note = None
    if actual is None:
        note = f"{subj} is absent from a phone's INVITE"
    if op == "exists":
        r = actual is not None
    elif op == "!exists":
        r = actual is None
    elif actual is None:
        r = op in ("!=", "!contains")
    elif op == "==":
        r = actual == val
    elif op == "!=":
        r = actual != val
    elif op == "contains":
        r = val in actual
    elif op == "!contains":
        r = val not in actual
    elif op == "regex":
        r = re.search(val, actual) is not None
    elif op in ("num>", "num<"):
        try:
            r = float(actual) > float(val) if op == "num>" else float(actual) < float(val)
        except ValueError:
            r = False
    else:
        r = {">": actual > val, "<": actual < val, ">=": actual >= val, "<=": actual <= val}[op]
    if neg:
        r = not r
    return r, note


def condition_numbers(cond: str) -> list[str]:
    """Numbers a condition names as the called user (``header.to.url.user=='999'``)."""
    out: list[str] = []
    for m in re.finditer(r"([\w.\-]+)\s*==\s*'([^']*)'", cond):
        if m.group(1).lower() in NUMBER_REFS and m.group(2) not in out:
            out.append(m.group(2))
    return out


# --- Manipulations -----------------------------------------------------------------------


def _eval_value(expr: str, number: str) -> str | None:
    """A manipulation value: quoted literals and number references joined by ``+``."""
    out = ""
    for m in re.finditer(r"\s*(?:'([^']*)'|([^+\s]+))\s*(?:\+|$)", expr):
        if m.group(1) is not None:
            out += m.group(1)
        elif m.group(2).lower() in NUMBER_REFS:
            out += number
        else:
            return None
    return out


def message_manipulations(
    rows: list[dict[str, Any]], set_id: str, number: str, where: str, steps: list[str]
) -> str:
    """Apply Message Manipulation Set ``set_id`` to the called user of a phone's INVITE."""
    if set_id in ("", "-1", None):
        return number
    prev_cond = True
    for row in rows:
        if str(row.get("ManSetID", "")) != str(set_id):
            continue
        mtype = str(row.get("MessageType", "")).lower()
        if mtype and mtype not in ("any", "invite", "invite.request", "any.request"):
            continue
        cond_ok, notes = eval_condition(str(row.get("Condition", "")), number)
        if str(row.get("RowRole", "0")) == "1":  # Use Previous Condition
            cond_ok = prev_cond
        prev_cond = cond_ok
        subject = str(row.get("ActionSubject", "")).lower()
        name = row.get("ManipulationName") or f"#{row['_index']}"
        if not cond_ok or subject not in NUMBER_REFS - {"param.call.dst.user"}:
            continue
        action = str(row.get("ActionType", "0"))
        value = _eval_value(str(row.get("ActionValue", "")), number)
        if value is None:
            steps.append(
                f"{where} message manipulation {name!r}: value "
                f"{row.get('ActionValue')!r} cannot be evaluated; number kept"
            )
            continue
        before = number
        if action in ("0", "2"):
            number = value
        elif action == "3":
            number = value + number
        elif action == "4":
            number = number + value
        elif action == "5":
            number = number[: -len(value)] if value and number.endswith(value) else number
        elif action == "6":
            number = number[len(value) :] if value and number.startswith(value) else number
        steps.append(
            f"{where} message manipulation {name!r} (set {set_id}) on "
            f"{row.get('ActionSubject')}: {before} -> {number}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    return number


def outbound_manipulation(
    rows: list[dict[str, Any]], src: str, dst: str, number: str, steps: list[str]
) -> str:
    """IP-to-IP Outbound Manipulation: the first matching rule, whichever URI it
    manipulates, plus the rules below it marked 'Is Additional Manipulation' ("If the previous
    table row entry rule matched the call, consider this row entry as a match as well ...
    Additional manipulation can only be performed on a different SIP URI", Mediant 800 MSBR
    User's Manual p.482). Only destination-URI rules change the called number."""
    matched = False
    for row in rows:
        additional = str(row.get("IsAdditionalManipulation", "0")) == "1"
        if matched and not additional:
            break
        if not matched:
            if str(row.get("SrcIPGroupName", "any")).lower() not in ANY | {src.lower()}:
                continue
            if str(row.get("DestIPGroupName", "any")).lower() not in ANY | {dst.lower()}:
                continue
            if not prefix_match(str(row.get("DestUsernamePrefix", "*")), number):
                continue
            if str(row.get("RequestType", "0")) not in INVITE_REQUEST_TYPES:
                continue
            if str(row.get("Trigger", "0")) not in INITIAL_TRIGGERS:
                continue
            if any(
                str(row.get(c, "*") or "*") not in ANY
                for c in ("SrcUsernamePrefix", "SrcHost", "DestHost", "CallingNamePrefix")
            ) or str(row.get("MessageConditionName", "") or ""):
                steps.append(
                    f"outbound manipulation {row.get('ManipulationName') or row['_index']!r}:"
                    " depends on the caller or a header: taken as not matching"
                )
                continue
            matched = True
            steps.append(
                f"outbound manipulation {row.get('ManipulationName') or row['_index']!r}"
                " is the first matching rule"
            )
        if str(row.get("ManipulatedURI", "0")) != "1":
            continue
        before = number
        left = int(row.get("RemoveFromLeft", 0) or 0)
        right = int(row.get("RemoveFromRight", 0) or 0)
        leave = int(row.get("LeaveFromRight", 255) or 255)
        number = number[left:]
        if right:
            number = number[:-right] if right < len(number) else ""
        if leave < len(number):
            number = number[-leave:] if leave else ""
        number = str(row.get("Prefix2Add", "")) + number + str(row.get("Suffix2Add", ""))
        steps.append(
            f"outbound manipulation {row.get('ManipulationName') or row['_index']!r}:"
            f" {before} -> {number}"
        )
    return number


# --- Classification ----------------------------------------------------------------------
#
# User's Manual, "Classification Based on ..." / "Configuring Classification Rules" (Mediant
# 800 MSBG 6.2 p.199; techdocs 7.4 "Configuring IP Groups", 'Classify by Proxy Set'): the SBC
# first looks the caller up in its registration database (users registered to a User-type IP
# Group), then the Proxy Set addresses of IP Groups with 'Classify by Proxy Set' ("not relevant
# in cases where multiple IP Groups use the same Proxy Set"), then the Classification table in
# index order (source address, source/destination username and host, message condition);
# nothing matched: the call is rejected.

UNCLASSIFIED = "(unclassified)"
USER_TYPE = "1"


def _addr_match(pattern: str, source: str) -> bool:
    pat = pattern.strip()
    if pat in ANY:
        return True
    if "/" in pat:
        try:
            return ipaddress.ip_address(source) in ipaddress.ip_network(pat, strict=False)
        except ValueError:
            return False
    rx = "^" + re.escape(pat).replace(r"\*", r"\d+").replace("x", r"\d") + "$"
    return re.match(rx, source) is not None


def _rule_match(
    data: dict[str, Any], row: dict[str, Any], host: str | None, number: str
) -> tuple[str, list[str]]:
    """A Classification rule against a phone's INVITE for ``number`` from ``host``:
    ``yes``, ``no`` or ``maybe`` (it depends on something the call's address and number do not
    tell: the caller's user/host, the Request-URI host, a header), with the reasons."""
    why: list[str] = []
    src = str(row.get("SrcAddress", "*") or "*")
    if src not in ANY:
        if host is None:
            why.append(f"source address {src!r}")
        elif not _addr_match(src, host):
            return "no", []
    if not prefix_match(str(row.get("DestUsernamePrefix", "*")), number):
        return "no", []
    for col, what in (
        ("SrcUsernamePrefix", "source username prefix"),
        ("SrcHost", "source host"),
        ("DestHost", "destination host"),
    ):
        v = str(row.get(col, "*") or "*")
        if v not in ANY:
            why.append(f"{what} {v!r}")
    cname = str(row.get("MessageConditionName", "") or "")
    if cname:
        ok, notes = eval_condition(data["conditions"].get(cname, ""), number)
        if notes:
            why.append(f"message condition {cname!r} ({'; '.join(notes)})")
        elif not ok:
            return "no", []
    return ("maybe" if why else "yes"), why


def _proxy_set_groups(data: dict[str, Any], host: str) -> list[str]:
    out = []
    for name, g in data["ip_groups"].items():
        if g.get("type") == USER_TYPE or str(g.get("classify_by_proxy_set", "1")) != "1":
            continue
        if host.lower() in [a.rsplit(":", 1)[0].lower() for a in g.get("addresses", [])]:
            out.append(name)
    return out


class Candidate(NamedTuple):
    """A source IP Group the call may be classified to, and what classification implies."""

    group: str | None  # None: the call is rejected as unclassified
    assume: dict[str, bool]  # message conditions that held (or not) for it


def _add(out: list[Candidate], g: str | None, assume: dict[str, bool]) -> None:
    if all(c[0] != g for c in out):
        out.append(Candidate(g, assume))


def _by_rules(
    data: dict[str, Any], host: str | None, number: str, steps: list[str]
) -> list[Candidate]:
    """Classification table in index order: the groups the call may be classified to (None:
    classification fails or a Deny rule rejects), each with the message condition that held
    for it (the same INVITE is then routed, so it holds there too)."""
    out: list[Candidate] = []
    for row in data["classification"]:
        res, why = _rule_match(data, row, host, number)
        if res == "no":
            continue
        name = row.get("ClassificationName") or f"#{row['_index']}"
        deny = str(row.get("ActionType", "1")) == "0"
        g = None if deny else str(row.get("SrcIPGroupName", ""))
        what = "action Deny" if deny else f"source IP Group {g!r}"
        cname = str(row.get("MessageConditionName", "") or "")
        assume = {cname: True} if cname else {}
        if res == "yes":
            steps.append(
                f"classification rule {name!r} matches"
                + (f" {host} ({row.get('SrcAddress') or '*'!r})" if host else "")
                + f": {what}"
            )
            _add(out, g, assume)
            return out
        steps.append(
            f"classification rule {name!r} ({what}) may match: depends on " + ", ".join(why)
        )
        _add(out, g, assume)
    steps.append("no Classification rule certainly matches: classification can fail (rejected)")
    _add(out, None, {})
    return out


def phone_groups(data: dict[str, Any]) -> list[str]:
    """The phone-facing IP Groups: User-type groups and the groups Classification rules
    assign; where there are none, the Server-type groups classified by their Proxy Set;
    where there are none of those either, every IP Group."""
    groups = data["ip_groups"]
    out = [n for n, g in groups.items() if g.get("type") == USER_TYPE]
    for row in data["classification"]:
        g = str(row.get("SrcIPGroupName", "") or "")
        if str(row.get("ActionType", "1")) == "1" and g and g not in out:
            out.append(g)
    if not out:
        out = [
            n
            for n, g in groups.items()
            if str(g.get("classify_by_proxy_set", "1")) == "1" and g.get("addresses")
        ]
    return out or list(groups)


def classify(
    data: dict[str, Any], source: str | None, number: str, steps: list[str]
) -> list[Candidate]:
    """Every source IP Group a call from ``source`` may be classified to (None: rejected as
    unclassified), with the message condition classification implies. One entry: the source
    is determined."""
    groups: dict[str, dict[str, Any]] = data["ip_groups"]
    if source is None:
        names = phone_groups(data)
        cands: list[Candidate] = []
        for n in names:
            # a Server-type group reached only through Classification rules with one message
            # condition: that condition held for the call
            conds = {
                str(r.get("MessageConditionName", "") or "")
                for r in data["classification"]
                if str(r.get("SrcIPGroupName", "")) == n and str(r.get("ActionType", "1")) == "1"
            }
            only = next(iter(conds)) if len(conds) == 1 else ""
            if groups.get(n, {}).get("type") == USER_TYPE:
                only = ""
            cands.append(Candidate(n, {only: True} if only else {}))
        steps.append(
            "source not given: the phone-facing IP Groups are "
            + (", ".join(repr(c) for c in names) or "none")
            + " (User-type groups and Classification rule targets; where there are none,"
            " the IP Groups classified by Proxy Set)"
        )
        return cands or [Candidate(None, {})]
    by_name = {n.lower(): n for n in groups}
    if source.lower() in by_name:
        g = by_name[source.lower()]
        steps.append(f"source: IP Group {g!r} given by name")
        return [Candidate(g, {})]
    host = source.rsplit(":", 1)[0] if source.count(":") == 1 else source
    ps = _proxy_set_groups(data, host)
    if len(ps) == 1:
        steps.append(
            f"classified by Proxy Set {groups[ps[0]].get('proxy_set')!r}: {host} is an "
            f"address of IP Group {ps[0]!r} (Classify by Proxy Set)"
        )
        return [Candidate(ps[0], {})]
    if len(ps) > 1:
        steps.append(
            f"{host} is a Proxy Set address of several IP Groups ({', '.join(ps)}): "
            "classification by Proxy Set is not relevant; the Classification table decides"
        )
    cands = []
    users = [n for n, g in groups.items() if g.get("type") == USER_TYPE]
    if users:
        steps.append(
            f"a phone at {host} that registered through the SBC is classified by the "
            "registration database to the User-type IP Group it registered to "
            f"({', '.join(users)})"
        )
        for u in users:
            _add(cands, u, {})
    for ruled, assume in _by_rules(data, host, number, steps):
        _add(cands, ruled, assume)
    return cands


# --- IP-to-IP routing --------------------------------------------------------------------


def route_label(row: dict[str, Any]) -> str:
    name = row.get("RouteName") or ""
    return f"IP2IPRouting {row['_index']}" + (f" ({name})" if name else "")


def _key(d: RouteDecision) -> tuple:
    return (d.outcome, d.route, d.sent, d.trunk, d.priority)


def _same(a: RouteDecision, b: RouteDecision) -> bool:
    ka = {_key(x) for x in (a.alternatives or [a])}
    kb = {_key(x) for x in (b.alternatives or [b])}
    return len(ka) == 1 and ka == kb


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    assert state.sbc is not None
    data = state.sbc.data
    steps: list[str] = []
    cands = classify(data, source, number, steps)
    if len(cands) == 1:
        g, assume = cands[0]
        dec = _route_from(state, number, source or g, g, assume)
        dec.source = source
        dec.steps[:0] = steps
        return dec
    alts: list[RouteDecision] = []
    for g, assume in cands:
        alt = _route_from(state, number, g or UNCLASSIFIED, g, assume)
        alts.extend(alt.alternatives if alt.outcome == "ambiguous" else [alt])
    names = ", ".join(g or UNCLASSIFIED for g, _ in cands)
    if len({_key(a) for a in alts}) == 1:
        dec = alts[0]
        dec.source = source
        dec.steps[:0] = [
            *steps,
            f"the source is ambiguous ({names}); every candidate gives the same decision",
        ]
        return dec
    steps.append(
        f"the source is ambiguous: the SBC's configuration leaves {names} possible for this "
        "call, and they are routed differently; see the alternatives"
    )
    for a in alts:
        steps.append(
            f"  from {a.source}: {a.outcome}" + (f" on {a.trunk} as {a.sent}" if a.trunk else "")
        )
    return RouteDecision(
        number=number, source=source, outcome="ambiguous", steps=steps, alternatives=alts
    )


@dataclass(slots=True)
class _Path:
    """One path through the routing table: the call classified to ``src_group``, with the
    message conditions known to hold (or not) on this path."""

    state: DeviceState
    data: dict[str, Any]
    number: str
    source: str | None
    src_group: str
    group: dict[str, Any]
    assume: dict[str, bool]
    steps: list[str] = field(default_factory=list)

    def again(self, key: str, held: bool, start: int) -> RouteDecision:
        """The same call from row ``start`` on, with one more condition decided."""
        return _route_from(
            self.state, self.number, self.source, self.src_group, {**self.assume, key: held}, start
        )


def _emergency_call(data: dict[str, Any], number: str, steps: list[str]) -> bool:
    """The SBC treats the call as an emergency call (preemption on and its condition holds)."""
    em = data.get("emergency", {})
    if em.get("preemption") and em.get("condition") is not None:
        cond = data["conditions"].get(em["condition"], "")
        emergency, notes = eval_condition(cond, number)
        steps.append(
            f"emergency condition {em['condition']!r} ({cond}): "
            f"{'matches' if emergency else 'no match'}; SBC Preemption Mode enabled"
        )
        steps.extend(notes)
        return emergency
    if em.get("condition") is not None:
        steps.append("SBC Preemption Mode disabled: no call is treated as an emergency call")
    return False


def _row_applies(path: _Path, row: dict[str, Any], called: str) -> bool:
    """The row takes part for a new INVITE from this source to ``called`` (message
    conditions, destination tags and the caller's own fields aside)."""
    if str(row.get("AltRouteOptions", "0")) not in ("0", ""):
        return False  # alternative / forking rows take part only after the main row fails
    if str(row.get("RequestType", "0")) not in INVITE_REQUEST_TYPES:
        return False
    if str(row.get("Trigger", "0")) not in INITIAL_TRIGGERS:
        return False  # a re-route after 3xx / REFER / broken connection, not a new call
    src = str(row.get("SrcIPGroupName", "Any"))
    if src.lower() not in ANY and src.lower() != path.src_group.lower():
        return False
    if not prefix_match(str(row.get("DestUsernamePrefix", "*")), called):
        return False
    dhost = str(row.get("DestHost", "*"))
    assert path.state.sbc is not None
    return dhost in ANY or dhost in [a.rsplit(":", 1)[0] for a in path.state.sbc.addresses]


def _tags_match_row(path: _Path, row: dict[str, Any], called: str) -> bool:
    dtags = str(row.get("DestTags", "") or "")
    if not dtags:
        return True
    tag = dest_tag(path.data, path.group, called)
    if tag is not None and _tags_match(dtags, tag):
        return True
    path.steps.append(
        f"{route_label(row)}: destination tags {dtags!r} do not match {called} (its tag in "
        f"Dial Plan {path.group.get('dial_plan') or '(none)'!r} is {tag!r})"
    )
    return False


def _unknowns(path: _Path, row: dict[str, Any], called: str) -> list[tuple[str, str]] | None:
    """What the number and source IP Group leave open: the caller's own user / host (From
    URI) and message conditions on headers a phone's INVITE is not modelled with. None: the
    row cannot match on this path."""
    unknown: list[tuple[str, str]] = []
    for col, what in (
        ("SrcUsernamePrefix", "source username prefix"),
        ("SrcHost", "source host"),
        ("SrcTags", "source tags"),
    ):
        v = str(row.get(col, "*") or "*")
        if v not in ANY:
            unknown.append((f"{col}={v}", f"{what} {v!r} (the caller)"))
    cname = str(row.get("MessageConditionName", "") or "")
    assume = path.assume
    if cname and cname not in assume:
        ok, notes = eval_condition(path.data["conditions"].get(cname, ""), called)
        if notes:
            unknown.append((cname, f"message condition {cname!r} ({'; '.join(notes)})"))
        elif not ok:
            return None
    if cname and cname in assume:
        path.steps.append(
            f"{route_label(row)}: message condition {cname!r} "
            + ("held at classification" if assume[cname] else "taken as not holding")
        )
    if any(assume.get(k) is False for k, _ in unknown) or assume.get(cname) is False:
        return None
    return unknown


def _branch(path: _Path, label: str, key: str, what: str, pos: int) -> RouteDecision:
    """The row matches only if ``what`` holds: the decision both ways, ambiguous if they
    differ."""
    steps = path.steps
    hit, miss = path.again(key, True, pos), path.again(key, False, pos)
    why = f"{label}: matches only if {what} applies to this call"
    if _same(hit, miss):
        hit.steps[:0] = [*steps, why + ": the same decision either way"]
        return hit
    steps.append(why + ": the decision depends on it")
    alts: list[RouteDecision] = []
    for d, held in ((hit, "holds"), (miss, "does not hold")):
        d.steps[:0] = [*steps, f"assumed: {what} {held}"]
        alts.extend(d.alternatives if d.outcome == "ambiguous" else [d])
    return RouteDecision(
        number=path.number, source=path.source, outcome="ambiguous", steps=steps, alternatives=alts
    )


def _walk(path: _Path, called: str, emergency: bool, start: int) -> RouteDecision:
    """IP-to-IP routing rows in index order from ``start``: the first that matches."""
    steps = path.steps
    dec = RouteDecision(number=path.number, source=path.source, outcome="no-route", steps=steps)
    truncated = False
    for pos, row in enumerate(path.data["routes"]):
        if pos < start or not _row_applies(path, row, called):
            continue
        if not _tags_match_row(path, row, called):
            continue
        unknown = _unknowns(path, row, called)
        if unknown is None:
            continue
        label = route_label(row)
        open_ = [(k, w) for k, w in unknown if k not in path.assume]
        if open_ and len(path.assume) >= MAX_BRANCHES:
            steps.append(
                f"{label}: more than {MAX_BRANCHES} undetermined matches on this path: "
                "taken as not matching (the decision is reported as ambiguous)"
            )
            truncated = True
            continue
        if open_:
            return _branch(path, label, *open_[0], pos)
        for _k, w in unknown:
            steps.append(f"{label}: assumed: {w} holds")
        dec.route = label
        steps.append(
            f"{label} matches {called} (source {row.get('SrcIPGroupName', 'Any')!r}, "
            f"destination prefix {row.get('DestUsernamePrefix', '*')!r}): first match in "
            "table order"
        )
        return _act(path.data, row, path.src_group, called, emergency, dec)
    steps.append(f"no IP-to-IP Routing rule matches {called}: the call is rejected")
    dec.sent = called
    if truncated:
        return RouteDecision(
            number=path.number,
            source=path.source,
            outcome="ambiguous",
            steps=steps,
            alternatives=[dec],
        )
    return dec


def _route_from(
    state: DeviceState,
    number: str,
    source: str | None,
    src_group: str | None,
    assume: dict[str, bool] | None = None,
    start: int = 0,
) -> RouteDecision:
    """The decision for a call classified to ``src_group``; ``assume`` holds message
    conditions known to hold (or not) for this call. A routing row whose condition depends on
    a header a phone's INVITE leaves unknown is tried both ways: where the two differ, the
    decision is ``ambiguous`` with both as alternatives."""
    assert state.sbc is not None
    data = state.sbc.data
    if src_group is None:
        return RouteDecision(
            number=number,
            source=source,
            outcome="rejected",
            steps=[
                "an unclassified call is rejected (SIP Interface "
                "'Classification Failure Response Type')"
            ],
        )
    steps: list[str] = []
    if src_group not in data["ip_groups"]:
        steps.append(f"source IP Group {src_group!r} is not in the IP Groups table")
    group = data["ip_groups"].get(src_group, {})
    path = _Path(state, data, number, source, src_group, group, dict(assume or {}), steps)
    emergency = _emergency_call(data, number, steps)
    called = message_manipulations(
        data["manipulations"], str(group.get("inbound_manset", "")), number, "inbound", steps
    )
    return _walk(path, called, emergency, start)


def dest_tag(data: dict[str, Any], group: dict[str, Any], number: str) -> str | None:
    """The destination number's tag in the source IP Group's Dial Plan (IP2IPRouting
    'Destination Tags': "a tag to denote destination URI user names corresponding to the tag
    configured in the associated Dial Plan ... assign the Dial Plan ... to the related IP Group
    or SRD", Mediant 3000 User's Manual 7.0 p.610): the first rule whose prefix matches."""
    plan = group.get("dial_plan")
    for prefix, tag in (data.get("dial_plans") or {}).get(plan or "", []):
        if prefix_match(prefix, number):
            return tag
    return None


def _tags_match(want: str, tag: str) -> bool:
    have = {t.strip().lower() for t in re.split(r"[;,]", tag) if t.strip()}
    return any(w.strip().lower() in have for w in re.split(r"[;,]", want) if w.strip())


def _act(
    data: dict[str, Any],
    row: dict[str, Any],
    src_group: str,
    called: str,
    emergency: bool,
    dec: RouteDecision,
) -> RouteDecision:
    steps = dec.steps
    dtype = str(row.get("DestType", "0"))
    if dtype == "13":
        dec.outcome = "rejected"
        steps.append(
            f"destination type Internal: the SBC answers {row.get('InternalAction')}"
            " itself; nothing leaves"
        )
        return dec
    modified = str(row.get("ModifiedDestUserName", "") or "")
    if modified:
        steps.append(f"Modified Destination User Name: {called} -> {modified}")
        called = modified
    if dtype == "0":
        trunk = str(row.get("DestIPGroupName", ""))
        if trunk not in data["ip_groups"]:
            dec.outcome = "rejected"
            steps.append(
                f"destination IP Group {trunk!r} is not in the IP Groups table: the call "
                "cannot be sent"
            )
            return dec
    elif dtype == "1":
        port = str(row.get("DestPort", "0"))
        trunk = str(row.get("DestAddress", "")) + (f":{port}" if port not in ("", "0") else "")
    elif dtype == "11" and row.get("IPGroupSetName"):
        trunk = str(row["IPGroupSetName"])  # an IP Group Set: its members share the calls
    else:
        trunk = DEST_TYPES.get(dtype, f"destination type {dtype}")
    called = outbound_manipulation(data["outbound_manipulations"], src_group, trunk, called, steps)
    dst = data["ip_groups"].get(trunk, {})
    called = message_manipulations(
        data["manipulations"], str(dst.get("outbound_manset", "")), called, "outbound", steps
    )
    dec.outcome = "routed"
    dec.trunk = trunk or None
    dec.sent = called
    dec.priority = "emergency" if emergency else None
    steps.append(
        f"leaves on {DEST_TYPES.get(dtype, dtype)} {trunk!r} as {called}"
        + (" with emergency priority (preemption)" if emergency else "")
    )
    return dec
