"""The lab's simulator registry: every ``device_profiles/<vendor>/simulator.py`` exporting one
``SIMULATOR``, a :class:`PhoneSimulator` or an :class:`SbcSimulator`.

The lab imports the profiles, never the reverse: nothing outside ``fleet.lab`` loads a
simulator, so a broken simulator can only break the lab, and it is reported here (like
``fleet.profiles.broken()``) rather than raised.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fleet.lab.spec import LabDevice, LabPhone, LabRequest, LabResponse, LabSbc, LabSbcDevice
    from fleet.lab.sshd import CliSession
    from fleet.model import Collected

# The challenge fleet.lab.httpd makes ("session": the simulator runs its own login).
Auth = Literal["basic", "digest", "session", "none"]

# Where a vendor without an opinion goes in the lab's vendor cycle: after today's vendors.
LAST = 1000


@dataclass(frozen=True, slots=True)
class SbcDemoFault:
    """A fault the demo seeds on an extra SBC of this vendor, with the phone vendor of the one
    phone whose emergency route is pointed at it."""

    fault: str
    behind: str


@dataclass(frozen=True, slots=True)
class PhoneSimulator:
    """A simulated phone: its identities, its HTTP interface, its files and its faults."""

    profile: str
    models: Sequence[tuple[str, str]]  # (model, firmware), cycled over the vendor's phones
    oui: str  # MAC prefix, 6 hex digits
    admin_user: str
    auth: Auth
    scheme: Callable[[LabPhone], str]  # "http" | "https", e.g. by firmware
    render: Callable[[LabPhone], Collected]
    handle: Callable[[LabDevice, LabRequest], LabResponse]
    export_files: Callable[[LabDevice], dict[str, str]]  # name -> text, as a server holds them
    # fault name -> raw parameters forced over render's (the vendor's classic failures), and
    # the (rule, subject) findings a UK sweep must then produce
    faults: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    fault_expect: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    # faults (vendor-neutral or from ``faults``) the demo seeds on this vendor, in order
    demo_faults: Sequence[str] = ()
    # place in the lab's vendor cycle; the demo's phone ids follow it
    order: int = LAST
    # the rollout scenario: firmware -> next release, parameters an update resets, and keys
    # it renames (old -> new)
    firmware_updates: Mapping[str, str] = field(default_factory=dict)
    update_set: Mapping[str, str] = field(default_factory=dict)
    update_rename: Mapping[str, str] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return "phone"


@dataclass(frozen=True, slots=True)
class SbcSimulator:
    """A simulated SBC: its running configuration and its CLI over SSH, and its faults."""

    profile: str
    admin_user: str
    emergency_trunk: str  # where emergency calls must leave (the golden's sbc_trunks)
    normal_trunk: str
    render: Callable[[LabSbc], str]  # what `show running-config` prints
    cli: Callable[[LabSbcDevice], CliSession]  # one session per SSH channel
    # fault name -> what it breaks (render reads spec.fault), and the findings it must produce
    faults: Mapping[str, str] = field(default_factory=dict)
    fault_expect: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    demo_faults: Sequence[SbcDemoFault] = ()
    order: int = LAST

    @property
    def role(self) -> str:
        return "sbc"


Simulator = PhoneSimulator | SbcSimulator

_BROKEN: dict[str, str] = {}


@cache
def simulators() -> dict[str, Simulator]:
    """Profile name -> simulator, in the lab's order (``order``, then name)."""
    import device_profiles

    found: dict[str, Simulator] = {}
    for mod in pkgutil.iter_modules(device_profiles.__path__):
        if not mod.ispkg:
            continue
        sim = _load(mod.name)
        if sim is not None:
            found[sim.profile] = sim
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def _load(folder: str) -> Simulator | None:
    name = f"device_profiles.{folder}.simulator"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            _BROKEN[folder] = f"{type(e).__name__}: {e}"
        return None
    except Exception as e:  # a simulator bug must only take its own vendor out of the lab
        _BROKEN[folder] = f"{type(e).__name__}: {e}"
        return None
    sim = getattr(module, "SIMULATOR", None)
    if not isinstance(sim, PhoneSimulator | SbcSimulator):
        _BROKEN[folder] = f"{name} exports no SIMULATOR (a PhoneSimulator or an SbcSimulator)"
        return None
    return sim


def broken() -> dict[str, str]:
    """Simulator folders that failed to load, with why."""
    simulators()
    return dict(_BROKEN)


def get(profile: str) -> Simulator:
    try:
        return simulators()[profile]
    except KeyError:
        raise KeyError(profile) from None


def phone(profile: str) -> PhoneSimulator:
    sim = get(profile)
    if not isinstance(sim, PhoneSimulator):
        raise KeyError(f"{profile} simulates no phone")
    return sim


def sbc(profile: str) -> SbcSimulator:
    sim = get(profile)
    if not isinstance(sim, SbcSimulator):
        raise KeyError(f"{profile} simulates no SBC")
    return sim


def phones() -> list[PhoneSimulator]:
    return [s for s in simulators().values() if isinstance(s, PhoneSimulator)]


def sbcs() -> list[SbcSimulator]:
    return [s for s in simulators().values() if isinstance(s, SbcSimulator)]
