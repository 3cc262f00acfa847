"""`fleet rollout assess`: what a change would do to emergency calling, before it ships.

The change is the provisioning files as they would be deployed. Each file is read by the
profile that recognises it and applied to the devices it reaches, on top of each device's
configuration as last swept (the stored, redacted parameters):

- a file whose name carries a MAC (``0004f2a1b2c3.cfg``, ``cfg0004f2a1b2c3.xml``,
  ``snomD785-000413A1B2C3.htm``) reaches the phone with that MAC;
- any other phone file is a shared one (a site or common file: ``sip.cfg``,
  ``y000000000000.cfg``) and reaches every phone of its profile: the keys it sets override the
  device's own, as the phone merges a later file over an earlier one;
- an SBC configuration is the whole running configuration: it replaces the SBC's (matched by
  the file's name without extension, else the only SBC of that profile).

Both sides are then evaluated by today's checks (the stored findings may come from an older
fleet), the fleet-level path checks included, and compared per device and emergency number.
A regression is an emergency or coverage finding the change adds: a number that would stop
dialling, routing, or being provable.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import check, profiles
from fleet.audit import ConfigFile, Unread, gather_all
from fleet.check.golden import Golden
from fleet.errors import InputError
from fleet.model import Collected, DeviceResult, Finding, Snapshot
from fleet.redact import redact_params

_MAC = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{12})(?![0-9a-fA-F])")
_ZERO = "000000000000"  # Poly's and Yealink's name for the file every phone reads
WATCHED = ("emergency.", "coverage.")


@dataclass(slots=True)
class Applied:
    """One change file as it reaches one device."""

    file: str
    keys: list[str]  # "key: old -> new", the emergency-relevant ones first
    replaces: bool = False  # an SBC's whole configuration


@dataclass(slots=True)
class Change:
    device: str
    site: str | None
    profile: str
    subject: str  # the number (or what) the findings are about
    before: list[str]  # "rule: message" on the baseline
    after: list[str]
    regression: bool
    files: list[Applied] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "site": self.site,
            "profile": self.profile,
            "subject": self.subject,
            "before": list(self.before),
            "after": list(self.after),
            "regression": self.regression,
            "files": [dataclasses.asdict(a) for a in self.files],
        }


@dataclass(slots=True)
class Assessment:
    baseline: int | None
    baseline_tag: str | None
    files: list[str]  # every change file given or found
    unread: list[str]  # files no profile reads, or that could not be read: never silent
    untouched: list[str]  # change files that reach no device of the baseline
    reached: dict[str, list[Applied]]  # device id -> what reached it
    changes: list[Change]

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "fleet.assess/1",
            "baseline": {"id": self.baseline, "tag": self.baseline_tag},
            "files": list(self.files),
            "unread": list(self.unread),
            "untouched": list(self.untouched),
            "devices_reached": len(self.reached),
            "regressions": len(self.regressions),
            "changes": [c.to_dict() for c in self.changes],
        }


def mac_in(name: str) -> str | None:
    """The MAC a provisioning file's name carries (lower case), None for a shared file."""
    for m in _MAC.finditer(name):
        if m.group(1) != _ZERO:
            return m.group(1).lower()
    return None


def assess(
    baseline: Snapshot,
    change: Sequence[Path],
    golden: Golden,
    addresses: dict[str, str | None],
    firmware: dict[str, str] | None = None,
) -> Assessment:
    """``baseline``: a stored snapshot; ``addresses``: device id -> its IP, as the path
    checks need (the inventory's); ``firmware``: model glob -> the version the change
    installs (checked against the golden's known-bad list)."""
    found = gather_all(list(change))
    files = [f for f in found if isinstance(f, ConfigFile)]
    unread = [f"{u.path}: {u.why}" for u in found if isinstance(u, Unread)]
    audited = [r for r in baseline.results if r.status == "audited" and r.state is not None]
    if not audited:
        raise InputError(
            f"snapshot {baseline.id} holds no audited device to apply the change to",
            field="--baseline",
        )
    after: dict[str, DeviceResult] = {}
    reached: dict[str, list[Applied]] = {}
    touched: set[str] = set()
    for f in files:
        collected = read_change(f)
        for r in targets(f, audited):
            touched.add(str(f.path))
            current = after.get(r.id) or copy_result(r)
            applied = apply_file(current, f, collected)
            after[r.id] = current
            reached.setdefault(r.id, []).append(applied)
    # a device the change reaches is read from its stored parameters on both sides, so the
    # comparison shows the change, not what a sweep saw beyond its files
    for r in audited:
        if (target := _firmware_for(r, firmware or {})) is None:
            continue
        current = after.get(r.id) or copy_result(r)
        assert current.state is not None
        old = current.state.firmware
        current.state = dataclasses.replace(current.state, firmware=target)
        after[r.id] = current
        reached.setdefault(r.id, []).append(
            Applied(f"firmware {target}", [f"firmware: {shown(old)} -> {target}"])
        )
    before_results = [rechecked(restated(r, r.id in reached), golden) for r in baseline.results]
    after_results = [rechecked(after.get(r.id) or copy_result(r), golden) for r in baseline.results]
    check.check_fleet(before_results, golden, addresses)
    check.check_fleet(after_results, golden, addresses)
    changes = _compare(before_results, after_results, reached)
    return Assessment(
        baseline.id,
        baseline.tag,
        [str(f.path) for f in found],
        unread,
        [str(f.path) for f in files if str(f.path) not in touched],
        reached,
        changes,
    )


