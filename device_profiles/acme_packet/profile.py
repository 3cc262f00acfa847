"""Oracle Enterprise Session Border Controller (Acme Packet) over ACLI: `show running-config`.

The running configuration is a list of configuration elements (local-policy, realm-config,
session-agent, ...) with their parameters indented below them and sub-elements
(policy-attribute, sip-port, header-rule, element-rule) indented once more. Parameters are kept
flat under ``<element>[n].<sub-element>[m].<parameter>`` names, numbered in configuration order.

Routing follows the ESBC Configuration Guide, "Local Policy" chapter (README.md cites each rule):
the ingress realm comes from the source address (realm addr-prefix), the in-manipulationid of
that realm rewrites the Request-URI first, every enabled local-policy whose source-realm,
from-address and to-address match contributes its enabled policy-attributes, and the candidates
are ordered by cost, then longest to-address match, then wildcard last. The winner's
out-manipulation (session agent, else realm, else SIP interface) gives the number as it leaves.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet.cli_parse import parse
from fleet.errors import ConfigFileError
from fleet.model import Collected, DeviceState, Finding, RouteDecision, SbcRoute, SbcState
from fleet.profiles import Profile

TEMPLATES = Path(__file__).parent / "templates"
PRIORITIES = ("none", "normal", "non-urgent", "urgent", "emergency")
# ACLI configuration elements as `show running-config` prints them: the element name alone in
# column 0, its parameters indented below (ACLI Reference, "Working with Configuration
# Elements"; captures [C3]). A capture of one element (`show running-config local-policy`,
# `... session-agent`) holds only that element, so any of them identifies an ACLI capture.
ELEMENTS = (
    "access-control",
    "account-config",
    "enforcement-profile",
    "local-policy",
    "local-routing-config",
    "media-manager",
    "media-profile",
    "network-interface",
    "phy-interface",
    "realm-config",
    "session-agent",
    "session-group",
    "session-translation",
    "sip-config",
    "sip-interface",
    "sip-manipulation",
    "steering-pool",
    "system-config",
    "translation-rules",
)
_ELEMENT_THEN_PARAM = re.compile(
    r"(?m)^(?:" + "|".join(re.escape(e) for e in ELEMENTS) + r")[ \t]*\r?\n"
    r"(?:[ \t]*\r?\n)*"  # blank lines
    r"(?: {1,8}|\t)[a-z][a-z0-9-]*(?:[ \t]{2,}\S.*)?[ \t]*\r?$"
)
# A value line of a list parameter: ACLI prints the first value beside the parameter name and
# every further value alone on the next lines, at the value column (rianrd1/ROTAS-SIP
# `VIVO/VIVO TRANSPORTE/SBC/CORE_ITX_VIVO_TRANSPORTE_VSI_1.sql`, session-group `dest`).
# Parameters sit at indent 8, 16 or 24; a line indented 32 or more is such a value.
CONTINUATION_INDENT = 32
_KEY = re.compile(
    r"^(?P<el>[\w-]+)\[(?P<i>\d+)\]"
    r"(?:\.(?P<sub>[\w-]+)\[(?P<j>\d+)\])?(?:\.(?P<subsub>[\w-]+)\[(?P<k>\d+)\])?"
    r"\.(?P<param>[\w-]+)$"
)
MAX_SIP_MANIP_DEPTH = 8


def detect(text: str) -> bool:
    """An ACLI capture: at least one configuration element followed by its parameters."""
    return bool(_ELEMENT_THEN_PARAM.search(text[:200_000]))


def fold_lists(text: str) -> str:
    """Join list values printed on the lines below their parameter into one line
    (``to-address 911 933``), keeping the line count so line numbers stay right."""
    out: list[str] = []
    owner: int | None = None  # index in out of the parameter line the values belong to
    for line in text.replace("\r\n", "\n").split("\n"):
        body = line.expandtabs(8)
        stripped = body.strip()
        indent = len(body) - len(body.lstrip(" "))
        if stripped and indent >= CONTINUATION_INDENT and owner is not None:
            out[owner] = (
                out[owner].rstrip()
                + (" " if re.search(r"\S\s{2,}\S", out[owner].strip()) else " " * 8)
                + stripped
            )
            out.append("")
            continue
        if stripped and indent > 0:
            owner = len(out)
        elif stripped:
            owner = None
        out.append(line)
    return "\n".join(out)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _put(params: dict[str, str], key: str, value: str) -> None:
    # A parameter printed twice in one element (dest, options) keeps every value.
    if key in params and params[key] and value:
        params[key] = f"{params[key]} {value}"
    else:
        params[key] = value


def _generic_params(text: str) -> dict[str, str]:
    """Every line, nested by indent: what golden raw: rules and redaction see."""
    rows = parse(TEMPLATES / "acme_packet_params.textfsm", text)
    lines = [(len(r["INDENT"].expandtabs(8)), r["NAME"], r["VALUE"]) for r in rows]
    params: dict[str, str] = {}
    counts: dict[str, int] = {}
    stack: list[tuple[int, str, dict[str, int]]] = []  # (indent, path, child counts)
    for n, (indent, name, value) in enumerate(lines):
        nxt = lines[n + 1][0] if n + 1 < len(lines) else -1
        if indent == 0:
            stack.clear()
            if value:  # "task done" and other non-element lines
                continue
            counts[name] = counts.get(name, 0) + 1
            stack.append((0, f"{name}[{counts[name]}]", {}))
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack:
            continue
        _parent_indent, parent, children = stack[-1]
        if not value and nxt > indent:  # a sub-element: deeper lines follow
            children[name] = children.get(name, 0) + 1
            stack.append((indent, f"{parent}.{name}[{children[name]}]", {}))
            continue
        _put(params, f"{parent}.{name}", _unquote(value))
    return params


def _records(stem: str, text: str) -> list[dict[str, Any]]:
    return parse(TEMPLATES / f"acme_packet_{stem}.textfsm", text)


def _element_params(text: str) -> dict[str, str]:
    """The routing elements as their TextFSM templates read them (authoritative fields)."""
    out: dict[str, str] = {}

    def put(path: str, rec: dict[str, Any], skip: tuple[str, ...] = ("KIND",)) -> None:
        for field, value in rec.items():
            if field in skip or value in ("", []):
                continue
            if isinstance(value, list):
                value = " ".join(value)
            out[f"{path}.{field.lower().replace('_', '-')}"] = _unquote(value)

    i = j = 0
    for rec in _records("local_policy", text):
        if rec["KIND"] == "local-policy":
            i, j = i + 1, 0
            put(f"local-policy[{i}]", rec)
        elif i:
            j += 1
            put(f"local-policy[{i}].policy-attribute[{j}]", rec)
    for stem, element in (
        ("session_agent", "session-agent"),
        ("session_group", "session-group"),
        ("realm_config", "realm-config"),
        ("system_config", "system-config"),
    ):
        for n, rec in enumerate(_records(stem, text), 1):
            put(f"{element}[{n}]", rec)
    port_fields = ("ADDRESS", "PORT", "TRANSPORT_PROTOCOL", "ALLOW_ANONYMOUS")
    for n, rec in enumerate(_records("sip_interface", text), 1):
        put(f"sip-interface[{n}]", rec, skip=port_fields)
        for p, address in enumerate(rec["ADDRESS"], 1):
            row = {"ADDRESS": address}
            for field in port_fields[1:]:
                if p <= len(rec[field]):
                    row[field] = rec[field][p - 1]
            put(f"sip-interface[{n}].sip-port[{p}]", row)
    m = h = e = 0
    for rec in _records("sip_manipulation", text):
        kind = rec["KIND"].rstrip("s")
        if kind == "sip-manipulation":
            m, h, e = m + 1, 0, 0
            put(f"sip-manipulation[{m}]", rec)
        elif kind == "header-rule" and m:
            h, e = h + 1, 0
            put(f"sip-manipulation[{m}].header-rule[{h}]", rec)
        elif kind == "element-rule" and m and h:
            e += 1
            put(f"sip-manipulation[{m}].header-rule[{h}].element-rule[{e}]", rec)
    return out


def parse_text(name: str, text: str) -> Collected:
    if not detect(text):
        raise ConfigFileError(
            "not an Oracle/Acme Packet ACLI running configuration (no configuration element "
            "such as local-policy, realm-config or session-agent followed by its parameters)",
            file=name,
        )
    text = fold_lists(text)
    params = _generic_params(text)
    params.update(_element_params(text))
    identity = {}
    if host := params.get("system-config[1].hostname"):
        identity["hostname"] = host
    collected = Collected(params=params, identity=identity, sources=[name])
    collected.notices += _regex_notices(name, text, params)
    if not any(k.startswith("local-policy[") for k in params):
        collected.notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                "local-policy",
                f"{name} holds no local-policy element (a partial capture such as `show "
                "running-config session-agent`?): fleet cannot tell where this SBC routes "
                "emergency calls",
                expected="local-policy elements (the full `show running-config`)",
                actual="none",
            )
        )
    return collected


def _line_of(text: str, key: str) -> int | None:
    """The line number of a flat parameter (element and sub-element counts followed)."""
    parts = re.findall(r"([\w-]+)\[(\d+)\]", key)
    param = key.rsplit(".", 1)[-1]
    lines = text.split("\n")
    n, end, parent_indent = 0, len(lines), -1

    def indent(line: str) -> int:
        body = line.expandtabs(8)
        return len(body) - len(body.lstrip(" "))

    for element, count in parts:
        seen = 0
        pat = re.compile(r"^\s*" + re.escape(element) + r"s?\s*$")
        while n < end:
            line = lines[n]
            if line.strip() and indent(line) <= parent_indent:
                return None
            if pat.match(line) and indent(line) > parent_indent:
                seen += 1
                if seen == int(count):
                    break
            n += 1
        if n >= end:
            return None
        parent_indent = indent(lines[n])
        n += 1
    pat = re.compile(r"^\s+" + re.escape(param) + r"(\s|$)")
    while n < end and not (lines[n].strip() and indent(lines[n]) <= parent_indent):
        if pat.match(lines[n]):
            return n + 1
        n += 1
    return None


def _regex_notices(name: str, text: str, params: dict[str, str]) -> list[Finding]:
    """An HMR pattern-rule that is not a regular expression fleet can compile: the rule is
    skipped by fleet, so the number it would rewrite is not known (never raises)."""
    out = []
    for key, value in params.items():
        if not key.endswith(".match-value") or ".element-rule[" not in key:
            continue
        if params.get(key[: -len("match-value")] + "comparison-type") != "pattern-rule":
            continue
        why = _regex_error(_unquote(value))
        if why is None:
            continue
        line = _line_of(text, key)
        out.append(
            Finding(
                "config.malformed",
                "medium",
                key,
                f"{name}{f' line {line}' if line else ''}: {key} is not a regular expression "
                f"fleet can read ({why}); fleet skips this element-rule, so the number it "
                "would rewrite is unknown",
                expected="a valid pattern-rule regular expression",
                actual="not compilable",
                evidence=[f"{name}:{line}" if line else name],
            )
        )
    return out


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as e:
        return str(getattr(e, "msg", None) or e)[:80]
    return None


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


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    return parse_text(name, text)


def parse_cli(outputs: dict[str, str]) -> Collected:
    text = outputs.get("show running-config") or next(iter(outputs.values()), "")
    return parse_text("show running-config", text)


# --- the configuration as elements --------------------------------------------------------


def elements(params: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Flat params back into {element: [instance, ...]}; sub-elements under ``_subs``."""
    tree: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in params.items():
        m = _KEY.match(key)
        if not m:
            continue
        node = tree.setdefault(m["el"], {}).setdefault(int(m["i"]), {"_subs": {}})
        for name, idx in ((m["sub"], m["j"]), (m["subsub"], m["k"])):
            if name:
                node = node["_subs"].setdefault(name, {}).setdefault(int(idx), {"_subs": {}})
        node[m["param"]] = value
    return {el: _ordered(inst) for el, inst in tree.items()}


