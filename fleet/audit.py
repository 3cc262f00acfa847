"""`fleet audit`: the sweep's checks on configuration files, no network.

Each file is one device whose id is the file name without its extension; files a master file
pulls in (a Poly ``[MAC].cfg`` naming ``CONFIG_FILES``) belong to that device."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet import check, profiles
from fleet.check.golden import Golden
from fleet.collect.http import TlsOptions
from fleet.errors import ConfigFileError, DeviceError, ProtocolError
from fleet.inventory import Host, Inventory
from fleet.model import DeviceState, Snapshot
from fleet.pipeline import now, to_result
from fleet.redact import redact_params

MAX_FILE = 8 * 1024 * 1024


@dataclass(slots=True)
class ConfigFile:
    path: Path
    text: str
    profile: profiles.Profile


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


def gather(paths: list[Path], warn: bool = True) -> list[ConfigFile]:
    """Recognise each file by content; explicit files that are not configurations are an
    input error, files found in a folder that are not are skipped with a note."""
    found: list[ConfigFile] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(x for x in p.iterdir() if x.is_file() and not x.name.startswith(".")):
                try:
                    text = _read(f)
                except ConfigFileError as e:
                    if warn:
                        print(f"skipped {e}", file=sys.stderr)
                    continue
                prof = profiles.detect(text)
                if prof is None:
                    if warn:
                        print(f"skipped {f}: not a configuration fleet recognises", file=sys.stderr)
                    continue
                found.append(ConfigFile(f, text, prof))
        elif p.exists():
            text = _read(p)
            prof = profiles.detect(text)
            if prof is None:
                known = ", ".join(profiles.registry())
                raise ConfigFileError(
                    f"not a configuration of any known profile ({known})", file=str(p), line=1
                )
            found.append(ConfigFile(p, text, prof))
        else:
            raise ConfigFileError("no such file or folder", file=str(p))
    return found


def audit(
    paths: list[Path],
    golden: Golden,
    inventory: Inventory | None = None,
    tag: str | None = None,
) -> Snapshot:
    started, t0 = now(), time.monotonic()
    files = gather(paths)
    included = {
        (f.path.parent / name).resolve()
        for f in files
        for name in f.profile.includes(f.path.name, f.text)
    }
    by_id = {h.id: h for h in inventory.hosts} if inventory else {}
    results = []
    seen: set[str] = set()
    for f in files:
        if f.path.resolve() in included:
            continue
        # Two files with one stem (a.cfg, a.xml) must not fold into one device.
        device_id = f.path.stem if f.path.stem not in seen else str(f.path)
        seen.add(device_id)
        host = by_id.get(device_id) or _host_for(device_id, f)
        if host.profile != f.profile.name:
            host = _host_for(device_id, f, host)
        collected = error = None
        try:
            assert f.profile.parse_files is not None
            collected = f.profile.parse_files(f.path.name, f.text, _sibling_reader(f.path))
        except ConfigFileError as e:
            error = ProtocolError(str(e))
        except DeviceError as e:
            error = e
        res = to_result(host, collected, error)
        check.check_device(res, golden, host.facts())
        results.append(res)
    check.check_fleet(
        results, golden, {h.id: h.hostname for h in (inventory.hosts if inventory else [])}
    )
    return Snapshot(
        kind="audit",
        started_at=started,
        finished_at=now(),
        golden=golden.name,
        results=results,
        tag=tag,
        duration_s=round(time.monotonic() - t0, 3),
    )


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
        except ConfigFileError:
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
