"""Cisco Unified Border Element (IOS / IOS XE): ``show running-config`` and ``show version``.

The running-config is read section by section with TextFSM (templates/); each configuration
command becomes one flat parameter named ``<section>: <command>`` as IOS prints it, e.g.
``dial-peer voice 999 voip: destination-pattern`` = ``999``. ``to_state`` rebuilds the
dial-peers, translation rules and profiles from those parameters alone (it runs on the
redacted copy), and ``route`` (routing.py) evaluates them as IOS does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device_profiles.cisco_cube import routing
from fleet.cli_parse import parse
from fleet.errors import ConfigFileError
from fleet.model import Collected, DeviceState, Finding, RouteDecision, SbcRoute, SbcState
from fleet.profiles import Profile

TEMPLATES = Path(__file__).parent / "templates"
SIP_PORT = 5060  # CUBE listens on the SIP default unless told otherwise
SHOW_RUN = "show running-config"
SHOW_VERSION = "show version"

_VOICE_CONFIG = re.compile(
    r"(?m)^(?:dial-peer voice \d+ (?:voip|pots)|voice service voip|voice translation-rule \d+)"
    r"\s*$"
)

# Template value -> the IOS dial-peer command it came from (the param's name).
DIAL_PEER_COMMANDS = {
    "DESCRIPTION": "description",
    "DESTINATION_PATTERN": "destination-pattern",
    "SESSION_PROTOCOL": "session protocol",
    "SESSION_TARGET": "session target",
    "PREFERENCE": "preference",
    "TRANSLATION_INCOMING": "translation-profile incoming",
    "TRANSLATION_OUTGOING": "translation-profile outgoing",
    "INCOMING_CALLED_NUMBER": "incoming called-number",
    "INCOMING_URI": "incoming uri",
    "ANSWER_ADDRESS": "answer-address",
    "VOICE_CLASS_CODEC": "voice-class codec",
    "CODEC": "codec",
    "EMERGENCY_RESPONSE_ZONE": "emergency response zone",
    "EMERGENCY_RESPONSE_LOCATION": "emergency response location",
    "PORT": "port",
    "FORWARD_DIGITS": "forward-digits",
    "PREFIX": "prefix",
    "BIND_CONTROL": "voice-class sip bind control source-interface",
    "HUNTSTOP": "huntstop",
    "TRUNKGROUP": "trunkgroup",
    "DESTINATION_E164_MAP": "destination e164-pattern-map",
    "DESTINATION_DPG": "destination dpg",
    "SESSION_SERVER_GROUP": "session server-group",
    "DESTINATION_URI": "destination uri",
    "INCOMING_CALLED_E164_MAP": "incoming called e164-pattern-map",
}
GLOBAL_COMMANDS = {
    "VERSION": "version",
    "HOSTNAME": "hostname",
    "ENABLE_SECRET": "enable secret",
    "ENABLE_PASSWORD": "enable password",
    "DIAL_PEER_HUNT": "dial-peer hunt",
    "VOIP_INCOMING_PROFILE": "voip-incoming translation-profile",
    "LICENSE_PID": "license udi pid",
    "LICENSE_SN": "license udi sn",
}
SIP_UA_COMMANDS = {
    "AUTHENTICATION_USERNAME": "authentication username",
    "AUTHENTICATION_PASSWORD": "authentication password",
    "CREDENTIALS_USERNAME": "credentials username",
    "CREDENTIALS_PASSWORD": "credentials password",
    "CREDENTIALS_REALM": "credentials realm",
    "SIP_SERVER": "sip-server",
}
VERSION_COMMANDS = {
    "XE_VERSION": "xe version",
    "VERSION": "version",
    "SOFTWARE_IMAGE": "software image",
    "RUNNING_IMAGE": "system image file",
    "HARDWARE": "hardware",
    "SERIAL": "processor board id",
    "CONFIG_REGISTER": "configuration register",
}

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


def _records(template: str, text: str) -> list[dict[str, Any]]:
    return parse(TEMPLATES / f"{template}.textfsm", text)


def detect(text: str) -> bool:
    return _VOICE_CONFIG.search(text) is not None


def _line_of(text: str, needle: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


def parse_running_config(text: str, name: str = SHOW_RUN) -> dict[str, str]:
    """The running-config's voice configuration as flat ``<section>: <command>`` params."""
    text = text.replace("\r", "")
    p: dict[str, str] = {}
    for r in _records("cisco_ios_running_global", text):
        for field, cmd in GLOBAL_COMMANDS.items():
            if r[field]:
                p[cmd] = r[field]
    for r in _records("cisco_ios_running_username", text):
        p[f"username {r['USERNAME']}: privilege"] = r["PRIVILEGE"] or "1"
        if r["SECRET_KIND"]:
            p[f"username {r['USERNAME']}: {r['SECRET_KIND']}"] = r["SECRET"]
    for r in _records("cisco_ios_running_interface", text):
        sec = f"interface {r['INTERFACE']}"
        if r["IP_ADDRESS"]:
            p[f"{sec}: ip address"] = f"{r['IP_ADDRESS']} {r['NETMASK']}"
        if r["DESCRIPTION"]:
            p[f"{sec}: description"] = r["DESCRIPTION"]
        if r["VRF"]:
            p[f"{sec}: vrf forwarding"] = r["VRF"]
        p[f"{sec}: shutdown"] = "yes" if r["SHUTDOWN"] else "no"
    for r in _records("cisco_ios_running_voice_service", text):
        if r["ALLOW_CONNECTIONS"]:
            p["voice service voip: allow-connections"] = ", ".join(r["ALLOW_CONNECTIONS"])
        if r["BIND_CONTROL"]:
            p["voice service voip: sip bind control source-interface"] = r["BIND_CONTROL"]
        if r["BIND_MEDIA"]:
            p["voice service voip: sip bind media source-interface"] = r["BIND_MEDIA"]
    for r in _records("cisco_ios_running_voice_class_uri", text):
        sec = f"voice class uri {r['TAG']} {r['PROTOCOL']}"
        p[f"{sec}: host"] = " ".join(r["HOST"])
        if r["PATTERN"]:
            p[f"{sec}: pattern"] = r["PATTERN"]
        if r["USER_ID"]:
            p[f"{sec}: user-id"] = r["USER_ID"]
    for r in _records("cisco_ios_running_translation_rule", text):
        body = f"reject /{r['MATCH']}/" if r["ACTION"] else f"/{r['MATCH']}/ /{r['REPLACE']}/"
        if r["OPTIONS"]:
            body += f" {r['OPTIONS']}"
        p[f"voice translation-rule {r['RULESET']}: rule {r['PRECEDENCE']}"] = body
    for r in _records("cisco_ios_running_translation_profile", text):
        key = f"voice translation-profile {r['PROFILE']}: translate {r['DIRECTION']}"
        p[key] = r["RULESET"]
    for r in _records("cisco_ios_running_emergency_response", text):
        sec = f"voice emergency response {r['KIND']} {r['ID']}"
        if r["KIND"] == "zone":
            p[f"{sec}: location"] = " ".join(r["LOCATIONS"])
            continue
        p[f"{sec}: name"] = r["NAME"]
        for field, cmd in (
            ("ELIN_1", "elin 1"),
            ("ELIN_2", "elin 2"),
            ("SUBNET_1", "subnet 1"),
            ("SUBNET_2", "subnet 2"),
        ):
            if r[field]:
                p[f"{sec}: {cmd}"] = r[field]
    for r in _records("cisco_ios_running_dial_peer", text):
        sec = f"dial-peer voice {r['TAG']} {r['TYPE']}"
        p[f"{sec}: shutdown"] = "yes" if r["SHUTDOWN"] else "no"
        for field, cmd in DIAL_PEER_COMMANDS.items():
            if r[field]:
                p[f"{sec}: {cmd}"] = r[field]
        if r["NO_DIGIT_STRIP"]:
            p[f"{sec}: digit-strip"] = "no"
        for cmd in ("destination-pattern", "incoming called-number", "answer-address"):
            value = p.get(f"{sec}: {cmd}")
            if value is None:
                continue
            try:
                routing.number_pattern(value)
            except ValueError as e:
                raise ConfigFileError(
                    str(e), file=name, line=_line_of(text, f" {cmd} {value}"), field=sec
                ) from e
    for r in _records("cisco_ios_running_voice_class_routing", text):
        kind = " ".join(r["KIND"].split())
        sec = f"{kind} {r['ID']}"
        p[f"{sec}: defined"] = "yes"
        for entry in r["ENTRIES"]:
            word, _, rest = entry.partition(" ")
            if kind == "voice class e164-pattern-map" and word in ("e164", "url"):
                if word == "e164":
                    try:
                        routing.number_pattern(rest.strip())
                    except ValueError as e:
                        line = _line_of(text, f"e164 {rest.strip()}")
                        raise ConfigFileError(str(e), file=name, line=line, field=sec) from e
                key = f"{sec}: {word}"
                p[key] = f"{p[key]} {rest.strip()}" if key in p else rest.strip()
            elif kind == "voice class dpg" and word == "dial-peer":
                tag, _, pref = rest.partition(" preference ")
                p[f"{sec}: dial-peer {tag.strip()}"] = pref.strip() or "0"
            elif kind == "voice class server-group" and word in ("ipv4", "ipv6", "dns"):
                key = f"{sec}: {word}"
                host = rest.split()[0] if rest.split() else ""
                p[key] = f"{p[key]} {host}" if key in p else host
    for r in _records("cisco_ios_running_sip_ua", text):
        for field, cmd in SIP_UA_COMMANDS.items():
            if r[field]:
                p[f"sip-ua: {cmd}"] = r[field]
    return p


