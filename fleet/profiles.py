"""The profile registry: every folder under ``device_profiles/`` with a ``profile.py``.

A profile is data plus a few plain functions (no base class): how to fetch over the vendor's
interface, how to read the vendor's files, how to turn either into a :class:`DeviceState`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleet.model import Collected, DeviceState, RouteDecision
from fleet.platform import Platform, load_platform

if TYPE_CHECKING:
    from fleet.collect.http import HttpHost


# Key names that hold secrets in any vendor's key space, on top of each profile's own list.
GENERIC_SECRET_KEYS = re.compile(
    r"(?i)(passw(or)?d|passphrase|pwd|secret|token|credential|psk|(^|[._])pass([._]|$))"
)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    vendor: str
    role: str  # "phone" | "sbc"
    transport: str  # "http" | "ssh"
    default_scheme: str = "http"
    default_username: str | None = None
    # async fetch(host, wanted_raw_keys) -> Collected, over the vendor's real interface
    fetch: Callable[[HttpHost, Sequence[str]], Awaitable[Collected]] | None = None
    # detect(text) -> True when the text is one of this vendor's configuration files
    detect: Callable[[str], bool] = lambda text: False
    # parse_files(name, text, read_sibling) -> Collected; read_sibling(name) -> text | None
    parse_files: Callable[[str, str, Callable[[str], str | None]], Collected] | None = None
    # includes(name, text) -> names of other files this one pulls in (so audit does not count
    # them as devices of their own)
    includes: Callable[[str, str], list[str]] = lambda name, text: []
    to_state: Callable[[Collected], DeviceState] | None = None
    secret_keys: re.Pattern[str] = field(default_factory=lambda: re.compile(r"(?!x)x"))
    dialplan_syntax: str | None = None
    # SSH profiles: the CLI described as data (platform.yaml beside profile.py: prompts,
    # paging, enable, the commands whose output is the configuration)
    platform: Platform | None = None
    # parse_cli({command: output}) -> Collected; default: parse_files on the first output
    parse_cli: Callable[[dict[str, str]], Collected] | None = None
    # route(state, called_number, source) -> RouteDecision, exactly as the SBC routes
    route: Callable[[DeviceState, str, str | None], RouteDecision] | None = None
    folder: Path | None = None

    def is_secret(self, key: str) -> bool:
        return bool(self.secret_keys.search(key) or GENERIC_SECRET_KEYS.search(key))


_BROKEN: dict[str, str] = {}


def broken() -> dict[str, str]:
    """Profile folders that failed to load, with why: one bad vendor folder must not take
    every other vendor down with it, but it must not go unnoticed either."""
    registry()
    return dict(_BROKEN)


@cache
def registry() -> dict[str, Profile]:
    import device_profiles

    found: dict[str, Profile] = {}
    for mod in pkgutil.iter_modules(device_profiles.__path__):
        if not mod.ispkg:
            continue
        try:
            module = importlib.import_module(f"device_profiles.{mod.name}.profile")
        except ModuleNotFoundError as e:
            if e.name == f"device_profiles.{mod.name}.profile":
                continue
            _BROKEN[mod.name] = f"{type(e).__name__}: {e}"
            continue
        except Exception as e:
            _BROKEN[mod.name] = f"{type(e).__name__}: {e}"
            continue
        prof: Profile = module.PROFILE
        folder = Path(str(module.__file__)).parent
        platform_file = folder / "platform.yaml"
        try:
            if prof.platform is None and platform_file.is_file():
                # validated once, here: a typo in a vendor folder names file:line: field
                prof = _with(prof, platform=load_platform(platform_file))
        except Exception as e:
            _BROKEN[mod.name] = f"{type(e).__name__}: {e}"
            continue
        found[prof.name] = _with(prof, folder=folder)
    return dict(sorted(found.items()))


def _with(prof: Profile, **changes: Any) -> Profile:
    from dataclasses import replace

    return replace(prof, **changes)


def get(name: str) -> Profile:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(name) from None


def detect(text: str) -> Profile | None:
    for prof in registry().values():
        if prof.parse_files is not None and prof.detect(text):
            return prof
    return None
