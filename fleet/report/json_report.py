"""The SPEC JSON report (``fleet.report/1``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fleet.model import DeviceResult, Snapshot
from fleet.report import causes

SCHEMA = "fleet.report/1"


def device_dict(r: DeviceResult) -> dict[str, Any]:
    st = r.state
    d: dict[str, Any] = {
        "id": r.id,
        "site": r.site,
        "role": r.role,
        "profile": r.profile,
        "model": st.model if st else None,
        "firmware": st.firmware if st else None,
        "status": r.status,
    }
    if r.error:
        d["error"] = r.error
    if r.files:
        d["files"] = list(r.files)
    d["findings"] = [f.to_dict() for f in sorted(r.findings, key=lambda f: f.sort_key())]
    # added after the first schema's keys, which keep their order
    d["address"] = address(r.address)
    d["mac"] = device_mac(r)
    return d


def address(value: str | None) -> str | None:
    """The address as the inventory gives it, never with a user or password in a URL."""
    if not value or "://" not in value:
        return value
    parts = urlsplit(value)
    if "@" not in parts.netloc:
        return value
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def device_mac(r: DeviceResult) -> str | None:
    """The MAC the device reports, else the inventory's."""
    return (r.state.mac if r.state else None) or r.mac


def as_dict(snap: Snapshot) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated_at": snap.finished_at,
        "golden": snap.golden,
        "snapshot": {
            "id": snap.id,
            "kind": snap.kind,
            "tag": snap.tag,
            "started_at": snap.started_at,
            "duration_s": snap.duration_s,
        },
        "summary": snap.summary(),
        "devices": [device_dict(r) for r in _ordered(snap.results)],
        "causes": [cause_dict(c) for c in causes.group(snap.results)],
    }


def cause_dict(c: causes.Cause) -> dict[str, Any]:
    """A root cause and the findings it explains, by device, rule and subject."""
    return {
        "key": c.key,
        "rule": c.rule,
        "severity": c.severity,
        "summary": c.summary,
        "devices": list(c.devices),
        "numbers": list(c.numbers),
        "findings": [
            {"device": d, "rule": f.rule, "subject": f.subject, "severity": f.severity}
            for d, f in c.findings
        ],
    }


def _ordered(results: list[DeviceResult]) -> list[DeviceResult]:
    def key(r: DeviceResult) -> tuple[int, str]:
        worst = min((f.sort_key() for f in r.findings), default=(9, 9, "", ""))
        return (worst[0] * 2 + worst[1], r.id)

    return sorted(results, key=key)


def render(snap: Snapshot) -> str:
    return json.dumps(as_dict(snap), indent=2, ensure_ascii=False) + "\n"
