"""Cisco MPP (68xx/78xx/88xx, 3PCC firmware) and SPA phones: the flat profile.

The phone's whole configuration is one flat list of elements named after its web page fields
(``Proxy_1_`` is "Proxy" on the Ext 1 tab). ``GET /admin/spacfg.xml`` returns it together with
the Info/Product_Information status elements; provisioning files carry the same elements inside
``<flat-profile>`` (optionally wrapped, e.g. ``<device><flat-profile>`` in MPP per-MAC cfg.xml).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from device_profiles import xmldecl
from fleet.collect.http import HttpHost
from fleet.errors import (
    ConfigFileError,
    DeviceError,
    ProtocolError,
    ResponseTooLarge,
    Unreachable,
)
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

SPACFG = "/admin/spacfg.xml"
HTTPS_HINT = (
    "Cisco MPP firmware 12.0(3) and later serve the admin pages over HTTPS only: "
    "use https:// in this phone's inventory address"
)
MAYBE_HTTPS_HINT = (
    "if this phone was updated to Cisco MPP firmware 12.0(3) or later, its admin pages are "
    "HTTPS only: use https:// in its inventory address"
)
# Status elements spacfg.xml carries in group "Info/Product_Information".
IDENTITY = {"model": "Product_Name", "firmware": "Software_Version", "mac": "MAC_Address"}
# Regional-tab timers the dial-plan engine needs, and per-Ext companions of the dial plan.
GLOBAL_DIALPLAN_OPTIONS = ("Interdigit_Long_Timer", "Interdigit_Short_Timer")
LINE_DIALPLAN_OPTIONS = ("Enable_IP_Dialing", "Caller_ID_Map")
LINE_KEY = re.compile(r"^(?:Line_Enable|Proxy|User_ID|Dial_Plan|Emergency_Number)_(\d+)_$")
MAC_IN_NAME = re.compile(r"(?i)(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")
RULE_OPTIONS = re.compile(r"^\s*(?:\([^)]*\)\s*\?\s*)?(?:\[[^\]]*\]\s*)?")
# The four profile rules a resync runs, in order; each fetched profile applies over the last.
PROFILE_RULES = ("Profile_Rule", "Profile_Rule_B", "Profile_Rule_C", "Profile_Rule_D")
EMERGENCY_KEY = re.compile(r"^Emergency_Number_\d+_$")
# Elements whose text is a dial-plan script: `<dialed:sent>` rewrites and `<:@gw0>` routes put
# `<` and `>` into the text, which a hand-written file often leaves unescaped.
DIALPLAN_OPEN = re.compile(
    r"<(?P<tag>[A-Za-z_]*Dial_Plan[A-Za-z0-9_]*|Caller_ID_Map_\d+_)(?P<attrs>\s[^<>]*?)?(?<!/)>"
)
CLOSE_TAG = re.compile(r"</([A-Za-z0-9_]+)\s*>")
# <X/> (empty-element form) in a provisioning file leaves the phone's value unchanged.
SELF_CLOSED = re.compile(r"<([A-Za-z_][\w.-]*)(?:\s[^<>]*?)?/>")
# MPP 3PCC model names and load names (CP-8851-3PCC, sip88xx.12-0-4MPP0001-14).
MPP_MODEL = re.compile(r"(?i)^CP-?\d{4}|3PCC|^sip[678]8xx|MPP")


def _yes(value: str | None, default: bool = False) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("yes", "true", "1", "on", "enabled")


def _flat_profile(root: Element) -> Element | None:
    if root.tag == "flat-profile":
        return root
    return root.find(".//flat-profile")


def _params(root: Element, unchanged: frozenset[str] = frozenset()) -> dict[str, str]:
    # A repeated element overrides the earlier one, as the phone applies a profile top-down.
    # ``unchanged``: elements the file names only in the empty-element form, which leaves the
    # phone's value as it is (not set to empty), so the file says nothing about them.
    return {
        # New lines inside a value become spaces; leading and trailing space is dropped.
        el.tag: (el.text or "").strip().replace("\r\n", " ").replace("\n", " ")
        for el in root
        if isinstance(el.tag, str) and el.tag not in unchanged
    }


def _parse_xml(text: str) -> Element:
    return fromstring(text.encode("utf-8"))


def _escape_dialplans(text: str) -> tuple[str, list[tuple[str, int]]]:
    """``text`` with raw ``<``/``>`` inside dial-plan elements escaped, and which elements
    (tag, line) held a raw ``<``. No newline is added, so line numbers stay those of the file.

    Each element runs from its opening tag to the first closing tag of the same name. The
    closing tags are indexed once, so a file of many unclosed elements stays linear (a lazy
    ``.*?</tag>`` regular expression rescans the rest of the file for each of them)."""
    closes: dict[str, list[tuple[int, int]]] = {}
    for c in CLOSE_TAG.finditer(text):
        closes.setdefault(c.group(1), []).append((c.start(), c.end()))
    fixed: list[tuple[str, int]] = []
    out: list[str] = []
    pos = 0
    for m in DIALPLAN_OPEN.finditer(text):
        if m.start() < pos:
            continue
        spans = closes.get(m.group("tag"), [])
        i = bisect.bisect_left(spans, (m.end(), 0))
        if i == len(spans):
            continue
        body = text[m.end() : spans[i][0]]
        if "<" in body and "<!--" not in body and "<![CDATA[" not in body:
            fixed.append((m.group("tag"), text.count("\n", 0, m.start()) + 1))
            out += [text[pos : m.end()], body.replace("<", "&lt;").replace(">", "&gt;")]
            pos = spans[i][0]
        else:
            out.append(text[pos : spans[i][1]])
            pos = spans[i][1]
    out.append(text[pos:])
    return "".join(out), fixed


def _read_file(name: str, text: str) -> tuple[Element, list[Finding]]:
    """Parse a provisioning file; recover a dial plan written with raw ``<dialed:sent>``
    brackets (invalid XML) as the text between its tags, with a ``config.malformed`` notice."""
    notices: list[Finding] = []
    try:
        root = _parse_xml(text)
    except (LookupError, ValueError) as e:
        raise xmldecl.refused(name, text) from e
    except ParseError as e:
        repaired, fixed = _escape_dialplans(text)
        if not fixed:
            line = e.position[0] if getattr(e, "position", None) else None
            raise ConfigFileError(f"not well-formed XML ({e})", file=name, line=line) from e
        try:
            root = _parse_xml(repaired)
        except ParseError as e2:
            line = e2.position[0] if getattr(e2, "position", None) else None
            raise ConfigFileError(f"not well-formed XML ({e2})", file=name, line=line) from e2
        for tag, line in fixed:
            notices.append(
                Finding(
                    "config.malformed",
                    "medium",
                    tag,
                    f"{name} line {line}: <{tag}> holds an unescaped '<' (a <dialed:sent> "
                    "rewrite), so the file is not well-formed XML; the provisioning guides "
                    "require &lt; and &gt; there. fleet read the element's text up to "
                    f"</{tag}> as the dial plan, brackets as written (what an XML parser is "
                    "given once they are escaped). Whether the phone applies or rejects such "
                    "a file is not documented: escape them in the file.",
                    expected="&lt; and &gt; inside the dial plan",
                    actual="unescaped <",
                    evidence=[f"{name}:{line}"],
                )
            )
    except DefusedXmlException as e:
        raise ConfigFileError(f"refused XML ({type(e).__name__})", file=name) from e
    return root, notices


def _file_params(name: str, text: str) -> tuple[dict[str, str], list[Finding]]:
    root, notices = _read_file(name, text)
    flat = _flat_profile(root)
    if flat is None:
        raise ConfigFileError("no <flat-profile> element", file=name)
    if any(flat.find(tag) is not None for tag in IDENTITY.values()):
        # The phone's own dump (spacfg.xml saved to a file, status elements and all): there
        # <X/> shows an empty value.
        return _params(flat), notices
    closed = {m.group(1) for m in SELF_CLOSED.finditer(text)}
    opened = set(re.findall(r"<([A-Za-z_][\w.-]*)(?:\s[^<>]*?)?(?<!/)>", text))
    return _params(flat, frozenset(closed - opened)), notices


def parse_spacfg(body: bytes, url: str) -> dict[str, str]:
    """The params of a /admin/spacfg.xml answer; anything else is a ProtocolError."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as e:
        # Never echo the body: it is the phone's whole configuration, passwords included.
        raise ProtocolError(f"{url}: answer is not the phone's XML flat profile ({e})") from e
    flat = _flat_profile(root)
    if flat is None:
        raise ProtocolError(f"{url}: XML answer without a <flat-profile> element")
    return _params(flat)


