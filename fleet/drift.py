"""What changed between two snapshots: parameter by parameter (normalised and raw), with
identical changes across devices folded into one line, emergency-relevant ones first; and
the comparison behind `fleet rollout verify`."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fleet.model import DeviceResult, DeviceState, Finding, Snapshot

# Raw parameter names that touch emergency calling, in any vendor's key space.
_EMERGENCY_RAW = re.compile(
    r"(?i)(emergency|dial_?plan|digitmap|dialnow|replace|block_out|Dial_Plan|Emergency_Number"
    r"|P290|P459|user_dp|routing|IP2IPRouting|dial-peer|translation|local-policy|elin)"
)


@dataclass(slots=True, frozen=True)
class Change:
    device: str
    layer: str  # normalised | raw
    key: str
    old: str | None  # None: the key appeared
    new: str | None  # None: the key vanished

    @property
    def kind(self) -> str:
        return "appeared" if self.old is None else "vanished" if self.new is None else "changed"

    @property
    def emergency(self) -> bool:
        if self.layer == "normalised":
            return "emergency" in self.key or "dialplan" in self.key or self.key.startswith("sbc.")
        return bool(_EMERGENCY_RAW.search(self.key))


@dataclass(slots=True)
class Group:
    """One change shared by several devices."""

    layer: str
    key: str
    old: str | None
    new: str | None
    devices: list[str] = field(default_factory=list)
    shared: str = ""  # what the devices have in common: models, firmware change
    emergency: bool = False

    @property
    def kind(self) -> str:
        return "appeared" if self.old is None else "vanished" if self.new is None else "changed"

    def line(self) -> str:
        what = {
            "changed": f"{_v(self.old)} → {_v(self.new)}",
            "appeared": f"appeared: {_v(self.new)}",
            "vanished": f"vanished (was {_v(self.old)})",
        }[self.kind]
        layer = "" if self.layer == "raw" else " (normalised)"
        return f"{len(self.devices)} × {self.shared}: `{self.key}`{layer} {what}"


def _v(v: str | None) -> str:
    if v is None:
        return "—"
    v = v.replace("\n", "⏎")
    return v if len(v) <= 80 else v[:77] + "..."


def flatten(state: DeviceState) -> dict[str, str]:
    """The normalised layer, per line and per SBC route, as flat keys."""
    out = {k: str(v) for k, v in state.normalised().items() if v not in (None, "")}
    for ln in state.lines:
        p = f"line{ln.index}"
        for k in ("registrar", "outbound_proxy", "transport", "user"):
            if getattr(ln, k):
                out[f"{p}.{k}"] = str(getattr(ln, k))
        if ln.dialplan is not None:
            out[f"{p}.dialplan"] = ln.dialplan.text
        if ln.emergency:
            out[f"{p}.emergency"] = ", ".join(f"{e.number}→{e.route}" for e in ln.emergency)
    if state.sbc is not None:
        for r in state.sbc.routes:
            out[f"sbc.route.{r.name}"] = f"{r.match} → {r.target}" + (
                f" [{r.priority}]" if r.priority else ""
            )
        out["sbc.emergency_numbers"] = ", ".join(state.sbc.emergency_numbers)
    return out


def device_changes(device: str, old: DeviceState, new: DeviceState) -> list[Change]:
    out: list[Change] = []
    for layer, a, b in (("normalised", flatten(old), flatten(new)), ("raw", old.raw, new.raw)):
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                out.append(Change(device, layer, key, a.get(key), b.get(key)))
    return out


def diff(old: Snapshot, new: Snapshot) -> list[Change]:
    before = {r.id: r for r in old.results if r.state is not None}
    changes: list[Change] = []
    for r in new.results:
        if r.state is not None and r.id in before:
            st = before[r.id].state
            assert st is not None
            changes += device_changes(r.id, st, r.state)
    return changes


def fold(changes: list[Change], new: Snapshot, old: Snapshot) -> list[Group]:
    """Identical changes across devices as one group, emergency-relevant first, then the
    biggest."""
    info = {r.id: r for r in new.results}
    before = {r.id: r for r in old.results}
    groups: dict[tuple[str, str, str | None, str | None], Group] = {}
    for c in changes:
        g = groups.setdefault(
            (c.layer, c.key, c.old, c.new),
            Group(c.layer, c.key, c.old, c.new, emergency=c.emergency),
        )
        g.devices.append(c.device)
    for g in groups.values():
        g.shared = _shared(g.devices, info, before)
    return sorted(
        groups.values(),
        key=lambda g: (not g.emergency, g.layer != "normalised", -len(g.devices), g.key),
    )


def _shared(devices: list[str], new: dict[str, DeviceResult], old: dict[str, DeviceResult]) -> str:
    models = {_model(new.get(d)) for d in devices}
    fw = {(_fw(old.get(d)), _fw(new.get(d))) for d in devices}
    parts = []
    if len(models) == 1:
        parts.append(next(iter(models)) or "unknown model")
    else:
        parts.append(f"{len(models)} models")
    if len(fw) == 1:
        a, b = next(iter(fw))
        parts.append(f"firmware {a} → {b}" if a != b else f"firmware {a}")
    return ", ".join(parts)


def _model(r: DeviceResult | None) -> str | None:
    return r.state.model if r and r.state else None


def _fw(r: DeviceResult | None) -> str | None:
    return r.state.firmware if r and r.state else None


def firmware_drift(new: Snapshot, old: Snapshot | None) -> None:
    """``drift.firmware`` (info) on devices whose firmware differs from ``old``, and a note on
    their emergency findings that they follow an update."""
    if old is None:
        return
    before = {r.id: _fw(r) for r in old.results if _fw(r)}
    for r in new.results:
        now = _fw(r)
        was = before.get(r.id)
        if not now or not was or now == was:
            continue
        note = f" (after a firmware update {was} → {now})"
        for f in r.findings:
            if f.rule.startswith("emergency.") and note not in f.message:
                f.message += note
        r.findings.append(
            Finding(
                "drift.firmware",
                "info",
                "firmware",
                f"firmware changed {was} → {now} since snapshot {old.id} ({old.finished_at})",
                expected=was,
                actual=now,
                evidence=[f"firmware = {now}"],
            )
        )
        r.findings.sort(key=Finding.sort_key)


@dataclass(slots=True)
class Verdict:
    """`fleet rollout verify`: the new sweep against the baseline, device by device."""

    baseline: Snapshot
    current: Snapshot
    regressions: dict[str, list[Finding]] = field(default_factory=dict)
    fixed: dict[str, list[Finding]] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)  # id -> status: error
    firmware: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.unverified)

    def firmware_groups(self) -> list[tuple[str, str | None, str | None, list[str]]]:
        """(model, old, new, devices), biggest first."""
        info = {r.id: r for r in self.current.results}
        groups: dict[tuple[str, str | None, str | None], list[str]] = defaultdict(list)
        for d, (a, b) in self.firmware.items():
            groups[(_model(info.get(d)) or "unknown model", a, b)].append(d)
        return sorted(
            ((m, a, b, ds) for (m, a, b), ds in groups.items()), key=lambda g: (-len(g[3]), g[0])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "fleet.rollout/1",
            "baseline": {
                "id": self.baseline.id,
                "tag": self.baseline.tag,
                "finished_at": self.baseline.finished_at,
            },
            "current": {"id": self.current.id, "finished_at": self.current.finished_at},
            "verdict": "fail" if self.failed else "pass",
            "regressions": {d: [f.to_dict() for f in fs] for d, fs in self.regressions.items()},
            "unverified": self.unverified,
            "fixed": {d: [f.to_dict() for f in fs] for d, fs in self.fixed.items()},
            "firmware_changes": [
                {"model": m, "from": a, "to": b, "count": len(ds), "devices": ds}
                for m, a, b, ds in self.firmware_groups()
            ],
        }


def _emergency_keys(r: DeviceResult | None) -> dict[tuple[str, str], Finding]:
    if r is None:
        return {}
    return {(f.rule, f.subject): f for f in r.findings if f.rule.startswith("emergency.")}


def verify(baseline: Snapshot, current: Snapshot, ids: set[str] | None = None) -> Verdict:
    v = Verdict(baseline, current)
    before = {r.id: r for r in baseline.results}
    for r in current.results:
        if ids is not None and r.id not in ids:
            continue
        if r.status != "audited":
            v.unverified[r.id] = f"{r.status}: {r.error or ''}".strip()
            continue
        old = before.get(r.id)
        was, now = _emergency_keys(old), _emergency_keys(r)
        new_ones = [f for k, f in now.items() if k not in was]
        gone = [f for k, f in was.items() if k not in now]
        if new_ones:
            v.regressions[r.id] = new_ones
        if gone and old is not None and old.status == "audited":
            v.fixed[r.id] = gone
        if old is not None and _fw(old) and _fw(r) and _fw(old) != _fw(r):
            v.firmware[r.id] = (_fw(old), _fw(r))
    return v
