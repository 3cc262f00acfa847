"""The SPEC JSON report (``fleet.report/1``)."""

from __future__ import annotations

import json
from typing import Any

from fleet.model import DeviceResult, Snapshot

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
    return d


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
    }


def _ordered(results: list[DeviceResult]) -> list[DeviceResult]:
    def key(r: DeviceResult) -> tuple[int, str]:
        worst = min((f.sort_key() for f in r.findings), default=(9, 9, "", ""))
        return (worst[0] * 2 + worst[1], r.id)

    return sorted(results, key=key)


def render(snap: Snapshot) -> str:
    return json.dumps(as_dict(snap), indent=2, ensure_ascii=False) + "\n"
