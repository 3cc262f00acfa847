"""Reading a Yealink phone over its web interface.

Two generations (README.md, "HTTP interface", has the sources):

* ``/api`` (T5x firmware 86 and later): ``POST /api/common/info`` hands out the RSA login key,
  ``POST /api/auth/login`` takes ``username`` and ``pwd`` = ``__WUI_ENC__:`` + RSA(PKCS#1 v1.5)
  hex, then every call carries ``X-CSRFToken`` (``wui.common.token``) and settings are read by
  name with ``POST /api/inner/readconfig {"formData": [...]}``. One web session at a time.
* ``/servlet`` (older firmware): the login form page holds ``g_rsa_n``/``g_rsa_e``; the password
  travels AES-CBC encrypted with an RSA-wrapped key; the whole configuration is exported as a
  ``.cfg`` file by ``/servlet?m=mod_configfile&q=exportcfgconfig&type=all``.

Both lock the web login for about three minutes after about five failed logins, so a refused
login is reported at once and never retried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from device_profiles.yealink import cfgfile
from fleet.collect.http import HttpHost
from fleet.collect.options import fleet_seconds
from fleet.errors import AuthFailed, DeviceError, ProtocolError
from fleet.model import Collected

API = "Yealink web API (/api, firmware 86 and later)"
SERVLET = "Yealink web UI (/servlet, older firmware)"
LOCKOUT = (
    "the phone locks its web login for about 3 minutes after about 5 failed logins, so fleet "
    "did not retry: fix the admin credentials in the inventory"
)
INVALID_KEY = "error_invalid_cfg_info"
# /api/auth/login answers for a wrong username or password (README.md, "HTTP interface").
WRONG_CREDENTIALS = {"error_username_or_password_is_wrong"}
ENC_PREFIX = "__WUI_ENC__:"
ACCOUNTS = 16
PAGE = 10
# Another web session holds the phone (it allows one at a time): wait this long before each
# new login attempt. Three retries, so even a phone that counted a busy answer as a failed
# login would stay below its lockout threshold of about five.
BUSY_BACKOFF: tuple[float, ...] = (2.0, 5.0, 10.0)
BUSY = (
    "another web session holds the phone, which allows one web session at a time: it may "
    "be someone at the phone's web page or an earlier run of fleet that was interrupted "
    "(that session ends when it times out on the phone, after some minutes); fleet retried "
    "{n} times over {s:g} s and did not push it aside"
)
# Logging out must not hold up a cancelled sweep: at most this long of the phone's own time
# (fleet's lateness not counted), shielded from the cancellation so the phone's one web
# session is handed back.
LOGOUT_TIMEOUT = 3.0
_LOGOUTS: set[asyncio.Task[None]] = set()

GLOBAL_KEYS = (
    "dialplan.emergency.enable",
    "dialplan.emergency.asserted_id_source",
    "dialplan.emergency.custom_asserted_id",
    "dialplan.emergency.held.server_url",
    "static.network.lldp.enable",
    *(
        f"dialplan.emergency.server.{i}.{f}"
        for i in (1, 2, 3)
        for f in ("address", "port", "transport_type")
    ),
    "dialplan.digitmap.enable",
    "dialplan.digitmap.string",
    "dialplan.digitmap.no_match_action",
    "dialplan.digitmap.interdigit_short_timer",
    "dialplan.digitmap.interdigit_long_timer",
    "dialplan.area_code.code",
    "dialplan.area_code.min_len",
    "dialplan.area_code.max_len",
    "dialplan.area_code.line_id",
    "phone_setting.dialnow_delay",
    "phone_setting.emergency.number",
    "static.auto_provision.server.url",
)
# Indexed families: (key templates, highest index the admin guide allows).
FAMILIES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("dialplan.emergency.{}.value", "dialplan.emergency.{}.server_priority"), 255),
    (("dialplan.dialnow.rule.{}", "dialplan.dialnow.line_id.{}"), 100),
    (
        (
            "dialplan.replace.prefix.{}",
            "dialplan.replace.replace.{}",
            "dialplan.replace.line_id.{}",
        ),
        100,
    ),
    (("dialplan.block_out.number.{}", "dialplan.block_out.line_id.{}"), 10),
)
ACCOUNT_PROBE = ("enable", "user_name", "sip_server.1.address", "sip_server_host")
ACCOUNT_DETAIL = (
    "label",
    "auth_name",
    "sip_server.1.port",
    "sip_server.1.transport_type",
    "sip_server_port",
    "transport",
    "outbound_proxy_enable",
    "outbound_proxy.1.address",
    "outbound_proxy.1.port",
    "outbound_host",
    "outbound_port",
    "dialplan.digitmap.enable",
    "dialplan.digitmap.string",
    "dialplan.digitmap.no_match_action",
    "dialplan.digitmap.interdigit_short_timer",
    "dialplan.digitmap.interdigit_long_timer",
)

Reader = Callable[[list[str]], Awaitable[dict[str, str]]]


class _NoApi(Exception):
    """The phone has no /api (older firmware)."""


async def fetch(host: HttpHost, wanted: Sequence[str]) -> Collected:
    try:
        return await _fetch_api(host, wanted)
    except _NoApi:
        return await _fetch_servlet(host)


# --- crypto, as the phone's own web page does it ---------------------------------------------


def rsa_hex(n_hex: str, e_hex: str, data: bytes) -> str:
    """PKCS#1 v1.5, lower-case hex without leading zeros (jsbn's toString(16)), even length."""
    try:
        key = rsa.RSAPublicNumbers(int(e_hex, 16), int(n_hex, 16)).public_key()
        out = key.encrypt(data, padding.PKCS1v15()).hex().lstrip("0")
    except ValueError as e:
        raise ProtocolError(f"the phone's RSA login key is unusable ({e})") from None
    return out if len(out) % 2 == 0 else "0" + out


