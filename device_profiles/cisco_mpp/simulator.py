"""The lab's Cisco MPP phone: answers GET /admin/spacfg.xml as the phone's web server does."""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from device_profiles.cisco_mpp.profile import parse_files
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

# Load names as the phone shows them in Software_Version (sipNNxx.M-m-pMPPbbbb-r).
MODELS: list[tuple[str, str]] = [
    ("CP-8851-3PCC", "sip88xx.12-0-4MPP0001-14"),
    ("CP-7841-3PCC", "sip78xx.11-3-7MPP0001-10"),
    ("CP-6851-3PCC", "sip68xx.12-0-3MPP0001-9"),
    ("CP-8861-3PCC", "sip88xx.11-3-1MPP-678"),
]
OUI = "00562b"  # Cisco; seen in an MPP User-Agent "Cisco-CP-7832-3PCC/11.0.1 (00562b043615)"
ADMIN_USER = "admin"
AUTH: Auth = "digest"

SAMPLE = Path(__file__).parent / "samples" / "spacfg-cp7841.xml"
HTTPS_ONLY_FROM = (12, 0, 3)
VERSION = re.compile(r"(\d+)-(\d+)-(\d+)")
# Status elements: reported by the phone, never written by a profile.
STATUS = ("Product_Name", "Serial_Number", "Software_Version", "Hardware_Version", "MAC_Address")
GROUPS = (
    (
        re.compile(r"^(Product_Name|Serial_Number|Software_Version|Hardware_Version|MAC_Address)$"),
        "Info/Product_Information",
    ),
    (
        re.compile(
            r"^(Proxy|Outbound_Proxy|Use_Outbound_Proxy|Use_OB_Proxy_In_Dialog|Register)_(\d+)_$"
        ),
        "Ext_{n}/Proxy_and_Registration",
    ),
    (
        re.compile(r"^(Display_Name|User_ID|Password|Auth_ID)_(\d+)_$"),
        "Ext_{n}/Subscriber_Information",
    ),
    (
        re.compile(r"^(Dial_Plan|Caller_ID_Map|Enable_IP_Dialing|Emergency_Number)_(\d+)_$"),
        "Ext_{n}/Dial_Plan",
    ),
    (re.compile(r"^(SIP_Transport|SIP_Port)_(\d+)_$"), "Ext_{n}/SIP_Settings"),
    (re.compile(r"^(Line_Enable)_(\d+)_$"), "Ext_{n}/General"),
    (
        re.compile(
            r"^(E911_Enable|Location_Source|Company_UUID|Primary_Request_URL|"
            r"Secondary_Request_URL)_(\d+)_$"
        ),
        "Ext_{n}/E911_Geolocation_Configuration",
    ),
    (
        re.compile(r"^(Profile_Rule.*|Resync_.*|Provision_Enable)$"),
        "Provisioning/Configuration_Profile",
    ),
    (re.compile(r"^(Upgrade_.*)$"), "Provisioning/Firmware_Upgrade"),
    (re.compile(r"^(Interdigit_.*)$"), "Regional/Control_Timer_Values__sec_"),
)
LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Cisco IP Phone</title></head>"
    "<body><form method=post action=/login><input name=user><input type=password name=pwd>"
    "</form></body></html>"
)


def firmware_version(firmware: str) -> tuple[int, int, int] | None:
    m = VERSION.search(firmware)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def https_only(firmware: str) -> bool:
    v = firmware_version(firmware)
    return v is not None and v >= HTTPS_ONLY_FROM


def scheme(spec: LabPhone) -> str:
    return "https" if https_only(spec.firmware) else "http"


def uk_dial_plan(numbers: list[str]) -> str:
    """Every emergency number dials at once, alone or after the 9 outside-line prefix.

    ``999S0`` beside ``<9:>999S0`` is no prefix trap: S0 makes the short timer of a complete
    pattern zero, so 999 goes the moment it is complete even though 9999 could still match.
    Dialling 9+999 therefore sends 999 after the third digit; the fourth 9 falls into the call.
    """
    emergency = [p for n in numbers for p in (f"{n}S0", f"<9:>{n}S0")]
    rest = [
        "101S0",
        "111S0",
        "118xxx",
        "[2-8]xxx",
        "0[1-9]xxxxxxxxxS0",
        "<9:>0[1-9]xxxxxxxxxS0",
        "00xxxxxxxxxx.",
        "<9:>00xxxxxxxxxx.",
    ]
    return "(" + "|".join([*emergency, *rest]) + ")"


