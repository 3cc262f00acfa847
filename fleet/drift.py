"""What changed between two snapshots: parameter by parameter (normalised and raw), with
identical changes across devices folded into one line, emergency-relevant ones first, and the
devices that appeared, vanished or could not be compared; each snapshot's scope (kind,
inventory, selection), so like is compared with like; and the comparison behind `fleet
rollout verify`, which fails only on what is worse than at the baseline."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fleet.model import SEVERITY_RANK, DeviceResult, DeviceState, Finding, Snapshot

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

    def names(self, first: int = 5) -> str:
        """The devices: all of them when few, else the first ``first`` and how many more."""
        ds = sorted(self.devices)
        if len(ds) <= first + 1:  # "and 1 more" would take the room of the name
            return ", ".join(ds)
        return ", ".join(ds[:first]) + f" and {len(ds) - first} more"


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


ScopeKey = tuple[str, str, tuple[str, ...]]


def scope_key(kind: str, inventory: str | None, selection: list[str] | None) -> ScopeKey:
    """What a snapshot covers: its kind, the inventory and the selection, the latter in a
    canonical order (``role=phone,site=lon`` is ``site=lon,role=phone``). Two snapshots
    compare like with like only when these are equal."""
    terms = (
        ",".join(sorted(t.strip() for t in e.split(",") if t.strip())) for e in selection or []
    )
    return kind, inventory or "", tuple(sorted(t for t in terms if t))


def snapshot_scope(snap: Snapshot) -> ScopeKey:
    return scope_key(snap.kind, snap.inventory, snap.selection)


def describe_scope(snap: Snapshot) -> str:
    """The scope in words, for a message that says two scopes differ."""
    kind, _inv, sel = snapshot_scope(snap)
    where = "the whole inventory" if not sel else "--select " + " --select ".join(sel)
    return f"{kind} of {where}" + (f" ({snap.inventory})" if snap.inventory else "")


@dataclass(slots=True)
class Comparison:
    """`fleet diff`: two snapshots, what changed on the devices in both, which devices
    appeared or vanished, which could not be compared, and whether the scopes agree."""

    old: Snapshot
    new: Snapshot
    changes: list[Change]
    groups: list[Group]
    appeared: list[str]  # in NEW only (same scope: new devices)
    vanished: list[str]  # in OLD only (same scope: gone from the fleet or the inventory)
    not_compared: dict[str, str]  # in both, but not read in one of them: id -> why
    same_scope: bool


def compare(old: Snapshot, new: Snapshot) -> Comparison:
    """Everything `fleet diff` says about ``old`` → ``new``. Devices in one snapshot only are
    appeared/vanished when the scopes agree; when they differ, they are outside the other's
    scope, which the caller must say (never "no changes" for a narrower sweep)."""
    before = {r.id: r for r in old.results}
    after = {r.id: r for r in new.results}
    not_compared: dict[str, str] = {}
    for d in sorted(before.keys() & after.keys()):
        a, b = before[d], after[d]
        if a.state is None and b.state is None:
            not_compared[d] = f"not read in either snapshot ({a.status}, then {b.status})"
        elif a.state is None or b.state is None:
            which, r = ("old", a) if a.state is None else ("new", b)
            not_compared[d] = f"not read in the {which} snapshot ({r.status})"
    changes = diff(old, new)
    return Comparison(
        old,
        new,
        changes,
        fold(changes, new, old),
        appeared=sorted(after.keys() - before.keys()),
        vanished=sorted(before.keys() - after.keys()),
        not_compared=not_compared,
        same_scope=snapshot_scope(old) == snapshot_scope(new),
    )


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
    """`fleet rollout verify`: the new sweep against the baseline, device by device. Only what
    is worse than at the baseline fails: a finding new since then at or above ``fail_on``, or
    a device reached then and not now. What was already wrong is counted, never hidden."""

    baseline: Snapshot
    current: Snapshot
    fail_on: str = "high"
    strict: bool = False  # a device down then and still down fails too (the old behaviour)
    regressions: dict[str, list[Finding]] = field(default_factory=dict)  # new, >= fail_on
    below: dict[str, list[Finding]] = field(default_factory=dict)  # new, under fail_on
    pre_existing: dict[str, list[Finding]] = field(default_factory=dict)  # as at the baseline
    fixed: dict[str, list[Finding]] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)  # reached then (or new), not now
    still_down: dict[str, str] = field(default_factory=dict)  # not audited then nor now
    not_swept: list[str] = field(default_factory=list)  # in the baseline, not in this sweep
    firmware: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.unverified or (self.strict and self.still_down))

    def counts(self) -> dict[str, int]:
        """The summary: new and pre-existing findings apart, devices by what happened."""
        return {
            "devices": len(self.current.results),
            "new_findings": _n(self.regressions),
            "new_devices": len(self.regressions),
            "new_below_fail_on": _n(self.below),
            "pre_existing_findings": _n(self.pre_existing),
            "pre_existing_devices": len(self.pre_existing),
            "unverified": len(self.unverified),
            "unreachable_as_at_baseline": len(self.still_down),
            "not_swept": len(self.not_swept),
            "fixed_findings": _n(self.fixed),
            "firmware_changes": len(self.firmware),
        }

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
        def fs(d: dict[str, list[Finding]]) -> dict[str, list[dict[str, Any]]]:
            return {k: [f.to_dict() for f in v] for k, v in sorted(d.items())}

        return {
            "schema": "fleet.rollout/1",
            "baseline": {
                "id": self.baseline.id,
                "tag": self.baseline.tag,
                "finished_at": self.baseline.finished_at,
            },
            "current": {"id": self.current.id, "finished_at": self.current.finished_at},
            "verdict": "fail" if self.failed else "pass",
            "fail_on": self.fail_on,
            "strict": self.strict,
            "summary": self.counts(),
            "regressions": fs(self.regressions),
            "new_below_fail_on": fs(self.below),
            "unverified": self.unverified,
            "unreachable_as_at_baseline": self.still_down,
            "not_swept": self.not_swept,
            "pre_existing": fs(self.pre_existing),
            "fixed": fs(self.fixed),
            "firmware_changes": [
                {"model": m, "from": a, "to": b, "count": len(ds), "devices": ds}
                for m, a, b, ds in self.firmware_groups()
            ],
        }


def _n(d: dict[str, list[Finding]]) -> int:
    return sum(len(v) for v in d.values())


def _keyed(r: DeviceResult | None) -> dict[tuple[str, str], Finding]:
    """A device's findings by (rule, subject); drift is what a rollout is expected to bring."""
    if r is None:
        return {}
    return {(f.rule, f.subject): f for f in r.findings if not f.rule.startswith("drift.")}


