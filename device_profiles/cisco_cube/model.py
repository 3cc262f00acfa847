"""Cisco CUBE: the flat ``<section>: <command>`` parameters -> DeviceState.

``to_state`` rebuilds the dial-peers, translation rules and profiles from the parameters
alone (it runs on the redacted copy); ``SbcState.data`` holds them for routing.py.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from device_profiles.cisco_cube import routing
from device_profiles.cisco_cube.routing import DialPeer, is_outbound, target_of
from fleet.model import (
    Collected,
    DeviceState,
    Finding,
    SbcElin,
    SbcLocation,
    SbcRoute,
    SbcState,
)

SIP_PORT = 5060  # CUBE listens on the SIP default unless told otherwise

_DIAL_PEER_KEY = re.compile(r"^dial-peer voice (\d+) (\S+): (.+)$")
_RULE_KEY = re.compile(r"^voice translation-rule (\S+): rule (\d+)$")
_PROFILE_KEY = re.compile(r"^voice translation-profile (\S+): translate (\S+)$")
_URI_KEY = re.compile(r"^voice class uri (\S+) \S+: (host|pattern|user-id)$")
_ERL_KEY = re.compile(r"^voice emergency response (location|zone) (\d+): (.+)$")
_INTERFACE_KEY = re.compile(r"^interface (\S+): (.+)$")
_CLASS_KEY = re.compile(
    r"^(voice class e164-pattern-map|voice class dpg|voice class server-group|trunk group) "
    r"(\S+): (.+)$"
)


CLASS_KINDS = (
    "voice class e164-pattern-map",
    "voice class dpg",
    "voice class server-group",
    "trunk group",
)


def _peer(p: dict[str, str]) -> DialPeer:
    trunkgroup = (p.get("trunkgroup") or "").split()[0] if p.get("trunkgroup") else ""
    return DialPeer(
        tag=p["tag"],
        type=p["type"],
        description=p.get("description", ""),
        destination_pattern=p.get("destination-pattern", ""),
        session_target=p.get("session target", ""),
        preference=int(p.get("preference") or 0),
        translation_incoming=p.get("translation-profile incoming", ""),
        translation_outgoing=p.get("translation-profile outgoing", ""),
        incoming_called_number=p.get("incoming called-number", ""),
        incoming_uri=p.get("incoming uri", ""),
        answer_address=p.get("answer-address", ""),
        emergency_zone=p.get("emergency response zone", ""),
        emergency_location=p.get("emergency response location", ""),
        port=p.get("port", ""),
        digit_strip=p.get("digit-strip") != "no",
        forward_digits=p.get("forward-digits", ""),
        prefix=p.get("prefix", ""),
        bind_control=p.get("voice-class sip bind control source-interface", ""),
        shutdown=p.get("shutdown") == "yes",
        trunkgroup=trunkgroup,
        e164_map=p.get("destination e164-pattern-map", ""),
        dpg=p.get("destination dpg", ""),
        server_group=p.get("session server-group", ""),
        destination_uri=p.get("destination uri", ""),
        incoming_called_e164_map=p.get("incoming called e164-pattern-map", ""),
        # How a golden template names this trunk: a POTS dial-peer leaves on its trunk
        # group when it has one; else the operator's description, else the dial-peer.
        trunk=(
            trunkgroup
            if p["type"] == "pots" and trunkgroup
            else p.get("description") or f"dial-peer {p['tag']}"
        ),
    )


def _dial_peers(params: dict[str, str]) -> list[DialPeer]:
    peers: dict[str, dict[str, str]] = {}
    for key, value in params.items():
        m = _DIAL_PEER_KEY.match(key)
        if not m:
            continue
        tag, kind, cmd = m.groups()
        peers.setdefault(tag, {"tag": tag, "type": kind})[cmd] = value
    return [_peer(p) for p in peers.values()]


def _interfaces(params: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in params.items():
        m = _INTERFACE_KEY.match(key)
        if m:
            out.setdefault(m.group(1), {})[m.group(2)] = value
    return out


def _addresses(params: dict[str, str], peers: list[DialPeer]) -> list[str]:
    ifs = _interfaces(params)

    def addr(name: str) -> str | None:
        ip = ifs.get(name, {}).get("ip address", "").split()
        return f"{ip[0]}:{SIP_PORT}" if ip else None

    binds = [params.get("voice service voip: sip bind control source-interface", "")]
    binds += [p.bind_control for p in peers if not p.shutdown]
    out: list[str] = []
    for b in binds:
        a = addr(b) if b else None
        if a and a not in out:
            out.append(a)
    if out:
        return out
    # Unbound, CUBE answers SIP on every interface address; a management VRF carries none.
    for name, i in ifs.items():
        a = addr(name)
        if a and i.get("shutdown") != "yes" and "vrf forwarding" not in i and a not in out:
            out.append(a)
    return out


def _netmask_cidr(value: str) -> str:
    parts = value.split()
    try:
        return str(ipaddress.ip_network(f"{parts[0]}/{parts[1]}", strict=False))
    except (ValueError, IndexError):
        return value


@dataclass(slots=True)
class _Voice:
    """The voice classes, translations and emergency locations, as read from the params."""

    rules: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    uris: dict[str, dict[str, Any]] = field(default_factory=dict)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    zones: dict[str, list[str]] = field(default_factory=dict)
    classes: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: {k: {} for k in CLASS_KINDS}
    )

    def uri(self, tag: str, cmd: str, value: str) -> None:
        u = self.uris.setdefault(tag, {"hosts": [], "pattern": "", "user_id": ""})
        if cmd == "host":
            u["hosts"] = value.split()
        else:
            u[cmd.replace("-", "_")] = value

    def erl(self, kind: str, ident: str, cmd: str, value: str) -> None:
        if kind == "zone":
            self.zones[ident] = value.split()
            return
        loc = self.locations.setdefault(ident, {"name": "", "elins": [], "subnets": []})
        if cmd == "name":
            loc["name"] = value
        elif cmd.startswith("elin"):
            loc["elins"].append(value)
        elif cmd.startswith("subnet"):
            loc["subnets"].append(_netmask_cidr(value))

    def read(self, key: str, value: str) -> None:
        if m := _CLASS_KEY.match(key):
            self.classes[m.group(1)].setdefault(m.group(2), {})[m.group(3)] = value
        elif m := _RULE_KEY.match(key):
            self.rules.setdefault(m.group(1), {})[m.group(2)] = routing.parse_rule(value)
        elif m := _PROFILE_KEY.match(key):
            self.profiles.setdefault(m.group(1), {})[m.group(2)] = value
        elif m := _URI_KEY.match(key):
            self.uri(m.group(1), m.group(2), value)
        elif m := _ERL_KEY.match(key):
            self.erl(m.group(1), m.group(2), m.group(3), value)


@dataclass(slots=True)
class _Trunk:
    dial_peers: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)


def _route_of(p: DialPeer) -> SbcRoute:
    match = (
        {"destination-pattern": p.destination_pattern}
        if p.destination_pattern
        else {"destination e164-pattern-map": p.e164_map}
    )
    if p.preference:
        match["preference"] = str(p.preference)
    if p.translation_outgoing:
        match["translation-profile outgoing"] = p.translation_outgoing
    if p.shutdown:
        match["shutdown"] = "yes"
    return SbcRoute(
        name=p.name, match=match, target=p.trunk, priority="emergency" if p.emergency else None
    )


def _add_trunk(trunks: dict[str, _Trunk], p: DialPeer) -> None:
    t = trunks.setdefault(p.trunk, _Trunk())
    t.dial_peers.append(p.name)
    desc = p.description
    if p.type == "pots" and p.trunkgroup and desc and desc not in t.dial_peers:
        t.dial_peers.append(desc)
    target = target_of(p)
    if target not in t.targets:
        t.targets.append(target)


def _routes(
    peers: list[DialPeer],
) -> tuple[list[SbcRoute], dict[str, _Trunk], list[str]]:
    """The outbound dial-peers as routes, the trunks they leave on, the emergency numbers."""
    routes: list[SbcRoute] = []
    trunks: dict[str, _Trunk] = {}
    emergency: list[str] = []
    for p in peers:
        if not is_outbound(p):
            continue
        if not p.shutdown:
            _add_trunk(trunks, p)
        routes.append(_route_of(p))
        literal = p.destination_pattern.lstrip("^").rstrip("$")
        if p.emergency and not p.shutdown and literal.isdigit() and literal not in emergency:
            emergency.append(literal)
    return routes, trunks, emergency


def _data(params: dict[str, str], peers: list[DialPeer], voice: _Voice) -> dict[str, Any]:
    classes = voice.classes
    return {
        "hunt": int(params.get("dial-peer hunt") or 0),
        "e164_maps": {
            tag: {"e164": c.get("e164", "").split(), "url": c.get("url", "")}
            for tag, c in classes["voice class e164-pattern-map"].items()
        },
        "dpgs": {
            tag: [
                {"tag": k.split()[1], "preference": int(v or 0)}
                for k, v in c.items()
                if k.startswith("dial-peer ")
            ]
            for tag, c in classes["voice class dpg"].items()
        },
        "server_groups": {
            tag: [h for k in ("ipv4", "ipv6", "dns") for h in c.get(k, "").split()]
            for tag, c in classes["voice class server-group"].items()
        },
        "trunk_groups": sorted(classes["trunk group"]),
        "voip_incoming_profile": params.get("voip-incoming translation-profile", ""),
        "dial_peers": [asdict(p) for p in peers],
        "translation_rules": voice.rules,
        "translation_profiles": voice.profiles,
        "uri_classes": voice.uris,
        "locations": voice.locations,
        "zones": voice.zones,
    }


def _location(params: dict[str, str], peers: list[DialPeer], voice: _Voice) -> SbcLocation:
    """Cisco Enhanced 911 ([S3], [S4]): an outbound dial-peer with ``emergency response zone``
    or ``location`` replaces the calling number with the ELIN of the location whose subnet
    holds the caller (a zone lists its locations); ``emergency response callback`` marks the
    dial-peer a PSAP's callback to an ELIN comes in on."""
    elins: dict[str, SbcElin] = {}
    for p in peers:
        if not is_outbound(p) or p.shutdown or not p.emergency:
            continue
        ids = (
            [p.emergency_location]
            if p.emergency_location
            else voice.zones.get(p.emergency_zone, [])
        )
        for ident in ids:
            erl = voice.locations.get(ident)
            if not erl or not erl["elins"]:
                continue
            label = f"voice emergency response location {ident}"
            e = elins.setdefault(
                ident,
                SbcElin(
                    elin=erl["elins"][0],
                    subnets=list(erl["subnets"]),
                    name=f"{label} ({erl['name']})" if erl["name"] else label,
                ),
            )
            if p.name not in e.routes:
                e.routes.append(p.name)
    callback = [
        f"{p.name}: emergency response callback"
        + (
            f" (incoming called-number {p.incoming_called_number})"
            if p.incoming_called_number
            else ""
        )
        for p in peers
        if params.get(f"dial-peer voice {p.tag} {p.type}: emergency response callback")
    ]
    return SbcLocation(
        mode="elin" if elins else "none",
        source="voice emergency response location|zone",
        elins=list(elins.values()),
        callback=callback,
    )


