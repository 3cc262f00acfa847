"""Grandstream GXP/GRP desk phones: P-value configuration.

Every setting is a numbered P-value (``P47`` SIP server of account 1, ``P402`` of account 2).
The phone's web API reads them by name: ``/cgi-bin/api.values.get?request=P47:P48`` after a
``/cgi-bin/dologin`` session. Provisioning files carry the same P-values, as XML
(``<gs_provision version="1"><config version="1"><P47>…``), as XML version 2 with named items
(``<config version="2"><item name="account.1.sip.server.1.address">…``), or as the text form
(``P47 = sip.example.com``). README.md has the sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from device_profiles import xmldecl
from fleet.collect.http import HttpHost, HttpReply
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

VALUES = "/cgi-bin/api.values.get"
LOGIN = "/cgi-bin/dologin"
SESSION_COOKIE = "session-identity"
IDENTITY = {"model": "phone_model", "firmware": "sw_version", "mac": "mac_addr"}
# The request parameter is parsed into a fixed buffer on the phone (CVE-2026-2329 was an
# overflow there), so names go in small batches.
BATCH = 16
LOCKOUT = (
    "the phone locks its web login after 5 failed logins, so fleet did not retry: "
    "fix the admin credentials in the inventory"
)
DEFAULT_DIAL_PLAN = "{ x+ | \\+x+ | *x+ | *xx*x+ }"  # P290/P459 default, config template


@dataclass(frozen=True, slots=True)
class Account:
    """The P-values of one account (config templates GRP261x 1.0.5.15, GXP21xx 1.0.11.16)."""

    index: int
    active: str
    server: str
    proxy: str
    user: str
    auth_id: str
    password: str
    transport: str
    prefix: str
    dial_plan: str
    timeout: str
    dial_key: str
    bypass: str
    # GXP21xx 1.0.11.16 lists No Key Entry Timeout of accounts 5/6 as P791/P891 where the
    # GRP261x 1.0.5.15 template has P1791/P1891: both are read, the GRP number first.
    timeout_alt: str | None = None

    def names(self) -> tuple[str, ...]:
        # The password is never read over the web API: nothing here needs it.
        names = (self.active, self.server, self.proxy, self.user, self.auth_id, self.transport,
                 self.prefix, self.dial_plan, self.timeout, self.dial_key, self.bypass)  # fmt: skip
        return (*names, self.timeout_alt) if self.timeout_alt else names


def _acct(
    i: int, base: int, active: str, timeout: str, dial_key: str, alt: str | None = None
) -> Account:
    """Accounts 2-6 follow one pattern: P<base>01 active, 02 server, 03 proxy, 04 user, 05 auth
    id, 06 password, 48 transport, 19 prefix, 59 dial plan (GRP261x/GXP21xx templates)."""
    b = str(base)
    return Account(i, active, f"P{b}02", f"P{b}03", f"P{b}04", f"P{b}05", f"P{b}06",
                   f"P{b}48", f"P{b}19", f"P{b}59", timeout, dial_key, f"P2{i + 2}82",
                   alt)  # fmt: skip


ACCOUNTS = (
    Account(
        1, "P271", "P47", "P48", "P35", "P36", "P34", "P130", "P66", "P290", "P85", "P72", "P2382"
    ),
    _acct(2, 4, "P401", "P491", "P492"),
    _acct(3, 5, "P501", "P591", "P592"),
    _acct(4, 6, "P601", "P691", "P692"),
    _acct(5, 17, "P1701", "P1791", "P1792", "P791"),
    _acct(6, 18, "P1801", "P1891", "P1892", "P891"),
)
# Maintenance/Security Settings/Keypad Lock (GRP261x 1.0.5.15, GXP21xx 1.0.11.16, GXP16xx
# 1.0.7.3 templates): P1382 Enable Keypad Locking, P8383 Keypad Lock Type, P8385 "Emergency"
# ("Emergency Numbers" in the GXP16xx template), a comma list such as 112,911,110.
LOCK_ENABLE, LOCK_TYPE, LOCK_EMERGENCY = "P1382", "P8383", "P8385"
# Settings/E911 Service (GRP261x/2x/3x/5x/7x template for firmware 1.0.9.103, as embedded in
# FusionPBX's grp2614 template with its "Pvalue" notes): P8565 "Enable 911", P8568 "Location
# Server" (HELD), P8570/P8573 its passwords, P8597 "E911 Emergency Numbers" (value 911).
E911_ENABLE, E911_SERVER, E911_NUMBERS = "P8565", "P8568", "P8597"
GLOBAL_KEYS = ("P237", "P212", "P192", LOCK_ENABLE, LOCK_TYPE, LOCK_EMERGENCY, E911_ENABLE,
               E911_SERVER, E911_NUMBERS)  # fmt: skip
READ_KEYS = (*GLOBAL_KEYS, *(k for a in ACCOUNTS for k in a.names()))
TRANSPORTS = {"0": "udp", "1": "tcp", "2": "tls"}  # P130/P448: 0 UDP, 1 TCP, 2 TLS/TCP
# P212 Config Upgrade Via: 0 TFTP, 1 HTTP, 2 HTTPS, 3 FTP, 4 FTPS (GRP261x 1.0.5.15 template)
PROTOCOLS = {"0": "tftp", "1": "http", "2": "https", "3": "ftp", "4": "ftps"}
P_TEXT_LINE = re.compile(r"^\s*(P\d{1,5})\s*=(.*)$")
MAC_IN_NAME = re.compile(r"(?i)(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")

# XML config version 2 ("The new type of config template ... by using names that are similar
# from web UI", grp261x_config_v2_1.0.5.15.xml): <item name="account.{i}.…">value</item>, with
# aliases for drop-down options. Names are compared without case (GXV3350's v2 template writes
# sip.subscriber.userId, GRP261x's sip.subscriber.userid).
V2_ACCOUNT = {
    "enable": "active",
    "sip.server.1.address": "server",
    "sip.outboundproxy.1.address": "proxy",
    "sip.userid": "user",
    "sip.subscriber.userid": "auth_id",
    "sip.subscriber.password": "password",
    "sip.transport": "transport",
    "call.dialplanprefix": "prefix",
    "call.dialplan": "dial_plan",
    "call.nokeyentrytimeout": "timeout",
    "call.keyassend": "dial_key",
    "call.dialplanbypass": "bypass",
}
V2_GLOBAL = {
    "provisioning.config.protocol": "P212",
    "provisioning.config.serverpath": "P237",
    "keys.lock.enable": LOCK_ENABLE,
    "keys.lock.type": LOCK_TYPE,
    "keys.lock.emergency": LOCK_EMERGENCY,
    "users.admin.password": "P2",
    "e911.enable": E911_ENABLE,
    "e911.held.server.1.address": E911_SERVER,
    "e911.emergency": E911_NUMBERS,
}
YES_NO = {"yes": "1", "no": "0", "1": "1", "0": "0"}
# The v2 templates' alias lists; FusionPBX's v2 templates write the numbers instead, which the
# templates' note 3 allows ("numbers are informed to match drop-down options").
V2_ALIASES: dict[str, dict[str, str]] = {
    "active": YES_NO,
    LOCK_ENABLE: YES_NO,
    E911_ENABLE: YES_NO,
    "transport": {"udp": "0", "tcp": "1", "tlsortcp": "2", "0": "0", "1": "1", "2": "2"},
    "dial_key": {"disabled": "0", "pound": "1", "star": "2", "0": "0", "1": "1", "2": "2"},
    "P212": {
        "tftp": "0",
        "http": "1",
        "https": "2",
        "ftp": "3",
        "ftps": "4",
        **{str(n): str(n) for n in range(5)},
    },
    LOCK_TYPE: {"0": "0", "1": "1"},
}
V2_ITEM = re.compile(r"(?i)^account\.(\d{1,2})\.(.+)$")


def _value(params: dict[str, str], key: str) -> str | None:
    value = params.get(key, "").strip()
    return value or None


def _mac(raw: str | None) -> str | None:
    mac = re.sub(r"[^0-9a-f]", "", (raw or "").lower())
    return mac if len(mac) == 12 else None


# --- the web API ------------------------------------------------------------------------------


def _answer(reply: HttpReply) -> dict | str:
    """The ``body`` of a ``{"response": "success", "body": …}`` answer; errors raise."""
    data = reply.json()
    if not isinstance(data, dict) or data.get("response") not in ("success", "error"):
        raise ProtocolError(f"{reply.url}: answer is not the phone's API format")
    if data["response"] == "error":
        raise _ApiError(str(data.get("body", "")))
    return data.get("body", "")


class _ApiError(Exception):
    pass


def _no_api(url: str) -> DeviceError:
    return DeviceError(
        f"{url}: the phone has no web API (/cgi-bin/api.values.get): its firmware predates it; "
        "update the firmware or audit its provisioning file (cfg<mac>.xml) instead"
    )


async def _get_values(host: HttpHost, names: Sequence[str], sid: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(names), BATCH):
        query = {"request": ":".join(names[i : i + BATCH])}
        if sid:
            query["sid"] = sid
        reply = await host.request("GET", VALUES, params=query, auth=False, ok=(200, 404))
        if reply.status == 404:
            raise _no_api(reply.url)
        try:
            body = _answer(reply)
        except _ApiError as e:
            if sid is None:
                return out  # identity needs a login on this firmware: read it after login
            raise DeviceError(
                f"{reply.url}: the phone refused to read its settings ({e}) although the login "
                "worked; check that the inventory user is the admin user"
            ) from None
        if not isinstance(body, dict):
            raise ProtocolError(f"{reply.url}: values answer without a body of values")
        out.update({str(k): "" if v is None else str(v) for k, v in body.items()})
    return out


async def _login(host: HttpHost) -> str:
    form = {"username": host.username or "admin", "password": host.password or ""}
    reply = await host.request("POST", LOGIN, data=form, auth=False, ok=(200, 404))
    if reply.status == 404:
        raise _no_api(reply.url)
    try:
        body = _answer(reply)
    except _ApiError as e:
        if "lock" in str(e).lower():
            raise AuthFailed(f"POST {LOGIN}: login locked out by the phone; {LOCKOUT}") from None
        raise AuthFailed(f"POST {LOGIN}: credentials refused; {LOCKOUT}") from None
    sid = body.get("sid") if isinstance(body, dict) else None
    if not isinstance(sid, str) or not sid:
        raise ProtocolError(f"{reply.url}: login answer carries no session id")
    return sid


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    identity_names = list(IDENTITY.values())
    identity = await _get_values(host, identity_names, None)
    sid = await _login(host)
    names = list(dict.fromkeys([*READ_KEYS, *wanted]))
    if not identity:
        names = identity_names + names
    values = await _get_values(host, names, sid)
    found = {**identity, **values}
    params = {k: v for k, v in found.items() if k not in identity_names}
    ident = {k: found[p] for k, p in IDENTITY.items() if found.get(p)}
    return Collected(params=params, identity=ident, sources=[host.base_url + VALUES])


# --- provisioning files -----------------------------------------------------------------------


def detect(text: str) -> bool:
    head = text[:4096]
    return "<gs_provision" in head or any(P_TEXT_LINE.match(ln) for ln in head.splitlines())


def _parse_xml(name: str, text: str) -> tuple[dict[str, str], str | None, list[Finding]]:
    try:
        root = fromstring(text.encode("utf-8"))
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise ConfigFileError(f"not well-formed XML ({e})", file=name, line=line) from e
    except DefusedXmlException as e:
        raise ConfigFileError(f"refused XML ({type(e).__name__})", file=name) from e
    except (LookupError, ValueError) as e:
        raise xmldecl.refused(name, text) from e
    config = root.find("config") if root.tag == "gs_provision" else None
    if config is None:
        raise ConfigFileError("no <gs_provision><config> element", file=name)
    mac = (root.findtext("mac") or "").strip() or None
    version = (config.get("version") or "1").strip()
    if version == "1":
        return _pvalues(config), mac, []
    if version == "2":
        params, notices = _items(name, config)
        return params, mac, notices
    raise ConfigFileError(
        f"XML config version {version!r}: Grandstream documents version 1 (P-values) and "
        "version 2 (<item name=...>) only",
        file=name,
    )


def _pvalues(config: Element) -> dict[str, str]:
    # A repeated P-value overrides the earlier one, as the phone applies the file top-down.
    return {el.tag: (el.text or "").strip() for el in config if re.fullmatch(r"P\d+", el.tag)}


def _items(name: str, config: Element) -> tuple[dict[str, str], list[Finding]]:
    """Version 2: ``<item name="account.1.sip.server.1.address">…</item>``, kept under the
    names the file uses (P-value elements in the same file are kept too)."""
    params: dict[str, str] = {}
    unnamed, other = 0, []
    for el in config:
        if el.tag == "item":
            key = (el.get("name") or "").strip()
            if not key:
                unnamed += 1
                continue
            params[key] = (el.text or "").strip()
        elif re.fullmatch(r"P\d+", el.tag):
            params[el.tag] = (el.text or "").strip()
        elif isinstance(el.tag, str):
            other.append(el.tag)
    notices = []
    if unnamed:
        notices.append(
            Finding(
                "config.malformed",
                "medium",
                name,
                f"{name}: {unnamed} <item> element(s) without a name attribute; the phone has "
                "no setting to apply them to",
            )
        )
    if other:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                name,
                f'{name}: elements {", ".join(sorted(set(other)))} in <config version="2"> are '
                "neither <item name=...> nor P-values: fleet does not know what the phone does "
                "with them",
            )
        )
    return params, notices


def _parse_text(name: str, text: str, notices: list[Finding]) -> dict[str, str]:
    """``Pnnn = value`` lines and ``#`` comments. Lines are split on line feeds only:
    Grandstream's own GXP21xx 1.0.11.16 template carries a form feed inside a comment. A line
    that is neither (the same template has a stray "Screensaver XML Download Interval" line)
    is skipped with a ``config.malformed`` notice; a P-value line without ``=`` is refused, as
    fleet cannot tell what the phone makes of it."""
    params: dict[str, str] = {}
    skipped: list[int] = []
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = P_TEXT_LINE.match(line)
        if m is None:
            if re.match(r"^\s*P\d", line):
                raise ConfigFileError("not a P-value line (Pnnn = value)", file=name, line=n)
            skipped.append(n)
            continue
        params[m.group(1)] = m.group(2).strip()
    if not params:
        raise ConfigFileError("no P-value line (Pnnn = value) in the file", file=name)
    if skipped:
        where = ", ".join(str(n) for n in skipped[:10]) + (" …" if len(skipped) > 10 else "")
        notices.append(
            Finding(
                "config.malformed",
                "medium",
                name,
                f"{name}: line(s) {where} are neither a P-value (Pnnn = value) nor a # comment; "
                "fleet skipped them",
            )
        )
    return params


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    mac: str | None = None
    notices: list[Finding] = []
    if "<gs_provision" in text[:4096]:
        params, mac, notices = _parse_xml(name, text)
    else:
        params = _parse_text(name, text, notices)
    m = MAC_IN_NAME.search(name.rsplit("/", 1)[-1])
    identity = {}
    if mac or m:
        identity["mac"] = mac or m.group(1)  # type: ignore[union-attr]
    return Collected(params=params, identity=identity, sources=[name], notices=notices)


def includes(name: str, text: str) -> list[str]:
    # A Grandstream file names no other file; the phone fetches cfg<mac>.xml then cfg.xml itself.
    return []


# --- the vendor-neutral state -----------------------------------------------------------------


def pvalue_view(params: dict[str, str], notices: list[Finding] | None = None) -> dict[str, str]:
    """The settings under their P-value names: version-2 item names (and their aliases)
    translated; a P-value given as such wins. An alias fleet does not know is left out (the
    setting then reads as not set) and noted as ``coverage.uncertain``."""
    out = dict(params)
    for key, value in params.items():
        field_name = target = V2_GLOBAL.get(key.lower())
        m = V2_ITEM.match(key)
        if target is None and m:
            idx, field_name = int(m.group(1)), V2_ACCOUNT.get(m.group(2).lower())
            if field_name is None or not 1 <= idx <= len(ACCOUNTS):
                continue  # a setting fleet does not interpret, or an account beyond 6
            target = getattr(ACCOUNTS[idx - 1], field_name)
        if target is None or field_name is None:
            continue
        aliases = V2_ALIASES.get(field_name)
        if aliases is not None and value.strip():
            mapped = aliases.get(value.strip().lower())
            if mapped is None:
                if notices is not None:  # alias settings hold no secret
                    notices.append(
                        Finding(
                            "coverage.uncertain",
                            "high",
                            key,
                            f"{key} = {value.strip()!r} is not one of the values Grandstream's "
                            "version-2 template lists for it: fleet reads it as not set",
                        )
                    )
                continue
            value = mapped
        out.setdefault(target, value)
    return out


def _dialplan(p: dict[str, str], acct: Account) -> DialPlan:
    options = {}
    timeout = acct.timeout if acct.timeout in p or not acct.timeout_alt else acct.timeout_alt
    for canonical, key in (("P66", acct.prefix), ("P85", timeout), ("P72", acct.dial_key)):
        if _value(p, key) is not None:
            options[canonical] = p[key].strip()
    text = _value(p, acct.dial_plan) or DEFAULT_DIAL_PLAN
    return DialPlan(syntax="grandstream", text=text, source=acct.dial_plan, options=options)


def lock_numbers(raw: str | None) -> list[str]:
    """P8385 as a list: the templates' value is comma-separated (``112,911,110``)."""
    return [n for n in re.split(r"[,;\s]+", raw or "") if n]


