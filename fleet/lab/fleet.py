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
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fleet import profiles
from fleet.errors import LabBusy
from fleet.lab import registry
from fleet.lab import sbc as labsbc
from fleet.lab.files import golden_dict, inventory_dict, write_files, write_known_hosts
from fleet.lab.httpd import DeviceServer
from fleet.lab.spec import LabDevice, LabPhone, LabSbc
from fleet.lab.tls import server_context

__all__ = [
    "LabFleet",
    "apply_fault",
    "build",
    "free_net",
    "golden_dict",
    "inventory_dict",
    "phone_profiles",
    "running",
    "sbc_profiles",
    "seeded_faults",
    "seeded_sbc_faults",
    "start",
    "stop",
    "write_files",
    "write_known_hosts",
]

SITES = ("lon", "man", "edi")
ADMIN_PASSWORD = "lab-admin-Zq8v"  # the lab's own admin password, referenced via ${file:}
ENABLE_PASSWORD = "lab-enable-Xw3"
PORT = 8080  # unprivileged, so the lab runs without root
SSH_PORT = 8022
T = TypeVar("T")


def phone_profiles() -> tuple[str, ...]:
    """The phone vendors the lab can simulate, in the lab's order: a profile folder with a
    phone simulator."""
    reg = profiles.registry()
    return tuple(s.profile for s in registry.phones() if s.profile in reg)


def sbc_profiles() -> list[str]:
    """The SBC vendors the lab can simulate (a profile folder with an SBC simulator)."""
    reg = profiles.registry()
    return [s.profile for s in registry.sbcs() if s.profile in reg]


def seeded_faults() -> tuple[tuple[str, str], ...]:
    """(phone profile, fault) seeded in every lab with faults on: each vendor's first demo
    fault, then each one's second, and so on, so a vendor's faults land on its own phones in
    the order it lists them."""
    sims = [registry.phone(n) for n in phone_profiles()]
    return tuple(_round_robin([(s.profile, f) for f in s.demo_faults] for s in sims))


def seeded_sbc_faults() -> tuple[tuple[str, str, str], ...]:
    """(SBC profile, fault, phone profile behind it): an extra SBC carrying each fault (vendor
    fault names from the simulators; "down" refuses SSH) and the phone vendor of the one phone
    whose emergency route points at it, interleaved across vendors as ``seeded_faults``."""
    sims = [registry.sbc(n) for n in sbc_profiles()]
    return tuple(
        _round_robin([(s.profile, f.fault, f.behind) for f in s.demo_faults] for s in sims)
    )


def _round_robin(lists: Iterable[list[T]]) -> list[T]:
    rows = list(itertools.zip_longest(*lists))
    return [x for row in rows for x in row if x is not None]


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

    def taken(address: str) -> bool:
        with socket.socket() as s:
            try:
                s.bind((address, PORT))
            except OSError:
                return True
        return False

    for net in range(start, 250):
        # the first two phones (a lab's first may be seeded "down") and a served lab's control
        probes = (f"127.{net}.0.1", f"127.{net}.0.2", f"127.{net}.255.250")
        if not any(taken(a) for a in probes):
            return net
    raise LabBusy("no free 127.x net for the lab")


def _address(i: int, net: int) -> str:
    return f"127.{net}.{i // 250}.{i % 250 + 1}"


def _secret(kind: str, i: int) -> str:
    return f"{kind}-" + hashlib.sha256(f"{kind}{i}".encode()).hexdigest()[:12]