def _aes_zero_cbc(key: bytes, iv: bytes, text: bytes) -> bytes:
    text += b"\x00" * (-len(text) % 16)
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(text) + enc.finalize()


def _ms() -> str:
    return str(int(time.time() * 1000))


# --- /api ---------------------------------------------------------------------------------------


async def _api_json(host: HttpHost, path: str, page: str, token: str = "", **kw: Any) -> Any:
    headers = {"X-CSRFToken": token} if token else {}
    reply = await host.request(
        "POST", path, params={"p": page, "t": _ms()}, headers=headers, auth=False, **kw
    )
    body = reply.json()
    if not isinstance(body, dict) or "ret" not in body:
        raise ProtocolError(f"{API}: {path} answered JSON without 'ret'")
    return body


def _error(body: dict[str, Any]) -> dict[str, Any]:
    err = body.get("error")
    return err if isinstance(err, dict) else {}


class _Busy(DeviceError):
    """Another web session holds the phone."""


async def _fetch_api(host: HttpHost, wanted: Sequence[str]) -> Collected:
    reply = await host.request(
        "POST",
        "/api/common/info",
        params={"p": "Login", "t": _ms()},
        json={"idlist": ["wui.common.rsaN", "wui.common.rsaE"]},
        auth=False,
        ok=(200, 404),
    )
    if reply.status == 404:
        raise _NoApi
    info = reply.json()
    data = info.get("data") if isinstance(info, dict) else None
    if not isinstance(data, dict) or not data.get("wui.common.rsaN"):
        raise ProtocolError(
            f"{API}: /api/common/info?p=Login gave no RSA login key (wui.common.rsaN): the "
            "phone's web API differs from the one fleet knows"
        )
    n_hex, e_hex = str(data["wui.common.rsaN"]), str(data.get("wui.common.rsaE", "10001"))
    session = [False]  # True while fleet may hold the phone's one web session
    token = [""]
    try:
        await _api_login_retrying(host, n_hex, e_hex, session)
        ident = await _api_json(
            host,
            "/api/common/info",
            "Status",
            json={
                "idlist": [
                    "wui.common.token",
                    "wui.device.model",
                    "wui.device.firmware",
                    "wui.device.mac",
                ]
            },
        )
        idata = ident.get("data") if isinstance(ident.get("data"), dict) else {}
        token[0] = str(idata.get("wui.common.token", ""))
        if not token[0]:
            raise ProtocolError(
                f"{API}: /api/common/info?p=Status gave no CSRF token (wui.common.token) "
                "after login: the phone's web API differs from the one fleet knows"
            )

        async def read(keys: list[str]) -> dict[str, str]:
            return await _api_read(host, token[0], keys)

        params = await read_everything(read, wanted)
    finally:
        if session[0]:
            await _logout(host, token[0])
    identity = {
        k: str(idata[f"wui.device.{k}"])
        for k in ("model", "firmware", "mac")
        if idata.get(f"wui.device.{k}")
    }
    if "mac" in identity:
        identity["mac"] = re.sub(r"[^0-9a-f]", "", identity["mac"].lower())
    return Collected(
        params=params, identity=identity, sources=[f"{host.base_url}/api/inner/readconfig"]
    )


