"""Build a simulated fleet, run it on loopback, and write its inventory and golden template."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fleet import profiles
from fleet.errors import FleetError
from fleet.lab.httpd import DeviceServer
from fleet.lab.spec import LabDevice, LabPhone
from fleet.lab.tls import server_context

SITES = ("lon", "man", "edi")
PHONE_PROFILES = ("polycom", "yealink", "cisco_mpp", "grandstream", "snom")
SBC_ROUTE = "127.20.0.1"  # the emergency-capable SBC every lab phone must send 999/112 to
DECOMMISSIONED_SBC = "127.20.0.99"
ADMIN_PASSWORD = "lab-admin-Zq8v"  # the lab's own admin password, referenced via ${file:}
PORT = 8080  # unprivileged, so the lab runs without root

# Faults seeded in every lab of at least this many phones, in this order, on these profiles.
SEEDED_FAULTS: tuple[tuple[str, str], ...] = (
    ("polycom", "lost-112"),
    ("yealink", "default-911"),
    ("polycom", "decommissioned-route"),
    ("cisco_mpp", "down"),
    ("yealink", "auth"),
    ("polycom", "http500"),
)


@dataclass(slots=True)
class LabFleet:
    phones: list[LabPhone]
    admin_password: str = ADMIN_PASSWORD
    devices: dict[str, LabDevice] = field(default_factory=dict)
    servers: list[DeviceServer] = field(default_factory=list)

    def by_id(self, device_id: str) -> LabPhone:
        return next(p for p in self.phones if p.id == device_id)


def free_net(start: int = 10) -> int:
    """The first 127.N net from ``start`` where no other lab listens."""
    import socket

    for net in range(start, 250):
        with socket.socket() as s:
            try:
                s.bind((f"127.{net}.0.1", PORT))
            except OSError:
                continue
        return net
    raise LabBusy("no free 127.x net for the lab")


def _address(i: int, net: int) -> str:
    return f"127.{net}.{i // 250}.{i % 250 + 1}"


def _secret(kind: str, i: int) -> str:
    return f"{kind}-" + hashlib.sha256(f"{kind}{i}".encode()).hexdigest()[:12]


def build(
    phones: int = 30,
    *,
    faults: bool = True,
    profile_names: Sequence[str] = PHONE_PROFILES,
    extra_faults: Sequence[tuple[str, str]] = (),
    net: int = 10,
) -> LabFleet:
    """A deterministic fleet of ``phones`` phones cycling over sites and profiles, on
    127.<net>.0.0/16 (labs on different nets can run side by side)."""
    sims = {n: profiles.get(n).simulator for n in profile_names}
    counters = {n: itertools.count() for n in profile_names}
    specs: list[LabPhone] = []
    for i in range(phones):
        pname = profile_names[i % len(profile_names)]
        sim = sims[pname]
        k = next(counters[pname])
        model, firmware = sim.MODELS[k % len(sim.MODELS)]
        site = SITES[(i // len(profile_names)) % len(SITES)]
        mac = sim.OUI + f"{i + 1:06x}"
        spec = LabPhone(
            id=f"{site}-{pname.replace('_', '')}-{i + 1:04d}",
            profile=pname,
            site=site,
            address=_address(i, net),
            port=PORT,
            model=model,
            firmware=firmware,
            mac=mac,
            admin_user=sim.ADMIN_USER,
            admin_password=ADMIN_PASSWORD,
            sip_user=f"{2000 + i}",
            sip_password=_secret("sip", i),
            registrar=f"{SBC_ROUTE}:5060",
            outbound_proxy=f"{SBC_ROUTE}:5060",
            emergency_numbers=["999", "112"],
            emergency_route=f"{SBC_ROUTE}:5060",
            provisioning_server=f"https://prov.lab.invalid/{site}",
        )
        spec.scheme = sim.scheme(spec)
        specs.append(spec)
    for pname, fault in (*(SEEDED_FAULTS if faults else ()), *extra_faults):
        victim = next(
            (
                s
                for s in specs
                if s.profile == pname
                and s.fault is None
                and not s.extra
                and s.emergency_numbers == ["999", "112"]
            ),
            None,
        )
        if victim is not None:
            apply_fault(victim, fault)
    return LabFleet(specs)


def apply_fault(spec: LabPhone, fault: str) -> None:
    """Seed ``fault``: the vendor-neutral ones here, vendor ones from the simulator's
    ``FAULTS`` (raw parameter overrides, e.g. a dial plan carrying a classic failure)."""
    vendor_faults = getattr(profiles.get(spec.profile).simulator, "FAULTS", {})
    if fault in vendor_faults:
        spec.extra.update(vendor_faults[fault])
    elif fault == "lost-112":
        spec.emergency_numbers = ["999"]
    elif fault == "default-911":
        spec.emergency_numbers = ["911"]
    elif fault == "decommissioned-route":
        spec.emergency_route = f"{DECOMMISSIONED_SBC}:5060"
    elif fault == "auth":
        spec.fault = "auth"
        spec.admin_password = "changed-by-someone"
    else:
        spec.fault = fault
    spec.extra.setdefault("_fault", fault)


async def start(fleet: LabFleet) -> None:
    """Start every device's server; a taken address stops them all and raises LabBusy."""
    try:
        await _start(fleet)
    except OSError as e:
        await stop(fleet)
        raise LabBusy(
            f"cannot start the lab: {e.strerror or e} (another lab on the same "
            "127.x net? choose another with --net)"
        ) from e


