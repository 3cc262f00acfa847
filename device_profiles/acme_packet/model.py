"""Oracle ESBC (Acme Packet): the flat ACLI parameters -> DeviceState.

``SbcState.data`` holds the routing elements (local-policy, realm-config, session-agent,
session-group, sip-interface, sip-manipulation) in the shape routing.py reads.
"""

from __future__ import annotations

import re
from typing import Any

from fleet.model import Collected, DeviceState, SbcLocation, SbcRoute, SbcState

_KEY = re.compile(
    r"^(?P<el>[\w-]+)\[(?P<i>\d+)\]"
    r"(?:\.(?P<sub>[\w-]+)\[(?P<j>\d+)\])?(?:\.(?P<subsub>[\w-]+)\[(?P<k>\d+)\])?"
    r"\.(?P<param>[\w-]+)$"
)


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


def _attribute(m: int, pa: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": m,
        "next_hop": pa.get("next-hop", ""),
        "realm": pa.get("realm", ""),
        "action": pa.get("action", "none") or "none",
        "cost": int(pa.get("cost") or 0),
        "state": pa.get("state", "enabled") or "enabled",
        "app_protocol": pa.get("app-protocol", "SIP") or "SIP",
        "methods": _words(pa.get("methods")),
        # E-CSCF lookup: the LRT key is the caller's emergency location string (README [L4])
        "eloc_lookup": pa.get("eloc-str-lkup", "disabled") or "disabled",
        "eloc_match": pa.get("eloc-str-match", ""),
    }


def _policies(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "index": n,
            "from": _words(lp.get("from-address")) or ["*"],
            "to": _words(lp.get("to-address")) or ["*"],
            "source_realm": _words(lp.get("source-realm")) or ["*"],
            "description": lp.get("description", ""),
            "state": lp.get("state", "enabled") or "enabled",
            "priority": lp.get("policy-priority", "none") or "none",
            "attributes": [
                _attribute(m, pa) for m, pa in enumerate(lp["_subs"].get("policy-attribute", []), 1)
            ],
        }
        for n, lp in enumerate(els.get("local-policy", []), 1)
    ]


def _realms(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.get("identifier", ""),
            "addr_prefix": r.get("addr-prefix", "0.0.0.0") or "0.0.0.0",
            "in_manip": r.get("in-manipulationid", ""),
            "out_manip": r.get("out-manipulationid", ""),
        }
        for r in els.get("realm-config", [])
    ]


def _agents(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
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


def _groups(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "name": g.get("group-name", ""),
            "state": g.get("state", "enabled") or "enabled",
            "dest": _words(g.get("dest")),
        }
        for g in els.get("session-group", [])
    ]


def _port(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": p.get("address", ""),
        "port": p.get("port", "5060") or "5060",
        "transport": p.get("transport-protocol", "UDP"),
        "allow_anonymous": p.get("allow-anonymous", "all"),
    }


def _interfaces(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "realm": s.get("realm-id", ""),
            "state": s.get("state", "enabled") or "enabled",
            "anonymous_priority": s.get("anonymous-priority", "none") or "none",
            # disallow-priority-calls: priority calls through it get a 380 (README [P2])
            "options": _words(s.get("options")),
            "in_manip": s.get("in-manipulationid", ""),
            "out_manip": s.get("out-manipulationid", ""),
            "ports": [_port(p) for p in s["_subs"].get("sip-port", [])],
        }
        for s in els.get("sip-interface", [])
    ]


def _element_rule(er: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": er.get("name", ""),
        "type": er.get("type", ""),
        "action": er.get("action", "none"),
        "comparison": er.get("comparison-type", "case-sensitive"),
        "match": er.get("match-value", ""),
        "new_value": er.get("new-value", ""),
    }


def _header_rule(hr: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": hr.get("name", ""),
        "header": hr.get("header-name", ""),
        "action": hr.get("action", "none"),
        "msg_type": hr.get("msg-type", "any") or "any",
        "methods": _words(hr.get("methods")),
        "new_value": hr.get("new-value", ""),
        "elements": [_element_rule(er) for er in hr["_subs"].get("element-rule", [])],
    }


def _manipulations(els: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        sm.get("name", ""): [_header_rule(hr) for hr in sm["_subs"].get("header-rule", [])]
        for sm in els.get("sip-manipulation", [])
    }


