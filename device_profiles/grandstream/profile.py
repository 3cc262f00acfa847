"""Grandstream GXP/GRP desk phones: P-value configuration.

Every setting is a numbered P-value (``P47`` SIP server of account 1, ``P402`` of account 2).
The phone's web API reads them by name: ``/cgi-bin/api.values.get?request=P47:P48`` after a
``/cgi-bin/dologin`` session. Provisioning files carry the same P-values, as XML
(``<gs_provision version="1"><config version="1"><P47>…``) or as the older text form
(``P47 = sip.example.com``). README.md has the sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from fleet.collect.http import HttpHost, HttpReply
from fleet.dialplan import grandstream as engine
from fleet.errors import AuthFailed, ConfigFileError, DeviceError, ProtocolError
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Line
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
    """The P-values of one account (config template for GRP261x 1.0.5.15)."""

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

    def names(self) -> tuple[str, ...]:
        # The password is never read over the web API: nothing here needs it.
        return (self.active, self.server, self.proxy, self.user, self.auth_id, self.transport,
                self.prefix, self.dial_plan, self.timeout, self.dial_key)  # fmt: skip


ACCOUNTS = (
    Account(1, "P271", "P47", "P48", "P35", "P36", "P34", "P130", "P66", "P290", "P85", "P72"),
    Account(
        2, "P401", "P402", "P403", "P404", "P405", "P406", "P448", "P419", "P459", "P491", "P492"
    ),
)
GLOBAL_KEYS = ("P237", "P212", "P192")
READ_KEYS = (*GLOBAL_KEYS, *(k for a in ACCOUNTS for k in a.names()))
TRANSPORTS = {"0": "udp", "1": "tcp", "2": "tls"}  # P130/P448: 0 UDP, 1 TCP, 2 TLS/TCP
PROTOCOLS = {"0": "tftp", "1": "http", "2": "https"}  # P212 upgrade/config protocol
# No Grandstream setting lists emergency numbers (README, "Emergency numbers"): the phone sends
# these like any other number. These are the numbers fleet checks the dial plan for: Snom's
# documented lock-screen emergency list (911 112 110 999 19222) and Australia's 000.
KNOWN_EMERGENCY = ("999", "112", "911", "000", "110", "19222")
P_TEXT_LINE = re.compile(r"^\s*(P\d{1,5})\s*=(.*)$")
MAC_IN_NAME = re.compile(r"(?i)(?<![0-9a-f])([0-9a-f]{12})(?![0-9a-f])")


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


def _parse_xml(name: str, text: str) -> tuple[dict[str, str], str | None]:
    try:
        root = fromstring(text.encode("utf-8"))
    except ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else None
        raise ConfigFileError(f"not well-formed XML ({e})", file=name, line=line) from e
    except (DefusedXmlException, ValueError) as e:
        raise ConfigFileError(f"refused XML ({type(e).__name__})", file=name) from e
    config = root.find("config") if root.tag == "gs_provision" else None
    if config is None:
        raise ConfigFileError("no <gs_provision><config> element", file=name)
    if config.get("version", "1") != "1":
        raise ConfigFileError(
            f"XML config version {config.get('version')} (named items) is not read by fleet; "
            "export the P-value form (version 1) instead",
            file=name,
        )
    return _pvalues(config), (root.findtext("mac") or "").strip() or None


def _pvalues(config: Element) -> dict[str, str]:
    # A repeated P-value overrides the earlier one, as the phone applies the file top-down.
    return {el.tag: (el.text or "").strip() for el in config if re.fullmatch(r"P\d+", el.tag)}


def _parse_text(name: str, text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = P_TEXT_LINE.match(line)
        if m is None:
            raise ConfigFileError("not a P-value line (Pnnn = value)", file=name, line=n)
        params[m.group(1)] = m.group(2).strip()
    return params


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    mac: str | None = None
    if "<gs_provision" in text[:4096]:
        params, mac = _parse_xml(name, text)
    else:
        params = _parse_text(name, text)
    m = MAC_IN_NAME.search(name.rsplit("/", 1)[-1])
    identity = {}
    if mac or m:
        identity["mac"] = mac or m.group(1)  # type: ignore[union-attr]
    return Collected(params=params, identity=identity, sources=[name])


def includes(name: str, text: str) -> list[str]:
    # A Grandstream file names no other file; the phone fetches cfg<mac>.xml then cfg.xml itself.
    return []


# --- the vendor-neutral state -----------------------------------------------------------------


def _dialplan(p: dict[str, str], acct: Account) -> DialPlan:
    options = {}
    for canonical, key in (("P66", acct.prefix), ("P85", acct.timeout), ("P72", acct.dial_key)):
        if _value(p, key) is not None:
            options[canonical] = p[key].strip()
    text = _value(p, acct.dial_plan) or DEFAULT_DIAL_PLAN
    return DialPlan(syntax="grandstream", text=text, source=acct.dial_plan, options=options)


def emergency_numbers(plan: DialPlan) -> list[str]:
    """The known emergency numbers this plan sends unchanged (README: "Emergency numbers")."""
    out = []
    for number in KNOWN_EMERGENCY:
        res = engine.evaluate(plan, number)
        if res.outcome == "dial" and res.sent == number:
            out.append(number)
    return out


def _line(p: dict[str, str], acct: Account) -> Line | None:
    registrar, user = _value(p, acct.server), _value(p, acct.user)
    if registrar is None and user is None:
        return None
    enabled = _value(p, acct.active) == "1"  # "Account Active ... Default is 0"
    proxy = _value(p, acct.proxy)
    plan = _dialplan(p, acct)
    route, route_source = (proxy, acct.proxy) if proxy else (registrar, acct.server)
    emergency = [
        EmergencyEntry(n, route, acct.dial_plan, route_source) for n in emergency_numbers(plan)
    ]
    return Line(
        index=acct.index,
        registrar=registrar,
        outbound_proxy=proxy,
        transport=TRANSPORTS.get(_value(p, acct.transport) or "0"),
        user=user,
        dialplan=plan,
        emergency=emergency if enabled else [],
        enabled=enabled,
    )


def provisioning_server(path: str | None, protocol: str | None) -> str | None:
    """P237 holds host[/path] without a scheme; P212 says how the phone fetches it."""
    if not path:
        return None
    if "://" in path:
        return path.rstrip("/")
    scheme = PROTOCOLS.get(protocol or "")
    return f"{scheme}://{path.rstrip('/')}" if scheme else path.rstrip("/")


def to_state(c: Collected) -> DeviceState:
    p = c.params
    lines = [ln for acct in ACCOUNTS if (ln := _line(p, acct)) is not None]
    return DeviceState(
        vendor="Grandstream",
        profile="grandstream",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=_mac(c.identity.get("mac")),
        lines=lines,
        provisioning_server=provisioning_server(_value(p, "P237"), _value(p, "P212")),
        location_source=None,  # no HELD/ELIN setting in the GXP/GRP templates
        raw=dict(p),
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
    # P34/P406 account passwords, P2 admin and P196 user web passwords, P1359 XML config file
    # password (config templates).
    secret_keys=re.compile(r"^P(34|406|506|2|196|1359)$"),
    dialplan_syntax="grandstream",
)