async def _logout(host: HttpHost, token: str) -> None:
    """Hand the phone's one web session back, also when the sweep is being cancelled: the
    logout runs as its own task (shielded from the cancellation) for at most LOGOUT_TIMEOUT.
    Without a CSRF token yet (cancelled between login and the token), fetch it first."""

    async def go() -> None:
        with contextlib.suppress(Exception):  # best effort: the phone times it out anyway
            tok = token
            if not tok:
                ident = await _api_json(
                    host, "/api/common/info", "Status", json={"idlist": ["wui.common.token"]}
                )
                d = ident.get("data")
                tok = str(d.get("wui.common.token", "")) if isinstance(d, dict) else ""
            await _api_json(host, "/api/auth/logout", "Status", tok, json={})

    await _shielded(go())


async def _shielded(coro: Awaitable[Any]) -> None:
    """Run ``coro`` as its own task that a cancellation of ours does not stop; wait for it
    at most LOGOUT_TIMEOUT of the phone's own time. Its errors are dropped: logging out is
    best effort."""

    async def quiet() -> None:
        with contextlib.suppress(Exception):
            await coro

    task = asyncio.ensure_future(quiet())
    _LOGOUTS.add(task)  # keep a reference until it is done, even if we stop waiting
    task.add_done_callback(_LOGOUTS.discard)
    await _wait_own_time(task, LOGOUT_TIMEOUT)


async def _wait_own_time(task: asyncio.Future[None], limit: float) -> None:
    """Wait for ``task`` until it is done or the phone has had ``limit`` seconds of its own.

    A wall-clock wait charged the phone with fleet's own lateness: in a sweep of thousands
    of phones the loop runs late by seconds, the wait gave up before the logout was even
    sent, and the sweep's end then cancelled it, leaving the phone's one web session held
    for the next sweep. So, as the crawler does for a device's deadline, the time fleet was
    busy elsewhere (``fleet_seconds``: its late loop and its own queues) pushes the end
    back. ``asyncio.wait`` cancels nothing, neither on time-out nor when we are cancelled."""
    start, fleet0 = time.monotonic(), fleet_seconds()
    while not task.done():
        left = limit - (time.monotonic() - start) + (fleet_seconds() - fleet0)
        if left <= 0:
            return
        await asyncio.wait((task,), timeout=left)


async def _api_login_retrying(host: HttpHost, n_hex: str, e_hex: str, session: list[bool]) -> None:
    """Log in; while another web session holds the phone, wait and try again (BUSY_BACKOFF).
    A refused or locked login is never retried."""
    for delay in (*BUSY_BACKOFF, None):
        session[0] = True  # from here the phone may open a session for us
        try:
            await _api_login(host, n_hex, e_hex)
            return
        except _Busy:
            session[0] = False
            if delay is None:
                raise DeviceError(
                    f"{API}: " + BUSY.format(n=len(BUSY_BACKOFF), s=sum(BUSY_BACKOFF))
                ) from None
            await asyncio.sleep(delay)
        except DeviceError:
            session[0] = False  # refused: no session was opened
            raise


