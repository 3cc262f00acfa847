"""The lab's Poly phone: UC Software's REST API (device/info v1/v2, config/get) over Digest.

Choices where the vendor documentation is silent are listed in README.md ("Simulator").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import quoteattr

from device_profiles.polycom.profile import BATCH, EMERGENCY, parse_files
from fleet.lab.registry import Auth, PhoneSimulator
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected

MODELS: list[tuple[str, str]] = [
    ("VVX 450", "6.4.3.1234"),
    ("VVX 411", "5.9.7.3480"),
    ("Trio 8800", "7.2.2.1094"),
    ("Edge E450", "8.1.0.1284"),
    ("VVX 450", "6.4.5.0522"),
]
OUI = "0004f2"
ADMIN_USER = "Polycom"
AUTH: Auth = "digest"

SAMPLE = Path(__file__).parent / "samples" / "master" / "0004f2a1b2c3.cfg"
# The UK plan every lab phone gets: each emergency number dials the moment it is complete,
# and the outside-line prefix 9 is stripped (R9RR...). 9999 needs no rewrite: its first three
# digits already complete "999", which is what 9999 must send.
UK_PLAN = ("[2-8]xxx", "0[1-9]xxxxxxxxx", "R9RR0[1-9]xxxxxxxxx")
UK_INTERNATIONAL = "00xxxxxxxxxx.T"
_EMERGENCY_KEY = re.compile(r"^dialplan\.routing\.emergency\.\d+\.")
NOT_FOUND = LabResponse(404, "<html><body><h1>404 Not Found</h1></body></html>", "text/html")


# Classic failures a Poly digit map carries (raw parameters the lab forces over render's), and
# the findings a UK sweep must then produce (fleet.dialplan.mgcp; README "Dial plan").
FAULTS: dict[str, dict[str, str]] = {
    # The map as shipped: 999 is only a partial match (waits), 112 is an impossible match at
    # "11" (sent as 11), 9999 goes after the timer with its 9, and 9112 completes [2-9]11 as 911.
    "poly-vendor-default-plan": {
        "dialplan.digitmap": "[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx|[2-9]xxxT",
        "dialplan.digitmap.timeOut": "3|3|3|3|3|3",
    },
    # An outside-line rule R9RRxx.T instead of 999: the 9 is stripped and the rest goes after
    # the timer, so 999 leaves as 99, and 9999 / 9112 only after 3 s.
    "poly-outside-line-swallows-999": {
        "dialplan.digitmap": "112|[2-8]xxx|R9RRxx.T",
        "dialplan.digitmap.timeOut": "3|3|3",
    },
    # The guide's own US example R999R911R left in a UK plan: 999 and 9999 send 911.
    "poly-us-rewrite-999-to-911": {
        "dialplan.digitmap": "R999R911R|112|[2-8]xxx|0[1-9]xxxxxxxxx|R9RR0[1-9]xxxxxxxxx"
        "|R9RR112|00xxxxxxxxxx.T",
        "dialplan.digitmap.timeOut": "3|3|3|3|3|3|3",
    },
}
# Location faults (README "Location and callback"), beside the dial-plan FAULTS: LLDP switched
# off (the ELIN never arrives), and the preferred source removed with no outbound identity.
LOCATION_FAULTS: dict[str, dict[str, str]] = {
    "poly-lldp-off": {"device.net.lldpEnabled": "0"},
    "poly-no-location-source": {
        "dialplan.routing.emergency.preferredSource": "",
        "dialplan.routing.emergency.outboundIdentity": "",
    },
}
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "poly-vendor-default-plan": [
        ("emergency.dial", "999"),
        ("emergency.dial", "112"),
        # the 9-prefixed forms leave as dialled after the timer; the site SBC strips the 9
        ("emergency.delay", "9999"),
        ("emergency.dial", "9112"),
    ],
    "poly-outside-line-swallows-999": [
        ("emergency.dial", "999"),
        ("emergency.delay", "9999"),
        ("emergency.delay", "9112"),
    ],
    "poly-us-rewrite-999-to-911": [
        ("emergency.dial", "999"),
        ("emergency.dial", "9999"),
    ],
}


def scheme(spec: LabPhone) -> str:
    return "http"


def uk_digitmap(numbers: list[str]) -> str:
    prefixed = [f"R9RR{n}" for n in numbers if not n.startswith("9")]
    return "|".join([*numbers, *UK_PLAN, *prefixed, UK_INTERNATIONAL])


@cache
def _sample_params() -> tuple[tuple[str, str], ...]:
    def sibling(name: str) -> str | None:
        p = SAMPLE.parent / name
        return p.read_text() if p.is_file() else None

    return tuple(parse_files(SAMPLE.name, SAMPLE.read_text(), sibling).params.items())


def _split(hostport: str) -> tuple[str, str]:
    host, _, port = hostport.rpartition(":")
    return (host, port) if host and port.isdigit() else (hostport, "")


def render(spec: LabPhone) -> Collected:
    p = dict(_sample_params())
    for key in [k for k in p if _EMERGENCY_KEY.match(k)]:
        del p[key]
    reg_host, reg_port = _split(spec.registrar)
    proxy_host, proxy_port = _split(spec.outbound_proxy)
    route_host, route_port = _split(spec.emergency_route)
    plan = uk_digitmap(spec.emergency_numbers)
    p.update(
        {
            "reg.1.address": spec.sip_user,
            "reg.1.label": spec.sip_user,
            "reg.1.displayName": spec.sip_user,
            "reg.1.auth.userId": spec.sip_user,
            "reg.1.auth.password": spec.sip_password,
            "reg.1.server.1.address": reg_host,
            "reg.1.server.1.port": reg_port,
            "reg.1.outboundProxy.address": proxy_host,
            "reg.1.outboundProxy.port": proxy_port,
            "dialplan.digitmap": plan,
            "dialplan.digitmap.timeOut": "|".join("3" for _ in plan.split("|")),
            "dialplan.routing.server.1.address": route_host,
            "dialplan.routing.server.1.port": route_port,
            "device.prov.serverName": spec.provisioning_server,
            "device.prov.serverName.set": "1",
            "device.set": "1",
            # Location: the ELIN the site switch sends over LLDP-MED
            "dialplan.routing.emergency.preferredSource": "ELIN",
            "device.net.lldpEnabled": "1",
            "device.net.lldpEnabled.set": "1",
        }
    )
    for x, number in zip(EMERGENCY, spec.emergency_numbers, strict=False):
        p[f"dialplan.routing.emergency.{x}.value"] = number
        p[f"dialplan.routing.emergency.{x}.description"] = number
        p[f"dialplan.routing.emergency.{x}.server.1"] = "1"
    p.update({k: v for k, v in spec.extra.items() if not k.startswith("_")})
    identity = {"model": spec.model, "firmware": spec.firmware, "mac": spec.mac}
    return Collected(params=p, identity=identity, sources=["lab"])


# ---------------------------------------------------------------- HTTP


def handle(dev: LabDevice, req: LabRequest) -> LabResponse:
    if not req.path.startswith("/api/"):
        return NOT_FOUND
    if dev.config.params.get("apps.restapi.enabled", "0") != "1":
        return NOT_FOUND
    route = _ROUTES.get(req.path)
    if route is None or not route.exists(dev.spec.firmware):
        return NOT_FOUND
    if req.method != route.method:
        return LabResponse(405, "Method Not Allowed", headers=[("Allow", route.method)])
    return route.answer(dev, req)


def _major(firmware: str) -> int:
    head = firmware.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _v1_info(dev: LabDevice, req: LabRequest) -> LabResponse:
    s = dev.spec
    return LabResponse.json(
        {
            "Status": "2000",
            "data": {
                "ModelNumber": s.model,
                "DeviceType": "hardwareEndpoint",
                "UpTimeSinceLastReboot": "2 Days 3:14:07",
                "FirmwareRelease": s.firmware,
                "DeviceVendor": "Polycom",
                "MACAddress": s.mac,
                "IPV4Address": s.address,
                "IPV6Address": "::",
                "AttachedHardware": {},
            },
        }
    )


def _v2_info(dev: LabDevice, req: LabRequest) -> LabResponse:
    s = dev.spec
    return LabResponse.json(
        {
            "Status": "2000",
            "data": {
                "DeviceType": "HardwareEndpoint",
                "DeviceVendor": "Polycom",
                "ModelNumber": s.model,
                "MACAddress": s.mac,
                "IPAddress": s.address,
                "IPStack": "IPv4 Only",
                "Firmware": {
                    "Application": f"{s.firmware} 28-Feb-25 15:29",
                    "Updater": s.firmware,
                    "BootBlock": "3.0.6.0002 (65290-001)",
                },
                "AttachedHardware": {},
                "ReadyToUse": "True",
            },
        }
    )


def _config_get(dev: LabDevice, req: LabRequest) -> LabResponse:
    forced = dev.spec.extra.get("_config_get_status")
    if forced:
        return LabResponse.json({"Status": forced}, status=200)
    try:
        names = json.loads(req.body or b"null")["data"]
    except (ValueError, TypeError, KeyError):
        return LabResponse.json({"Status": "4000"}, status=400)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return LabResponse.json({"Status": "4000"}, status=400)
    if len(names) > BATCH:
        return LabResponse.json({"Status": "4009"}, status=400)
    params = dev.config.params
    data = {
        n: {"Value": params[n], "Source": "config"}
        if n in params
        else {"Value": "", "Source": "default"}
        for n in names
    }
    return LabResponse.json({"Status": "2000", "data": data})


class _Route(NamedTuple):
    method: str
    exists: Callable[[str], bool]  # on this firmware version
    answer: Callable[[LabDevice, LabRequest], LabResponse]


# v1 device/info up to UCS 7.x, v2 from 5.9 on (a VVX 350 on 5.9.3 answers it; README).
_ROUTES = {
    "/api/v1/mgmt/device/info": _Route("GET", lambda fw: _major(fw) < 8, _v1_info),
    "/api/v2/mgmt/device/info": _Route("GET", lambda fw: _major(fw) >= 5, _v2_info),
    "/api/v1/mgmt/config/get": _Route("POST", lambda fw: True, _config_get),
}


# ---------------------------------------------------------------- files


def export_files(dev: LabDevice) -> dict[str, str]:
    """A per-phone master file naming one flat polycomConfig file, as a server holds them."""
    mac = dev.spec.mac
    body = "\n".join(f"  {k}={quoteattr(v)}" for k, v in sorted(dev.config.params.items()))
    master = (
        '<?xml version="1.0" standalone="yes"?>\n'
        f'<APPLICATION APP_FILE_PATH="sip.ld" CONFIG_FILES="{mac}-fleet.cfg" MISC_FILES="" '
        'LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY=""/>\n'
    )
    config = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<polycomConfig\n{body}\n/>\n'
    )
    return {f"{mac}.cfg": master, f"{mac}-fleet.cfg": config}


# What the lab's rollout scenario (fleet/lab/rollout.py) changes besides the firmware: a
# parameter reset to its documented default (dialplan.digitmap.timeOut, default 3).
UPDATE_CHANGES: dict[str, dict[str, str]] = {"set": {"dialplan.digitmap.timeOut": "3"}}


SIMULATOR = PhoneSimulator(
    profile="polycom",
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
    demo_faults=("lost-112", "decommissioned-route", "http500"),
    order=10,
    update_set=UPDATE_CHANGES["set"],
)