# Classic dial-plan failures, as raw Dial_Plan_1_ overrides the lab applies through spec.extra.
# Each is the lab's UK plan with one realistic mistake; how the phone reads them is in README.md
# ("Dial plan") and device_profiles/cisco_mpp/dialplan_vectors.yaml.
# Location faults (README "Location and callback"), beside the dial-plan FAULTS: E911
# geolocation off, and on with no request URL.
LOCATION_FAULTS: dict[str, dict[str, str]] = {
    "mpp-e911-off": {"E911_Enable_1_": "No"},
    "mpp-held-url-missing": {"Primary_Request_URL_1_": ""},
}
FAULTS: dict[str, dict[str, str]] = {
    # 9000-9999 extensions added as [2-9]xxx and the S0 dropped: 999 is complete while 9xxx
    # could still match, so the phone waits the short timer (3 s) before sending 999.
    "dialplan-9xxx-extensions": {
        "Dial_Plan_1_": "(999|<9:>999|112|<9:>112|101S0|111S0|118xxx|[2-9]xxx|"
        "0[1-9]xxxxxxxxxS0|<9:>0[1-9]xxxxxxxxxS0|00xxxxxxxxxx.|<9:>00xxxxxxxxxx.)",
    },
    # The per-number 9-rules replaced by an outside-line catch-all, 999 dropped as "covered":
    # 999 goes out as 99 (the 9 stripped) and 9+999 only after the short timer.
    "dialplan-outside-line-catchall": {
        "Dial_Plan_1_": "(112S0|<9:>112S0|101S0|111S0|118xxx|[2-8]xxx|0[1-9]xxxxxxxxxS0|<9:>xx.)",
    },
    # A barring entry meant for 99x service codes bars 999 and 9+999.
    "dialplan-barred-99x": {
        "Dial_Plan_1_": "(99x!|<9:>99x!|112S0|<9:>112S0|101S0|111S0|118xxx|[2-8]xxx|"
        "0[1-9]xxxxxxxxxS0|<9:>0[1-9]xxxxxxxxxS0|00xxxxxxxxxx.|<9:>00xxxxxxxxxx.)",
    },
    # An E.164 outside-line rewrite for the trunk, with the <9:>112 entry lost: 9+112 goes out
    # as +44112 after the short timer.
    "dialplan-e164-outside-line": {
        "Dial_Plan_1_": "(999S0|<9:>999S0|112S0|101S0|111S0|118xxx|[2-8]xxx|"
        "0[1-9]xxxxxxxxxS0|<9:+44>xx.)",
    },
}
# The (rule, digits dialled) findings a UK sweep (999 and 112 at once, prefix 9) must produce.
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "dialplan-9xxx-extensions": [("emergency.delay", "999")],
    "dialplan-outside-line-catchall": [("emergency.dial", "999"), ("emergency.delay", "9999")],
    "dialplan-barred-99x": [("emergency.dial", "999"), ("emergency.dial", "9999")],
    "dialplan-e164-outside-line": [("emergency.dial", "9112")],
}


def render(spec: LabPhone) -> Collected:
    base = parse_files(SAMPLE.name, SAMPLE.read_text(), lambda _: None)
    p = dict(base.params)
    p.update(
        {
            "Product_Name": spec.model,
            "Software_Version": spec.firmware,
            "MAC_Address": spec.mac.upper(),
            "Enable_Protocol": "Https" if https_only(spec.firmware) else "Http",
            "Profile_Rule": f"{spec.provisioning_server}/$MA.xml",
            "Line_Enable_1_": "Yes",
            "Proxy_1_": spec.registrar,
            "Outbound_Proxy_1_": spec.outbound_proxy,
            "Use_Outbound_Proxy_1_": "Yes" if spec.outbound_proxy else "No",
            "User_ID_1_": spec.sip_user,
            "Display_Name_1_": spec.sip_user,
            "Password_1_": spec.sip_password,
            "Dial_Plan_1_": uk_dial_plan(spec.emergency_numbers),
            "Emergency_Number_1_": ",".join(spec.emergency_numbers),
            # Location: E911 Geolocation with a HELD request URL (Ext 1 tab)
            "E911_Enable_1_": "Yes",
            "Primary_Request_URL_1_": "https://lis.lab.invalid/held",
            # MPP has no emergency route of its own: spec.emergency_route cannot be expressed.
        }
    )
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=[f"lab:{spec.id}"])


def _group(name: str) -> str | None:
    for rx, group in GROUPS:
        m = rx.match(name)
        if m:
            return group.format(n=m.group(2)) if "{n}" in group else group
    return None


def to_xml(params: dict[str, str], *, status: bool) -> str:
    """The flat profile; with ``status`` the way spacfg.xml shows it (group= on each element)."""
    out = ["<flat-profile>"]
    for name, value in params.items():
        if not status and name in STATUS:
            continue
        group = _group(name) if status else None
        attrs = (f" group={quoteattr(group)}" if group else "") + ' ua="na"'
        # A provisioning file writes an empty value as <X></X>: the empty-element form <X/>
        # leaves the phone's value unchanged (SPA provisioning guide, "Empty Elements vs.
        # Empty Strings"). spacfg.xml shows empty values as <X/>.
        if value or not status:
            out.append(f"<{name}{attrs}>{escape(value)}</{name}>")
        else:
            out.append(f"<{name}{attrs}/>")
    out.append("</flat-profile>")
    return "\n".join(out) + "\n"


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    spec, params = dev.spec, dev.config.params
    if spec.scheme == "http" and https_only(spec.firmware):
        # 12.0(3)+ keeps its admin pages on HTTPS; plain HTTP only points there.
        where = f"https://{spec.address}{req.path}"
        return LabResponse(302, "", "text/html", headers=[("Location", where)])
    if req.method != "GET":
        return LabResponse(405, "Method Not Allowed", headers=[("Allow", "GET")])
    if req.path == "/admin/spacfg.xml":
        if spec.extra.get("_spacfg") == "login-page":
            return LabResponse(200, LOGIN_PAGE, "text/html")
        if params.get("Enable_Web_Admin_Access", "Yes").lower() == "no":
            return LabResponse(403, "<html><body>403 Forbidden</body></html>", "text/html")
        return LabResponse(200, to_xml(params, status=True), "text/xml")
    if req.path in ("/", "/admin", "/admin/"):
        return LabResponse(200, f"<html><title>{escape(spec.model)}</title></html>", "text/html")
    return LabResponse(404, "<html><body>404 Not Found</body></html>", "text/html")


def export_files(dev: LabDevice) -> dict[str, str]:
    """The per-MAC cfg.xml a provisioning server would hold for this phone."""
    body = to_xml(dev.config.params, status=False)
    return {
        f"{dev.spec.mac}.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<device>\n'
        + body
        + "</device>\n"
    }


SIMULATOR = PhoneSimulator(
    profile="cisco_mpp",
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
    demo_faults=("down",),
    order=30,
)
