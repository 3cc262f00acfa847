"""The lab's simulated Yealink phone: the /api web API of T5x firmware 86+, and the /servlet
web UI of older firmware, each with its own login, one web session at a time and the
five-failures lockout. Shapes as in web.py and README.md ("HTTP interface")."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from device_profiles.yealink import cfgfile
from device_profiles.yealink.profile import DEFAULTS
from device_profiles.yealink.web import ENC_PREFIX, INVALID_KEY
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

# Firmware "<family>.<release>.x.y": family 96 is the T5x line (T54W, T57W, T53W), 108 the
# T4xU line, 66 the T4xS line (versions as shipped in wazo-provd-plugins' Yealink plugins).
MODELS = [
    ("SIP-T54W", "96.86.0.75"),
    ("SIP-T46U", "108.86.0.45"),
    ("SIP-T57W", "96.86.0.45"),
    ("SIP-T48S", "66.85.0.5"),
]
OUI = "805ec0"
ADMIN_USER = "admin"
AUTH: Auth = "session"
API_FAMILIES = {"96", "97", "150"}  # T5x lines whose firmware 86+ serves /api
MAX_FAILURES = 5
LOCK_SECONDS = 180.0
SESSION_IDLE = 300.0
SAMPLE = Path(__file__).parent / "samples" / "site" / "805ec0a1b2c3.cfg"
COOKIE = "JSESSIONID"
_KNOWN = re.compile(
    r"^(static\.)?(account|dialplan|dialplan_dialnow|dialplan_replace_rule|phone_setting"
    r"|auto_provision|local_time|lang|voice|voice_mail|features|linekey|programablekey|expkey"
    r"|security|network|sip|lcd|call_waiting|transfer|remote_phonebook|directory_setting"
    r"|distinctive_ring_tones|wifi|firmware|action_url|usb|bluetooth|wui|syslog)\."
)


# Classic dial-plan failures a Yealink can carry: raw parameters laid over the lab's UK plan
# (see _uk_dialplan: dial-now 1-5 = 999, 112, 9999, 9112, 90xxxxxxxxxx; replace 1-3 =
# 9(999), 9(112), 9(0xxxxxxxxxx) -> $1; dialnow_delay 0). README.md, "Dial plan".
# Location faults (README "Location and callback"), beside the dial-plan FAULTS: LLDP switched
# off, so the ELIN the switch offers never reaches the phone; HELD chosen with no location
# server configured. No emergency.* finding under the lab's golden, which asks for no location.
LOCATION_FAULTS: dict[str, dict[str, str]] = {
    "yealink-lldp-off": {"static.network.lldp.enable": "0"},
    "yealink-held-url-missing": {
        "dialplan.emergency.asserted_id_source": "HELD",
        "dialplan.emergency.held.server_url": "",
    },
}
FAULTS: dict[str, dict[str, str]] = {
    # Switched to digit-map mode with the guide's default (US) map: the dial-now and replace
    # rules are silently dead; 999 only partially matches [2-9]xxxT (long timer, 10 s), 9999
    # completes [2-9]xxxT after 3 s unstripped, 11 is an impossible match sent at once
    # (no_match_action 0) and 9112 stops at [2-9]11 sending 911.
    "digitmap-us": {
        "dialplan.digitmap.enable": "1",
        "dialplan.digitmap.string": "[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx"
        "|[2-9]xxxT|**x.T|+x.T|00x.T",
    },
    # A template's outside-line rule at the head of the replace list: 9(.) -> $1 also takes
    # 999 (sent as 99) and 9999 (dialled at 999, sent as 99).
    "replace-strips-9": {
        "dialplan.replace.prefix.1": "9(.)",
        "dialplan.replace.replace.1": "$1",
        "dialplan.replace.line_id.1": "0",
    },
    # A block-out meant for 118 directory enquiries written as 11. also bars 112.
    "blockout-112": {
        "dialplan.block_out.number.1": "11.",
        "dialplan.block_out.line_id.1": "0",
    },
    # A US template's dial-now 911 where 112 belonged: 112 waits for Send, and keying 9112
    # completes the 911 rule at its third digit, so the phone calls 911 instead.
    "no-dialnow-112": {"dialplan.dialnow.rule.2": "911"},
    # dialnow_delay left at its factory default of 1 s: every emergency call waits a second.
    "dialnow-delay-default": {"phone_setting.dialnow_delay": ""},
}
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "digitmap-us": [
        ("emergency.delay", "999"),
        # the 9-prefixed forms leave as dialled after the timer; the site SBC strips the 9
        ("emergency.delay", "9999"),
        ("emergency.dial", "112"),
        ("emergency.dial", "9112"),
    ],
    "replace-strips-9": [("emergency.dial", "999"), ("emergency.dial", "9999")],
    "blockout-112": [("emergency.dial", "112")],
    "no-dialnow-112": [("emergency.dial", "112"), ("emergency.dial", "9112")],
    "dialnow-delay-default": [
        ("emergency.delay", "999"),
        ("emergency.delay", "9999"),
        ("emergency.delay", "112"),
        ("emergency.delay", "9112"),
    ],
}


def has_api(firmware: str) -> bool:
    family, _, rest = firmware.partition(".")
    release = rest.partition(".")[0]
    return family in API_FAMILIES and release.isdigit() and int(release) >= 86


def scheme(spec: LabPhone) -> str:
    # The T5x web app is served over HTTPS by default; older T4x web UIs over HTTP.
    return "https" if has_api(spec.firmware) else "http"


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _public_hex() -> tuple[str, str]:
    nums = _key().public_key().public_numbers()
    return format(nums.n, "x"), format(nums.e, "x")


def _rsa_decrypt(hex_text: str) -> bytes:
    size = _key().key_size // 8
    return _key().decrypt(int(hex_text, 16).to_bytes(size, "big"), padding.PKCS1v15())


# --- configuration --------------------------------------------------------------------------


def _split(hostport: str) -> tuple[str, str]:
    host, sep, port = hostport.rpartition(":")
    return (host, port) if sep and port.isdigit() else (hostport, "")


def _lab_only(key: str) -> bool:
    """Sample keys the lab rebuilds from the spec."""
    return bool(
        re.match(r"account\.(?!1\.)\d+\.", key)
        or re.match(r"dialplan\.(dialnow|replace|block_out)\.", key)
        or re.match(r"dialplan\.emergency\.(\d+\.|server\.)", key)
    )


def _uk_dialplan(numbers: list[str]) -> dict[str, str]:
    """Emergency numbers and 9+number dial at once; 9 + a national number sends the number."""
    now = [*numbers, *(f"9{n}" for n in numbers), "90xxxxxxxxxx"]
    replace = [*(f"9({n})" for n in numbers), "9(0xxxxxxxxxx)"]
    out = {"dialplan.digitmap.enable": "0", "phone_setting.dialnow_delay": "0"}
    for i, rule in enumerate(now, start=1):
        out[f"dialplan.dialnow.rule.{i}"] = rule
        out[f"dialplan.dialnow.line_id.{i}"] = "0"
    for i, prefix in enumerate(replace, start=1):
        out[f"dialplan.replace.prefix.{i}"] = prefix
        out[f"dialplan.replace.replace.{i}"] = "$1"
        out[f"dialplan.replace.line_id.{i}"] = "0"
    return out


def render(spec: LabPhone) -> Collected:
    folder = SAMPLE.parent
    base = cfgfile.parse_files(
        SAMPLE.name,
        SAMPLE.read_text(),
        lambda n: (folder / n).read_text() if (folder / n).is_file() else None,
    )
    p = {k: v for k, v in base.params.items() if not _lab_only(k)}
    reg_host, reg_port = _split(spec.registrar)
    proxy_host, proxy_port = _split(spec.outbound_proxy)
    route_host, route_port = _split(spec.emergency_route)
    p.update(
        {
            "account.1.enable": "1",
            "account.1.label": spec.sip_user,
            "account.1.display_name": spec.sip_user,
            "account.1.auth_name": spec.sip_user,
            "account.1.user_name": spec.sip_user,
            "account.1.password": spec.sip_password,
            "account.1.sip_server.1.address": reg_host,
            "account.1.sip_server.1.port": reg_port,
            "account.1.sip_server.1.transport_type": "0",
            "account.1.outbound_proxy_enable": "1" if proxy_host else "0",
            "account.1.outbound_proxy.1.address": proxy_host,
            "account.1.outbound_proxy.1.port": proxy_port,
            "static.auto_provision.server.url": spec.provisioning_server,
            "dialplan.emergency.enable": "1",
            # The phone's fallback when the SIP server does not answer an emergency INVITE.
            "dialplan.emergency.server.1.address": route_host,
            "dialplan.emergency.server.1.port": route_port,
            "dialplan.emergency.server.1.transport_type": "0",
            "phone_setting.emergency.number": ",".join(spec.emergency_numbers),
            # Location: the ELIN the site switch sends over LLDP-MED (the factory source)
            "dialplan.emergency.asserted_id_source": "ELIN",
            "static.network.lldp.enable": "1",
            # no custom fallback identity: the line's own number is its callback identity
            "dialplan.emergency.custom_asserted_id": "",
        }
    )
    # Every slot written, so a shorter list clears the factory 911 in slot 1 too.
    for i in range(1, max(len(spec.emergency_numbers), 1) + 1):
        number = spec.emergency_numbers[i - 1] if i <= len(spec.emergency_numbers) else ""
        p[f"dialplan.emergency.{i}.value"] = number
        p[f"dialplan.emergency.{i}.server_priority"] = "1, 2, 3"
    p.update(_uk_dialplan(spec.emergency_numbers))
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=["lab"])


def export_files(dev: LabDevice) -> dict[str, str]:
    return {
        f"{dev.spec.mac}.cfg": cfgfile.render(
            dev.config.params, f"{dev.spec.model} {dev.spec.firmware}: MAC-oriented file"
        )
    }


def _value(dev: LabDevice, key: str) -> str:
    return dev.config.params.get(key, DEFAULTS.get(key, ""))


# --- sessions and lockout -------------------------------------------------------------------


def _state(dev: LabDevice) -> dict:
    s = dev.sessions.setdefault(
        "yealink", {"failures": 0, "locked_until": 0.0, "logins": 0, "live": {}, "pending": set()}
    )
    now = time.monotonic()
    s["live"] = {k: v for k, v in s["live"].items() if now - v["seen"] < SESSION_IDLE}
    return s


def login_attempts(dev: LabDevice) -> int:
    """How many logins the device has seen (tests use it to prove fleet does not retry)."""
    return _state(dev)["logins"]


def _cookie(req: LabRequest) -> str:
    for part in req.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def _check_login(dev: LabDevice, user: str, password: str | None) -> str:
    """'ok', 'locked' or 'wrong'; counts failures towards the lockout."""
    s = _state(dev)
    s["logins"] += 1
    if time.monotonic() < s["locked_until"]:
        return "locked"
    if user == dev.spec.admin_user and password == dev.spec.admin_password:
        s["failures"] = 0
        return "ok"
    s["failures"] += 1
    if s["failures"] >= MAX_FAILURES:
        s["locked_until"] = time.monotonic() + LOCK_SECONDS
        s["failures"] = 0
    return "wrong"


def _session(dev: LabDevice, req: LabRequest) -> dict | None:
    sess = _state(dev)["live"].get(_cookie(req))
    if sess is not None:
        sess["seen"] = time.monotonic()
    return sess


def _open_session(dev: LabDevice, sid: str | None = None) -> tuple[str, dict]:
    sid = sid or os.urandom(16).hex()
    sess = {"token": os.urandom(12).hex(), "seen": time.monotonic()}
    _state(dev)["live"][sid] = sess
    return sid, sess


def _set_cookie(sid: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly")


# --- HTTP -----------------------------------------------------------------------------------


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    api = has_api(dev.spec.firmware)
    if req.path.startswith("/api/"):
        return _api(dev, req) if api else LabResponse(404, "Not Found", "text/html")
    if req.path == "/servlet":
        if api:  # firmware 86 moved the web UI to /api
            return LabResponse(302, "", headers=[("Location", "/")])
        return _servlet(dev, req)
    if req.path == "/":
        return LabResponse(
            200,
            f"<html><head><title>Yealink {dev.spec.model}</title></head><body></body></html>",
            "text/html",
        )
    return LabResponse(404, "Not Found", "text/html")


def _failed(msg: str, status: int = 200, **extra: str) -> LabResponse:
    return LabResponse.json(
        {"ret": "failed", "data": False, "error": {"msg": msg, **extra}}, status
    )


def _api(dev: LabDevice, req: LabRequest) -> LabResponse:
    if req.method != "POST":
        return _failed("error_method_not_allowed", 405)
    if req.path == "/api/auth/login":
        return _api_login(dev, req)
    try:
        body = req.json() or {}
    except ValueError:
        return _failed("error_invalid_json", 400)
    if req.path == "/api/common/info":
        return _api_info(dev, req, body.get("idlist") or [])
    sess = _session(dev, req)
    if sess is None or req.headers.get("x-csrftoken") != sess["token"]:
        return _failed("error_csrf_or_session", 403)
    if req.path == "/api/inner/readconfig":
        keys = [str(k) for k in body.get("formData") or []]
        if any(not _KNOWN.match(k) for k in keys):
            return _failed(INVALID_KEY)
        return LabResponse.json(
            {"ret": "ok", "data": {"formData": {k: _value(dev, k) for k in keys}}}
        )
    if req.path == "/api/auth/logout":
        _state(dev)["live"].pop(_cookie(req), None)
        return LabResponse.json({"ret": "ok", "data": True})
    return _failed("error_not_found", 404)


def _api_info(dev: LabDevice, req: LabRequest, ids: list[str]) -> LabResponse:
    n, e = _public_hex()
    data: dict[str, str] = {"wui.common.rsaN": n, "wui.common.rsaE": e}
    sess = _session(dev, req)
    if sess is not None:
        data.update(
            {
                "wui.common.token": sess["token"],
                "wui.device.model": dev.spec.model,
                "wui.device.firmware": dev.spec.firmware,
                "wui.device.mac": ":".join(re.findall("..", dev.spec.mac)),
            }
        )
    return LabResponse.json({"ret": "ok", "data": {k: data[k] for k in ids if k in data}})


def _api_login(dev: LabDevice, req: LabRequest) -> LabResponse:
    form = req.form()
    secret = form.get("pwd", "")
    password = None
    if secret.startswith(ENC_PREFIX):
        try:
            password = _rsa_decrypt(secret[len(ENC_PREFIX) :]).decode()
        except ValueError:
            password = None
    verdict = _check_login(dev, form.get("username", ""), password)
    if verdict == "locked":
        return LabResponse.json(
            {"ret": "failed", "data": False, "error": {"webStatus": "lock", "lockTime": "3"}}
        )
    if verdict == "wrong":
        return _failed(
            "error_username_or_password_is_wrong",
            phoneName=dev.spec.model.removeprefix("SIP-"),
            firmware=dev.spec.firmware,
        )
    live = _state(dev)["live"]
    if any(sid != _cookie(req) for sid in live):
        return _failed("auth_err_user_busy")
    sid, _ = _open_session(dev)
    resp = LabResponse.json({"ret": "ok", "data": True})
    resp.headers.append(_set_cookie(sid))
    return resp


def _servlet(dev: LabDevice, req: LabRequest) -> LabResponse:
    q = req.query
    route = (q.get("m"), q.get("p"), q.get("q"))
    if route == ("mod_listener", "login", "loginForm"):
        return _login_form(dev)
    if route == ("mod_listener", "login", "login") and req.method == "POST":
        return _servlet_login(dev, req)
    if route == ("mod_listener", "login", "logout"):
        _state(dev)["live"].pop(_cookie(req), None)
        return LabResponse(
            302,
            "",
            headers=[("Location", "/servlet?m=mod_listener&p=login&q=loginForm&jumpto=status")],
        )
    if _session(dev, req) is None:
        return LabResponse(
            302,
            "",
            headers=[("Location", "/servlet?m=mod_listener&p=login&q=loginForm&jumpto=status")],
        )
    if route == ("mod_configfile", None, "exportcfgconfig") and req.method == "POST":
        text = cfgfile.render(dev.config.params)
        return LabResponse(
            200,
            text,
            "application/octet-stream",
            [("Content-Disposition", 'attachment; filename="config.cfg"')],
        )
    if route == ("mod_data", "status", "load"):
        mac = ":".join(re.findall("..", dev.spec.mac.upper()))
        return LabResponse(
            200,
            "<html><body><table>"
            f"<tr><td>Firmware Version</td><td>{dev.spec.firmware}</td></tr>"
            f"<tr><td>MAC Address</td><td>{mac}</td></tr>"
            "</table></body></html>",
            "text/html",
        )
    return LabResponse(404, "Not Found", "text/html")


def _login_form(dev: LabDevice) -> LabResponse:
    n, e = _public_hex()
    sid = os.urandom(16).hex()
    _state(dev)["pending"] = {sid}
    page = (
        f"<html><head><title>Yealink {dev.spec.model}</title><script>\n"
        f'var g_phonetype = "{dev.spec.model}";\nvar g_strFirmware = "{dev.spec.firmware}";\n'
        f'var g_rsa_n = "{n}";\nvar g_rsa_e = "{e}";\n</script></head><body>'
        '<form><input name="username"><input name="pwd" type="password"></form></body></html>'
    )
    return LabResponse(200, page, "text/html", [_set_cookie(sid)])


def _servlet_result(result: dict) -> LabResponse:
    return LabResponse(
        200,
        f'<html><body><div id="_RES_INFO_">{json.dumps(result)}</div></body></html>',
        "text/html",
    )


def _servlet_login(dev: LabDevice, req: LabRequest) -> LabResponse:
    form, sid = req.form(), _cookie(req)
    password = None
    try:
        key = bytes.fromhex(_rsa_decrypt(form.get("rsakey", "")).decode())
        iv = bytes.fromhex(_rsa_decrypt(form.get("rsaiv", "")).decode())
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        plain = dec.update(base64.b64decode(form.get("pwd", ""))) + dec.finalize()
        _rand, session, password = plain.rstrip(b"\x00").decode().split(";", 2)
        if session != sid or sid not in _state(dev)["pending"]:
            password = None
    except ValueError:
        password = None
    verdict = _check_login(dev, form.get("username", ""), password)
    if verdict != "ok":
        return _servlet_result({"authstatus": "locked" if verdict == "locked" else "error"})
    _state(dev)["pending"].discard(sid)
    _open_session(dev, sid)
    return _servlet_result({"authstatus": "done"})


# What the lab's rollout scenario (fleet/lab/rollout.py) changes besides the firmware: the
# SIP server key under its other documented name (account.N.sip_server_host, the older one).
UPDATE_CHANGES: dict[str, dict[str, str]] = {
    "rename": {"account.1.sip_server.1.address": "account.1.sip_server_host"}
}


SIMULATOR = PhoneSimulator(
    profile="yealink",
    models=MODELS,
    oui=OUI,
    admin_user=ADMIN_USER,
    auth=AUTH,
    scheme=scheme,
    render=render,
    handle=handle,
    export_files=export_files,
    faults={**FAULTS, **LOCATION_FAULTS},
    fault_expect=FAULT_EXPECT,
    demo_faults=("default-911", "auth"),
    order=20,
    update_rename=UPDATE_CHANGES["rename"],
)