def _firmware_for(r: DeviceResult, targets: dict[str, str]) -> str | None:
    import fnmatch

    model = re.sub(r"[\s_-]+", "", (r.state.model if r.state else None) or "").lower()
    for pattern, version in targets.items():
        if fnmatch.fnmatchcase(model, re.sub(r"[\s_-]+", "", pattern).lower()):
            return version
    return None


def read_change(f: ConfigFile) -> Collected:
    from fleet.audit import _sibling_reader

    assert f.profile.parse_files is not None
    collected = f.profile.parse_files(f.path.name, f.text, _sibling_reader(f.path))
    collected.params = redact_params(collected.params, f.profile)  # secrets never shown
    return collected


def targets(f: ConfigFile, audited: list[DeviceResult]) -> list[DeviceResult]:
    same = [r for r in audited if r.profile == f.profile.name]
    if f.profile.role == "sbc":
        named = [r for r in same if r.id == f.path.stem]
        return named or (same if len(same) == 1 else [])
    mac = mac_in(f.path.name)
    if mac is None:
        return same
    return [r for r in same if r.state is not None and (r.state.mac or r.mac or "").lower() == mac]


def restated(r: DeviceResult, reread: bool) -> DeviceResult:
    out = copy_result(r)
    if reread and out.state is not None:
        set_state(out, out.state.raw, None, "baseline")
    return out


def copy_result(r: DeviceResult) -> DeviceResult:
    state = None if r.state is None else dataclasses.replace(r.state, raw=dict(r.state.raw))
    return dataclasses.replace(r, state=state, findings=[])


def _identity(r: DeviceResult) -> dict[str, str]:
    assert r.state is not None
    st = r.state
    pairs = (("model", st.model), ("firmware", st.firmware), ("mac", st.mac))
    return {k: v for k, v in pairs if v}


def set_state(r: DeviceResult, params: dict[str, str], c: Collected | None, source: str) -> None:
    """``r``'s state as its profile reads ``params`` (the device's own notices kept, the
    change file's added)."""
    assert r.state is not None
    prof = profiles.get(r.profile)
    assert prof.to_state is not None
    identity = _identity(r) | (c.identity if c is not None else {})
    notices = [*r.state.notices, *(c.notices if c is not None else [])]
    state = prof.to_state(
        Collected(params=dict(params), identity=identity, sources=[source], notices=notices)
    )
    state.raw = dict(params)
    r.state = state


def apply_file(r: DeviceResult, f: ConfigFile, c: Collected) -> Applied:
    assert r.state is not None
    old = r.state.raw
    replaces = profiles.get(r.profile).role == "sbc"
    merged = dict(c.params) if replaces else {**old, **c.params}
    keys = [
        f"{k}: {shown(old.get(k))} -> {shown(v)}" for k, v in c.params.items() if old.get(k) != v
    ]
    if replaces:
        keys += [f"{k}: {shown(v)} -> (removed)" for k, v in old.items() if k not in c.params]
    set_state(r, merged, c, str(f.path))
    return Applied(str(f.path), _relevant_first(keys), replaces)


def shown(value: str | None) -> str:
    return "(unset)" if value is None else (value if value else '""')


def _relevant_first(keys: list[str]) -> list[str]:
    words = ("emerg", "dial", "digit", "911", "999", "112", "route", "sip", "proxy", "server")
    return sorted(keys, key=lambda k: (not any(w in k.lower() for w in words), k))


def rechecked(r: DeviceResult, golden: Golden) -> DeviceResult:
    facts = {
        "id": [r.id],
        "site": [r.site or ""],
        "role": [r.role],
        "profile": [r.profile],
        "group": [],
        "tag": [],
        "address": [r.address or ""],
    }
    check.check_device(r, golden, facts)
    return r


def watched(r: DeviceResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in r.findings:
        if f.rule.startswith(WATCHED) and f.rule != "coverage.stale":
            out.setdefault(f.subject, []).append(_said(f))
    return {k: sorted(set(v)) for k, v in out.items()}


def _said(f: Finding) -> str:
    return f"{f.rule}: {f.message}"


def _compare(
    before: list[DeviceResult], after: list[DeviceResult], reached: dict[str, list[Applied]]
) -> list[Change]:
    out = []
    for b, a in zip(before, after, strict=True):
        wb, wa = watched(b), watched(a)
        for subject in sorted(set(wb) | set(wa)):
            was, now = wb.get(subject, []), wa.get(subject, [])
            if was == now:
                continue
            added = [x for x in now if x.split(":", 1)[0] not in {y.split(":", 1)[0] for y in was}]
            out.append(
                Change(
                    b.id,
                    b.site,
                    b.profile,
                    subject,
                    was,
                    now,
                    bool(added),
                    list(reached.get(b.id, [])),
                )
            )
    out.sort(key=lambda c: (not c.regression, c.site or "", c.device, c.subject))
    return out