def to_state(c: Collected) -> DeviceState:
    params = c.params
    peers = _dial_peers(params)
    voice = _Voice()
    for key, value in params.items():
        voice.read(key, value)
    routes, trunks, emergency = _routes(peers)
    data = _data(params, peers, voice)
    return DeviceState(
        notices=_notices(peers, data),
        vendor="Cisco",
        profile="cisco_cube",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        lines=[],
        raw=dict(params),
        sbc=SbcState(
            routes=routes,
            trunks=list(trunks),
            addresses=_addresses(params, peers),
            emergency_numbers=emergency,
            data=data,
            # Every name a golden template may give a trunk: description, dial-peer, target.
            trunk_aliases={name: [*t.dial_peers, *t.targets] for name, t in trunks.items()},
            location=_location(params, peers, voice),
        ),
    )


_REFS = (
    ("e164_map", "e164_maps", "voice class e164-pattern-map"),
    ("dpg", "dpgs", "voice class dpg"),
    ("server_group", "server_groups", "voice class server-group"),
)


def _peer_notices(p: DialPeer, data: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    if p.destination_uri:
        out.append(
            _uncertain(
                p.name,
                f"{p.name} matches by destination uri {p.destination_uri}: URI matching of "
                "outbound dial-peers is not evaluated",
            )
        )
    for attr, table, what in _REFS:
        ref = getattr(p, attr)
        if ref and ref not in data[table]:
            out.append(
                _uncertain(
                    p.name,
                    f"{p.name} refers to {what} {ref}, which the configuration does not "
                    "define: what IOS does with it is not known here",
                )
            )
    return out


def _uncertain(subject: str, message: str) -> Finding:
    return Finding("coverage.uncertain", "high", subject, message)


def _notices(peers: list[DialPeer], data: dict[str, Any]) -> list[Finding]:
    """What fleet read but cannot evaluate as IOS would: each is coverage.uncertain."""
    out = [
        _uncertain(
            f"voice class e164-pattern-map {tag}",
            f"voice class e164-pattern-map {tag} loads its patterns from a file (url): "
            "the file is not in the configuration, so its entries are not evaluated",
        )
        for tag, m in data["e164_maps"].items()
        if m["url"]
    ]
    for ident, loc in data["locations"].items():
        for net in loc.get("subnets", []):
            if not _is_network(net):
                out.append(
                    Finding(
                        "config.malformed",
                        "medium",
                        f"voice emergency response location {ident}",
                        f"voice emergency response location {ident}: subnet {net!r} is not an "
                        "address and mask, so no caller is matched to this location (and its "
                        "ELIN) by it",
                    )
                )
    for p in peers:
        if not p.shutdown:
            out += _peer_notices(p, data)
    return out


def _is_network(net: str) -> bool:
    try:
        ipaddress.ip_network(net, strict=False)
    except ValueError:
        return False
    return True