def _ordered(instances: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for _, node in sorted(instances.items()):
        node = dict(node)
        node["_subs"] = {name: _ordered(sub) for name, sub in node["_subs"].items()}
        out.append(node)
    return out


def _words(value: str | None) -> list[str]:
    return [w for w in re.split(r"[\s,]+", value or "") if w]


def _trunk_name(next_hop: str) -> str:
    # SAG: is case-insensitive on the box; sbc_trunks name groups as "SAG:<group-name>".
    if next_hop.lower().startswith("sag:"):
        return "SAG:" + next_hop[4:]
    return next_hop


def _data(params: dict[str, str]) -> dict[str, Any]:
    els = elements(params)
    policies = []
    for n, lp in enumerate(els.get("local-policy", []), 1):
        attrs = []
        for m, pa in enumerate(lp["_subs"].get("policy-attribute", []), 1):
            attrs.append(
                {
                    "index": m,
                    "next_hop": pa.get("next-hop", ""),
                    "realm": pa.get("realm", ""),
                    "action": pa.get("action", "none") or "none",
                    "cost": int(pa.get("cost") or 0),
                    "state": pa.get("state", "enabled") or "enabled",
                    "app_protocol": pa.get("app-protocol", "SIP") or "SIP",
                    "methods": _words(pa.get("methods")),
                }
            )
        policies.append(
            {
                "index": n,
                "from": _words(lp.get("from-address")) or ["*"],
                "to": _words(lp.get("to-address")) or ["*"],
                "source_realm": _words(lp.get("source-realm")) or ["*"],
                "description": lp.get("description", ""),
                "state": lp.get("state", "enabled") or "enabled",
                "priority": lp.get("policy-priority", "none") or "none",
                "attributes": attrs,
            }
        )
    realms = [
        {
            "id": r.get("identifier", ""),
            "addr_prefix": r.get("addr-prefix", "0.0.0.0") or "0.0.0.0",
            "in_manip": r.get("in-manipulationid", ""),
            "out_manip": r.get("out-manipulationid", ""),
        }
        for r in els.get("realm-config", [])
    ]
    agents = [
        {
            "hostname": a.get("hostname", ""),
            "ip": a.get("ip-address", ""),
            "port": a.get("port", "5060"),
            "state": a.get("state", "enabled") or "enabled",
            "realm": a.get("realm-id", ""),
            "in_manip": a.get("in-manipulationid", ""),
            "out_manip": a.get("out-manipulationid", ""),
        }
        for a in els.get("session-agent", [])
    ]
    groups = [
        {
            "name": g.get("group-name", ""),
            "state": g.get("state", "enabled") or "enabled",
            "dest": _words(g.get("dest")),
        }
        for g in els.get("session-group", [])
    ]
    interfaces = []
    for s in els.get("sip-interface", []):
        ports = [
            {
                "address": p.get("address", ""),
                "port": p.get("port", "5060") or "5060",
                "transport": p.get("transport-protocol", "UDP"),
                "allow_anonymous": p.get("allow-anonymous", "all"),
            }
            for p in s["_subs"].get("sip-port", [])
        ]
        interfaces.append(
            {
                "realm": s.get("realm-id", ""),
                "state": s.get("state", "enabled") or "enabled",
                "anonymous_priority": s.get("anonymous-priority", "none") or "none",
                "in_manip": s.get("in-manipulationid", ""),
                "out_manip": s.get("out-manipulationid", ""),
                "ports": ports,
            }
        )
    manips = {}
    for sm in els.get("sip-manipulation", []):
        rules = []
        for hr in sm["_subs"].get("header-rule", []):
            rules.append(
                {
                    "name": hr.get("name", ""),
                    "header": hr.get("header-name", ""),
                    "action": hr.get("action", "none"),
                    "msg_type": hr.get("msg-type", "any") or "any",
                    "methods": _words(hr.get("methods")),
                    "new_value": hr.get("new-value", ""),
                    "elements": [
                        {
                            "name": er.get("name", ""),
                            "type": er.get("type", ""),
                            "action": er.get("action", "none"),
                            "comparison": er.get("comparison-type", "case-sensitive"),
                            "match": er.get("match-value", ""),
                            "new_value": er.get("new-value", ""),
                        }
                        for er in hr["_subs"].get("element-rule", [])
                    ],
                }
            )
        manips[sm.get("name", "")] = rules
    return {
        "policies": policies,
        "realms": realms,
        "agents": agents,
        "groups": groups,
        "interfaces": interfaces,
        "manipulations": manips,
    }


def to_state(collected: Collected) -> DeviceState:
    data = _data(collected.params)
    if not data["policies"]:
        # A capture without local-policy (one element's `show running-config`): what routing
        # fleet would compute from it is not the box's, so it computes none (the
        # coverage.uncertain notice says why) instead of reporting "no route".
        return DeviceState(
            vendor="Oracle",
            profile="acme_packet",
            raw=dict(collected.params),
        )
    routes: list[SbcRoute] = []
    emergency: list[str] = []
    for lp in data["policies"]:
        label = f"local-policy {lp['index']}"
        if lp["description"]:
            label += f" ({lp['description']})"
        for pa in lp["attributes"]:
            name = label if len(lp["attributes"]) == 1 else f"{label} attr {pa['index']}"
            routes.append(
                SbcRoute(
                    name=name,
                    match={
                        "to-address": " ".join(lp["to"]),
                        "from-address": " ".join(lp["from"]),
                        "source-realm": " ".join(lp["source_realm"]),
                        "cost": str(pa["cost"]),
                        "state": "enabled" if _enabled(lp, pa) else "disabled",
                    },
                    target=_trunk_name(pa["next_hop"]) if pa["next_hop"] else None,
                    priority=lp["priority"] if lp["priority"] != "none" else None,
                )
            )
        if lp["priority"] == "emergency" and lp["state"] == "enabled":
            for to in lp["to"]:
                if to != "*" and to not in emergency:
                    emergency.append(to)
    trunks: list[str] = []
    for t in (
        [_trunk_name(pa["next_hop"]) for lp in data["policies"] for pa in lp["attributes"]]
        + [f"SAG:{g['name']}" for g in data["groups"]]
        + [a["hostname"] for a in data["agents"]]
    ):
        if t and t not in trunks:
            trunks.append(t)
    addresses = [
        f"{p['address']}:{p['port']}"
        for s in data["interfaces"]
        if s["state"] == "enabled"
        for p in s["ports"]
        if p["address"]
    ]
    return DeviceState(
        vendor="Oracle",
        profile="acme_packet",
        model=None,
        firmware=None,
        raw=dict(collected.params),
        sbc=SbcState(
            routes=routes,
            trunks=trunks,
            addresses=addresses,
            emergency_numbers=emergency,
            data=data,
        ),
    )


def _enabled(lp: dict[str, Any], pa: dict[str, Any]) -> bool:
    return lp["state"] == "enabled" and pa["state"] == "enabled"


# --- routing --------------------------------------------------------------------------------


OTHER_REALM = "(any other realm)"


def _phone_side(data: dict[str, Any], steps: list[str]) -> list[str]:
    """Realms a phone's call may arrive in when the caller is not named: those whose SIP
    ports admit endpoints that are not session agents (allow-anonymous other than
    agents-only), else those no session agent lives in, else every realm."""
    realms = [r["id"] for r in data["realms"] if r["id"]]
    open_realms = [
        s["realm"]
        for s in data["interfaces"]
        if s["state"] == "enabled"
        and s["realm"] in realms
        and any(p["allow_anonymous"] != "agents-only" for p in s["ports"])
    ]
    if open_realms := list(dict.fromkeys(open_realms)):
        steps.append(
            "source: phone side, realm "
            + " or ".join(open_realms)
            + " (its sip-port admits endpoints other than session agents)"
        )
        return open_realms
    agent_realms = {a["realm"] for a in data["agents"]}
    if free := [r for r in realms if r not in agent_realms]:
        steps.append(f"source: phone side, realm {' or '.join(free)} (no session agent in it)")
        return free
    steps.append(
        "source: phone side undetermined (every sip-port is agents-only and every realm has "
        "a session agent): each realm is a candidate"
    )
    return realms


def _unknown_realm(data: dict[str, Any], steps: list[str]) -> list[str]:
    """No realm-config in the capture: the realms the local-policies name, and any other."""
    named = [
        r
        for lp in data["policies"]
        if lp["state"] == "enabled"
        for r in lp["source_realm"]
        if r != "*"
    ]
    steps.append(
        "ingress realm unknown: the capture holds no realm-config, so each source-realm the "
        "local-policies name is a candidate"
    )
    return [*dict.fromkeys(named), OTHER_REALM]


def _ingress_realms(data: dict[str, Any], source: str | None, steps: list[str]) -> list[str]:
    """Candidate ingress realms for a call from ``source`` (empty: the box takes none)."""
    realms = data["realms"]
    if source is None:
        return _phone_side(data, steps) if realms else _unknown_realm(data, steps)
    if any(r["id"] == source for r in realms):
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
    for a in data["agents"]:
        if a["ip"] == source and a["realm"]:
            steps.append(f"source {source} is session-agent {a['hostname']}: realm {a['realm']}")
            return [a["realm"]]
    if not realms:
        return _unknown_realm(data, steps)
    best: tuple[int, str] | None = None
    for r in realms:
        prefix = r["addr_prefix"]
        if prefix in ("0.0.0.0", "::"):  # the default: every address
            prefix += "/0"
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if addr in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, r["id"])
    if best is None:
        steps.append(f"source {source} matches no realm addr-prefix")
        return []
    steps.append(f"source {source} classified to realm {best[1]} (addr-prefix, most specific)")
    return [best[1]]


