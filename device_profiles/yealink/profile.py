"""Yealink SIP-T4x/T5x desk phones: provisioning files and the phone's web interface.

Parameter names and defaults: Yealink SIP-T2/T4/T5 Series Administrator Guide (V84/V86),
"Emergency Dialplan and Enhanced 911" and "Dial Plan" chapters. See README.md for sources.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from device_profiles.yealink import cfgfile, web
from fleet.model import Collected, DeviceState, DialPlan, EmergencyEntry, Finding, Line, Location
from fleet.profiles import Profile

# Documented defaults of the parameters to_state reads (admin guide): an absent
# dialplan.emergency.1.value means the phone dials 911 as an emergency number.
DEFAULTS = {
    "dialplan.emergency.enable": "1",
    "dialplan.emergency.1.value": "911",
    "dialplan.emergency.asserted_id_source": "ELIN",
    "dialplan.digitmap.enable": "0",
}
TRANSPORTS = {"0": "udp", "1": "tcp", "2": "tls", "3": "dns-naptr"}
LOCK_LIST = "phone_setting.emergency.number"
_ACCOUNT = re.compile(r"^account\.(\d+)\.")
_EMERGENCY_VALUE = re.compile(r"^dialplan\.emergency\.(\d+)\.value$")
# Rule families whose entries carry a line_id (0 or blank = every line).
_RULE = re.compile(r"^dialplan\.(dialnow|replace|block_out)\.[a-z_]+\.(\d+)$")
_CLASSIC_ONLY = ("dialnow", "replace")  # ignored while the digit map is on (admin guide)


def _getter(params: dict[str, str]) -> Callable[[str], str]:
    def val(key: str) -> str:
        return params[key].strip() if key in params else DEFAULTS.get(key, "")

    return val


def _hostport(
    val: Callable[[str], str], host_keys: tuple[str, ...], port_keys: tuple[str, ...]
) -> tuple[str | None, str]:
    for hk, pk in zip(host_keys, port_keys, strict=True):
        host = val(hk)
        if host:
            port = val(pk)
            return (f"{host}:{port}" if port and port != "0" else host), hk
    return None, ""


def _line_ids(value: str) -> set[int] | None:
    """None means every line."""
    ids = {int(p) for p in re.split(r"[,\s]+", value) if p.isdigit()}
    return None if not ids or 0 in ids else ids


def _dialplan(params: dict[str, str], n: int) -> DialPlan:
    val = _getter(params)
    acct = f"account.{n}.dialplan.digitmap."
    digitmap = (val(acct + "enable") or val("dialplan.digitmap.enable")) == "1"
    options: dict[str, str] = {"mode": "digitmap" if digitmap else "classic"}
    for key, value in params.items():
        if value == "" or not (key.startswith("dialplan.") or key.startswith(acct)):
            continue
        if key.startswith("dialplan.emergency."):  # emergency entries carry these
            continue
        m = _RULE.match(key)
        if m:
            family, idx = m.groups()
            if digitmap and family in _CLASSIC_ONLY:
                continue
            ids = _line_ids(val(f"dialplan.{family}.line_id.{idx}"))
            if ids is not None and n not in ids:
                continue
        options[key] = value
    # Phone settings the engine needs: the dial-now delay and live-dialpad auto-dial.
    for key in (
        "phone_setting.dialnow_delay",
        "phone_setting.predial_autodial",
        "phone_setting.inter_digit_time",
    ):
        if val(key):
            options[key] = val(key)
    if digitmap:
        source = acct + "string" if val(acct + "string") else "dialplan.digitmap.string"
        return DialPlan("yealink", val(source), source, options)
    rules = sorted(
        (int(k.rsplit(".", 1)[1]), v)
        for k, v in options.items()
        if k.startswith("dialplan.dialnow.rule.")
    )
    return DialPlan("yealink", "|".join(v for _, v in rules), "dialplan.dialnow.rule", options)


def _emergency_numbers(params: dict[str, str]) -> list[tuple[str, str]]:
    val = _getter(params)
    found: list[tuple[str, str]] = []
    if val("dialplan.emergency.enable") != "0":
        idx = {1} | {int(m.group(1)) for k in params if (m := _EMERGENCY_VALUE.match(k))}
        for i in sorted(idx):
            key = f"dialplan.emergency.{i}.value"
            if val(key):
                found.append((val(key), key))
    for number in re.split(r"[,\s]+", val(LOCK_LIST)):
        if number and number not in {f[0] for f in found}:
            found.append((number, LOCK_LIST))
    return found


def _line(params: dict[str, str], n: int, numbers: list[tuple[str, str]]) -> Line | None:
    val = _getter(params)
    a = f"account.{n}."
    registrar, reg_key = _hostport(
        val,
        (a + "sip_server.1.address", a + "sip_server_host"),
        (a + "sip_server.1.port", a + "sip_server_port"),
    )
    user = val(a + "user_name") or None
    if registrar is None and user is None:
        return None
    proxy, proxy_key = None, ""
    if val(a + "outbound_proxy_enable") == "1":
        proxy, proxy_key = _hostport(
            val,
            (a + "outbound_proxy.1.address", a + "outbound_host"),
            (a + "outbound_proxy.1.port", a + "outbound_port"),
        )
    enabled = val(a + "enable") == "1"
    transport = val(a + "sip_server.1.transport_type") or val(a + "transport")
    # With account information configured the phone sends emergency calls through the SIP
    # server first; the dialplan.emergency.server.X entries are only its fallback.
    route, route_key = (proxy, proxy_key) if proxy else (registrar, reg_key)
    emergency = (
        [EmergencyEntry(num, route, src, route_key) for num, src in numbers] if enabled else []
    )
    callback, callback_source = _callback(params, n)
    return Line(
        index=n,
        registrar=registrar,
        outbound_proxy=proxy,
        transport=TRANSPORTS.get(transport, transport or None),
        user=user,
        dialplan=_dialplan(params, n),
        emergency=emergency,
        enabled=enabled,
        callback=callback,
        callback_source=callback_source,
    )


LLDP = "static.network.lldp.enable"
ID_SOURCE = "dialplan.emergency.asserted_id_source"
CUSTOM_ID = "dialplan.emergency.custom_asserted_id"
HELD_URL = "dialplan.emergency.held.server_url"


def _location(params: dict[str, str]) -> Location:
    """Where emergency calls take their location from (README "Location and callback"):
    the ELIN the switch sends over LLDP-MED, a HELD server, or a custom identity."""
    val = _getter(params)

    def said(key: str) -> str:
        return f"{key} = {val(key)}" if key in params else f"{key} (default) = {val(key)}"

    if val("dialplan.emergency.enable") == "0":
        return Location("none", "the emergency plan is off", [said("dialplan.emergency.enable")])
    source = val(ID_SOURCE).upper()
    if source == "HELD":
        url = val(HELD_URL)
        if not url:
            return Location(
                "none",
                f"{ID_SOURCE} is HELD but {HELD_URL} is empty",
                [said(ID_SOURCE), f"{HELD_URL} = "],
            )
        return Location("held", url, [said(ID_SOURCE), said(HELD_URL)])
    if source not in ("ELIN", "CUSTOM"):
        return Location(
            "none",
            f"{ID_SOURCE} = {source!r} is not a documented value",
            [said(ID_SOURCE)],
            uncertain=f"{ID_SOURCE} = {source!r} is not one of the documented ELIN, CUSTOM, HELD",
        )
    # Admin guide: ELIN takes the PAI from the LLDP-MED ELIN, the custom identity when the
    # phone gets none; CUSTOM takes the custom identity, the LLDP-MED ELIN when it is blank.
    custom = val(CUSTOM_ID)
    lldp_on = val(LLDP) != "0"
    # unset: the factory setting applies, taken as on (README, UNCONFIRMED); evidence says so
    lldp = said(LLDP) if LLDP in params else f"{LLDP} (unset)"
    static = Location("static", f"custom identity {custom}", [said(ID_SOURCE), said(CUSTOM_ID)])
    if source == "CUSTOM" and custom:
        return static
    if lldp_on:
        return Location("lldp-med", "ELIN from LLDP-MED", [said(ID_SOURCE), lldp])
    if custom:
        return dataclasses.replace(static, evidence=[*static.evidence, lldp])
    return Location(
        "none",
        f"the ELIN comes over LLDP-MED but {LLDP} = 0, and {CUSTOM_ID} is empty",
        [said(ID_SOURCE), lldp, f"{CUSTOM_ID} = "],
    )


def _callback(params: dict[str, str], n: int) -> tuple[str | None, str | None]:
    """The identity line ``n`` presents on an emergency call as configured: the custom
    asserted identity when set (the PAI under CUSTOM, the fallback under ELIN), else the
    account's own user. An ELIN the switch supplies is not in the configuration."""
    val = _getter(params)
    if val(ID_SOURCE).upper() in ("CUSTOM", "ELIN") and val(CUSTOM_ID):
        return val(CUSTOM_ID), CUSTOM_ID
    user = val(f"account.{n}.user_name")
    return (user, f"account.{n}.user_name") if user else (None, None)


