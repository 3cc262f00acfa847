"""What travels over the broker, as JSON: hosts with their secrets as references, which the
worker resolves where it runs (a site's secrets stay at the site), and device results as the
store keeps them (redacted; the raw configuration only as the store would keep it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fleet.collect.options import SshOptions, TlsOptions
from fleet.errors import InputError
from fleet.inventory import Host, Secret, resolve_secret_ref
from fleet.model import DeviceResult, DeviceState, Finding

_SECRETS = ("password", "enable")


def host_to_dict(host: Host) -> dict[str, Any]:
    """``host`` with each secret replaced by its reference; a literal (plaintext) secret
    cannot travel and is refused, naming the host and field, never the value."""
    d: dict[str, Any] = {}
    for f in dataclasses.fields(host):
        value = getattr(host, f.name)
        if f.name in _SECRETS:
            if value is not None and (not value.ref or value.ref == "literal"):
                raise InputError(
                    f"host {host.id}: a plaintext {f.name} cannot be sent to a collector; "
                    "give a ${env:NAME} or ${file:PATH} reference the collector resolves",
                    field=f.name,
                )
            d[f.name] = None if value is None else value.ref
        elif f.name in ("tls", "ssh"):
            d[f.name] = dataclasses.asdict(value)
        else:
            d[f.name] = value
    return d


def host_from_dict(d: dict[str, Any], base: Path) -> Host:
    """The host as the worker sweeps it, its secret references resolved here (``base``: the
    folder ``${file:}`` references are relative to)."""
    kw = dict(d)
    for name in _SECRETS:
        ref = kw.get(name)
        kw[name] = None if ref is None else _resolve(ref, name, base, d.get("id", "?"))
    kw["tls"] = TlsOptions(**kw["tls"])
    kw["ssh"] = SshOptions(**kw["ssh"])
    return Host(**kw)


def _resolve(ref: str, name: str, base: Path, host_id: str) -> Secret:
    try:
        return resolve_secret_ref(ref, f"hosts.{host_id}.{name}", base)
    except InputError as e:
        raise InputError(f"on this collector: {e.reason}", field=e.field) from None


def result_to_dict(r: DeviceResult) -> dict[str, Any]:
    d = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
    d["state"] = None if r.state is None else r.state.to_dict()
    d["findings"] = [f.to_dict() for f in r.findings]
    return d


def result_from_dict(d: dict[str, Any]) -> DeviceResult:
    kw = dict(d)
    names = {f.name for f in dataclasses.fields(DeviceResult)}
    kw = {k: v for k, v in kw.items() if k in names}  # a newer collector's extra keys
    kw["state"] = None if d.get("state") is None else DeviceState.from_dict(d["state"])
    kw["findings"] = [Finding(**f) for f in d.get("findings", [])]
    return DeviceResult(**kw)