def _identity(params: dict[str, str]) -> dict[str, str]:
    return {k: params[p] for k, p in IDENTITY.items() if params.get(p)}


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    # spacfg.xml is the whole profile, so every name in ``wanted`` is already in it.
    plain_http = host.base_url.lower().startswith("http://")
    try:
        reply = await host.request("GET", SPACFG, ok=(200, 301, 302, 303, 307, 308, 403, 404))
    except ProtocolError as e:
        # An HTTPS-only phone's port drops a plain-HTTP request without an HTTP answer.
        if plain_http and not isinstance(e, ResponseTooLarge):
            raise ProtocolError(f"{e}; {MAYBE_HTTPS_HINT}") from e
        raise
    except Unreachable as e:
        if plain_http:
            raise Unreachable(f"{e}; {MAYBE_HTTPS_HINT}") from e
        raise
    if 300 <= reply.status < 400:
        location = reply.headers.get("location", "")
        if location.lower().startswith("https://"):
            raise DeviceError(f"{reply.url}: redirected to HTTPS; {HTTPS_HINT}")
        raise DeviceError(
            f"{reply.url}: HTTP {reply.status} redirect to {location!r} instead of the "
            "flat profile; check the phone's web server settings"
        )
    if reply.status in (403, 404):
        raise DeviceError(
            f"{reply.url}: HTTP {reply.status}: the phone does not serve its configuration; "
            "enable the web server's admin access (Voice > System: Enable Web Server / "
            "Web Admin access) or audit its provisioning files instead"
        )
    params = parse_spacfg(reply.body, reply.url)
    return Collected(params=params, identity=_identity(params), sources=[reply.url])