def _provisioning(url: str) -> str | None:
    # Credentials never leave the profile: drop user:pass@ from the URL.
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@]*@", r"\1", url) or None


def to_state(c: Collected) -> DeviceState:
    params = c.params
    val = _getter(params)
    numbers = _emergency_numbers(params)
    accounts = sorted({int(m.group(1)) for k in params if (m := _ACCOUNT.match(k))})
    lines = [ln for n in accounts if (ln := _line(params, n, numbers)) is not None]
    location = val("dialplan.emergency.asserted_id_source").upper() or None
    loc = _location(params)
    # A file that configures no account (a model-wide common file on its own) still carries
    # the device-wide plan every line of the phone gets: the rules for all lines (line_id 0
    # or blank). Only when the file sets any plan parameter at all.
    device_plan = _dialplan(params, 0) if not lines and _has_plan(params) else None
    return DeviceState(
        vendor="Yealink",
        profile="yealink",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        mac=c.identity.get("mac"),
        lines=lines,
        provisioning_server=_provisioning(val("static.auto_provision.server.url")),
        # the short form, None where the full reading finds no source (LLDP off under ELIN)
        location_source=location if loc.source != "none" else None,
        location=loc,
        raw=dict(params),
        dialplan=device_plan,
        notices=_held_notice(params, lines),
    )