def _to_match(entry: str, number: str) -> int | None:
    """Match length of one to-address entry (left-to-right digits); 0 for a bare wildcard."""
    if entry == "*":
        return 0
    if "*" in entry:
        pattern = ".*".join(re.escape(p) for p in entry.split("*"))
        m = re.match(pattern, number)
        return len(entry.replace("*", "")) if m else None
    return len(entry) if number.startswith(entry) else None


def _eval_new_value(expr: str, original: str, steps: list[str]) -> str:
    parts = re.findall(r'"[^"]*"|\$ORIGINAL|[^+]+|\+', expr)
    if len(parts) > 1 and "$ORIGINAL" in parts:
        out = ""
        for p in parts:
            if p == "+":
                continue
            out += original if p == "$ORIGINAL" else _unquote(p)
        return out
    if "$" in expr and not re.fullmatch(r"\$\d+", expr):
        steps.append(f"new-value {expr!r} uses HMR variables fleet does not evaluate")
    return _unquote(expr) if expr != "$ORIGINAL" else original


def _apply_manipulation(
    data: dict[str, Any], name: str, user: str, steps: list[str], depth: int = 0
) -> str:
    rules = data["manipulations"].get(name)
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
        if hr["msg_type"] not in ("any", "request", "out-of-dialog"):
            continue
        if hr["methods"] and "INVITE" not in {m.upper() for m in hr["methods"]}:
            continue
        if hr["action"] == "sip-manip" and depth < MAX_SIP_MANIP_DEPTH:
            user = _apply_manipulation(data, _unquote(hr["new_value"]), user, steps, depth + 1)
            continue
        if hr["header"].lower() != "request-uri" or hr["action"] != "manipulate":
            continue
        for er in hr["elements"]:
            if er["type"] not in ("uri-user", "uri-user-only", "uri-phone-number-only"):
                continue
            before = user
            match, new = er["match"], er["new_value"]
            regex = er["comparison"] == "pattern-rule"
            pattern = _compile(match) if regex and match else None
            if regex and match and pattern is None:
                steps.append(
                    f"sip-manipulation {name} header-rule {hr['name']} element-rule "
                    f"{er['name']}: pattern-rule is not a regular expression fleet can read; "
                    "rule skipped, the number as it leaves is uncertain"
                )
                continue
            if er["action"] == "replace":
                hit = (not match) or (
                    bool(pattern.search(user))
                    if pattern
                    else (
                        user.lower() == match.lower()
                        if er["comparison"] == "case-insensitive"
                        else user == match
                    )
                )
                if hit:
                    user = _eval_new_value(new, user, steps)
            elif er["action"] == "find-replace-all" and match:
                finder = pattern or re.compile(re.escape(match))
                template = _unquote(new)
                user = finder.sub(lambda m, t=template: _expand(m, t), user)
            elif er["action"] == "delete-element":
                hit = (not match) or (bool(pattern.search(user)) if pattern else user == match)
                if hit:
                    user = ""
            if user != before:
                steps.append(
                    f"sip-manipulation {name} header-rule {hr['name']} element-rule "
                    f"{er['name']}: Request-URI user {before} -> {user}"
                )
    return user