def detect(text: str) -> bool:
    return "<flat-profile" in text


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    params, notices = _file_params(name, text)
    sources = [name]
    # Profiles the resync rules pull in by a fixed name apply over this one, in rule order.
    for key, other in _included(name, params):
        sibling = read_sibling(other)
        if sibling is None:
            notices.append(
                Finding(
                    "coverage.uncertain",
                    "high",
                    key,
                    f"{name}: {key} makes the phone fetch {other} next, which is not beside "
                    "this file: the values it sets are not audited",
                    expected=f"{other} audited with {name}",
                    actual="missing",
                )
            )
            continue
        more, more_notices = _file_params(other, sibling)
        params.update(more)
        notices += more_notices
        sources.append(other)
    identity = _identity(params)
    # Per-MAC files ($MA.xml, CP-8851-3PCC/<mac>.cfg) are named after the phone they configure.
    m = MAC_IN_NAME.search(name.rsplit("/", 1)[-1])
    if "mac" not in identity and m:
        identity["mac"] = m.group(1)
    return Collected(params=params, identity=identity, sources=sources, notices=notices)


def _rule_file(rule: str) -> str | None:
    """The file name a profile rule fetches, when it is fixed (no run-time macro)."""
    words = RULE_OPTIONS.sub("", rule or "").split()
    if not words:
        return None
    last = words[0].split("?", 1)[0].rsplit("/", 1)[-1]
    if not last or "$" in last or "{" in last or "." not in last:
        return None
    return last


def _included(name: str, params: dict[str, str]) -> list[tuple[str, str]]:
    own = name.rsplit("/", 1)[-1]
    out: list[tuple[str, str]] = []
    for key in PROFILE_RULES:
        other = _rule_file(params.get(key, ""))
        if other and other != own and other not in (o for _, o in out):
            out.append((key, other))
    return out


def includes(name: str, text: str) -> list[str]:
    """Files this profile's resync rules fetch by a fixed name (``Profile_Rule_B`` =
    ``…/cp-phone.xml``); rules naming a run-time macro (``$MA``, ``$PSN``) are left out."""
    try:
        params, _ = _file_params(name, text)
    except ConfigFileError:
        return []
    return [other for _, other in _included(name, params)]


def _line_indexes(params: dict[str, str]) -> list[int]:
    return sorted({int(m.group(1)) for k in params if (m := LINE_KEY.match(k))})