async def _api_login(host: HttpHost, n_hex: str, e_hex: str) -> None:
    secret = ENC_PREFIX + rsa_hex(n_hex, e_hex, (host.password or "").encode())
    body = await _api_json(
        host, "/api/auth/login", "Login", data={"username": host.username or "", "pwd": secret}
    )
    if body.get("ret") == "ok":
        return
    err = _error(body)
    if err.get("webStatus") == "lock":
        raise AuthFailed(
            f"{API}: web login is LOCKED after too many failed logins "
            f"(for {err.get('lockTime', '?')} min); wait, then fix the credentials"
        )
    if err.get("msg") == "auth_err_user_busy":
        raise _Busy(f"{API}: another web session holds the phone")
    if err.get("msg") in WRONG_CREDENTIALS:
        raise AuthFailed(f"{API}: the phone refused the admin username or password; {LOCKOUT}")
    raise ProtocolError(
        f"{API}: /api/auth/login refused the login with an answer fleet does not know "
        f"(ret={str(body.get('ret'))[:20]!r}, error keys {sorted(err)[:6]}, "
        f"msg={str(err.get('msg', ''))[:60]!r}); {LOCKOUT.replace('fix the', 'check the')}"
    )


async def _api_read(host: HttpHost, token: str, keys: list[str]) -> dict[str, str]:
    """Read settings by name; a key this firmware does not know is left out, not fatal."""
    if not keys:
        return {}
    body = await _api_json(
        host, "/api/inner/readconfig", "SettingConfig", token, json={"formData": keys}
    )
    if body.get("ret") != "ok":
        if _error(body).get("msg") != INVALID_KEY:
            raise ProtocolError(f"{API}: readconfig refused: {json.dumps(_error(body))[:120]}")
        if len(keys) == 1:
            return {}
        # The phone names no culprit, so halve the list until the unknown keys are isolated.
        half = len(keys) // 2
        return {
            **await _api_read(host, token, keys[:half]),
            **await _api_read(host, token, keys[half:]),
        }
    data = body.get("data")
    form = data.get("formData") if isinstance(data, dict) else None
    if not isinstance(form, dict):
        raise ProtocolError(f"{API}: readconfig answer has no data.formData")
    return {
        str(k): cfgfile.mask_url(str(k), "" if v is None else str(v))
        for k, v in form.items()
        if v != INVALID_KEY
    }


async def read_everything(read: Reader, wanted: Sequence[str]) -> dict[str, str]:
    """Everything to_state needs, in a few rounds: the phone only reads settings by name."""
    pages = dict.fromkeys(range(len(FAMILIES)), 1)
    first = [
        *GLOBAL_KEYS,
        *(f"account.{n}.{k}" for n in range(1, ACCOUNTS + 1) for k in ACCOUNT_PROBE),
    ]
    first += [k for fam in pages for k in _page(fam, 1)]
    params = await read(first)
    # Asked for separately, so one unknown name cannot cost the core read a bisection.
    params.update(await read([k for k in dict.fromkeys(wanted) if k not in params]))
    keys = [f"account.{n}.{k}" for n in _configured(params) for k in ACCOUNT_DETAIL]
    while True:
        for fam, page in list(pages.items()):
            if any(params.get(k) for k in _page(fam, page)) and page * PAGE < FAMILIES[fam][1]:
                pages[fam] = page + 1
                keys += _page(fam, page + 1)
            else:
                del pages[fam]
        if not keys:
            return params
        params.update(await read(keys))
        keys = []


def _page(fam: int, page: int) -> list[str]:
    templates, top = FAMILIES[fam]
    idx = range((page - 1) * PAGE + 1, min(page * PAGE, top) + 1)
    return [t.format(i) for i in idx for t in templates]