class LabBusy(FleetError):
    pass


async def _start(fleet: LabFleet) -> None:
    https = [p.address for p in fleet.phones if p.scheme == "https"]
    ssl_ctx = server_context(https) if https else None
    for spec in fleet.phones:
        sim = profiles.get(spec.profile).simulator
        dev = LabDevice(spec=spec, config=sim.render(spec))
        fleet.devices[spec.id] = dev
        if spec.fault == "down":
            continue
        srv = DeviceServer(dev, sim.handle, sim.AUTH, ssl_ctx if spec.scheme == "https" else None)
        await srv.start()
        fleet.servers.append(srv)


async def stop(fleet: LabFleet) -> None:
    await asyncio.gather(*(s.close() for s in fleet.servers))
    fleet.servers.clear()


@contextlib.asynccontextmanager
async def running(fleet: LabFleet) -> AsyncIterator[LabFleet]:
    await start(fleet)
    try:
        yield fleet
    finally:
        await stop(fleet)


def inventory_dict(fleet: LabFleet, secret_file: str = "lab-admin.secret") -> dict:
    groups: dict[str, dict] = {}
    hosts: dict[str, dict] = {}
    for spec in fleet.phones:
        sim = profiles.get(spec.profile).simulator
        g = f"{spec.profile}-phones"
        groups.setdefault(
            g,
            {
                "role": "phone",
                "profile": spec.profile,
                "credentials": {
                    "username": sim.ADMIN_USER,
                    "password": "${file:" + secret_file + "}",
                },
            },
        )
        host: dict = {
            "address": f"{spec.scheme}://{spec.address}:{spec.port}",
            "site": spec.site,
            "groups": [g],
        }
        if spec.scheme == "https":
            # Phones carry self-signed certificates; the lab's is made at start-up.
            host["tls"] = {"verify": False}
        hosts[spec.id] = host
    return {"groups": groups, "hosts": hosts}


GOLDEN = {
    "fleet_golden": 1,
    "name": "lab-uk-desk-phones",
    "policy": ["uk"],
    "emergency": {
        "numbers": ["999", "112"],
        "max_dial_delay_s": 0,
        "phone_route": SBC_ROUTE,
        "prefixes": ["9"],
    },
    "rules": [
        {
            "id": "outbound-proxy",
            "scope": {"role": "phone"},
            "key": "sip.outbound_proxy",
            "matches": r"^127\.20\.0\.1(:5060)?$",
            "severity": "high",
        },
        {
            "id": "provisioning-server",
            "scope": {"role": "phone"},
            "key": "provisioning.server",
            "present": True,
            "severity": "low",
        },
    ],
}


def write_files(fleet: LabFleet, folder: Path) -> tuple[Path, Path]:
    """Write inventory.yaml, golden.yaml and the admin-password secret file into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "lab-admin.secret"
    secret.write_text(fleet.admin_password + "\n")
    secret.chmod(0o600)
    inv = folder / "inventory.yaml"
    inv.write_text(
        "# Written by `fleet lab serve`: the simulated fleet on loopback.\n"
        + yaml.safe_dump(inventory_dict(fleet), sort_keys=False)
    )
    golden = folder / "golden.yaml"
    golden.write_text(yaml.safe_dump(GOLDEN, sort_keys=False))
    return inv, golden
