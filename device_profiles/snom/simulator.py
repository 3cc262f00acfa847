"""The lab's Snom phone: ``GET /settings.xml`` and the System Information page ``/info.htm``
behind HTTP Basic auth (the phone's default ``http_scheme=off``).

Choices where the vendor documentation is silent are listed in README.md ("UNCONFIRMED").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from device_profiles.snom.profile import INDEXED, parse_files
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

# Model names as the phone reports them (phone_type, User-Agent "snomD785/10.1.84.12").
MODELS: list[tuple[str, str]] = [
    ("snomD785", "10.1.84.12"),
    ("snomD735", "10.1.140.18"),
    ("snomD717", "10.1.159.12"),
    ("snomD785", "10.1.159.12"),
]
OUI = "000413"  # snom technology
ADMIN_USER = "admin"
AUTH: Auth = "basic"  # http_scheme off (the default) = Basic; on = Digest

SAMPLES = Path(__file__).parent / "samples"
SAMPLE = SAMPLES / "snomD785-000413A1B2C3.htm"
NOT_FOUND = LabResponse(404, "<html><body>404 Not Found</body></html>", "text/html")
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Snom login</title></head><body>"
    "<form method=post action=/login.htm><input name=user><input type=password name=pw>"
    "</form></body></html>"
)


def scheme(spec: LabPhone) -> str:
    return "http"


def uk_dial_plan(numbers: list[str]) -> str:
    """user_dp_str: each emergency number dials the moment it is complete, alone or after 9.

    ``9999`` needs no entry of its own: its first three digits already match ``^999$`` (d), so
    the phone sends 999 and the fourth 9 is not part of the number.
    """
    entries = [f"!^{n}$!sip:{n}@\\d!d" for n in numbers]
    entries += [f"!^9({n})$!sip:\\1@\\d!d" for n in numbers]
    entries += [
        "!^(1[01]1)$!sip:\\1@\\d!d",  # 101 police non-emergency, 111 NHS
        "!^(118[0-9]{3})$!sip:\\1@\\d!d",  # directory enquiries
        "!^([2-8][0-9]{3})$!sip:\\1@\\d!d",  # extensions
        "!^(0[1-9][0-9]{9})$!sip:\\1@\\d!d",  # UK national, 11 digits
        "!^9(0[1-9][0-9]{9})$!sip:\\1@\\d!d",
        "!^(00[0-9]+)$!sip:\\1@\\d!",  # international: OK/# ends it
        "!^9(00[0-9]+)$!sip:\\1@\\d!",
    ]
    return " ".join(entries)


UK_PLAN = uk_dial_plan(["999", "112"])
# Classic failures a Snom carries, as raw settings the lab forces (spec.extra).
FAULTS: dict[str, dict[str, str]] = {
    # An outside-line rule ahead of the emergency entries: first match wins, and with d it
    # dials as soon as 9 + two digits are keyed: 999 sends 99, 9112 sends 11.
    "snom-outside-line-first": {"user_dp_str1": "!^9([0-9]{2,})$!sip:\\1@\\d!d " + UK_PLAN},
    # Emergency entries without the d flag: the phone waits for OK/# (auto_dial off).
    "snom-no-dial-now": {"user_dp_str1": UK_PLAN.replace("@\\d!d", "@\\d!"), "auto_dial": "off"},
    # The same plan with the auto_dial timer: every emergency call waits 5 s.
    "snom-auto-dial-timer": {"user_dp_str1": UK_PLAN.replace("@\\d!d", "@\\d!"), "auto_dial": "5"},
    # A hot line (auto_dial <= 2 with a target): any key dials reception instead.
    "snom-hotline": {"auto_dial": "1", "auto_dial_target": "2000"},
    # A US-style plan with 911 only: 999 and 112 match nothing and wait for OK/#.
    "snom-us-plan": {
        "user_dp_str1": "!^911$!sip:911@\\d!d !^9(911)$!sip:\\1@\\d!d "
        "!^1([0-9]{10})$!sip:+1\\1@\\d!d !^([2-9][0-9]{9})$!sip:\\1@\\d!d"
    },
}
_ALL_FOUR = [
    ("emergency.dial", "999"),
    ("emergency.dial", "112"),
    ("emergency.dial", "9999"),
    ("emergency.dial", "9112"),
]
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "snom-outside-line-first": [
        ("emergency.dial", "999"),
        ("emergency.dial", "9999"),
        ("emergency.dial", "9112"),
    ],
    "snom-no-dial-now": _ALL_FOUR,
    "snom-auto-dial-timer": [
        ("emergency.delay", "999"),
        ("emergency.delay", "112"),
        ("emergency.delay", "9999"),
        ("emergency.delay", "9112"),
    ],
    "snom-hotline": _ALL_FOUR,
    "snom-us-plan": _ALL_FOUR,
}


@cache
def _sample_params() -> tuple[tuple[str, str], ...]:
    def sibling(name: str) -> str | None:
        p = SAMPLES / name
        return p.read_text() if p.is_file() else None

    c = parse_files(SAMPLE.name, SAMPLE.read_text(), sibling)
    return tuple(c.params.items())


def render(spec: LabPhone) -> Collected:
    p = dict(_sample_params())
    p.update(
        {
            "phone_type": spec.model,
            "setting_server": f"{spec.provisioning_server}/{{mac}}.xml",
            "http_user": spec.admin_user,
            "user_active1": "on",
            "user_realname1": spec.sip_user,
            "user_name1": spec.sip_user,
            "user_pname1": spec.sip_user,
            "user_pass1": spec.sip_password,
            "user_host1": spec.registrar,
            "user_outbound1": f"{spec.outbound_proxy};transport=udp" if spec.outbound_proxy else "",
            "user_dp_str1": uk_dial_plan(spec.emergency_numbers),
            "auto_dial": "off",
            "keyboard_lock_emergency": " ".join(spec.emergency_numbers),
            "emergency_proxy": spec.emergency_route,
        }
    )
    p.pop("http_pass", None)  # the lab's admin password lives in the spec, not in a file
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=[f"lab:{spec.id}"])


def to_xml(params: dict[str, str]) -> str:
    """<settings><phone-settings>, per-identity settings back in their idx= form."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<settings>", '<phone-settings e="2">']
    for key, value in params.items():
        m = INDEXED.match(key)
        tag, idx = (m.group(1), f' idx="{m.group(2)}"') if m else (key, "")
        out.append(f'<{tag}{idx} perm="">{escape(value)}</{tag}>')
    out += ["</phone-settings>", "</settings>", ""]
    return "\n".join(out)