def _configured(params: dict[str, str]) -> list[int]:
    return [
        n
        for n in range(1, ACCOUNTS + 1)
        if any(params.get(f"account.{n}.{k}") not in (None, "", "0") for k in ACCOUNT_PROBE)
    ]


# --- /servlet -----------------------------------------------------------------------------------

_JS_VAR = re.compile(r'(g_\w+)\s*=\s*"([^"]*)"')
_RES_INFO = re.compile(r'<div id="_RES_INFO_"[^>]*>(.*?)</div>', re.S)
_MAC = re.compile(r"MAC.{0,120}?\b((?:[0-9A-Fa-f]{2}[:\-]){5}[0-9A-Fa-f]{2})\b", re.S)


async def _fetch_servlet(host: HttpHost) -> Collected:
    form = await host.request(
        "GET",
        "/servlet",
        params={"m": "mod_listener", "p": "login", "q": "loginForm", "jumpto": "status"},
        auth=False,
        ok=(200, 404),
    )
    if form.status == 404:
        raise ProtocolError("not a Yealink web interface: /api and /servlet both answer 404")
    page = dict(_JS_VAR.findall(form.text))
    if not page.get("g_rsa_n"):
        raise ProtocolError(f"{SERVLET}: the login page carries no RSA key (g_rsa_n)")
    try:
        await _servlet_login(host, page["g_rsa_n"], page.get("g_rsa_e", "10001"))
        export = await host.request(
            "POST",
            "/servlet",
            params={"m": "mod_configfile", "q": "exportcfgconfig", "type": "all"},
            auth=False,
        )
        if not cfgfile.detect(export.text):
            raise ProtocolError(f"{SERVLET}: the configuration export is not a Yealink .cfg file")
        params = cfgfile.parse_text("exported configuration", export.text)
        status = await host.request(
            "GET",
            "/servlet",
            params={"m": "mod_data", "p": "status", "q": "load"},
            auth=False,
        )
    finally:
        # Shielded like the /api logout; harmless when the login did not succeed.
        await _shielded(
            host.request(
                "GET",
                "/servlet",
                params={"m": "mod_listener", "p": "login", "q": "logout"},
                auth=False,
                ok=(200, 302, 404),
            )
        )
    identity = {"model": page.get("g_phonetype", ""), "firmware": page.get("g_strFirmware", "")}
    mac = _MAC.search(status.text)
    if mac:
        identity["mac"] = re.sub(r"[^0-9a-f]", "", mac.group(1).lower())
    return Collected(
        params=params,
        identity={k: v for k, v in identity.items() if v},
        sources=[f"{host.base_url}/servlet?m=mod_configfile&q=exportcfgconfig&type=all"],
    )


async def _servlet_login(host: HttpHost, n_hex: str, e_hex: str) -> None:
    key, iv = os.urandom(16), os.urandom(16)
    session = host.cookies.get("JSESSIONID", "")
    plain = f"{random.random()};{session};{host.password or ''}".encode()
    form = {
        "username": host.username or "",
        "pwd": base64.b64encode(_aes_zero_cbc(key, iv, plain)).decode(),
        "rsakey": rsa_hex(n_hex, e_hex, key.hex().encode()),
        "rsaiv": rsa_hex(n_hex, e_hex, iv.hex().encode()),
    }
    reply = await host.request(
        "POST",
        "/servlet",
        params={"m": "mod_listener", "p": "login", "q": "login", "Rajax": str(random.random())},
        data=form,
        auth=False,
    )
    m = _RES_INFO.search(reply.text)
    if m is None:
        raise ProtocolError(f"{SERVLET}: the login answer has no _RES_INFO_ result")
    try:
        result = json.loads(m.group(1))
    except ValueError:
        result = {}
    status = result.get("authstatus") if isinstance(result, dict) else None
    if status == "done":
        return
    if status == "locked":
        raise AuthFailed(
            f"{SERVLET}: web login is LOCKED after too many failed logins; wait "
            "about 3 minutes, then fix the credentials"
        )
    raise AuthFailed(f"{SERVLET}: the phone refused the admin username or password; {LOCKOUT}")
