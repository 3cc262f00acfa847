"""The rollout scenario, on in every `fleet lab serve`: apply a firmware update to some
running lab phones, changing their configuration the ways real updates have (a parameter reset
to the vendor default, a key renamed, a dial-plan entry lost), on request over HTTP, with
`fleet lab rollout` or on SIGUSR1; then the vendor's fixed release that gives 112 back.

    POST http://127.<net>.255.250:8080/rollout   {"count": 40, "lose_112": 10}
    POST http://127.<net>.255.250:8080/fix
    GET  http://127.<net>.255.250:8080/state

An empty POST /rollout is the documented bad update: a fifth of the phones updated, a quarter
of those losing 112 (the 2023 failure this tool exists for), so the README's flow shows it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fleet.lab import registry
from fleet.lab.fleet import PORT, LabFleet
from fleet.lab.httpd import DeviceServer
from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse
from fleet.model import Collected


@dataclass(slots=True)
class Applied:
    updated: list[str] = field(default_factory=list)
    lost_112: list[str] = field(default_factory=list)
    firmware: dict[str, tuple[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"updated": self.updated, "lost_112": self.lost_112, "firmware": self.firmware}


def default_update(fleet: LabFleet) -> tuple[int, int]:
    """(count, lose_112) of the documented bad update: a fifth of the phones, a quarter of
    those losing 112, at least one of each on any lab with phones."""
    count = max(1, len(fleet.phones) // 5)
    return count, max(1, count // 4)


def next_firmware(profile: str, firmware: str) -> str:
    """The vendor's next release where the simulator names it, else the last number + 1."""
    table = registry.phone(profile).firmware_updates
    if firmware in table:
        return table[firmware]
    m = list(re.finditer(r"\d+", firmware))
    if not m:
        return firmware + "-1"
    last = m[-1]
    return (
        firmware[: last.start()]
        + str(int(last.group()) + 1).zfill(len(last.group()))
        + firmware[last.end() :]
    )


def apply_update(fleet: LabFleet, count: int, lose_112: int) -> Applied:
    """Update the first ``count`` healthy, not yet updated phones; the first ``lose_112`` of
    them lose 112 from their emergency configuration (and, where the vendor builds its plan
    from it, their dial plan)."""
    done = Applied()
    candidates = [
        p
        for p in fleet.phones
        if p.fault is None and "_fault" not in p.extra and "_updated" not in p.extra
    ]
    for n, spec in enumerate(candidates[:count]):
        old = spec.firmware
        spec.firmware = next_firmware(spec.profile, old)
        spec.extra["_updated"] = old
        spec.extra.update(registry.phone(spec.profile).update_set)
        if n < lose_112:
            spec.extra["_lost_112"] = ",".join(spec.emergency_numbers)  # what the fix restores
            spec.emergency_numbers = [x for x in spec.emergency_numbers if x != "112"]
            done.lost_112.append(spec.id)
        dev = fleet.devices.get(spec.id)
        if dev is not None:
            dev.config = _render(spec)
            dev.sessions.clear()  # the phone rebooted into the new firmware
        done.updated.append(spec.id)
        done.firmware[spec.id] = (old, spec.firmware)
    return done


def apply_fix(fleet: LabFleet) -> Applied:
    """The vendor's fixed release on every phone the update broke: the next firmware, with the
    emergency numbers the phone had before the update."""
    done = Applied()
    for spec in fleet.phones:
        numbers = spec.extra.pop("_lost_112", None)
        if numbers is None:
            continue
        old = spec.firmware
        spec.firmware = next_firmware(spec.profile, old)
        spec.emergency_numbers = [n for n in numbers.split(",") if n]
        dev = fleet.devices.get(spec.id)
        if dev is not None:
            dev.config = _render(spec)
            dev.sessions.clear()
        done.updated.append(spec.id)
        done.firmware[spec.id] = (old, spec.firmware)
    return done


def _render(spec: LabPhone) -> Collected:
    sim = registry.phone(spec.profile)
    c = sim.render(spec)
    for old, new in sim.update_rename.items():
        if old in c.params:
            c.params[new] = c.params.pop(old)
    return c


_BODY = 'a JSON object such as {"count": 40, "lose_112": 10} (both optional)'


def controller(fleet: LabFleet) -> DeviceServer:
    """The control endpoint on 127.<net>.255.250:8080."""
    spec = LabPhone(
        id="rollout-control",
        profile="polycom",
        site="-",
        address=f"127.{fleet.net}.255.250",
        port=PORT,
        model="-",
        firmware="-",
        mac="000000000000",
        admin_user="-",
        admin_password="-",
        sip_user="-",
        sip_password="-",
        registrar="-",
        outbound_proxy="-",
        emergency_numbers=[],
        emergency_route="-",
        provisioning_server="-",
    )

    def handle(_dev: LabDevice, req: LabRequest) -> LabResponse:
        if req.method == "POST" and req.path == "/rollout":
            try:
                body = req.json() or {}
                count = int(body.get("count", default_update(fleet)[0]))
                lose = int(body.get("lose_112", max(1, count // 4) if count > 0 else 0))
            except (ValueError, TypeError, AttributeError) as e:
                return LabResponse.json({"error": f"expected {_BODY}: {e}"}, 400)
            return LabResponse.json(apply_update(fleet, count, lose).to_dict())
        if req.method == "POST" and req.path == "/fix":
            return LabResponse.json(apply_fix(fleet).to_dict())
        if req.path == "/state":
            return LabResponse.json(
                {
                    p.id: {
                        "firmware": p.firmware,
                        "updated_from": p.extra.get("_updated"),
                        "emergency_numbers": p.emergency_numbers,
                    }
                    for p in fleet.phones
                }
            )
        return LabResponse(
            404, json.dumps({"error": "POST /rollout, POST /fix or GET /state"}), "application/json"
        )

    return DeviceServer(LabDevice(spec, Collected({})), handle, "none", None)
