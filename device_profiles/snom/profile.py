"""Snom desk phones (D7xx, D3xx, 3xx/7xx): settings as flat ``name`` / ``name<idx>`` pairs.

The phone's configuration is a flat list of named settings; per-identity settings carry the
identity index (``user_host`` with ``idx="1"`` in XML, ``user_host1`` in the older text format).
Both shapes are flattened to ``name<idx>`` here, the way Snom's own documentation names them
(``user_host[1-x]``). Over HTTP the profile reads ``/settings.xml`` (the settings in the XML
provisioning shape) and the System Information page ``/info.htm`` for model, firmware and MAC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from device_profiles import xmldecl
from fleet.collect.http import HttpHost
from fleet.errors import ConfigFileError, DeviceError, ProtocolError
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

SETTINGS = "/settings.xml"
INFO = "/info.htm"
# Snom's documented default for the lock-screen emergency list (Snom wiki "Key lock").
DEFAULT_EMERGENCY = "911 112 110 999 19222"
LINE_KEY = re.compile(r"^user_(?:host|name|active)(\d+)$")
# Per-identity settings are all named user_*; the index is the trailing number.
INDEXED = re.compile(r"^(user_[a-z_]*[a-z_])(\d+)$")
TEXT_LINE = re.compile(r"^([A-Za-z0-9_]+)([!&$#]?)\s*:\s?(.*)$")
TEXT_DETECT = re.compile(
    r"(?m)^\s*(?:user_host|user_name|user_pass|user_outbound|user_dp_str|setting_server|"
    r"keyboard_lock_emergency|emergency_proxy)\d*[!&$]?\s*:"
)
XML_DETECT = re.compile(r"<(?:phone-settings|setting-files|settings|dialplan|dial-plan)\b")
# snom<model>-<MAC>.xml/.htm (wazo/xivo provd naming) or <MAC>.xml.
FILE_NAME = re.compile(r"(?i)^(?:(snom[a-z0-9]+)-)?(000413[0-9a-f]{6})\b")
INFO_VERSION = re.compile(r"(snom[A-Za-z0-9]+)-SIP\s+([0-9][0-9A-Za-z.\-]*)")
INFO_MAC = re.compile(r"(?i)\b((?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}|000413[0-9a-f]{6})\b")
LINE_OPTIONS = ("user_dp_exp", "user_dp")
# The XML dial plan (<dialplan> / <dial-plan> with <TEMPLATE MATCH= Timeout= Rewrite=>, Snom wiki
# "<dialplan> tag", "Features/Dial Plan/XML") is a second plan mechanism beside user_dp_str. No
# engine of fleet's reads it: it is kept under this pseudo-setting (no setting can be named so)
# and handed on as a plan in syntax "snom-xml", so the checks report it as unevaluated.
XML_DIALPLAN = "<dialplan>"
XML_DIALPLAN_SYNTAX = "snom-xml"
# Root elements of the files a <setting-files> container may list that hold no phone settings.
OTHER_ROOTS = ("functionKeys", "function-keys", "tbook", "certificates", "uploads")
GLOBAL_OPTIONS = ("auto_dial", "auto_dial_target")


def _off(value: str | None) -> bool:
    return (value or "").strip().lower() in ("off", "false", "0", "no")


def _xml_root(text: str | bytes, name: str) -> Element:
    try:
        return fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise ConfigFileError(f"not well-formed XML ({e})", file=name, line=line) from e
    except DefusedXmlException as e:
        raise ConfigFileError(f"refused XML ({type(e).__name__})", file=name) from e
    except (LookupError, ValueError) as e:
        raise xmldecl.refused(name, text) from e


def _phone_settings(root: Element) -> Element | None:
    if root.tag == "phone-settings":
        return root
    return root.find("phone-settings")


def xml_params(settings: Element) -> dict[str, str]:
    """``<NAME idx="N">value</NAME>`` -> ``{"NAMEN": value}``; nested (gui_fkey) skipped."""
    out: dict[str, str] = {}
    for el in settings:
        if not isinstance(el.tag, str) or len(el):
            continue
        idx = (el.get("idx") or "").strip()
        key = el.tag + idx if idx.isdigit() else el.tag
        out[key] = (el.text or "").strip()
    return out


def xml_dialplan(root: Element) -> str | None:
    """The templates of a ``<dialplan>`` / ``<dial-plan>`` section, one per line, or None."""
    if root.tag.lower() in ("dialplan", "dial-plan"):
        sections = [root]
    else:
        sections = [el for el in root if str(el.tag).lower() in ("dialplan", "dial-plan")]
    rows = []
    for sec in sections:
        for t in sec:
            if isinstance(t.tag, str) and t.tag.lower() == "template":
                attrs = " ".join(f'{k}="{v}"' for k, v in t.attrib.items())
                rows.append(f"<{t.tag} {attrs}/>")
    return "\n".join(rows) or None


def text_params(text: str, name: str) -> tuple[dict[str, str], list[int]]:
    """The text setting file: ``name[!&$]: value`` lines inside optional <html><pre>; also the
    numbers of the lines that are not settings (the phone skips them)."""
    out: dict[str, str] = {}
    bad: list[int] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#<":
            continue  # comments; "<" also covers the <html><pre> wrapper
        m = TEXT_LINE.match(line)
        if m is None:
            bad.append(n)
            continue
        out[m.group(1)] = m.group(3).strip()
    return out, bad


def _setting_file_urls(root: Element) -> list[str]:
    return [f.get("url", "") for f in root.iter("file") if f.get("url")]


def _basename(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _identity_from_name(name: str) -> dict[str, str]:
    m = FILE_NAME.search(name.rsplit("/", 1)[-1])
    if not m:
        return {}
    ident = {"mac": m.group(2).lower()}
    if m.group(1):
        ident["model"] = m.group(1)
    return ident


def detect(text: str) -> bool:
    head = text[:4096]
    if "<phone-settings" in head:
        return True
    if "<setting-files" in head and "<file" in head:
        return True
    return bool(TEXT_DETECT.search(text))


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    params: dict[str, str] = {}
    sources = [name]
    notices: list[Finding] = []
    if text.lstrip().startswith("<?xml") or XML_DETECT.search(text[:4096]):
        root = _xml_root(text, name)
        if root.tag == "setting-files":
            params, sources, notices = _follow(name, root, read_sibling)
        else:
            settings = _phone_settings(root)
            plan = xml_dialplan(root)
            if settings is not None:
                params = xml_params(settings)
            elif plan is None and not (
                root.tag in OTHER_ROOTS
                or (root.tag == "settings" and any(el.tag in OTHER_ROOTS for el in root))
            ):
                raise ConfigFileError(f"no <phone-settings> element (root <{root.tag}>)", file=name)
            if plan is not None:
                params[XML_DIALPLAN] = plan
    else:
        params, bad = text_params(text, name)
        if not params:
            line = bad[0] if bad else None
            raise ConfigFileError("no 'name: value' setting in the file", file=name, line=line)
        notices += [
            Finding(
                "config.malformed",
                "medium",
                f"{name}:{n}",
                f"{name} line {n} is not a 'name: value' setting: the phone skips it",
                evidence=[f"{name}:{n}"],
            )
            for n in bad
        ]
    identity = _identity_from_name(name)
    if "model" not in identity and params.get("phone_type"):
        identity["model"] = params["phone_type"]
    return Collected(params=params, identity=identity, sources=sources, notices=notices)


def _follow(
    name: str, root: Element, read_sibling: Callable[[str], str | None]
) -> tuple[dict[str, str], list[str], list[Finding]]:
    # The phone applies the listed files in order, so a later file's value wins.
    params: dict[str, str] = {}
    sources = [name]
    notices: list[Finding] = []
    missing: list[str] = []
    urls = _setting_file_urls(root)
    for url in urls:
        child = _basename(url)
        body = read_sibling(child)
        if body is None:
            missing.append(child)
            continue
        sub = parse_files(child, body, read_sibling)
        params.update(sub.params)
        sources += sub.sources
        notices += sub.notices
    if len(sources) == 1:
        listed = ", ".join(_basename(u) for u in urls) or "no files"
        raise ConfigFileError(f"lists {listed}, none of which is beside it", file=name)
    for child in missing:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                child,
                f"{name} lists {child}, which is not beside it: the settings the phone takes "
                "from it (a dial plan, emergency numbers, a proxy) are not audited",
                expected=f"{child} beside {name}",
                actual="missing",
            )
        )
    return params, sources, notices


def includes(name: str, text: str) -> list[str]:
    if "<setting-files" not in text:
        return []
    try:
        root = _xml_root(text, name)
    except ConfigFileError:
        return []
    return [_basename(u) for u in _setting_file_urls(root)]


def parse_info(html: str) -> dict[str, str]:
    """Model, firmware and MAC from the System Information page (``snomD785-SIP 10.1.84.12``)."""
    ident: dict[str, str] = {}
    if m := INFO_VERSION.search(html):
        ident["model"], ident["firmware"] = m.group(1), m.group(2)
    if m := INFO_MAC.search(html):
        ident["mac"] = re.sub(r"[^0-9a-f]", "", m.group(1).lower())
    return ident


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    # /settings.xml holds every setting, so each name in ``wanted`` is already in it.
    reply = await host.request("GET", SETTINGS, ok=(200, 301, 302, 303, 307, 308, 404))
    if 300 <= reply.status < 400:
        location = reply.headers.get("location", "")
        if location.lower().startswith("https://"):
            raise DeviceError(
                f"{reply.url}: redirected to HTTPS: the phone's web server is HTTPS only "
                "(webserver_type=https); use https:// in this phone's inventory address"
            )
        raise DeviceError(f"{reply.url}: HTTP {reply.status} redirect to {location!r}")
    if reply.status == 404:
        raise DeviceError(
            f"{reply.url}: HTTP 404: this phone's firmware does not serve its settings as "
            "XML; audit its provisioning files instead (fleet audit) or update its firmware"
        )
    try:
        root = fromstring(reply.body)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as e:
        # Never quote the body: it holds the SIP and admin passwords.
        raise ProtocolError(f"{reply.url}: answer is not the phone's settings XML ({e})") from e
    settings = _phone_settings(root)
    if settings is None:
        raise ProtocolError(f"{reply.url}: XML answer without a <phone-settings> element")
    params = xml_params(settings)
    identity: dict[str, str] = {}
    info = await host.request("GET", INFO, ok=(200, 404))
    if info.status == 200:
        identity = parse_info(info.text)
    if "model" not in identity and params.get("phone_type"):
        identity["model"] = params["phone_type"]
    return Collected(params=params, identity=identity, sources=[reply.url])


def strip_uri(value: str | None) -> str | None:
    """``sip:host:port;transport=tcp`` -> ``host:port``; empty -> None."""
    v = (value or "").strip()
    if not v:
        return None
    # user_outbound may list several proxies, comma-separated (FusionPBX's Snom templates
    # write "primary:5060;transport=udp,secondary:5060;transport=udp"); the first is used.
    v = v.split(",", 1)[0].strip()
    v = re.sub(r"(?i)^sips?:", "", v)
    v = v.split(";", 1)[0].split("@")[-1].strip()
    return v or None


def _transport(*values: str | None) -> str | None:
    for v in values:
        m = re.search(r"(?i);\s*transport=([a-z]+)", v or "")
        if m:
            return m.group(1).lower()
    return None


def _numbers(params: dict[str, str]) -> tuple[list[str], str]:
    """The numbers the phone treats as emergency numbers, and the setting they come from."""
    if params.get("emergency_numbers", "").strip():
        key = "emergency_numbers"
    else:
        key = "keyboard_lock_emergency"
    value = params.get(key, DEFAULT_EMERGENCY if key not in params else "")
    return [n for n in re.split(r"[\s,;]+", value) if n], key


def _xml_plan(params: dict[str, str]) -> DialPlan | None:
    text = params.get(XML_DIALPLAN)
    return DialPlan(syntax=XML_DIALPLAN_SYNTAX, text=text, source=XML_DIALPLAN) if text else None


def _dialplan(params: dict[str, str], n: int, registrar: str | None) -> DialPlan:
    key = f"user_dp_str{n}"
    text = params.get(key, "")
    if not text.strip() and params.get(f"user_dp_exp{n}", "").strip():
        key = f"user_dp_exp{n}"
        text = params[key]
    if not text.strip() and (xml := _xml_plan(params)) is not None:
        # No regex plan on this identity: the XML dial plan is the one the phone applies.
        return xml
    options = {k: params[k] for k in GLOBAL_OPTIONS if k in params}
    for base in LINE_OPTIONS:
        if f"{base}{n}" in params:
            options[base] = params[f"{base}{n}"]
    if registrar:
        options["user_host"] = registrar
    return DialPlan(syntax="snom", text=text.strip(), source=key, options=options)


# README "Location and callback": no Snom setting found that gives emergency calls a
# location, so none is configured (UNCONFIRMED there).
LOCATION = Location(
    "none",
    "no Snom setting found that gives emergency calls a location (LLDP-MED ELIN, HELD, "
    "civic address)",
)


def _line(params: dict[str, str], n: int) -> Line | None:
    registrar = strip_uri(params.get(f"user_host{n}"))
    user = params.get(f"user_name{n}", "").strip() or None
    if registrar is None and user is None:
        return None
    enabled = not _off(params.get(f"user_active{n}"))
    outbound = strip_uri(params.get(f"user_outbound{n}"))
    numbers, source = _numbers(params)
    proxy = strip_uri(params.get("emergency_proxy"))
    route: str | None
    if proxy:
        route, route_source = proxy, "emergency_proxy"
    elif outbound:
        route, route_source = outbound, f"user_outbound{n}"
    else:
        route, route_source = registrar, f"user_host{n}"
    emergency = [EmergencyEntry(x, route, source, route_source) for x in numbers]
    return Line(
        index=n,
        registrar=registrar,
        outbound_proxy=outbound,
        transport=_transport(params.get(f"user_outbound{n}"), params.get(f"user_host{n}")),
        user=user,
        dialplan=_dialplan(params, n, registrar),
        emergency=emergency if enabled else [],
        enabled=enabled,
        # the identity's own user is the only callback identity a Snom setting names
        callback=user,
        callback_source=f"user_name{n}" if user else None,
    )


def provisioning_server(url: str | None) -> str | None:
    """The server and folder of ``setting_server``, without the file name or {mac} part."""
    v = (url or "").strip().split("?", 1)[0]
    if not v:
        return None
    scheme, sep, rest = v.partition("://")
    if not sep:
        return v
    host, _, path = rest.partition("/")
    folder, _, last = path.rstrip("/").rpartition("/")
    if "." in last or "{" in last:
        path = folder
    path = path.strip("/")
    return f"{scheme}://{host}/{path}" if path else f"{scheme}://{host}"


def to_state(c: Collected) -> DeviceState:
    p = c.params
    indexes = sorted({int(m.group(1)) for k in p if (m := LINE_KEY.match(k))})
    lines = [ln for n in indexes if (ln := _line(p, n)) is not None]
    mac = re.sub(r"[^0-9a-f]", "", c.identity.get("mac", "").lower()) or None
    xml = _xml_plan(p)
    notices: list[Finding] = []
    both = [ln.index for ln in lines if ln.dialplan and ln.dialplan.syntax == "snom"]
    if xml is not None and both:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                "dialplan",
                f"identity {', '.join(map(str, both))} has a user_dp_str plan and the file also "
                "carries an XML <dialplan>: Snom's documentation found does not say which one "
                "the phone applies; fleet evaluated user_dp_str only",
                expected="one dial plan mechanism",
                actual="user_dp_str and <dialplan>",
            )
        )
    return DeviceState(
        vendor="Snom",
        profile="snom",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=mac if mac and len(mac) == 12 else None,
        lines=lines,
        provisioning_server=provisioning_server(p.get("setting_server")),
        location_source=None,
        location=Location(LOCATION.source, LOCATION.detail),
        raw=dict(p),
        dialplan=xml,
        notices=notices,
    )


PROFILE = Profile(
    name="snom",
    vendor="Snom",
    role="phone",
    transport="http",
    default_scheme="http",
    default_username="admin",
    fetch=fetch,
    detect=detect,
    parse_files=parse_files,
    includes=includes,
    to_state=to_state,
    # user_pass<N>/user_hash<N> (SIP), http_pass, admin_mode_password, keyboard_lock_pw, ...
    secret_keys=re.compile(r"(?i)(^user_(pass|hash)\d*$|_pass$|_password$|_pw$|^pin)"),
    dialplan_syntax="snom",
)