def verify(
    baseline: Snapshot,
    current: Snapshot,
    ids: set[str] | None = None,
    *,
    fail_on: str = "high",
    strict: bool = False,
) -> Verdict:
    v = Verdict(baseline, current, fail_on=fail_on, strict=strict)
    before = {r.id: r for r in baseline.results}
    swept = {r.id for r in current.results}
    v.not_swept = sorted(d for d in before if d not in swept and (ids is None or d in ids))
    for r in current.results:
        if ids is None or r.id in ids:
            _verify_device(v, before.get(r.id), r)
    return v


def _verify_device(v: Verdict, old: DeviceResult | None, r: DeviceResult) -> None:
    why = f"{r.status}: {r.error or ''}".strip().rstrip(":")
    if r.status != "audited":
        if old is not None and old.status != "audited":
            v.still_down[r.id] = f"{why} (as at baseline: {old.status})"
        else:
            v.unverified[r.id] = why
        return
    limit = SEVERITY_RANK[v.fail_on]
    was, now = _keyed(old), _keyed(r)
    new = [f for k, f in now.items() if k not in was]
    if hit := [f for f in new if SEVERITY_RANK[f.severity] <= limit]:
        v.regressions[r.id] = sorted(hit, key=Finding.sort_key)
    if under := [f for f in new if SEVERITY_RANK[f.severity] > limit]:
        v.below[r.id] = sorted(under, key=Finding.sort_key)
    if same := [f for k, f in now.items() if k in was]:
        v.pre_existing[r.id] = sorted(same, key=Finding.sort_key)
    if gone := [f for k, f in was.items() if k not in now]:
        v.fixed[r.id] = sorted(gone, key=Finding.sort_key)
    if old is not None and _fw(old) and _fw(r) and _fw(old) != _fw(r):
        v.firmware[r.id] = (_fw(old), _fw(r))
