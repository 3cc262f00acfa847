"""Poly / Polycom UC Software (VVX, Trio, Edge E): the REST API and the XML provisioning files.

Parameter names, file layout and API shapes are cited in README.md beside this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import PurePosixPath
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from device_profiles import xmldecl
from fleet.collect.http import HttpHost, HttpReply
from fleet.errors import ConfigFileError, DeviceError, ProtocolError
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

SYNTAX = "mgcp"
# Index ranges read over the REST API and evaluated in files (README: "Index ranges").
LINES = range(1, 13)  # reg.1..12: the line count of a VVX 4xx/Trio; more is very rare
EMERGENCY = range(1, 4)  # dialplan.routing.emergency.1..3; each value may list several numbers
EMERGENCY_SERVERS = range(1, 3)  # .X.server.1..2 (failover order)
ROUTING_SERVERS = range(1, 3)  # dialplan.routing.server.1..2
LINE_EMERGENCY = range(1, 3)  # dialplan.N.routing.emergency.1..2 (what templates carry)
BATCH = 20  # config/get takes at most 20 names a call (README: "Batching")

DEVICE_INFO = ("/api/v1/mgmt/device/info", "/api/v2/mgmt/device/info")
CONFIG_GET = "/api/v1/mgmt/config/get"
REST_DISABLED = (
    'REST API disabled on the phone (HTTP 404 on {path}): set apps.restapi.enabled="1" '
    "in its provisioning files (or Settings > Applications > REST API in the web UI) and "
    "let it reboot"
)
API_STATUS = {
    "4000": "invalid input parameters",
    "4001": "device busy: retry later",
    "4003": "operation not allowed",
    "4009": "input size limit exceeded",
    "5000": "failed to process request",
    "5500": "internal server error: reboot the phone",
}
# Values of reg.N.server.S.transport and friends, in vendor-neutral words.
TRANSPORTS = {
    "udponly": "udp",
    "tcponly": "tcp",
    "tcppreferred": "tcp",
    "tls": "tls",
    "dnsnaptr": "dnsnaptr",
}
DIALPLAN_OPTIONS = (
    "dialplan.digitmap.timeOut",
    "dialplan.impossibleMatchHandling",
    "dialplan.removeEndOfDial",
    "dialplan.applyToUserDial",
    "dialplan.applyToUserSend",
)
GLOBAL_PARAMS: tuple[str, ...] = (
    "dialplan.digitmap",
    *DIALPLAN_OPTIONS,
    "device.prov.serverName",
    "device.prov.serverType",
    "dialplan.routing.emergency.preferredSource",
    "dialplan.routing.emergency.outboundIdentity",
    # ELIN over LLDP-MED needs LLDP on: without it a swept phone's location is unproven
    "device.net.lldpEnabled",
    *chain.from_iterable(
        (
            f"dialplan.routing.emergency.{x}.value",
            *(f"dialplan.routing.emergency.{x}.server.{y}" for y in EMERGENCY_SERVERS),
        )
        for x in EMERGENCY
    ),
    *chain.from_iterable(
        (f"dialplan.routing.server.{s}.{k}" for k in ("address", "port", "transport"))
        for s in ROUTING_SERVERS
    ),
    *(f"voIpProt.server.1.{k}" for k in ("address", "port", "transport")),
    *(f"voIpProt.SIP.outboundProxy.{k}" for k in ("address", "port", "transport")),
)
SECRET_KEYS = re.compile(r"(?i)(password|passwd|\.key$|\.psk|secret)")
_MAC_RE = re.compile(r"^([0-9a-fA-F]{12})(?:[-_.]|$)")
# The phone reads parameters as attributes of any element under any root: the vendor's own
# files use polycomConfig, sip, phone1, PHONE_CONFIG/WEB_CONFIG/OVERRIDES; FusionPBX's VVX
# templates use <PHONE><REGISTRATION .../>; wazo-provd's common.cfg uses <config>. So the root
# name is not a test; a tag carrying a Poly parameter as an attribute is.
_DETECT_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)[\s/>]")
_DETECT_ATTR = re.compile(
    r"<[A-Za-z_][\w.-]*\s(?:[^<>]*\s)?(?:reg\.\d+|voIpProt|dialplan|device|apps|tcpIpApp)\."
    r"[\w.]+\s*=\s*[\"']"
)
# CONFIG_FILES, and the model-specific CONFIG_FILES_<MODEL> of <APPLICATION_<MODEL>> children
# (vendor 000000000000.cfg; FusionPBX polycom/650/{$mac}.cfg).
_CONFIG_FILES = re.compile(r"\bCONFIG_FILES(_[\w-]+)?\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# expat's error code for an attribute given twice on one element (XML 1.0 §3.1, WFC
# "Unique Att Spec"); UC Software parses its files with expat (README: "Repeated attributes").
_EXPAT_DUPLICATE_ATTRIBUTE = 8


def line_params(n: int) -> list[str]:
    """What a configured line needs besides reg.N.address, which the first call reads."""
    return [
        *(f"reg.{n}.server.1.{k}" for k in ("address", "port", "transport")),
        *(f"reg.{n}.outboundProxy.{k}" for k in ("address", "port", "transport")),
        f"reg.{n}.auth.userId",
        f"dialplan.{n}.digitmap",
        f"dialplan.{n}.digitmap.timeOut",
        f"dialplan.{n}.impossibleMatchHandling",
        f"dialplan.{n}.removeEndOfDial",
        *chain.from_iterable(
            (
                f"dialplan.{n}.routing.emergency.{x}.value",
                f"dialplan.{n}.routing.emergency.{x}.server.1",
            )
            for x in LINE_EMERGENCY
        ),
        *(f"dialplan.{n}.routing.server.1.{k}" for k in ("address", "port")),
    ]


# ---------------------------------------------------------------- REST API


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    """device/info, then config/get in batches of 20: line addresses first, then details."""
    identity, info_path = await _device_info(host)
    addresses = [f"reg.{n}.address" for n in LINES]
    first = [*addresses, *GLOBAL_PARAMS][:BATCH]
    params = await _config_get(host, first)
    configured = [n for n in LINES if params.get(f"reg.{n}.address", "").strip()]
    rest = [*GLOBAL_PARAMS[BATCH - len(addresses) :]]
    rest += [p for n in configured for p in line_params(n)]
    rest += [w for w in dict.fromkeys(wanted) if w not in params and w not in rest]
    for i in range(0, len(rest), BATCH):
        params.update(await _config_get(host, rest[i : i + BATCH]))
    return Collected(
        params=params, identity=identity, sources=[f"GET {info_path}", f"POST {CONFIG_GET}"]
    )


async def _device_info(host: HttpHost) -> tuple[dict[str, str], str]:
    # v1 answers on UCS 5.x-7.x; some newer builds only carry v2, so fall back before
    # concluding that the API is off.
    for path in DEVICE_INFO:
        reply = await host.request("GET", path, ok=(200, 404))
        if reply.status == 200:
            return _identity(_api_data(reply)), path
    raise DeviceError(REST_DISABLED.format(path=DEVICE_INFO[0]))


def _identity(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ProtocolError("device/info: 'data' is not an object")
    fields = {k.lower(): v for k, v in data.items()}
    out: dict[str, str] = {}
    if isinstance(fields.get("modelnumber"), str):
        out["model"] = fields["modelnumber"].strip()
    fw = fields.get("firmwarerelease")
    if not isinstance(fw, str) and isinstance(fields.get("firmware"), dict):
        fw = fields["firmware"].get("Application")  # v2: "7.2.2.1094 28-Feb-22 15:29"
    if isinstance(fw, str) and fw.strip():
        out["firmware"] = fw.split()[0]
    mac = _norm_mac(str(fields.get("macaddress", "")))
    if mac:
        out["mac"] = mac
    return out


async def _config_get(host: HttpHost, names: list[str]) -> dict[str, str]:
    reply = await host.request("POST", CONFIG_GET, json={"data": names}, ok=(200, 400, 404, 500))
    if reply.status == 404:
        raise DeviceError(REST_DISABLED.format(path=CONFIG_GET))
    data = _api_data(reply)
    if not isinstance(data, dict):
        raise ProtocolError(f"{reply.url}: 'data' is not an object of parameters")
    out: dict[str, str] = {}
    for name, item in data.items():
        value = item.get("Value") if isinstance(item, dict) else item
        out[str(name)] = "" if value is None else str(value)
    return out


def _api_data(reply: HttpReply) -> Any:
    body = reply.json()
    if not isinstance(body, dict) or "Status" not in body:
        raise ProtocolError(f"{reply.url}: answer has no 'Status' (not the Poly REST API)")
    status = str(body["Status"])
    if status != "2000":
        why = API_STATUS.get(status, "see the Poly REST API reference")
        raise DeviceError(f"{reply.url}: the phone answered Status {status} ({why})")
    return body.get("data")


# ---------------------------------------------------------------- files


def detect(text: str) -> bool:
    head = _COMMENT.sub("", text.lstrip("\ufeff \t\r\n")[:8192])
    if not head.lstrip().startswith("<"):
        return False
    root = _DETECT_ROOT.search(head)
    if root and root.group(1) == "APPLICATION":
        return "CONFIG_FILES" in head
    return bool(root and _DETECT_ATTR.search(head))


def includes(name: str, text: str) -> list[str]:
    """Every file a master pulls in: the override files, CONFIG_FILES and every
    CONFIG_FILES_<MODEL> list (commented-out lists are not read by the phone)."""
    lists = _config_lists(text)
    if not lists:
        return []
    mac = _mac_from_name(name)
    overrides = [f"{mac}-phone.cfg", f"{mac}-web.cfg"] if mac else []
    names = [*overrides]
    for value in lists.values():
        names += [n for n in _file_list(value, mac) if n not in names]
    return names


def _config_lists(text: str) -> dict[str, str]:
    """{"": CONFIG_FILES, "VVX1500": CONFIG_FILES_VVX1500, ...} outside comments."""
    out: dict[str, str] = {}
    for m in _CONFIG_FILES.finditer(_COMMENT.sub("", text)):
        out.setdefault((m.group(1) or "").lstrip("_"), m.group(2) or m.group(3) or "")
    return out


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    root = _xml(name, text)
    mac = _mac_from_name(name)
    identity = {"mac": mac} if mac else {}
    if root.tag != "APPLICATION":
        return Collected(_attributes(root), identity, [name], notices=_repeats(name, text, root))
    # Precedence, highest first: the phone-UI and web-UI override files, then CONFIG_FILES
    # left to right: the first file that sets a parameter wins.
    order = [f"{mac}-phone.cfg", f"{mac}-web.cfg"] if mac else []
    listed = _file_list(root.get("CONFIG_FILES", ""), mac)
    params: dict[str, str] = {}
    sources = [name]
    notices: list[Finding] = []
    for fname in [*order, *listed]:
        sibling = read_sibling(fname)
        if sibling is None:
            if fname in listed:
                sources.append(f"{fname} (missing)")
                notices.append(_missing_notice(name, fname, listed))
            continue
        tree = _xml(fname, sibling)
        notices += _repeats(fname, sibling, tree)
        for k, v in _attributes(tree).items():
            params.setdefault(k, v)
        sources.append(fname)
    models = {
        m: v
        for m, v in _config_lists(text).items()
        if m and _file_list(v, mac) and _file_list(v, mac) != listed
    }
    if models:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                "CONFIG_FILES",
                f"{name} gives {', '.join(sorted(models))} phones their own file list "
                f"(CONFIG_FILES_<MODEL>), which they load instead of CONFIG_FILES: fleet "
                "evaluated CONFIG_FILES, what applies to those models is not audited here",
                expected="one file list for every model",
                actual=", ".join(f"CONFIG_FILES_{m}" for m in sorted(models)),
            )
        )
    return Collected(params=params, identity=identity, sources=sources, notices=notices)


def _missing_notice(master: str, fname: str, listed: list[str]) -> Finding:
    later = listed[listed.index(fname) + 1 :]
    return Finding(
        "coverage.uncertain",
        "high",
        fname,
        f"{master} lists {fname} in CONFIG_FILES but it is not beside it: what it sets "
        f"(which wins over {', '.join(later) if later else 'nothing after it'}) is unknown, "
        "so this audit covers only the files that were there",
        expected=f"{fname} present",
        actual="missing",
    )


def _xml(name: str, text: str) -> Any:
    body = text.lstrip("\ufeff")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as e:
        line, col = getattr(e, "position", (None, None))
        if getattr(e, "code", None) == _EXPAT_DUPLICATE_ATTRIBUTE and line is not None:
            raise ConfigFileError(_duplicate_message(body, line, col), file=name, line=line) from e
        raise ConfigFileError(f"not well-formed XML ({e})", file=name, line=line) from e
    except DefusedXmlException as e:
        raise ConfigFileError(f"refused XML construct ({type(e).__name__})", file=name) from e
    except (LookupError, ValueError) as e:
        raise xmldecl.refused(name, body) from e


def _duplicate_message(body: str, line: int, col: int | None) -> str:
    # expat columns count from 0; the message counts from 1 like an editor. Only the
    # attribute's name is quoted, never its value (it may be a password).
    lines = body.splitlines()
    at = lines[line - 1][col or 0 :] if 0 < line <= len(lines) else ""
    m = re.match(r"[\w.:-]+", at)
    what = f"attribute {m.group(0)!r}" if m else "an attribute"
    return (
        f"column {(col or 0) + 1}: {what} is given twice on one element, which is not "
        "well-formed XML (XML 1.0 'Unique Att Spec'). Poly UC Software ships the expat "
        "parser, which refuses it, and Poly documents neither whether the phone then skips "
        "the file nor which value wins, so fleet cannot tell what the phone runs: remove one"
    )


def _attributes(root: Any) -> dict[str, str]:
    """Every parameter attribute at any depth; within one file the first occurrence wins."""
    out: dict[str, str] = {}
    for el in root.iter():
        for k, v in el.attrib.items():
            if "." in k and not k.startswith("{"):
                out.setdefault(k, v)
    return out


def _repeats(name: str, text: str, root: Any) -> list[Finding]:
    """A parameter set on two elements of one file with different values (legal XML): Poly
    documents which of several *files* wins, not which of two elements of one file, so the
    choice made (the first) is reported, by key name and line numbers only."""
    values: dict[str, set[str]] = {}
    for el in root.iter():
        for k, v in el.attrib.items():
            if "." in k and not k.startswith("{"):
                values.setdefault(k, set()).add(v)
    clear = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    out = []
    for key in (k for k, vs in values.items() if len(vs) > 1):
        where = [
            clear.count("\n", 0, m.start()) + 1
            for m in re.finditer(rf"(?<![\w.]){re.escape(key)}\s*=", clear)
        ]
        out.append(
            Finding(
                "coverage.uncertain",
                "high",
                key,
                f"{name} sets {key} on more than one element with different values "
                f"(lines {', '.join(map(str, where))}); Poly does not document which one the "
                "phone keeps: fleet evaluated the first",
                expected=f"{key} set once",
                actual=f"set {len(where)} times",
            )
        )
    return out


def _file_list(value: str, mac: str | None) -> list[str]:
    names = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if mac:
            item = item.replace("[PHONE_MAC_ADDRESS]", mac)
        names.append(PurePosixPath(item.split("://", 1)[-1]).name)
    return names


def _mac_from_name(name: str) -> str | None:
    m = _MAC_RE.match(PurePosixPath(name).name)
    return _norm_mac(m.group(1)) if m and m.group(1) != "000000000000" else None


def _norm_mac(text: str) -> str | None:
    mac = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    return mac if len(mac) == 12 else None


# ---------------------------------------------------------------- normalising


def to_state(c: Collected) -> DeviceState:
    p = c.params
    lines = [_line(p, n) for n in LINES if _get(p, f"reg.{n}.address")]
    loc = _location_of(p)
    return DeviceState(
        vendor="Poly",
        profile="polycom",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=c.identity.get("mac"),
        lines=lines,
        provisioning_server=_prov_server(p),
        # the short form, None where the full reading finds no source (LLDP off under ELIN)
        location_source=_location(p) if loc.source != "none" else None,
        location=loc,
        raw=dict(p),
        dialplan=_device_plan(p),
        # a file with no line (a site or factory sip.cfg): its dialplan.routing.emergency.*
        # list is what every phone loading it inherits; its route is not known here
        emergency=[] if lines else _emergency(p, 0, (None, "")),
    )


def _get(p: dict[str, str], key: str) -> str:
    return (p.get(key) or "").strip()


def _hostport(p: dict[str, str], prefix: str) -> tuple[str | None, str]:
    host = _get(p, f"{prefix}.address")
    if not host:
        return None, ""
    port = _get(p, f"{prefix}.port")
    return (f"{host}:{port}" if port and port != "0" else host), f"{prefix}.address"


def _line(p: dict[str, str], n: int) -> Line:
    address = _get(p, f"reg.{n}.address")
    user = address.removeprefix("sip:").split("@", 1)[0]
    registrar, reg_src = _registrar(p, n, address)
    proxy, proxy_src = _hostport(p, f"reg.{n}.outboundProxy")
    if not proxy:
        proxy, proxy_src = _hostport(p, "voIpProt.SIP.outboundProxy")
    fallback = (proxy, proxy_src) if proxy else (registrar, reg_src)
    transport = _get(p, f"reg.{n}.server.1.transport") or _get(p, "voIpProt.server.1.transport")
    user_src = f"reg.{n}.address" if user else f"reg.{n}.auth.userId"
    user = user or _get(p, f"reg.{n}.auth.userId")
    identity = _get(p, OUTBOUND_ID)
    # the configured identity where set (what the phone sends without an ELIN), else the line
    callback, callback_src = (identity, OUTBOUND_ID) if identity else (user, user_src)
    return Line(
        index=n,
        registrar=registrar,
        outbound_proxy=proxy,
        transport=TRANSPORTS.get(transport.lower(), transport.lower()) or None,
        user=user or None,
        dialplan=_dialplan(p, n),
        emergency=_emergency(p, n, fallback),
        callback=callback or None,
        callback_source=callback_src if callback else None,
    )


def _registrar(p: dict[str, str], n: int, address: str) -> tuple[str | None, str]:
    for prefix in (f"reg.{n}.server.1", "voIpProt.server.1"):
        value, src = _hostport(p, prefix)
        if value:
            return value, src
    if "@" in address:  # a full address names the domain the line registers with
        return address.split("@", 1)[1], f"reg.{n}.address"
    return None, ""


def _device_plan(p: dict[str, str]) -> DialPlan | None:
    """The device-wide plan (dialplan.digitmap and its companions), which every line without
    a plan of its own applies: filled whenever the source carries dialplan.digitmap, even
    when it configures no line (a factory sip.cfg). Absent: the firmware's built-in default
    applies, which fleet does not assume (README: "Dial plan: absent vs empty")."""
    if "dialplan.digitmap" not in p:
        return None
    options = {k: _get(p, k) for k in DIALPLAN_OPTIONS if _get(p, k)}
    return DialPlan(SYNTAX, _get(p, "dialplan.digitmap"), "dialplan.digitmap", options)


def _dialplan(p: dict[str, str], n: int) -> DialPlan | None:
    # A per-line digit map replaces the global one, with its companions; when it is empty
    # the global map and the global companions apply (admin guide, dialplan.x.*).
    own = _get(p, f"dialplan.{n}.digitmap")
    if not own:
        return _device_plan(p)
    options: dict[str, str] = {}
    for key in DIALPLAN_OPTIONS:
        line_key = key.replace("dialplan.", f"dialplan.{n}.", 1)
        value = _get(p, line_key) or _get(p, key)
        if value:
            options[key] = value
    return DialPlan(SYNTAX, own, f"dialplan.{n}.digitmap", options)


def _emergency(p: dict[str, str], n: int, fallback: tuple[str | None, str]) -> list[EmergencyEntry]:
    entries: list[EmergencyEntry] = []
    seen: set[str] = set()
    for x in EMERGENCY:
        line_key = f"dialplan.{n}.routing.emergency.{x}"
        own = x in LINE_EMERGENCY and _get(p, f"{line_key}.value")
        base = line_key if own else f"dialplan.routing.emergency.{x}"
        value = _get(p, f"{base}.value")
        if not value:
            continue
        route, route_src = _emergency_route(p, n, base, bool(own))
        if not route:
            route, route_src = fallback
        for number in (v.strip() for v in value.split(",")):
            if number and number not in seen:
                seen.add(number)
                entries.append(EmergencyEntry(number, route, f"{base}.value", route_src))
    return entries


def _emergency_route(
    p: dict[str, str], n: int, base: str, per_line: bool
) -> tuple[str | None, str]:
    """The first configured server the entry names; the index points into routing.server."""
    for y in EMERGENCY_SERVERS:
        index = _get(p, f"{base}.server.{y}")
        if not index.isdigit() or index == "0":
            continue
        prefixes = [f"dialplan.{n}.routing.server.{index}"] if per_line else []
        for prefix in [*prefixes, f"dialplan.routing.server.{index}"]:
            value, src = _hostport(p, prefix)
            if value:
                return value, src
    return None, ""


def _prov_server(p: dict[str, str]) -> str | None:
    # In files, device.* values apply only with device.set="1" and the parameter's own
    # .set="1"; the REST API answers the value in force, without the companions.
    for flag in ("device.set", "device.prov.serverName.set"):
        if flag in p and _get(p, flag) != "1":
            return None
    return _get(p, "device.prov.serverName") or None


def _location(p: dict[str, str]) -> str | None:
    source = _get(p, "dialplan.routing.emergency.preferredSource")
    if source:
        return source
    return "custom" if _get(p, "dialplan.routing.emergency.outboundIdentity") else None


PREFERRED = "dialplan.routing.emergency.preferredSource"
OUTBOUND_ID = "dialplan.routing.emergency.outboundIdentity"
LLDP = "device.net.lldpEnabled"


def _lldp_off(p: dict[str, str]) -> list[str] | None:
    """The parameters that switch LLDP off, when they do. In a file a device.* value applies
    only with device.set="1" and its own .set="1" (as device.prov.serverName); the REST API
    answers the value in force with no .set. So a 0 counts unless a .set says it is not
    applied: a file that leaves the flags out is reported, not passed (fail closed)."""
    if _get(p, LLDP) != "0" or "0" in (_get(p, "device.set"), _get(p, f"{LLDP}.set")):
        return None
    return [f"{k} = {_get(p, k)}" for k in (LLDP, "device.set", f"{LLDP}.set") if k in p]


def _location_of(p: dict[str, str]) -> Location:
    """README "Location and callback": the ELIN from LLDP-MED, or the configured identity."""
    source = _get(p, PREFERRED)
    identity = _get(p, OUTBOUND_ID)
    said = [f"{PREFERRED} = {source}"] if PREFERRED in p else [f"{PREFERRED} (unset)"]
    if source.upper() == "ELIN":
        off = _lldp_off(p)
        if off is not None:
            return Location("none", f"the ELIN comes over LLDP-MED but {LLDP} = 0", said + off)
        # device.net.lldpEnabled is named only when it switches LLDP off: the REST read does
        # not ask for it (README), and a sweep and an audit of the same phone must agree
        return Location("lldp-med", "ELIN from LLDP-MED", said)
    if identity:
        return Location(
            "static", f"outbound identity {identity}", [*said, f"{OUTBOUND_ID} = {identity}"]
        )
    if source:
        return Location(
            "none",
            f"{PREFERRED} = {source!r}",
            said,
            uncertain=f"{PREFERRED} = {source!r} with no {OUTBOUND_ID}: what this value "
            "selects is not documented in the sources read",
        )
    return Location(
        "none", f"neither {PREFERRED} nor {OUTBOUND_ID} is set", [*said, f"{OUTBOUND_ID} (unset)"]
    )


PROFILE = Profile(
    name="polycom",
    vendor="Poly",
    role="phone",
    transport="http",
    default_scheme="http",
    default_username="Polycom",
    fetch=fetch,
    detect=detect,
    parse_files=parse_files,
    includes=includes,
    to_state=to_state,
    secret_keys=SECRET_KEYS,
    dialplan_syntax=SYNTAX,
)