def _resolve(data: dict[str, Any], next_hop: str) -> tuple[list[dict[str, Any]], str | None]:
    """Session agents behind a next-hop, and why it cannot be used (None: usable)."""
    by_name = {a["hostname"]: a for a in data["agents"]}
    by_ip = {a["ip"]: a for a in data["agents"] if a["ip"]}
    if next_hop.lower().startswith("sag:"):
        group = next((g for g in data["groups"] if g["name"] == next_hop[4:]), None)
        if group is None:
            return [], f"session-group {next_hop[4:]} is not configured"
        if group["state"] != "enabled":
            return [], f"session-group {group['name']} is disabled"
        members = [by_name.get(d) or by_ip.get(d) for d in group["dest"]]
        usable = [a for a in members if a and a["state"] == "enabled"]
        if not usable:
            return [], f"session-group {group['name']} has no enabled session agent"
        return usable, None
    agent = by_name.get(next_hop) or by_ip.get(next_hop)
    if agent is None:
        return [], None  # a plain address: no session agent, no agent manipulation
    if agent["state"] != "enabled":
        return [], f"session-agent {agent['hostname']} is disabled"
    return [agent], None


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    data = (state.sbc.data if state.sbc else None) or {}
    steps: list[str] = []
    if not data:
        return RouteDecision(number, source, "no-route", steps=["no routing data"])
    realms = _ingress_realms(data, source, steps)
    if not realms:
        return RouteDecision(
            number,
            source,
            "rejected",
            steps=[*steps, "no ingress realm: the box answers nothing for an unknown source"],
        )
    if len(realms) == 1:
        return _route_from(data, number, source, realms[0], steps)
    decisions = [_route_from(data, number, r, r, []) for r in realms]
    first = decisions[0]
    same = all(
        (d.outcome, d.route, d.sent, d.trunk, d.priority)
        == (first.outcome, first.route, first.sent, first.trunk, first.priority)
        for d in decisions
    )
    if same:
        first.source = source
        first.steps = [
            *steps,
            f"every candidate realm ({', '.join(realms)}) routes it alike",
            *first.steps,
        ]
        return first
    return RouteDecision(
        number,
        source,
        "ambiguous",
        steps=[
            *steps,
            "the configuration leaves the ingress realm open and the candidates route it "
            "differently: "
            + "; ".join(
                f"from {d.source}: {d.outcome} {d.trunk or ''}".rstrip() for d in decisions
            ),
        ],
        alternatives=decisions,
    )


