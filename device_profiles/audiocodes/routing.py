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
from typing import Any

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
    text = cond.strip()
    if not text:
        return True, []
    notes: list[str] = []
    ors = re.split(r"\s+OR\s+", text, flags=re.I)
    result = False
    for part in ors:
        ands = re.split(r"\s+AND\s+", part, flags=re.I)
        ok = True
        for term in ands:
            r, note = _eval_term(term.strip().strip("()"), number)
            if note:
                notes.append(note)
            ok = ok and r
        result = result or ok
    return result, notes


def _eval_term(term: str, number: str) -> tuple[bool, str | None]:
    m = _CMP.match(term)
    if not m:
        return False, f"condition term {term!r} not understood: taken as false"
    subj, op = m.group("subj"), m.group("op").lower()
    val = (m.group("val") or "").strip().strip("'")
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
    if m.group("neg"):
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
    """IP-to-IP Outbound Manipulation: first matching destination-URI rule (plus the rules
    marked additional below it)."""
    matched = False
    for row in rows:
        additional = str(row.get("IsAdditionalManipulation", "0")) == "1"
        if matched and not additional:
            break
        if str(row.get("ManipulatedURI", "0")) != "1":
            continue
        if str(row.get("SrcIPGroupName", "any")).lower() not in ANY | {src.lower()}:
            continue
        if str(row.get("DestIPGroupName", "any")).lower() not in ANY | {dst.lower()}:
            continue
        if not prefix_match(str(row.get("DestUsernamePrefix", "*")), number):
            continue
        matched = True
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


def classify(data: dict[str, Any], source: str | None, number: str, steps: list[str]) -> str | None:
    """The source IP Group of a call from ``source``; None when classification fails."""
    groups: dict[str, dict[str, Any]] = data["ip_groups"]
    if source is None:
        g = data.get("phone_group")
        steps.append(f"source: the phone-facing side, IP Group {g!r}")
        return g
    by_name = {n.lower(): n for n in groups}
    if source.lower() in by_name:
        g = by_name[source.lower()]
        steps.append(f"source: IP Group {g!r} given by name")
        return g
    host = source.rsplit(":", 1)[0] if source.count(":") == 1 else source
    for name, g in groups.items():
        if str(g.get("classify_by_proxy_set", "1")) != "1":
            continue
        if host in [a.rsplit(":", 1)[0] for a in g.get("addresses", [])]:
            steps.append(
                f"classified by Proxy Set {g.get('proxy_set')!r}: {host} is an "
                f"address of IP Group {name!r}"
            )
            return name
    for row in data["classification"]:
        if not _addr_match(str(row.get("SrcAddress", "*")), host):
            continue
        if not prefix_match(str(row.get("DestUsernamePrefix", "*")), number):
            continue
        cond = str(row.get("MessageConditionName", ""))
        if cond and not eval_condition(data["conditions"].get(cond, ""), number)[0]:
            continue
        name = row.get("ClassificationName") or f"#{row['_index']}"
        if str(row.get("ActionType", "1")) == "0":
            steps.append(
                f"classification rule {name!r}: {host} matches "
                f"{row.get('SrcAddress')!r}, action Deny"
            )
            return None
        g = str(row.get("SrcIPGroupName", ""))
        steps.append(
            f"classification rule {name!r}: {host} matches {row.get('SrcAddress')!r}"
            f" -> source IP Group {g!r}"
        )
        return g
    steps.append(
        f"no Proxy Set address or Classification rule matches {host}: classification fails"
    )
    return None


# --- IP-to-IP routing --------------------------------------------------------------------


def _route_label(row: dict[str, Any]) -> str:
    name = row.get("RouteName") or ""
    return f"IP2IPRouting {row['_index']}" + (f" ({name})" if name else "")


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    assert state.sbc is not None
    data = state.sbc.data
    steps: list[str] = []
    dec = RouteDecision(number=number, source=source, outcome="no-route", steps=steps)
    src_group = classify(data, source, number, steps)
    if src_group is None:
        dec.outcome = "rejected"
        steps.append(
            "an unclassified call is rejected (SIP Interface "
            "'Classification Failure Response Type')"
        )
        return dec
    group = data["ip_groups"].get(src_group, {})
    emergency = False
    em = data.get("emergency", {})
    if em.get("preemption") and em.get("condition") is not None:
        cond = data["conditions"].get(em["condition"], "")
        emergency, notes = eval_condition(cond, number)
        steps.append(
            f"emergency condition {em['condition']!r} ({cond}): "
            f"{'matches' if emergency else 'no match'}; SBC Preemption Mode enabled"
        )
        steps.extend(notes)
    elif em.get("condition") is not None:
        steps.append("SBC Preemption Mode disabled: no call is treated as an emergency call")
    called = message_manipulations(
        data["manipulations"], str(group.get("inbound_manset", "")), number, "inbound", steps
    )
    for row in data["routes"]:
        label = _route_label(row)
        if str(row.get("AltRouteOptions", "0")) not in ("0", ""):
            continue  # alternative / forking rows take part only after the main row fails
        if str(row.get("RequestType", "0")) not in INVITE_REQUEST_TYPES:
            continue
        src = str(row.get("SrcIPGroupName", "Any"))
        if src.lower() not in ANY and src.lower() != src_group.lower():
            continue
        if not prefix_match(str(row.get("DestUsernamePrefix", "*")), called):
            continue
        if str(row.get("SrcUsernamePrefix", "*")) not in ANY:
            steps.append(
                f"{label}: source username prefix {row['SrcUsernamePrefix']!r} "
                "depends on the caller: not matched"
            )
            continue
        dhost = str(row.get("DestHost", "*"))
        if dhost not in ANY and dhost not in [a.rsplit(":", 1)[0] for a in state.sbc.addresses]:
            continue
        cname = str(row.get("MessageConditionName", ""))
        if cname:
            ok, notes = eval_condition(data["conditions"].get(cname, ""), called)
            steps.extend(f"{label}: {n}" for n in notes)
            if not ok:
                continue
        dec.route = label
        steps.append(
            f"{label} matches {called} (source {src!r}, destination prefix "
            f"{row.get('DestUsernamePrefix', '*')!r}): first match in table order"
        )
        return _act(data, row, src_group, called, emergency, dec)
    steps.append(f"no IP-to-IP Routing rule matches {called}: the call is rejected")
    dec.sent = called
    return dec


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
    elif dtype == "1":
        port = str(row.get("DestPort", "0"))
        trunk = str(row.get("DestAddress", "")) + (f":{port}" if port not in ("", "0") else "")
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