def _tables(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Local route tables (session-router > local-routing-config, README [L1]): the table's
    routes are in an XML file on the box, only its name and lookup settings are here."""
    return [
        {
            "name": t.get("name", ""),
            # `file-name` in configuration guides and captures, `filename` in one reference
            "file_name": t.get("file-name") or t.get("filename", ""),
            "prefix_length": t.get("prefix-length", "0") or "0",
            "string_lookup": t.get("string-lookup", "disabled") or "disabled",
            "retarget_requests": t.get("retarget-requests", "enabled") or "enabled",
            "match_mode": t.get("match-mode", ""),
        }
        for t in els.get("local-routing-config", [])
    ]


def _controls(els: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Network management controls (session-router > net-management-control, README [P3]):
    call gapping by called number, and the PRIORITY type for 911 exemption."""
    return [
        {
            "name": c.get("name", ""),
            "state": c.get("state", "enabled") or "enabled",
            "type": (c.get("type") or "").upper(),
            "value": c.get("value", "0") or "0",
            "treatment": (c.get("treatment") or "").upper(),
            "destination": _words(c.get("destination-identifier")),
        }
        for c in els.get("net-management-control", [])
    ]


def _data(params: dict[str, str]) -> dict[str, Any]:
    els = elements(params)
    return {
        "policies": _policies(els),
        "realms": _realms(els),
        "agents": _agents(els),
        "groups": _groups(els),
        "interfaces": _interfaces(els),
        "manipulations": _manipulations(els),
        "tables": _tables(els),
        "controls": _controls(els),
    }


def route_name(lp: dict[str, Any], pa: dict[str, Any]) -> str:
    """A policy-attribute as an operator names it: "local-policy 3 (Emergency) attr 2"."""
    label = f"local-policy {lp['index']}"
    if lp["description"]:
        label += f" ({lp['description']})"
    return label if len(lp["attributes"]) == 1 else f"{label} attr {pa['index']}"


def trunk_name(next_hop: str) -> str:
    # SAG: is case-insensitive on the box; sbc_trunks name groups as "SAG:<group-name>".
    if next_hop.lower().startswith("sag:"):
        return "SAG:" + next_hop[4:]
    return next_hop


def _routes(data: dict[str, Any]) -> tuple[list[SbcRoute], list[str]]:
    """Every policy-attribute as a route, and the numbers emergency-priority policies name."""
    routes: list[SbcRoute] = []
    emergency: list[str] = []
    for lp in data["policies"]:
        for pa in lp["attributes"]:
            routes.append(
                SbcRoute(
                    name=route_name(lp, pa),
                    match={
                        "to-address": " ".join(lp["to"]),
                        "from-address": " ".join(lp["from"]),
                        "source-realm": " ".join(lp["source_realm"]),
                        "cost": str(pa["cost"]),
                        "state": "enabled" if _enabled(lp, pa) else "disabled",
                    },
                    target=trunk_name(pa["next_hop"]) if pa["next_hop"] else None,
                    priority=lp["priority"] if lp["priority"] != "none" else None,
                )
            )
        if lp["priority"] == "emergency" and lp["state"] == "enabled":
            for to in lp["to"]:
                if to != "*" and to not in emergency:
                    emergency.append(to)
    # a PRIORITY network management control names the numbers the box exempts as 911 calls
    # (README [P3]); only whole numbers, not ^-wildcarded prefixes or hosts
    for c in data["controls"]:
        if c["type"] == "PRIORITY" and c["state"] == "enabled":
            for n in c["destination"]:
                if n.isdigit() and n not in emergency:
                    emergency.append(n)
    return routes, emergency


def _trunks(data: dict[str, Any]) -> list[str]:
    trunks: list[str] = []
    for t in (
        [trunk_name(pa["next_hop"]) for lp in data["policies"] for pa in lp["attributes"]]
        + [f"SAG:{g['name']}" for g in data["groups"]]
        + [a["hostname"] for a in data["agents"]]
    ):
        if t and t not in trunks:
            trunks.append(t)
    return trunks


def to_state(collected: Collected) -> DeviceState:
    data = _data(collected.params)
    if not data["policies"]:
        # A capture without local-policy (one element's `show running-config`): what routing
        # fleet would compute from it is not the box's, so it computes none (the
        # coverage.uncertain notice says why) instead of reporting "no route".
        return DeviceState(
            vendor="Oracle",
            profile="acme_packet",
            model=collected.identity.get("model"),
            firmware=collected.identity.get("firmware"),
            raw=dict(collected.params),
        )
    routes, emergency = _routes(data)
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
        model=collected.identity.get("model"),
        firmware=collected.identity.get("firmware"),
        raw=dict(collected.params),
        sbc=SbcState(
            routes=routes,
            trunks=_trunks(data),
            addresses=addresses,
            emergency_numbers=emergency,
            data=data,
            location=_location(collected.params),
        ),
    )


_SPL_OPTIONS = re.compile(r"^spl-config\[\d+\]\.spl-options$")


def _location(params: dict[str, str]) -> SbcLocation:
    """The ELIN gateway (README "Caller location"): the ``ELIN_Gateway`` option of the global
    ``spl-config`` (system > spl-config > spl-options) makes the box take the ELINs a Lync
    mediation server lists with an emergency call and send one as the calling number; it adds
    no location of its own. Options are written ``+Name`` or ``+Name=value`` when added."""
    for key, value in params.items():
        if not _SPL_OPTIONS.match(key):
            continue
        names = [w.lstrip("+").split("=", 1)[0] for w in _words(value)]
        if any(n.lower() == "elin_gateway" for n in names):
            return SbcLocation(
                mode="elin-gateway", source=f"{key.split('.')[0]} spl-options {value}"
            )
    return SbcLocation(mode="none", source="no spl-config spl-options ELIN_Gateway")


def _enabled(lp: dict[str, Any], pa: dict[str, Any]) -> bool:
    return lp["state"] == "enabled" and pa["state"] == "enabled"