def _dialplan(params: dict[str, str], n: int) -> DialPlan | None:
    key = f"Dial_Plan_{n}_"
    if key not in params:
        return None
    options = {k: params[k] for k in GLOBAL_DIALPLAN_OPTIONS if k in params}
    for base in LINE_DIALPLAN_OPTIONS:
        if f"{base}_{n}_" in params:
            options[base] = params[f"{base}_{n}_"]
    return DialPlan(syntax="cisco", text=params[key], source=key, options=options)


def _emergency(
    params: dict[str, str], n: int, registrar: str | None, proxy: str | None
) -> list[EmergencyEntry]:
    # MPP has no separate emergency route: the call goes where every call on the line goes.
    route, route_source = (proxy, f"Outbound_Proxy_{n}_") if proxy else (registrar, f"Proxy_{n}_")
    key = f"Emergency_Number_{n}_"
    numbers = [x.strip() for x in params.get(key, "").split(",") if x.strip()]
    return [EmergencyEntry(num, route, key, route_source) for num in numbers]


def _line(params: dict[str, str], n: int) -> Line | None:
    registrar = params.get(f"Proxy_{n}_") or None
    user = params.get(f"User_ID_{n}_") or None
    if registrar is None and user is None:
        return None
    # A line works only when enabled (Line Enable, default Yes) and given a User ID: without
    # one the phone has no account to register or call from.
    enabled = _yes(params.get(f"Line_Enable_{n}_"), default=True) and user is not None
    proxy = params.get(f"Outbound_Proxy_{n}_") or None
    if not _yes(params.get(f"Use_Outbound_Proxy_{n}_")):
        proxy = None  # configured but unused: the phone sends straight to Proxy_N_
    transport = params.get(f"SIP_Transport_{n}_") or None
    return Line(
        index=n,
        registrar=registrar,
        outbound_proxy=proxy,
        transport=transport.lower() if transport else None,
        user=user,
        dialplan=_dialplan(params, n),
        emergency=_emergency(params, n, registrar, proxy) if enabled else [],
        enabled=enabled,
        # the line's User ID: no MPP callback or ELIN setting was found
        callback=user,
        callback_source=f"User_ID_{n}_" if user else None,
    )


def provisioning_server(rule: str | None) -> str | None:
    """The server and folder a Profile_Rule fetches from, without options or file name."""
    words = RULE_OPTIONS.sub("", rule or "").split()
    if not words:
        return None
    url = words[0]
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url  # relative: the phone adds the server DHCP option 66/150 gives it
    host, _, path = rest.partition("/")
    folder, _, last = path.rpartition("/")
    if "." in last or "$" in last:
        path = folder
    return f"{scheme}://{host}/{path}" if path else f"{scheme}://{host}"


def _location_source(params: dict[str, str], lines: list[Line]) -> str | None:
    """What gives emergency calls a location: the Ext tab's E911 Geolocation section."""
    for ln in lines:
        n = ln.index
        enable = params.get(f"E911_Enable_{n}_")
        if not ln.enabled or (enable is not None and not _yes(enable)):
            continue
        held = params.get(f"Primary_Request_URL_{n}_") or params.get(f"Company_UUID_{n}_")
        source = params.get(f"Location_Source_{n}_") if enable is not None else None
        if source or held:
            return source or "HELD"
    return None


def _location(params: dict[str, str], lines: list[Line]) -> Location:
    """README "Location and callback": the Ext tab's E911 Geolocation section of the first
    enabled line: a Location Source of LLDP-MED (the switch's location TLV), or HELD request
    URLs."""
    for ln in (x for x in lines if x.enabled):
        n = ln.index
        keys = [f"E911_Enable_{n}_", f"Location_Source_{n}_", f"Primary_Request_URL_{n}_"]
        keys.append(f"Company_UUID_{n}_")
        # a request URL may carry user:password@: never into the state
        said = [f"{k} = {_no_userinfo(params[k])}" for k in keys if k in params]
        enable = params.get(keys[0])
        if enable is not None and not _yes(enable):
            return Location("none", f"E911 geolocation is off on line {n}", said)
        source = (params.get(keys[1]) or "").strip()
        if "lldp" in source.lower():
            return Location("lldp-med", f"LLDP-MED location TLV ({source})", said)
        url = _no_userinfo(params.get(keys[2]) or params.get(f"Secondary_Request_URL_{n}_") or "")
        if url:
            # element names derived from the web field names (README, UNCONFIRMED)
            return Location("held", url, said)
        if source:
            why = f"{keys[1]} = {source!r} is not a value the documents read describe"
            return Location("none", why, said, uncertain=why)
        return Location(
            "none", f"line {n} has no E911 Primary Request URL", said or [f"{keys[2]} (unset)"]
        )
    return Location("none", "no enabled line", [])