def _lock(p: dict[str, str], notices: list[Finding]) -> list[str] | None:
    """The numbers a locked keypad still dials, when keypad locking is enabled; None when it
    is not (the list then changes nothing about how a call goes)."""
    if _value(p, LOCK_ENABLE) != "1":
        return None
    if LOCK_EMERGENCY not in p:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                LOCK_EMERGENCY,
                f"keypad locking is enabled ({LOCK_ENABLE} = 1) but the file does not set the "
                f"keypad lock's emergency numbers ({LOCK_EMERGENCY}): which numbers a locked "
                "phone still dials is then the firmware's default, which Grandstream's "
                "templates give differently (112,911,110 for GRP261x 1.0.5.15, empty for "
                "GXP21xx 1.0.11.16 and GXP16xx 1.0.7.3; GXP21xx 1.0.8.6 has no such setting)",
                expected=f"{LOCK_EMERGENCY} listing every emergency number",
                actual="not set",
            )
        )
        return None
    if _value(p, LOCK_TYPE) == "1":
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                LOCK_TYPE,
                f"{LOCK_TYPE} = 1 locks only the functional keys: whether the digit keys then "
                f"dial any number or only the {LOCK_EMERGENCY} list is not documented; fleet "
                f"checks the {LOCK_EMERGENCY} list",
            )
        )
    return lock_numbers(p.get(LOCK_EMERGENCY))