def _sbc(k: int, site: str, pname: str, net: int, name: str, fault: str | None) -> LabSbc:
    return LabSbc(
        id=f"{site}-sbc-{name}",
        profile=pname,
        site=site,
        address=f"127.{net}.255.{k}",
        port=SSH_PORT,
        hostname=f"{site}-sbc-{name}",
        admin_user=registry.sbc(pname).admin_user,
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
    profile_names: Sequence[str] | None = None,
    extra_faults: Sequence[tuple[str, str]] = (),
    net: int = 10,
    sbcs: bool = True,
    extra_sbcs: int = 0,
    sbc_profile_names: Sequence[str] | None = None,
) -> LabFleet:
    """A deterministic fleet of ``phones`` phones cycling over sites and profiles (default:
    every simulated phone vendor), on 127.<net>.0.0/16 (labs on different nets can run side
    by side), with an SBC per site (and the faulty SBCs when ``faults``) when ``sbcs`` and
    SBC simulators exist."""
    names = tuple(profile_names) if profile_names is not None else phone_profiles()
    wanted = sbc_profile_names or sbc_profiles()
    vendors = [v for v in sbc_profiles() if v in wanted] if sbcs else []
    sbc_specs = _site_sbcs(vendors, net, extra_sbcs)
    site_sbc = {s.site: s for s in sbc_specs[: len(SITES)]} if vendors else {}
    specs = _phones(phones, names, net, site_sbc)
    fleet = LabFleet(specs, sbc_specs, net)
    for pname, fault in (*(seeded_faults() if faults else ()), *extra_faults):
        victim = _healthy(specs, pname)
        if victim is not None:
            apply_fault(victim, fault, fleet)
    if faults and vendors:
        _seed_sbc_faults(fleet, vendors)
    return fleet


def _site_sbcs(vendors: list[str], net: int, extra: int) -> list[LabSbc]:
    """A healthy SBC per site, then ``extra`` more (benchmarks) on 127.<net>.253.x and below."""
    if not vendors:
        return []
    specs = [
        _sbc(k + 1, site, vendors[k % len(vendors)], net, "1", None) for k, site in enumerate(SITES)
    ]
    for k in range(extra):
        s = _sbc(
            k % 250 + 1, SITES[k % len(SITES)], vendors[k % len(vendors)], net, f"{k + 2}", None
        )
        s.address = f"127.{net}.{253 - k // 250}.{k % 250 + 1}"
        specs.append(s)
    return specs


def _phones(
    count: int, names: Sequence[str], net: int, site_sbc: dict[str, LabSbc]
) -> list[LabPhone]:
    sims = {n: registry.phone(n) for n in names}
    counters = {n: itertools.count() for n in names}
    specs: list[LabPhone] = []
    for i in range(count):
        pname = names[i % len(names)]
        sim = sims[pname]
        k = next(counters[pname])
        model, firmware = sim.models[k % len(sim.models)]
        site = SITES[(i // len(names)) % len(SITES)]
        sbc_addr = site_sbc[site].address if site in site_sbc else f"127.{net}.255.1"
        spec = LabPhone(
            id=f"{site}-{pname.replace('_', '')}-{i + 1:04d}",
            profile=pname,
            site=site,
            address=_address(i, net),
            port=PORT,
            model=model,
            firmware=firmware,
            mac=sim.oui + f"{i + 1:06x}",
            admin_user=sim.admin_user,
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
    return specs


def _seed_sbc_faults(fleet: LabFleet, vendors: list[str]) -> None:
    # Numbered over every seeded SBC fault, so an SBC's address does not move when
    # another vendor is left out.
    for n, (sbc_vendor, fault, phone_vendor) in enumerate(seeded_sbc_faults()):
        if sbc_vendor not in vendors:
            continue
        victim = _healthy(fleet.phones, phone_vendor)
        if victim is None:
            continue
        s = _sbc(10 + n, victim.site, sbc_vendor, fleet.net, fault, fault)
        fleet.sbcs.append(s)
        _point_at(victim, s.address)
        victim.extra["_fault"] = f"via-{s.id}"


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
    vendor_faults = registry.phone(spec.profile).faults
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
        sim = registry.phone(spec.profile)
        dev = LabDevice(spec=spec, config=sim.render(spec))
        fleet.devices[spec.id] = dev
        if spec.fault == "down":
            continue
        srv = DeviceServer(dev, sim.handle, sim.auth, ssl_ctx if spec.scheme == "https" else None)
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