def _held_notice(params: dict[str, str], lines: list[Line]) -> list[Finding]:
    """The admin guide says dialplan.emergency.X.value and .server_priority work only while
    asserted_id_source is not HELD (README "Location and callback"); what the phone treats
    as an emergency number under HELD is not documented in the pages read, so the numbers
    fleet reads are unproven rather than taken as applied."""
    if _getter(params)(ID_SOURCE).upper() != "HELD" or not any(ln.emergency for ln in lines):
        return []
    return [
        Finding(
            "coverage.uncertain",
            "high",
            ID_SOURCE,
            f"{ID_SOURCE} = HELD: the admin guide says dialplan.emergency.X.value applies only "
            "when it is not HELD, and which numbers the phone then treats as emergency numbers "
            "is not documented; the emergency numbers read are checked but unproven",
            evidence=[f"{ID_SOURCE} = HELD"],
        )
    ]


def _has_plan(params: dict[str, str]) -> bool:
    return any(
        v != ""
        and (
            (k.startswith("dialplan.") and not k.startswith("dialplan.emergency."))
            or k == "phone_setting.dialnow_delay"
        )
        for k, v in params.items()
    )


PROFILE = Profile(
    name="yealink",
    vendor="Yealink",
    role="phone",
    transport="http",
    default_scheme="http",
    default_username="admin",
    fetch=web.fetch,
    detect=cfgfile.detect,
    parse_files=cfgfile.parse_files,
    # A MAC file is read on top of the folder's model-wide common file (y0000000000xx.cfg); a
    # boot file is the .cfg files it names.
    includes=cfgfile.includes,
    to_state=to_state,
    secret_keys=re.compile(
        r"(?i)(\.password$|^static\.auto_provision\.server\.password$|user_password|aes_key"
        r"|\.pwd$)"
    ),
    dialplan_syntax="yealink",
)