def _e911(p: dict[str, str], notices: list[Finding]) -> list[str] | None:
    """The E911 Emergency Numbers (P8597) when "Enable 911" (P8565) is on, else None."""
    if _value(p, E911_ENABLE) != "1":
        return None
    if E911_NUMBERS not in p:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                E911_NUMBERS,
                f"E911 is enabled ({E911_ENABLE} = 1) but the file does not set its emergency "
                f"numbers ({E911_NUMBERS}): the firmware default is not documented (the 1.0.9.103 "
                "template's value is 911)",
                expected=f"{E911_NUMBERS} listing every emergency number",
                actual="not set",
            )
        )
        return []
    return lock_numbers(p.get(E911_NUMBERS))


def _emergency_list(e911: list[str] | None, lock: list[str] | None) -> tuple[list[str], str] | None:
    """The numbers the phone treats as emergency calls and the P-value saying so. With E911 on
    they are its list; with keypad locking on as well, only those a locked keypad still dials."""
    if e911 is not None:
        return ([n for n in e911 if lock is None or n in lock], E911_NUMBERS)
    if lock is not None:
        return (lock, LOCK_EMERGENCY)
    return None


def _line(
    p: dict[str, str],
    acct: Account,
    emergency_list: tuple[list[str], str] | None,
    notices: list[Finding],
) -> Line | None:
    registrar, user = _value(p, acct.server), _value(p, acct.user)
    if registrar is not None and not registrar.partition(":")[0].strip():
        # FusionPBX's templates write "server:port" for unused accounts, giving ":".
        notices.append(
            Finding(
                "config.malformed",
                "medium",
                acct.server,
                f"account {acct.index}: {acct.server} (SIP Server) {registrar!r} names no host; "
                "the account has no server to send calls to",
            )
        )
        registrar = None
    if registrar is None and user is None:
        return None
    active = _value(p, acct.active)
    if active is None:
        # "Account Active ... Default is 0" (GRP261x 1.0.5.15) but "Default is 1" (GXP21xx
        # 1.0.11.16): evaluated as active, so a line that may be live is checked.
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                acct.active,
                f"account {acct.index} has a server or user but {acct.active} (Account Active) "
                "is not set: its default is 0 on GRP261x and 1 on GXP21xx (config templates); "
                "fleet checks the account as active",
            )
        )
    enabled = active in ("1", None)
    proxy = _value(p, acct.proxy)
    plan = _dialplan(p, acct)
    bypass = {b.strip().lower() for b in (p.get(acct.bypass) or "").split(",")}
    if enabled and "dialing" in bypass:
        notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                acct.bypass,
                f"{acct.bypass} (Bypass Dial Plan) includes 'dialing': account {acct.index}'s "
                "dial plan is not applied to numbers keyed on the dialing screen, and when the "
                "phone then sends a number is not documented; fleet evaluates the plan",
            )
        )
    route, route_source = (proxy, acct.proxy) if proxy else (registrar, acct.server)
    # No Grandstream setting sends emergency calls anywhere but the account's own server: the
    # E911 list (P8597) and the keypad lock's list (P8385) name numbers, which go through this
    # account's dial plan to its outbound proxy or SIP server.
    numbers, source = emergency_list or ([], "")
    emergency = [EmergencyEntry(n, route, source, route_source) for n in numbers]
    return Line(
        index=acct.index,
        registrar=registrar,
        outbound_proxy=proxy,
        transport=TRANSPORTS.get(_value(p, acct.transport) or "0"),
        user=user,
        dialplan=plan,
        emergency=emergency if enabled else [],
        enabled=enabled,
        # the account's SIP User ID: no Grandstream callback or ELIN setting was found
        callback=user,
        callback_source=acct.user if user else None,
    )


