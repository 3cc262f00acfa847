"""`fleet audit`: the sweep's checks on configuration files, no network.

Every file given or found (folders are walked recursively) is accounted for: each is a device
whose id is the file name without its extension, or a part of the device whose master file
includes it (a Poly ``[MAC].cfg`` naming ``CONFIG_FILES``, a Yealink MAC file and its common
file). A file no profile reads is a device with ``coverage.unrecognised``; one that cannot be
read, ``coverage.error``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet import check, profiles
from fleet.check.golden import Golden
from fleet.collect.http import TlsOptions
from fleet.errors import ConfigFileError
from fleet.inventory import Host, Inventory
from fleet.model import Collected, DeviceResult, DeviceState, Snapshot
from fleet.pipeline import device_result, finished, now
from fleet.redact import redact_params

MAX_FILE = 8 * 1024 * 1024


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE:
            raise ConfigFileError(f"larger than {MAX_FILE} bytes", file=str(path))
        data = path.read_bytes()
    except OSError as e:
        raise ConfigFileError(f"cannot read: {e.strerror}", file=str(path)) from e
    if b"\0" in data[:4096]:
        raise ConfigFileError("binary file, not a configuration", file=str(path))
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


@dataclass(slots=True)
class ConfigFile:
    path: Path
    text: str
    profile: profiles.Profile


@dataclass(slots=True)
class Unread:
    """A file given or found that no profile reads: still a device in the report."""

    path: Path
    status: str  # unrecognised | error
    why: str


def _walk(folder: Path) -> list[Path]:
    """Every file under ``folder``, recursively, in a stable order; hidden files and folders
    (``.git``, editor swap files) are not configurations and are left out."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not p.is_file():
            continue
        out.append(p)
    return out


def gather(paths: list[Path], warn: bool = False) -> list[ConfigFile]:
    """The recognised files among ``paths`` (folders walked recursively); a path that does not
    exist is an input error. `fleet audit` uses :func:`gather_all`, which keeps the rest."""
    return [f for f in gather_all(paths) if isinstance(f, ConfigFile)]


def gather_all(paths: list[Path]) -> list[ConfigFile | Unread]:
    """Every file given or found, recognised by content or not: nothing is dropped."""
    files: list[Path] = []
    for p in paths:
        try:
            if p.is_dir():
                files += _walk(p)
            elif p.exists():
                files.append(p)
            else:
                raise ConfigFileError("no such file or folder", file=str(p))
        except OSError as e:  # a name over NAME_MAX, a loop of links, a folder not readable
            raise ConfigFileError(f"cannot read: {e.strerror or e}", file=str(p)) from e
    found: list[ConfigFile | Unread] = []
    seen: set[Path] = set()
    for f in files:
        key = f.resolve()
        if key in seen:
            continue
        seen.add(key)
        try:
            text = _read(f)
        except ConfigFileError as e:
            found.append(Unread(f, "error", e.reason))
            continue
        prof = profiles.detect(text)
        if prof is None:
            known = ", ".join(p for p in profiles.registry() if profiles.get(p).parse_files)
            found.append(
                Unread(f, "unrecognised", f"not a configuration of any profile fleet has ({known})")
            )
            continue
        found.append(ConfigFile(f, text, prof))
    return found


def audit(
    paths: list[Path],
    golden: Golden,
    inventory: Inventory | None = None,
    tag: str | None = None,
) -> Snapshot:
    started, t0 = now(), time.monotonic()
    found = gather_all(paths)
    files = [f for f in found if isinstance(f, ConfigFile)]
    parts = _parts(files)
    included = {p for ps in parts.values() for p in ps}
    by_id = {h.id: h for h in inventory.hosts} if inventory else {}
    results = []
    seen: set[str] = set()
    for f in found:
        if f.path.resolve() in included:
            continue
        # Two files with one stem (a.cfg, a.xml) must not fold into one device.
        device_id = f.path.stem if f.path.stem not in seen else str(f.path)
        seen.add(device_id)
        if isinstance(f, Unread):
            results.append(_unread(f, device_id, golden, by_id.get(device_id)))
            continue
        host = by_id.get(device_id) or _host_for(device_id, f)
        if host.profile != f.profile.name:
            host = _host_for(device_id, f, host)
        res = device_result(host, golden, read=_parser(f), from_file=True)
        res.files = [str(f.path), *(str(p) for p in parts.get(f.path.resolve(), []))]
        results.append(res)
    check.check_fleet(
        results,
        golden,
        {h.id: h.hostname for h in (inventory.hosts if inventory else [])},
        outside_sbcs(inventory.hosts if inventory else [], {r.id for r in results}),
        {h.id: h.notify for h in inventory.hosts} if inventory else None,
    )
    return finished("audit", started, t0, golden, results, tag)


def outside_sbcs(hosts: list[Host], in_run: set[str]) -> dict[str, str]:
    """Address → id of the inventory's SBCs that are not in this run."""
    return {h.hostname: h.id for h in hosts if h.role == "sbc" and h.id not in in_run}


def _parts(files: list[ConfigFile]) -> dict[Path, list[Path]]:
    """Master file → the files it includes that were given or found (resolved paths)."""
    have = {f.path.resolve() for f in files}
    out: dict[Path, list[Path]] = {}
    for f in files:
        try:
            names = f.profile.includes(f.path.name, f.text)
        except Exception:  # an include list fleet cannot read: the file stands alone
            names = []
        hits = [h for n in names if (h := _resolved(f.path.parent / n)) is not None]
        hits = [h for h in dict.fromkeys(hits) if h in have and h != f.path.resolve()]
        if hits:
            out[f.path.resolve()] = hits
    return out


def _resolved(p: Path) -> Path | None:
    try:
        return p.resolve()
    except (OSError, RuntimeError, ValueError):  # too long, a link loop, a NUL in the name
        return None


def _parser(f: ConfigFile) -> Callable[[], Collected]:
    def read() -> Collected:
        assert f.profile.parse_files is not None
        return f.profile.parse_files(f.path.name, f.text, _sibling_reader(f.path))

    return read


def _unread(f: Unread, device_id: str, golden: Golden, base: Host | None) -> DeviceResult:
    res = DeviceResult(
        id=device_id,
        site=base.site if base else None,
        role=base.role if base else "unknown",
        profile=base.profile if base else "unknown",
        address=str(f.path),
        status=f.status,
        error=f"{f.path}: {f.why}",
        files=[str(f.path)],
    )
    check.check_device(res, golden, {})
    return res


def audit_one(f: ConfigFile) -> DeviceState:
    """One configuration file to its redacted state (for `fleet sbc route FILE`)."""
    assert f.profile.parse_files is not None and f.profile.to_state is not None
    collected = f.profile.parse_files(f.path.name, f.text, _sibling_reader(f.path))
    collected.params = redact_params(collected.params, f.profile)
    state = f.profile.to_state(collected)
    state.raw = collected.params
    return state


def _sibling_reader(path: Path) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        p = path.parent / Path(name).name
        try:
            return _read(p) if p.is_file() else None
        except (ConfigFileError, OSError):  # a name over NAME_MAX is a file that is not there
            return None

    return read


def _host_for(device_id: str, f: ConfigFile, base: Host | None = None) -> Host:
    return Host(
        id=device_id,
        address=str(f.path),
        scheme="file",
        hostname=base.hostname if base else "",
        port=0,
        profile=f.profile.name,
        role=base.role if base else f.profile.role,
        site=base.site if base else None,
        groups=base.groups if base else [],
        tags=base.tags if base else [],
        username=None,
        password=None,
        tls=TlsOptions(),
    )
