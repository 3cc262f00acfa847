"""The lab's Grandstream phone: the web API's login and values reads, answering from P-values."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from device_profiles.grandstream.profile import (
    IDENTITY,
    LOGIN,
    SESSION_COOKIE,
    VALUES,
    parse_files,
)
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

# Firmware of the config templates and change logs Grandstream publishes (wazo-provd-plugins
# docs/config-template: gxp2130_40_60_70_35 1.0.11.11/1.0.11.16, grp261x 1.0.5.15) and the
# GXP16xx release that fixed CVE-2026-2329 (1.0.7.81).
MODELS: list[tuple[str, str]] = [
    ("GXP2170", "1.0.11.16"),
    ("GRP2614", "1.0.5.15"),
    ("GXP2140", "1.0.11.11"),
    ("GXP1630", "1.0.7.81"),
]
OUI = "000b82"  # Grandstream Networks
ADMIN_USER = "admin"
AUTH: Auth = "session"

SAMPLE = Path(__file__).parent / "samples" / "gxp2170-pvalues.txt"
MAX_FAILURES = 5
LOCK_S = 300.0
SESSION_IDLE = 600.0
NOT_FOUND = "<html><body><h1>404 Not Found</h1></body></html>"


def uk_dial_plan(numbers: list[str]) -> str:
    """Each emergency number dials the moment it is complete, alone or after the 9 prefix.

    A number is dialled at once only when no entry could still grow, so the plan has no
    ``<9=>999``: it would make 999 wait for 9999. Keyed 9999 dials 999 at the third digit and
    the fourth falls into the call. ``<9=>112`` is safe: nothing else starts 91.
    """
    emergency = [*numbers, *(f"<9=>{n}" for n in numbers if not ("9" + n).startswith(n))]
    rest = [
        "101",
        "111",
        "118xxx",
        "[2-8]xxx",
        "0[1-9]xxxxxxxxx",
        "<9=>0[1-9]xxxxxxxxx",
        "00[1-9]x+",
        "<9=>00[1-9]x+",
    ]
    return "{ " + " | ".join([*emergency, *rest]) + " }"


UK_PLAN = uk_dial_plan(["999", "112"])
# Classic failures a Grandstream line carries (raw P-values the lab forces), and the findings a
# UK sweep must then produce.
# Location faults (README "Location and callback"), beside the dial-plan FAULTS: E911 on with
# no Location Server, and E911 switched off (P8565 = 0: no HELD request at all).
LOCATION_FAULTS: dict[str, dict[str, str]] = {
    "gs-held-server-missing": {"P8568": ""},
    "gs-e911-off": {"P8565": "0"},
}
FAULTS: dict[str, dict[str, str]] = {
    # The factory plan: x+ can always grow, so every number waits for the 4 s timeout, and the
    # 9 prefix is sent along.
    "gs-vendor-default-plan": {"P290": "{ x+ | \\+x+ | *x+ | *xx*x+ }"},
    # Barring a doubled outside-line prefix (99 + number) also bars 999.
    "gs-exclude-99": {"P290": "{ ^99x+ | " + UK_PLAN[2:]},
    # An outside-line rule listed first: 999 is taken as 9 + 99 and sent as 99.
    "gs-outside-line-first": {"P290": "{ <9=>x+ | [2-8]xxx | 999 | 112 }"},
    # Dial Plan Prefix set to the outside-line digit: every number goes out with a 9 in front.
    "gs-dial-prefix": {"P66": "9"},
    # The keypad lock's list left at the GRP261x template's value: a locked phone dials
    # 112 but not 999.
    "gs-lock-list-template": {"P8385": "112,911,110"},
    # The list emptied (the GXP21xx 1.0.11.16 template's value): a locked phone dials neither.
    "gs-lock-list-empty": {"P8385": ""},
}
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "gs-vendor-default-plan": [
        ("emergency.delay", "999"),
        ("emergency.delay", "112"),
        # the 9-prefixed forms leave as dialled after the timer; the site SBC strips the 9
        ("emergency.delay", "9999"),
        ("emergency.delay", "9112"),
    ],
    "gs-exclude-99": [
        ("emergency.dial", "999"),
        ("emergency.dial", "9999"),
    ],
    "gs-outside-line-first": [
        ("emergency.dial", "999"),
        ("emergency.delay", "9999"),
        ("emergency.delay", "9112"),
    ],
    "gs-dial-prefix": [
        ("emergency.dial", "999"),
        # keyed with the 9, the numbers leave as keyed; the site SBC strips the 9 (proven)
        ("emergency.dial", "112"),
    ],
    "gs-lock-list-template": [("emergency.route", "999")],
    "gs-lock-list-empty": [("emergency.route", "999"), ("emergency.route", "112")],
}


def scheme(spec: LabPhone) -> str:
    return "http"


def _p237(url: str) -> tuple[str, str]:
    """P237 holds host/path without a scheme; P212 names the protocol."""
    parts = urlsplit(url)
    protocol = {"tftp": "0", "http": "1", "https": "2"}.get(parts.scheme, "1")
    return (parts.netloc + parts.path).rstrip("/"), protocol


def render(spec: LabPhone) -> Collected:
    base = parse_files(SAMPLE.name, SAMPLE.read_text(), lambda _: None)
    p = dict(base.params)
    path, protocol = _p237(spec.provisioning_server)
    p.update(
        {
            "P271": "1",
            "P270": spec.sip_user,
            "P47": spec.registrar,
            "P48": spec.outbound_proxy,
            "P35": spec.sip_user,
            "P36": spec.sip_user,
            "P34": spec.sip_password,
            "P3": spec.sip_user,
            "P290": uk_dial_plan(spec.emergency_numbers),
            "P2": spec.admin_password,
            "P237": path,
            "P212": protocol,
            # Keypad locking on, and the numbers a locked keypad still dials (Maintenance/
            # Security Settings/Keypad Lock: P1382, P8385 "Emergency"). No emergency route of
            # its own: spec.emergency_route cannot be expressed.
            "P1382": "1",
            "P8385": ",".join(spec.emergency_numbers),
            # Location: the E911 service with a HELD Location Server (Settings/E911 Service:
            # P8565 "Enable 911", P8597 its numbers, P8568 "Location Server")
            "P8565": "1",
            "P8597": ",".join(spec.emergency_numbers),
            "P8568": "lis.lab.invalid/held",
        }
    )
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=[f"lab:{spec.id}"])


def _json(body: object) -> LabResponse:
    return LabResponse.json({"response": "error", "body": body} if isinstance(body, str) else body)


def _state(dev: LabDevice) -> dict:
    s = dev.sessions.setdefault("grandstream", {"failures": 0, "locked_until": 0.0, "sids": {}})
    now = time.monotonic()
    s["sids"] = {k: t for k, t in s["sids"].items() if now - t < SESSION_IDLE}
    return s


def _sid(req: LabRequest) -> str:
    if req.query.get("sid"):
        return req.query["sid"]
    for part in req.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return value
    return ""


def _identity(dev: LabDevice) -> dict[str, str]:
    mac = dev.spec.mac.upper()
    values = {"model": dev.spec.model, "firmware": dev.spec.firmware}
    values["mac"] = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
    return {IDENTITY[k]: v for k, v in values.items()}


def _values(dev: LabDevice, req: LabRequest) -> LabResponse:
    names = [n for n in req.query.get("request", "").split(":") if n]
    if not names:
        return _json("request is empty")
    state = _state(dev)
    sid = _sid(req)
    logged_in = sid in state["sids"]
    if logged_in:
        state["sids"][sid] = time.monotonic()
    identity = _identity(dev)
    open_names = identity if dev.spec.extra.get("_identity") != "login" else {}
    if not logged_in and any(n not in open_names for n in names):
        return _json("unauthorized")
    params = dev.config.params
    body = {n: identity.get(n, params.get(n, "")) for n in names}
    return LabResponse.json({"response": "success", "body": body})


def _login(dev: LabDevice, req: LabRequest) -> LabResponse:
    if req.method != "POST":
        return LabResponse(405, "Method Not Allowed", headers=[("Allow", "POST")])
    state = _state(dev)
    now = time.monotonic()
    if state["locked_until"] > now:
        return _json("locked")
    form = req.form()
    if form.get("username") != dev.spec.admin_user or form.get("password") != (
        dev.spec.admin_password
    ):
        state["failures"] += 1
        if state["failures"] >= MAX_FAILURES:
            state["locked_until"], state["failures"] = now + LOCK_S, 0
        return _json("failed")
    state["failures"] = 0
    sid = os.urandom(8).hex()
    state["sids"][sid] = now
    resp = LabResponse.json({"response": "success", "body": {"sid": sid, "role": "admin"}})
    resp.headers.append(("Set-Cookie", f"{SESSION_COOKIE}={sid}; Path=/; HttpOnly"))
    return resp


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    if dev.spec.extra.get("_api") == "none":
        return LabResponse(404, NOT_FOUND, "text/html")  # firmware without the web API
    if req.path == VALUES:
        return _values(dev, req)
    if req.path == LOGIN:
        return _login(dev, req)
    if req.path in ("/", "/index.html"):
        return LabResponse(200, "<html><title>Grandstream Device Configuration</title></html>",
                           "text/html")  # fmt: skip
    return LabResponse(404, NOT_FOUND, "text/html")


def export_files(dev: LabDevice) -> dict[str, str]:
    """The per-MAC cfg<mac>.xml a provisioning server would hold for this phone."""
    body = "\n".join(
        f"    <{k}>{escape(v)}</{k}>" for k, v in dev.config.params.items() if k.startswith("P")
    )
    text = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<gs_provision version="1">\n'
        f'  <mac>{dev.spec.mac}</mac>\n  <config version="1">\n{body}\n  </config>\n'
        "</gs_provision>\n"
    )
    return {f"cfg{dev.spec.mac}.xml": text}


SIMULATOR = PhoneSimulator(
    profile="grandstream",
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
    order=40,
)