def _route_from(
    data: dict[str, Any], number: str, source: str | None, realm: str, steps: list[str]
) -> RouteDecision:
    user = number
    in_manip = next((r["in_manip"] for r in data["realms"] if r["id"] == realm), "")
    if not in_manip:
        in_manip = next((s["in_manip"] for s in data["interfaces"] if s["realm"] == realm), "")
    if in_manip:
        user = _apply_manipulation(data, in_manip, user, steps)
    # Candidates from every matching local-policy (Route Preference: the list is built from
    # source realm, From and To, then ordered by cost, To match length, wildcard last).
    candidates: list[tuple[int, int, int, int, dict[str, Any], dict[str, Any]]] = []
    for lp in data["policies"]:
        label = f"local-policy {lp['index']}"
        if lp["state"] != "enabled":
            continue
        if "*" not in lp["source_realm"] and realm not in lp["source_realm"]:
            continue
        if "*" not in lp["from"]:
            steps.append(
                f"{label}: from-address {' '.join(lp['from'])} needs a known caller; skipped"
            )
            continue
        lengths = [n for n in (_to_match(e, user) for e in lp["to"]) if n is not None]
        if not lengths:
            continue
        best = max(lengths)
        for pa in lp["attributes"]:
            if pa["state"] != "enabled" or pa["app_protocol"].upper() not in ("SIP", ""):
                continue
            if pa["methods"] and "INVITE" not in {m.upper() for m in pa["methods"]}:
                continue
            wildcard = 1 if best == 0 else 0
            candidates.append((pa["cost"], -best, wildcard, len(candidates), lp, pa))
    if not candidates:
        return RouteDecision(
            number,
            source,
            "no-route",
            sent=user,
            steps=[*steps, f"no enabled local-policy matches {user} from realm {realm}"],
        )
    candidates.sort(key=lambda c: c[:4])
    for cost, neg_len, _, _, lp, pa in candidates:
        label = f"local-policy {lp['index']}"
        if lp["description"]:
            label += f" ({lp['description']})"
        name = label if len(lp["attributes"]) == 1 else f"{label} attr {pa['index']}"
        agents, why = _resolve(data, pa["next_hop"])
        if why:
            steps.append(f"{name}: {why}; next candidate")
            continue
        to_desc = "*" if neg_len == 0 else f"{-neg_len}-digit"
        steps.append(
            f"{name} wins: to-address match {to_desc}, cost {cost}, next-hop "
            f"{pa['next_hop']} realm {pa['realm']}"
        )
        if pa["action"] == "redirect":
            return RouteDecision(
                number,
                source,
                "rejected",
                name,
                user,
                None,
                None,
                [*steps, "action redirect: a 3xx goes back to the caller"],
            )
        out_manip = agents[0]["out_manip"] if agents else ""
        if not out_manip:
            out_manip = next((r["out_manip"] for r in data["realms"] if r["id"] == pa["realm"]), "")
        if not out_manip:
            out_manip = next(
                (s["out_manip"] for s in data["interfaces"] if s["realm"] == pa["realm"]), ""
            )
        if out_manip:
            user = _apply_manipulation(data, out_manip, user, steps)
        priority = lp["priority"] if lp["priority"] != "none" else None
        return RouteDecision(
            number, source, "routed", name, user, _trunk_name(pa["next_hop"]), priority, steps
        )
    return RouteDecision(
        number,
        source,
        "no-route",
        sent=user,
        steps=[*steps, "every matching route's next hop is unusable"],
    )


PROFILE = Profile(
    name="acme_packet",
    vendor="Oracle",
    role="sbc",
    transport="ssh",
    default_scheme="ssh",
    default_username="user",
    detect=detect,
    parse_files=parse_files,
    parse_cli=parse_cli,
    to_state=to_state,
    route=route,
    # auth-attribute password, surrogate-agent password, RADIUS/TACACS secrets, SNMP community
    secret_keys=re.compile(r"(?i)(password|secret|community-name|passphrase|pre-shared)"),
)