def provisioning_server(path: str | None, protocol: str | None) -> str | None:
    """P237 holds host[/path] without a scheme; P212 says how the phone fetches it."""
    if not path:
        return None
    if "://" in path:
        return path.rstrip("/")
    scheme = PROTOCOLS.get(protocol or "")
    return f"{scheme}://{path.rstrip('/')}" if scheme else path.rstrip("/")


def _location(p: dict[str, str], on: bool, held: str | None) -> Location:
    """README "Location and callback": the E911 service's HELD Location Server, the only
    location source the templates carry (no ELIN or civic-address setting)."""
    value = _value(p, E911_ENABLE)
    enable = f"{E911_ENABLE} = {value}" if value is not None else f"{E911_ENABLE} (unset)"
    if not on:
        return Location("none", f"E911 is off ({E911_ENABLE} is not 1)", [enable])
    if not held:
        return Location(
            "none",
            f"E911 is on but {E911_SERVER} (Location Server) is empty",
            [enable, f"{E911_SERVER} = "],
        )
    held = re.sub(r"^([^/@]*//)?[^/@]*@", r"\1", held)  # never a user:password@ into the state
    return Location("held", held, [enable, f"{E911_SERVER} = {held}"])


def to_state(c: Collected) -> DeviceState:
    notices: list[Finding] = []
    p = pvalue_view(c.params, notices)
    e911, lock = _e911(p, notices), _lock(p, notices)
    emergency_list = _emergency_list(e911, lock)
    lines = [ln for acct in ACCOUNTS if (ln := _line(p, acct, emergency_list, notices)) is not None]
    held = _value(p, E911_SERVER) if e911 is not None else None
    return DeviceState(
        vendor="Grandstream",
        profile="grandstream",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=_mac(c.identity.get("mac")),
        lines=lines,
        provisioning_server=provisioning_server(_value(p, "P237"), _value(p, "P212")),
        # E911 with a HELD Location Server (P8568); the templates have no ELIN setting.
        location_source=f"HELD {held}" if held else None,
        location=_location(p, e911 is not None, held),
        raw=dict(c.params),
        notices=notices,
        # Without E911 or keypad locking no number is special: every number is an ordinary
        # call through the account's dial plan to its server.
        emergency_setting=emergency_list is not None,
    )


