"""Build a simulated fleet, run it on loopback, and write its inventory and golden template.

Phones live on 127.<net>.0.0/16 (HTTP(S) on port 8080), SBCs on 127.<net>.255.x (SSH on port
8022; their SIP addresses, :5060, are configuration only). Each site has a healthy SBC; a few
extra SBCs carry the seeded SBC faults, and one phone points at each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet import profiles
from fleet.errors import LabBusy
from fleet.lab import sbc as labsbc
from fleet.lab.httpd import DeviceServer
from fleet.lab.spec import LabDevice, LabPhone, LabSbc
from fleet.lab.tls import server_context

SITES = ("lon", "man", "edi")
PHONE_PROFILES = ("polycom", "yealink", "cisco_mpp", "grandstream", "snom")
SBC_PROFILES = ("audiocodes", "cisco_cube", "acme_packet")
ADMIN_PASSWORD = "lab-admin-Zq8v"  # the lab's own admin password, referenced via ${file:}
ENABLE_PASSWORD = "lab-enable-Xw3"
PORT = 8080  # unprivileged, so the lab runs without root
SSH_PORT = 8022

# Faults seeded in every lab (with faults on), in this order, on these profiles.
SEEDED_FAULTS: tuple[tuple[str, str], ...] = (
    ("polycom", "lost-112"),
    ("yealink", "default-911"),
    ("polycom", "decommissioned-route"),
    ("cisco_mpp", "down"),
    ("yealink", "auth"),
    ("polycom", "http500"),
)
# Extra SBCs carrying a fault each (vendor fault names from the simulators; "down" refuses
# SSH), and the phone profile of the one phone whose emergency route points at each.
SEEDED_SBC_FAULTS: tuple[tuple[str, str, str], ...] = (
    ("audiocodes", "catchall-112", "snom"),
    ("cisco_cube", "rewrite-999", "grandstream"),
    ("acme_packet", "no-emergency", "cisco_mpp"),
    ("audiocodes", "down", "yealink"),
)


@dataclass(slots=True)
class LabFleet:
    phones: list[LabPhone]
    sbcs: list[LabSbc] = field(default_factory=list)
    net: int = 10
    admin_password: str = ADMIN_PASSWORD
    enable_password: str = ENABLE_PASSWORD
    devices: dict[str, LabDevice] = field(default_factory=dict)
    servers: list[DeviceServer] = field(default_factory=list)
    ssh: labsbc.RunningSbcs = field(default_factory=labsbc.RunningSbcs)
    host_keys: dict[str, Any] = field(default_factory=dict)  # SBC id -> its SSH host key

    def sbc_host_keys(self) -> dict[str, Any]:
        """Made once per fleet, so the known_hosts file can be written before the SBCs run."""
        for s in self.sbcs:
            if s.id not in self.host_keys:
                self.host_keys[s.id] = labsbc.host_key()
        return self.host_keys

    def by_id(self, device_id: str) -> LabPhone:
        return next(p for p in self.phones if p.id == device_id)

    @property
    def decommissioned(self) -> str:
        """An address where no SBC has been for years."""
        return f"127.{self.net}.255.99"


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


def sbc_profiles() -> list[str]:
    """The SBC vendors the lab can simulate (a profile folder with a simulator)."""
    reg = profiles.registry()
    return [n for n in SBC_PROFILES if n in reg and reg[n].simulator is not None]


def _sbc(k: int, site: str, pname: str, net: int, name: str, fault: str | None) -> LabSbc:
    sim = profiles.get(pname).simulator
    return LabSbc(
        id=f"{site}-sbc-{name}",
        profile=pname,
        site=site,
        address=f"127.{net}.255.{k}",
        port=SSH_PORT,
        hostname=f"{site}-sbc-{name}",
        admin_user=sim.ADMIN_USER,
        admin_password=ADMIN_PASSWORD,
        enable_password=ENABLE_PASSWORD,
        phone_networks=[f"127.{net}.0.0/16"],
        emergency_numbers=["999", "112"],
        fault=fault,
        extra={"_fault": fault} if fault else {},
    )


def build(
    phones: int = 30,
    *,
    faults: bool = True,
    profile_names: Sequence[str] = PHONE_PROFILES,
    extra_faults: Sequence[tuple[str, str]] = (),
    net: int = 10,
    sbcs: bool = True,
    extra_sbcs: int = 0,
    sbc_profile_names: Sequence[str] | None = None,
) -> LabFleet:
    """A deterministic fleet of ``phones`` phones cycling over sites and profiles, on
    127.<net>.0.0/16 (labs on different nets can run side by side), with an SBC per site
    (and the faulty SBCs when ``faults``) when ``sbcs`` and SBC simulators exist."""
    vendors = (
        [v for v in sbc_profiles() if v in (sbc_profile_names or SBC_PROFILES)] if sbcs else []
    )
    site_sbc: dict[str, LabSbc] = {}
    sbc_specs: list[LabSbc] = []
    for k, site in enumerate(SITES):
        if vendors:
            s = _sbc(k + 1, site, vendors[k % len(vendors)], net, "1", None)
            sbc_specs.append(s)
            site_sbc[site] = s
    for k in range(extra_sbcs if vendors else 0):
        # more healthy SBCs (benchmarks), on 127.<net>.253.x and below
        s = _sbc(
            k % 250 + 1, SITES[k % len(SITES)], vendors[k % len(vendors)], net, f"{k + 2}", None
        )
        s.address = f"127.{net}.{253 - k // 250}.{k % 250 + 1}"
        sbc_specs.append(s)
    sims = {n: profiles.get(n).simulator for n in profile_names}
    counters = {n: itertools.count() for n in profile_names}
    specs: list[LabPhone] = []
    for i in range(phones):
        pname = profile_names[i % len(profile_names)]
        sim = sims[pname]
        k = next(counters[pname])
        model, firmware = sim.MODELS[k % len(sim.MODELS)]
        site = SITES[(i // len(profile_names)) % len(SITES)]
        sbc_addr = site_sbc[site].address if site in site_sbc else f"127.{net}.255.1"
        spec = LabPhone(
            id=f"{site}-{pname.replace('_', '')}-{i + 1:04d}",
            profile=pname,
            site=site,
            address=_address(i, net),
            port=PORT,
            model=model,
            firmware=firmware,
            mac=sim.OUI + f"{i + 1:06x}",
            admin_user=sim.ADMIN_USER,
            admin_password=ADMIN_PASSWORD,
            sip_user=f"{2000 + i}",
            sip_password=_secret("sip", i),
            registrar=f"{sbc_addr}:5060",
            outbound_proxy=f"{sbc_addr}:5060",
            emergency_numbers=["999", "112"],
            emergency_route=f"{sbc_addr}:5060",
            provisioning_server=f"https://prov.lab.invalid/{site}",
        )
        spec.scheme = sim.scheme(spec)
        specs.append(spec)
    fleet = LabFleet(specs, sbc_specs, net)
    for pname, fault in (*(SEEDED_FAULTS if faults else ()), *extra_faults):
        victim = _healthy(specs, pname)
        if victim is not None:
            apply_fault(victim, fault, fleet)
    if faults and vendors:
        for n, (sbc_vendor, fault, phone_vendor) in enumerate(SEEDED_SBC_FAULTS):
            if sbc_vendor not in vendors:
                continue
            victim = _healthy(specs, phone_vendor)
            if victim is None:
                continue
            s = _sbc(10 + n, victim.site, sbc_vendor, net, fault, fault)
            sbc_specs.append(s)
            _point_at(victim, s.address)
            victim.extra["_fault"] = f"via-{s.id}"
    return fleet


def _healthy(specs: list[LabPhone], pname: str) -> LabPhone | None:
    return next(
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


def _point_at(spec: LabPhone, address: str) -> None:
    spec.registrar = spec.outbound_proxy = spec.emergency_route = f"{address}:5060"


def apply_fault(spec: LabPhone, fault: str, fleet: LabFleet | None = None) -> None:
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
        net = fleet.net if fleet else int(spec.address.split(".")[1])
        spec.emergency_route = f"127.{net}.255.99:5060"
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
    await labsbc.start(fleet.sbcs, fleet.ssh, fleet.sbc_host_keys())


async def stop(fleet: LabFleet) -> None:
    await asyncio.gather(*(s.close() for s in fleet.servers))
    fleet.servers.clear()
    await fleet.ssh.close()


@contextlib.asynccontextmanager
async def running(fleet: LabFleet) -> AsyncIterator[LabFleet]:
    await start(fleet)
    try:
        yield fleet
    finally:
        await stop(fleet)


def inventory_dict(
    fleet: LabFleet,
    secret_file: str = "lab-admin.secret",
    enable_file: str = "lab-enable.secret",
    known_hosts: str = "lab_known_hosts",
) -> dict:
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
    for sbc in fleet.sbcs:
        g = f"{sbc.profile}-sbcs"
        groups.setdefault(
            g,
            {
                "role": "sbc",
                "profile": sbc.profile,
                "credentials": {
                    "username": sbc.admin_user,
                    "password": "${file:" + secret_file + "}",
                    "enable": "${file:" + enable_file + "}",
                },
                # host keys are checked: the lab writes the keys it made at start-up
                "ssh": {"known_hosts": known_hosts},
            },
        )
        hosts[sbc.id] = {
            "address": f"ssh://{sbc.address}:{sbc.port}",
            "site": sbc.site,
            "groups": [g],
        }
    return {"groups": groups, "hosts": hosts}


def golden_dict(fleet: LabFleet) -> dict:
    routes = sorted({s.address for s in fleet.sbcs}) or [f"127.{fleet.net}.255.1"]
    trunks = sorted({profiles.get(s.profile).simulator.EMERGENCY_TRUNK for s in fleet.sbcs})
    emergency: dict = {
        "numbers": ["999", "112"],
        "max_dial_delay_s": 0,
        "phone_route": routes,
        "prefixes": ["9"],
    }
    if trunks:
        emergency["sbc_trunks"] = trunks
    return {
        "fleet_golden": 1,
        "name": "lab-uk-desk-phones",
        "policy": ["uk"],
        "emergency": emergency,
        "rules": [
            {
                "id": "outbound-proxy",
                "scope": {"role": "phone"},
                "key": "sip.outbound_proxy",
                "matches": rf"^127\.{fleet.net}\.255\.\d+(:5060)?$",
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
    """Write inventory.yaml, golden.yaml, the secret files and (once the SBCs run) their
    known_hosts into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("lab-admin.secret", fleet.admin_password),
        ("lab-enable.secret", fleet.enable_password),
    ):
        secret = folder / name
        secret.write_text(value + "\n")
        secret.chmod(0o600)
    write_known_hosts(fleet, folder)
    inv = folder / "inventory.yaml"
    inv.write_text(
        "# Written by `fleet lab serve`: the simulated fleet on loopback.\n"
        + yaml.safe_dump(inventory_dict(fleet), sort_keys=False)
    )
    golden = folder / "golden.yaml"
    golden.write_text(yaml.safe_dump(golden_dict(fleet), sort_keys=False))
    return inv, golden


def write_known_hosts(fleet: LabFleet, folder: Path) -> Path:
    """The SBCs' host keys, as an OpenSSH known_hosts file."""
    keys = fleet.sbc_host_keys()
    path = folder / "lab_known_hosts"
    path.write_text("".join(labsbc.known_hosts_line(s, keys[s.id]) + "\n" for s in fleet.sbcs))
    return path
