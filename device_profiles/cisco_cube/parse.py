"""Cisco CUBE: ``show running-config`` and ``show version`` read into flat parameters.

The running-config is read section by section with TextFSM (templates/); each configuration
command becomes one flat parameter named ``<section>: <command>`` as IOS prints it, e.g.
``dial-peer voice 999 voip: destination-pattern`` = ``999``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device_profiles.cisco_cube import routing
from fleet.cli_parse import parse
from fleet.errors import ConfigFileError
from fleet.model import Collected

TEMPLATES = Path(__file__).parent / "templates"
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
    "EMERGENCY_RESPONSE_CALLBACK": "emergency response callback",
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


def _records(template: str, text: str) -> list[dict[str, Any]]:
    return parse(TEMPLATES / f"{template}.textfsm", text)


def detect(text: str) -> bool:
    return _VOICE_CONFIG.search(text) is not None


def _line_of(text: str, needle: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


def _global(text: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_global", text):
        for field, cmd in GLOBAL_COMMANDS.items():
            if r[field]:
                p[cmd] = r[field]
    for r in _records("cisco_ios_running_username", text):
        p[f"username {r['USERNAME']}: privilege"] = r["PRIVILEGE"] or "1"
        if r["SECRET_KIND"]:
            p[f"username {r['USERNAME']}: {r['SECRET_KIND']}"] = r["SECRET"]


def _sip_ua(text: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_sip_ua", text):
        for field, cmd in SIP_UA_COMMANDS.items():
            if r[field]:
                p[f"sip-ua: {cmd}"] = r[field]


def _interfaces(text: str, p: dict[str, str]) -> None:
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


def _uri_classes(text: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_voice_class_uri", text):
        sec = f"voice class uri {r['TAG']} {r['PROTOCOL']}"
        p[f"{sec}: host"] = " ".join(r["HOST"])
        if r["PATTERN"]:
            p[f"{sec}: pattern"] = r["PATTERN"]
        if r["USER_ID"]:
            p[f"{sec}: user-id"] = r["USER_ID"]


def _translations(text: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_translation_rule", text):
        body = f"reject /{r['MATCH']}/" if r["ACTION"] else f"/{r['MATCH']}/ /{r['REPLACE']}/"
        if r["OPTIONS"]:
            body += f" {r['OPTIONS']}"
        p[f"voice translation-rule {r['RULESET']}: rule {r['PRECEDENCE']}"] = body
    for r in _records("cisco_ios_running_translation_profile", text):
        key = f"voice translation-profile {r['PROFILE']}: translate {r['DIRECTION']}"
        p[key] = r["RULESET"]


_ERL_COMMANDS = (
    ("ELIN_1", "elin 1"),
    ("ELIN_2", "elin 2"),
    ("SUBNET_1", "subnet 1"),
    ("SUBNET_2", "subnet 2"),
)


def _emergency_response(text: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_emergency_response", text):
        sec = f"voice emergency response {r['KIND']} {r['ID']}"
        if r["KIND"] == "zone":
            p[f"{sec}: location"] = " ".join(r["LOCATIONS"])
            continue
        p[f"{sec}: name"] = r["NAME"]
        for field, cmd in _ERL_COMMANDS:
            if r[field]:
                p[f"{sec}: {cmd}"] = r[field]


def _checked_pattern(value: str, text: str, needle: str, name: str, sec: str) -> None:
    """A number pattern IOS would refuse is a malformed file, reported at its line."""
    try:
        routing.number_pattern(value)
    except ValueError as e:
        raise ConfigFileError(str(e), file=name, line=_line_of(text, needle), field=sec) from e


def _dial_peers(text: str, name: str, p: dict[str, str]) -> None:
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
            if value is not None:
                _checked_pattern(value, text, f" {cmd} {value}", name, sec)


def _append(p: dict[str, str], key: str, value: str) -> None:
    p[key] = f"{p[key]} {value}" if key in p else value


def _class_entry(kind: str, sec: str, entry: str, text: str, name: str, p: dict[str, str]) -> None:
    word, _, rest = entry.partition(" ")
    rest = rest.strip()
    if kind == "voice class e164-pattern-map" and word in ("e164", "url"):
        if word == "e164":
            _checked_pattern(rest, text, f"e164 {rest}", name, sec)
        _append(p, f"{sec}: {word}", rest)
    elif kind == "voice class dpg" and word == "dial-peer":
        tag, _, pref = rest.partition(" preference ")
        p[f"{sec}: dial-peer {tag.strip()}"] = pref.strip() or "0"
    elif kind == "voice class server-group" and word in ("ipv4", "ipv6", "dns"):
        _append(p, f"{sec}: {word}", rest.split()[0] if rest.split() else "")


def _routing_classes(text: str, name: str, p: dict[str, str]) -> None:
    for r in _records("cisco_ios_running_voice_class_routing", text):
        kind = " ".join(r["KIND"].split())
        sec = f"{kind} {r['ID']}"
        p[f"{sec}: defined"] = "yes"
        for entry in r["ENTRIES"]:
            _class_entry(kind, sec, entry, text, name, p)


def parse_running_config(text: str, name: str = SHOW_RUN) -> dict[str, str]:
    """The running-config's voice configuration as flat ``<section>: <command>`` params."""
    text = text.replace("\r", "")
    p: dict[str, str] = {}
    _global(text, p)
    _interfaces(text, p)
    _uri_classes(text, p)
    _translations(text, p)
    _emergency_response(text, p)
    _dial_peers(text, name, p)
    _routing_classes(text, name, p)
    _sip_ua(text, p)
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