# Every password P-value of Grandstream's GXP/GRP config templates (GRP261x 1.0.5.15,
# GXP21xx 1.0.11.16, GXP16xx 1.0.7.3): the six accounts' Authenticate Password, web admin and
# end-user passwords, provisioning, firmware, TR-069, network (PPPoE, 802.1X MD5, OpenVPN,
# Wi-Fi and EAP), TLS keys, keypad lock, LDAP, phonebook, presence and door-system passwords.
# Version-2 names (account.N.sip.subscriber.password, users.admin.password, …) are caught by
# the generic password pattern of fleet.profiles.
ACCOUNT_PASSWORDS = tuple(a.password for a in ACCOUNTS)
OTHER_SECRETS: tuple[str, ...] = (
    "P2",
    "P196",
    "P1359",
    "P1361",
    "P6769",
    "P83",
    "P7903",
    "P8395",
    "P4505",
    "P4512",
    "P8221",
    "P279",
    "P281",
    "P1383",
    "P6714",
    "P8024",
    "P8452",
    "P1594",
    "P6773",
    "P2967",
    "P2352",
    "P2452",
    "P2552",
    "P21909",
    "P21915",
    "P8404",
    "P8407",
    "P8410",
    "P8413",
    "P8416",
    "P8419",
    "P8422",
    "P8425",
    "P8428",
    "P8431",
    "P22022",
    "P22137",
    "P22140",
    "P22143",
    "P22146",
    "P22149",
    "P22152",
    "P22155",
    "P22158",
    "P22161",
    "P32004",
    "P32009",
    "P32014",
    "P32019",
    "P32024",
    "P32029",
    "P32034",
    "P32039",
    "P32044",
    "P32049",
    "P8570",
    "P8573",
)
SECRET_KEYS = re.compile(
    "^(" + "|".join(k[1:] for k in (*ACCOUNT_PASSWORDS, *OTHER_SECRETS)).join(("P(", "))$"))
)


PROFILE = Profile(
    name="grandstream",
    vendor="Grandstream",
    role="phone",
    transport="http",
    default_scheme="http",
    default_username="admin",
    fetch=fetch,
    detect=detect,
    parse_files=parse_files,
    includes=includes,
    to_state=to_state,
    secret_keys=SECRET_KEYS,
    dialplan_syntax="grandstream",
)
