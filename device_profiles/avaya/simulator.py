"""The lab's Avaya J100: the file server the phone provisions from, over HTTP with Basic auth.

A J100 answers nothing about its settings (README.md, "Interface"): what it runs is what it
GETs at boot. Each lab address plays the file server of one phone, laid out as wazo-provd's
J100 plugin lays out a site's: ``J100Supgrade.txt`` (the firmware image the phone must run,
then ``GET 46xxsettings.txt``), ``46xxsettings.txt`` (the SIP controller, emergency numbers
and dial plan, ending ``GET $MACADDR.cfg``) and ``<mac>.cfg``, the phone's own file (its SIP
account and password), named by its MAC in lower case without separators. A sweep follows
``$MACADDR.cfg`` with the MAC the lab's inventory gives the host (``mac:``).

Choices where the vendor documentation is silent are listed in README.md ("UNCONFIRMED").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from device_profiles.avaya.profile import SETTINGS, UPGRADE, parse_files
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

# Models and the R4.1.3 release of wazo-provd's J100 plugin (FW_S_J179_R4_1_3_0_6.bin).
MODELS: list[tuple[str, str]] = [
    ("J179", "4.1.3.0.6"),
    ("J139", "4.1.3.0.6"),
    ("J189", "4.1.3.0.6"),
]
OUI = "c81fea"  # the MACs of wazo's User-Agent example and a deployed site's files (README.md)
ADMIN_USER = "provision"  # the file server's account, not the phone's
AUTH: Auth = "basic"  # an HTTP file server behind Basic auth (plain ones are anonymous)

SAMPLES = Path(__file__).parent / "samples"
SAMPLE = SAMPLES / "mkrasselt-opensip-fritzbox.txt"
TEXT = "text/plain"
NOT_FOUND = LabResponse(404, "404 Not Found", TEXT)
# Settings the lab writes into the upgrade file and into the per-phone file; everything else
# goes to 46xxsettings.txt.
UPGRADE_KEYS = ("APPNAME",)
PER_PHONE_KEYS = ("SIP_USER_ACCOUNT", "SIP_USER_ID", "FORCE_SIP_PASSWORD", "DISPLAY_NAME")
# Not the lab's: the sample's own SIP account and server folder.
DROPPED = ("FORCE_SIP_USERNAME", "FORCE_SIP_PASSWORD", "FORCE_SIP_EXTENSION", "HTTPDIR")
INTER_DIGIT = "5"  # what IP Office writes for a J129

_NO_NUMBER = {"PHNEMERGNUM": "", "PHNMOREEMERGNUMS": ""}
# Location fault (README "Location and callback"), beside the dial-plan FAULTS: no Location
# Information Server, so emergency calls carry no HELD location.
LOCATION_FAULTS: dict[str, dict[str, str]] = {"avaya-held-url-missing": {"HELD_URL": ""}}
FAULTS: dict[str, dict[str, str]] = {
    # What every public file does: no emergency number at all, so the Emerg key dials nothing
    # and 999/112 are ordinary calls.
    "no-emergency-number": _NO_NUMBER,
    # A plan for extensions and a 9 outside line with 999 left out: 999 and 112 (and 9999,
    # 9112) match no format string and wait for the inter-digit timeout.
    "dialplan-without-999": {"DIALPLAN": "[2-8]xxx|9Z0x+"},
    # Left in Aura mode: the phone takes its emergency numbers from System Manager. Not in
    # FAULT_EXPECT: what it gives is a coverage notice, not an emergency.* finding (the lab
    # contract compares those); NOTICE_EXPECT holds it, test_simulator.py checks it.
    "aura-environment": {"ENABLE_AVAYA_ENVIRONMENT": "1"},
    # A US template: 911 only.
    "us-default-911": {"PHNEMERGNUM": "911", "PHNMOREEMERGNUMS": "", "DIALPLAN": "911|[2-8]xxx"},
}
_ROUTES = [("emergency.route", "999"), ("emergency.route", "112")]
# The prefixed forms (9999, 9112) are the lab golden's ``prefixes: ["9"]``: no Avaya string
# strips the 9, so they are sent as dialled and only the SBC can make them emergency calls.
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    # 9112 goes at once as keyed, but with no emergency number fleet has no emergency route
    # to walk it through the SBC: nothing is shown to strip the 9.
    "no-emergency-number": [*_ROUTES, ("emergency.dial", "9112")],
    "dialplan-without-999": [
        ("emergency.delay", "999"),
        ("emergency.delay", "112"),
        ("emergency.delay", "9999"),
        ("emergency.delay", "9112"),
    ],
    # 999 and 112 wait for the timeout and are no emergency numbers; 9112 goes at once as
    # 911 (the first complete match); 9999 matches no string and is sent as keyed.
    "us-default-911": [
        *_ROUTES,
        ("emergency.delay", "999"),
        ("emergency.delay", "112"),
        ("emergency.dial", "9112"),
        ("emergency.dial", "9999"),
    ],
}
NOTICE_EXPECT: dict[str, list[tuple[str, str]]] = {
    "aura-environment": [("coverage.uncertain", "ENABLE_AVAYA_ENVIRONMENT")],
}


def scheme(spec: LabPhone) -> str:
    return "http"


def uk_dial_plan(numbers: list[str]) -> str:
    """DIALPLAN: each emergency number a format string of its own, so it goes the moment it
    is keyed; so does each with an outside-line 9 before it (9112), sent as keyed: no Avaya
    string can strip a 9 (README.md), the SBC must. 9999 needs no string: 999 completes on
    its third key. Outside numbers are dialled with their 0, UK style."""
    prefixed = [f"9{n}" for n in numbers if not any(f"9{n}".startswith(m) for m in numbers)]
    return "|".join([*numbers, *prefixed, "1[01]1", "[2-8]xxx", "0[1-9]xxxxxxxxx", "00x+"])


@cache
def _sample_params() -> tuple[tuple[str, str], ...]:
    def sibling(name: str) -> str | None:
        p = SAMPLES / name
        return p.read_text() if p.is_file() else None

    c = parse_files(SAMPLE.name, SAMPLE.read_text(), sibling)
    return tuple((k, v) for k, v in c.params.items() if k not in DROPPED)


def image(model: str, firmware: str) -> str:
    return f"FW_S_{model}_R{firmware.replace('.', '_')}.bin"


def render(spec: LabPhone) -> Collected:
    p = dict(_sample_params())
    numbers = spec.emergency_numbers
    p.update(
        {
            "APPNAME": image(spec.model, spec.firmware),
            # One controller: "the local proxy routes the emergency calls".
            "SIP_CONTROLLER_LIST": f"{spec.emergency_route};transport=udp",
            "ENABLE_AVAYA_ENVIRONMENT": "0",
            "SIP_USER_ACCOUNT": f"{spec.sip_user}@{spec.registrar.split(':', 1)[0]}",
            "SIP_USER_ID": spec.sip_user,
            "FORCE_SIP_PASSWORD": spec.sip_password,
            "DISPLAY_NAME": spec.sip_user,
            "PHNEMERGNUM": numbers[0] if numbers else "",
            "PHNMOREEMERGNUMS": ",".join(numbers[1:]),
            "DIALPLAN": uk_dial_plan(numbers),
            "INTER_DIGIT_TIMEOUT": INTER_DIGIT,
            "FILE_SERVER_URL": spec.provisioning_server,
            # Location: Nomadic Emergency Services, a HELD request to the site's LIS
            "HELD_URL": "https://lis.lab.invalid/held",
        }
    )
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=[f"lab:{spec.id}"])


def _set(key: str, value: str) -> str:
    return (
        f'SET {key} "{value}"'
        if not value or any(c.isspace() for c in value)
        else f"SET {key} {value}"
    )


def per_phone_file(mac: str) -> str:
    """The name ``GET $MACADDR.cfg`` asks for: the MAC in lower case, no separators."""
    return f"{mac.lower()}.cfg"


def files(params: dict[str, str], mac: str) -> dict[str, str]:
    """The three files the phone GETs: the upgrade file names the image and the settings
    file, the settings file ends with the per-phone file, which holds the SIP account."""
    upgrade = ["## J100Supgrade.txt (fleet lab)"]
    upgrade += [_set(k, params[k]) for k in UPGRADE_KEYS if k in params]
    upgrade += [f"GET {SETTINGS}", ""]
    own = (*UPGRADE_KEYS, *PER_PHONE_KEYS)
    settings = ["## 46xxsettings.txt (fleet lab)"]
    settings += [_set(k, v) for k, v in params.items() if k not in own]
    settings += ["GET $MACADDR.cfg", "# END", ""]
    phone = [f"## {per_phone_file(mac)} (fleet lab)"]
    phone += [_set(k, params[k]) for k in PER_PHONE_KEYS if k in params]
    return {
        UPGRADE: "\n".join(upgrade),
        SETTINGS: "\n".join(settings),
        per_phone_file(mac): "\n".join([*phone, ""]),
    }


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    if req.method != "GET":
        return LabResponse(405, "Method Not Allowed", headers=[("Allow", "GET")])
    served = dev.sessions.get("_files")
    if served is None:
        served = dev.sessions["_files"] = files(dev.config.params, dev.spec.mac)
    body = served.get(req.path.lstrip("/"))
    return NOT_FOUND if body is None else LabResponse(200, body, TEXT)


def export_files(dev: LabDevice) -> dict[str, str]:
    """What the file server holds: the upgrade file, the settings file and the phone's own."""
    return files(dev.config.params, dev.spec.mac)


SIMULATOR = PhoneSimulator(
    profile="avaya",
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
    demo_faults=("no-emergency-number",),
    order=60,
)