def _no_userinfo(value: str) -> str:
    return re.sub(r"//[^/@]*@", "//", value)


def _is_mpp(ident: dict[str, str]) -> bool:
    return any(MPP_MODEL.search(ident.get(k) or "") for k in ("model", "firmware"))


def _device_plan(params: dict[str, str], lines: list[Line]) -> DialPlan | None:
    """Where no line is in use, the plan a line gets once a later profile enables it: the
    lowest-numbered Ext's plan (a common file such as wazo's spa-phone.xml)."""
    if any(ln.enabled for ln in lines):
        return None
    ns = sorted(int(k[len("Dial_Plan_") : -1]) for k in params if re.match(r"^Dial_Plan_\d+_$", k))
    return _dialplan(params, ns[0]) if ns else None


def _no_emergency_setting(c: Collected) -> Finding:
    where = "the phone's own profile" if any("spacfg" in s for s in c.sources) else "the file"
    return Finding(
        "config.limitation",
        "info",
        "Emergency_Number",
        f"{where} has no Emergency_Number_N_ element: SPA50x/SPA30x/SPA9xx firmware has no "
        "Emergency Number setting (its Ext tab's Dial Plan section holds only Dial Plan and "
        "Enable IP Dialing). Such a phone cannot be told which numbers are emergency calls: "
        "it places 999/112/911 as ordinary calls through the line's dial plan to the line's "
        "proxy, with no emergency handling of its own (on MPP 3PCC firmware the Emergency "
        "Number list is what turns hold and conference off on those calls). fleet checks "
        "each number as an ordinary call to that proxy: the dial plan and the server's "
        "routing are all that make it an emergency call. If this is an MPP 3PCC phone, set "
        "Emergency_Number_N_: without it fleet cannot tell the firmware from the file.",
        expected="Emergency_Number_N_ (MPP 3PCC firmware)",
        actual="no such setting",
    )


def to_state(c: Collected) -> DeviceState:
    p = c.params
    ident = {**_identity(p), **c.identity}
    mac = re.sub(r"[^0-9a-f]", "", ident.get("mac", "").lower()) or None
    lines = [ln for n in _line_indexes(p) if (ln := _line(p, n)) is not None]
    loc = _location(p, lines)
    # Moved, not copied: the engine finds none left to add a second time.
    notices, c.notices = list(c.notices), []
    # No Emergency_Number_N_ at all: firmware without the setting (older SPA). A blank one
    # (<Emergency_Number_1_/> in spacfg.xml, or set empty) is a setting left empty. An MPP
    # file that does not set it leaves the phone's value (default blank): still a setting.
    setting = any(EMERGENCY_KEY.match(k) for k in p) or _is_mpp(ident)
    if not setting:
        notices.append(_no_emergency_setting(c))
    return DeviceState(
        vendor="Cisco",
        profile="cisco_mpp",
        model=ident.get("model"),
        firmware=ident.get("firmware"),
        mac=mac if mac and len(mac) == 12 else None,
        lines=lines,
        provisioning_server=provisioning_server(p.get("Profile_Rule") or p.get("Profile_Rule_B")),
        # the short form, None where the full reading finds no source (no request URL)
        location_source=_location_source(p, lines) if loc.source != "none" else None,
        location=loc,
        raw=dict(p),
        dialplan=_device_plan(p, lines),
        notices=notices,
        emergency_setting=setting,
    )


PROFILE = Profile(
    name="cisco_mpp",
    vendor="Cisco",
    role="phone",
    transport="http",
    default_scheme="https",
    default_username="admin",
    fetch=fetch,
    detect=detect,
    parse_files=parse_files,
    includes=includes,
    to_state=to_state,
    # Password_N_ (line), Admin_Password / Admin_Passwd, User_Password, and GPP secrets;
    # the generic pattern in fleet.profiles covers most, this names the vendor's own.
    secret_keys=re.compile(r"(?i)(^Password_\d+_$|passw|secret|^Auth_Resync_Secret$)"),
    dialplan_syntax="cisco",
)