def parse_show_version(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """``show version`` as params and the identity it reports (model, firmware)."""
    recs = _records("cisco_ios_show_version", text)
    if not recs:
        return {}, {}
    r = recs[0]
    params = {f"show version: {cmd}": r[f] for f, cmd in VERSION_COMMANDS.items() if r[f]}
    identity: dict[str, str] = {}
    if r["HARDWARE"]:
        identity["model"] = r["HARDWARE"]
    # IOS XE names its release on the first line; classic IOS only in the IOS line.
    if r["XE_VERSION"] or r["VERSION"]:
        identity["firmware"] = r["XE_VERSION"] or r["VERSION"]
    return params, identity


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    if not detect(text):
        raise ConfigFileError(
            "not a Cisco IOS running-config with voice configuration (no dial-peer voice, "
            "voice service voip or voice translation-rule)",
            file=name,
        )
    params = parse_running_config(text, name)
    identity = {"model": params["license udi pid"]} if params.get("license udi pid") else {}
    return Collected(params=params, identity=identity, sources=[name])


_E164_URL = re.compile(r"(?m)^\s+url\s+(\S+)\s*$")


def includes(name: str, text: str) -> list[str]:
    """Files a running-config pulls in: the pattern files of ``voice class e164-pattern-map
    N`` / ``url flash:NAME`` (doc 211306, E164-Pattern-Maps, Flash Configuration Example)."""
    if not detect(text):
        return []
    out = []
    for m in _E164_URL.finditer(text.replace("\r", "")):
        base = re.split(r"[:/]", m.group(1))[-1]
        if base and base not in out:
            out.append(base)
    return out


def parse_cli(outputs: dict[str, str]) -> Collected:
    run = next((v for k, v in outputs.items() if k.startswith("show run")), None)
    if run is None:
        run = next(iter(outputs.values()))
    collected = parse_files(SHOW_RUN, run, lambda _n: None)
    for cmd, text in outputs.items():
        if cmd.startswith("show ver"):
            params, identity = parse_show_version(text)
            collected.params.update(params)
            collected.identity.update(identity)
    collected.sources = list(outputs)
    return collected


# --- to_state ----------------------------------------------------------------------------


def _dial_peers(params: dict[str, str]) -> list[dict[str, Any]]:
    peers: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        m = _DIAL_PEER_KEY.match(key)
        if not m:
            continue
        tag, kind, cmd = m.groups()
        p = peers.setdefault(tag, {"tag": tag, "type": kind})
        p[cmd] = value
    out = []
    for p in peers.values():
        out.append(
            {
                "tag": p["tag"],
                "type": p["type"],
                "description": p.get("description", ""),
                "destination_pattern": p.get("destination-pattern", ""),
                "session_target": p.get("session target", ""),
                "preference": int(p.get("preference") or 0),
                "translation_incoming": p.get("translation-profile incoming", ""),
                "translation_outgoing": p.get("translation-profile outgoing", ""),
                "incoming_called_number": p.get("incoming called-number", ""),
                "incoming_uri": p.get("incoming uri", ""),
                "answer_address": p.get("answer-address", ""),
                "emergency_zone": p.get("emergency response zone", ""),
                "emergency_location": p.get("emergency response location", ""),
                "port": p.get("port", ""),
                "digit_strip": p.get("digit-strip") != "no",
                "forward_digits": p.get("forward-digits", ""),
                "prefix": p.get("prefix", ""),
                "bind_control": p.get("voice-class sip bind control source-interface", ""),
                "shutdown": p.get("shutdown") == "yes",
                "trunkgroup": (p.get("trunkgroup") or "").split()[0] if p.get("trunkgroup") else "",
                "e164_map": p.get("destination e164-pattern-map", ""),
                "dpg": p.get("destination dpg", ""),
                "server_group": p.get("session server-group", ""),
                "destination_uri": p.get("destination uri", ""),
                "incoming_called_e164_map": p.get("incoming called e164-pattern-map", ""),
                # How a golden template names this trunk: a POTS dial-peer leaves on its trunk
                # group when it has one; else the operator's description, else the dial-peer.
                "trunk": (
                    (p.get("trunkgroup") or "").split()[0]
                    if p["type"] == "pots" and p.get("trunkgroup")
                    else p.get("description") or f"dial-peer {p['tag']}"
                ),
            }
        )
    return out


def _is_outbound(p: dict[str, Any]) -> bool:
    return routing.is_outbound(p)


def _target(p: dict[str, Any]) -> str:
    return routing.target_of(p)


def _interfaces(params: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in params.items():
        m = _INTERFACE_KEY.match(key)
        if m:
            out.setdefault(m.group(1), {})[m.group(2)] = value
    return out


def _addresses(params: dict[str, str], peers: list[dict[str, Any]]) -> list[str]:
    ifs = _interfaces(params)

    def addr(name: str) -> str | None:
        ip = ifs.get(name, {}).get("ip address", "").split()
        return f"{ip[0]}:{SIP_PORT}" if ip else None

    binds = [params.get("voice service voip: sip bind control source-interface", "")]
    binds += [p["bind_control"] for p in peers if not p["shutdown"]]
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


def to_state(c: Collected) -> DeviceState:
    params = c.params
    peers = _dial_peers(params)
    rules: dict[str, dict[str, dict[str, Any]]] = {}
    profiles_: dict[str, dict[str, str]] = {}
    uris: dict[str, dict[str, Any]] = {}
    locations: dict[str, dict[str, Any]] = {}
    zones: dict[str, list[str]] = {}
    classes: dict[str, dict[str, dict[str, str]]] = {
        "voice class e164-pattern-map": {},
        "voice class dpg": {},
        "voice class server-group": {},
        "trunk group": {},
    }
    for key, value in params.items():
        if m := _CLASS_KEY.match(key):
            classes[m.group(1)].setdefault(m.group(2), {})[m.group(3)] = value
        elif m := _RULE_KEY.match(key):
            rules.setdefault(m.group(1), {})[m.group(2)] = routing.parse_rule(value)
        elif m := _PROFILE_KEY.match(key):
            profiles_.setdefault(m.group(1), {})[m.group(2)] = value
        elif m := _URI_KEY.match(key):
            u = uris.setdefault(m.group(1), {"hosts": [], "pattern": "", "user_id": ""})
            if m.group(2) == "host":
                u["hosts"] = value.split()
            else:
                u[m.group(2).replace("-", "_")] = value
        elif m := _ERL_KEY.match(key):
            kind, ident, cmd = m.groups()
            if kind == "zone":
                zones[ident] = value.split()
                continue
            loc = locations.setdefault(ident, {"name": "", "elins": [], "subnets": []})
            if cmd == "name":
                loc["name"] = value
            elif cmd.startswith("elin"):
                loc["elins"].append(value)
            elif cmd.startswith("subnet"):
                loc["subnets"].append(_netmask_cidr(value))
    routes: list[SbcRoute] = []
    trunks: dict[str, dict[str, list[str]]] = {}
    emergency: list[str] = []
    for p in peers:
        if not _is_outbound(p):
            continue
        if not p["shutdown"]:
            t = trunks.setdefault(p["trunk"], {"dial_peers": [], "targets": []})
            t["dial_peers"].append(f"dial-peer {p['tag']}")
            target = _target(p)
            desc = p.get("description")
            if p["type"] == "pots" and p["trunkgroup"] and desc and desc not in t["dial_peers"]:
                t["dial_peers"].append(desc)
            if target not in t["targets"]:
                t["targets"].append(target)
        match = (
            {"destination-pattern": p["destination_pattern"]}
            if p["destination_pattern"]
            else {"destination e164-pattern-map": p["e164_map"]}
        )
        if p["preference"]:
            match["preference"] = str(p["preference"])
        if p["translation_outgoing"]:
            match["translation-profile outgoing"] = p["translation_outgoing"]
        if p["shutdown"]:
            match["shutdown"] = "yes"
        is_emergency = bool(p["emergency_zone"] or p["emergency_location"])
        routes.append(
            SbcRoute(
                name=f"dial-peer {p['tag']}",
                match=match,
                target=p["trunk"],
                priority="emergency" if is_emergency else None,
            )
        )
        literal = p["destination_pattern"].lstrip("^").rstrip("$")
        if is_emergency and not p["shutdown"] and literal.isdigit() and literal not in emergency:
            emergency.append(literal)
    e164_maps = {
        tag: {"e164": c.get("e164", "").split(), "url": c.get("url", "")}
        for tag, c in classes["voice class e164-pattern-map"].items()
    }
    dpgs = {
        tag: [
            {"tag": k.split()[1], "preference": int(v or 0)}
            for k, v in c.items()
            if k.startswith("dial-peer ")
        ]
        for tag, c in classes["voice class dpg"].items()
    }
    server_groups = {
        tag: [h for k in ("ipv4", "ipv6", "dns") for h in c.get(k, "").split()]
        for tag, c in classes["voice class server-group"].items()
    }
    data = {
        "hunt": int(params.get("dial-peer hunt") or 0),
        "e164_maps": e164_maps,
        "dpgs": dpgs,
        "server_groups": server_groups,
        "trunk_groups": sorted(classes["trunk group"]),
        "voip_incoming_profile": params.get("voip-incoming translation-profile", ""),
        "dial_peers": peers,
        "translation_rules": rules,
        "translation_profiles": profiles_,
        "uri_classes": uris,
        "locations": locations,
        "zones": zones,
    }
    notices = _notices(peers, data)
    return DeviceState(
        notices=notices,
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
            trunk_aliases={name: [*t["dial_peers"], *t["targets"]] for name, t in trunks.items()},
        ),
    )


def _notices(peers: list[dict[str, Any]], data: dict[str, Any]) -> list[Finding]:
    """What fleet read but cannot evaluate as IOS would: each is coverage.uncertain."""
    out: list[Finding] = []

    def uncertain(subject: str, message: str) -> None:
        out.append(Finding("coverage.uncertain", "high", subject, message))

    for tag, m in data["e164_maps"].items():
        if m["url"]:
            uncertain(
                f"voice class e164-pattern-map {tag}",
                f"voice class e164-pattern-map {tag} loads its patterns from a file (url): "
                "the file is not in the configuration, so its entries are not evaluated",
            )
    for p in peers:
        if p["shutdown"]:
            continue
        name = f"dial-peer {p['tag']}"
        if p["destination_uri"]:
            uncertain(
                name,
                f"{name} matches by destination uri {p['destination_uri']}: URI matching of "
                "outbound dial-peers is not evaluated",
            )
        refs = (
            ("e164_map", "e164_maps", "voice class e164-pattern-map"),
            ("dpg", "dpgs", "voice class dpg"),
            ("server_group", "server_groups", "voice class server-group"),
        )
        for field, table, what in refs:
            if p[field] and p[field] not in data[table]:
                uncertain(
                    name,
                    f"{name} refers to {what} {p[field]}, which the configuration does not "
                    "define: what IOS does with it is not known here",
                )
    return out


def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
    if state.sbc is None:
        return RouteDecision(
            number=number, source=source, outcome="no-route", steps=["no SBC routing configuration"]
        )
    d = routing.route(state.sbc.data, number, source)
    alts = [RouteDecision(**a) for a in d.pop("alternatives", [])]
    return RouteDecision(**d, alternatives=alts)


PROFILE = Profile(
    name="cisco_cube",
    vendor="Cisco",
    role="sbc",
    transport="ssh",
    default_scheme="ssh",
    default_username="admin",
    detect=detect,
    parse_files=parse_files,
    parse_cli=parse_cli,
    to_state=to_state,
    route=route,
    includes=includes,
    # enable secret/password, username ... secret/password, sip-ua authentication and
    # credentials passwords; type 7 "encryption" is reversible, type 5/8/9 are crackable.
    secret_keys=re.compile(
        r"(?i)(^enable (secret|password)$|^username \S+: (secret|password)$"
        r"|^sip-ua: (authentication|credentials) password$|key-string|: key \d)"
    ),
)