def info_page(spec: LabPhone) -> str:
    mac = ":".join(spec.mac[i : i + 2] for i in range(0, 12, 2)).upper()
    rows = [
        ("Version", f"{spec.model}-SIP {spec.firmware}"),
        ("MAC Address", mac),
        ("IP Address", spec.address),
    ]
    cells = "".join(f"<tr><td>{k}:</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<html><head><title>{escape(spec.model)}</title></head><body>"
        f"<h1>System Information</h1><table>{cells}</table></body></html>"
    )


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    spec, params = dev.spec, dev.config.params
    if spec.scheme == "http" and params.get("webserver_type", "").lower() == "https":
        where = f"https://{spec.address}{req.path}"
        return LabResponse(302, "", "text/html", headers=[("Location", where)])
    if req.method != "GET":
        return LabResponse(405, "Method Not Allowed", headers=[("Allow", "GET")])
    if req.path == "/settings.xml":
        mode = spec.extra.get("_settings_xml")
        if mode == "login-page":
            return LabResponse(200, LOGIN_PAGE, "text/html")
        if mode == "missing":
            return NOT_FOUND
        body = dev.sessions.get("_settings_xml")
        if body is None:
            body = dev.sessions["_settings_xml"] = to_xml(params)
        return LabResponse(200, body, "text/xml")
    if req.path == "/info.htm":
        return LabResponse(200, info_page(spec), "text/html")
    if req.path in ("/", "/index.htm"):
        return LabResponse(200, f"<html><title>{escape(spec.model)}</title></html>", "text/html")
    return NOT_FOUND


def export_files(dev: LabDevice) -> dict[str, str]:
    """The phone's setting-files container and the per-MAC settings file it lists."""
    mac = dev.spec.mac.upper()
    server = dev.spec.provisioning_server
    container = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<setting-files>\n'
        f'  <file url="{escape(server)}/{mac}.xml"/>\n</setting-files>\n'
    )
    return {f"{dev.spec.model}-{mac}.htm": container, f"{mac}.xml": to_xml(dev.config.params)}


SIMULATOR = PhoneSimulator(
    profile="snom",
    models=MODELS,
    oui=OUI,
    admin_user=ADMIN_USER,
    auth=AUTH,
    scheme=scheme,
    render=render,
    handle=handle,
    export_files=export_files,
    faults=FAULTS,
    fault_expect=FAULT_EXPECT,
    order=50,
)
