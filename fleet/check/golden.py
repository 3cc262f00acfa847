"""The golden template: what every device should look like (SPEC: Golden template)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from fleet import yamlsrc
from fleet.check import policies
from fleet.check.firmware import FirmwareIn
from fleet.check.waivers import Waiver, WaiverIn
from fleet.errors import GoldenError

OPERATORS = ("equals", "one_of", "matches", "present", "absent")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Strict):
    # where phones must take the caller location from (fleet.model.Location.source); ``any``
    # accepts each kind, never none
    source: Literal["lldp-med", "held", "static", "any"] = "any"
    # False: a phone with no source passes, one with another kind than ``source`` does not
    required: bool = True


class CallbackIn(_Strict):
    # the whole callback identity each line presents must match (re.fullmatch)
    matches: str

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"bad regular expression: {e}") from None
        return v


class EmergencyIn(_Strict):
    numbers: list[str] | None = None
    max_dial_delay_s: float | None = None
    phone_route: str | list[str] | None = None
    sbc_trunks: list[str] | None = None
    prefixes: list[str] | None = None
    location_required: bool | None = None
    location: LocationIn | None = None
    callback: CallbackIn | None = None

    @field_validator("numbers", "prefixes")
    @classmethod
    def _digits(cls, v: list[str] | None) -> list[str] | None:
        for n in v or []:
            if not re.fullmatch(r"[0-9*#+]+", str(n)):
                raise ValueError(f"{n!r} is not a dialable digit string")
        return [str(n) for n in v] if v is not None else None


class ScopeIn(_Strict):
    id: str | list[str] | None = None
    site: str | list[str] | None = None
    role: str | list[str] | None = None
    profile: str | list[str] | None = None
    group: str | list[str] | None = None
    tag: str | list[str] | None = None
    model: str | list[str] | None = None


class RuleIn(_Strict):
    id: str
    description: str | None = None
    scope: ScopeIn = ScopeIn()
    key: str | None = None
    equals: Any = None
    one_of: list[Any] | None = None
    matches: str | None = None
    present: bool | None = None
    absent: bool | None = None
    dial: dict[str, Literal["dial", "block"]] | None = None
    severity: Literal["critical", "high", "medium", "low", "info"] = "medium"

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v):
            raise ValueError("use letters, digits, '.', '_' and '-' only")
        return v

    @field_validator("matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"bad regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _one_operator(self) -> RuleIn:
        ops = [o for o in OPERATORS if getattr(self, o) is not None]
        if self.dial is not None:
            if ops or self.key:
                raise ValueError("a dial rule takes no key or operator")
            return self
        if not self.key:
            raise ValueError("a rule needs key: (or dial:)")
        if len(ops) != 1:
            raise ValueError(f"a rule needs exactly one of {', '.join(OPERATORS)}")
        return self


class GoldenIn(_Strict):
    fleet_golden: Literal[1]
    name: str
    description: str | None = None
    policy: list[str] = []
    emergency: EmergencyIn = EmergencyIn()
    rules: list[RuleIn] = []
    # firmware known to break emergency calling, per model (fleet.check.firmware)
    firmware: FirmwareIn = FirmwareIn()
    # accepted findings, reported as waived until they expire (fleet.check.waivers)
    waivers: list[WaiverIn] = []

    @field_validator("policy")
    @classmethod
    def _packs(cls, v: list[str]) -> list[str]:
        known = policies.names()
        for p in v:
            if p not in known:
                raise ValueError(f"unknown policy pack {p!r} (known: {', '.join(known)})")
        return v


@dataclass(slots=True)
class EmergencyPolicy:
    """The emergency requirements in force: packs merged, then the golden's own section."""

    numbers: list[str] = field(default_factory=list)
    max_dial_delay_s: float = 0.0
    phone_route: list[str] = field(default_factory=list)
    sbc_trunks: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    # A pack's prefixes apply only where the phone's own plan uses them as an outside-line
    # prefix (Kari's Law: 9911 must reach 911 where 9 is the access code; 911 itself must
    # dial with no prefix everywhere). The golden's own ``prefixes`` apply always.
    pack_prefixes: list[str] = field(default_factory=list)
    location_required: bool = False
    # the golden's location source (lldp-med | held | static | any), None = not asked for
    location_source: str | None = None
    callback_matches: str | None = None  # regex each line's callback identity must match
    sources: dict[str, list[str]] = field(default_factory=dict)  # number -> citations


@dataclass(slots=True)
class Golden:
    file: str
    name: str
    packs: list[str]
    emergency: EmergencyPolicy
    rules: list[RuleIn]
    firmware_deny: dict[str, list[str]] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)


def load(path: str | Path) -> Golden:
    doc = yamlsrc.load(path, GoldenError)
    if not isinstance(doc.data, dict):
        raise GoldenError(
            "a golden template is a mapping starting with fleet_golden: 1", file=doc.file, line=1
        )
    doc.data = yamlsrc.without_anchor_keys(doc.data)
    _not_an_inventory(doc)
    if "fleet_golden" not in doc.data:
        raise GoldenError(
            "required field is missing: a golden template starts with fleet_golden: 1 "
            "(the format's version)",
            file=doc.file,
            line=doc.line_of(()),
            field="fleet_golden",
        )
    try:
        model = GoldenIn.model_validate(doc.data)
    except ValidationError as e:
        raise yamlsrc.pydantic_error(doc, e, GoldenError) from None
    seen: dict[str, int] = {}
    for i, r in enumerate(model.rules):
        if r.id in seen:
            raise GoldenError(
                f"duplicate rule id (also rules[{seen[r.id]}])",
                file=doc.file,
                line=doc.line_of(("rules", i, "id")),
                field=f"rules[{i}].id",
            )
        seen[r.id] = i
    return Golden(
        doc.file,
        model.name,
        model.policy,
        _merge(model),
        model.rules,
        dict(model.firmware.deny),
        [Waiver.of(w) for w in model.waivers],
    )


_INVENTORY_KEYS = ("hosts", "groups", "defaults")


def _not_an_inventory(doc: yamlsrc.Located) -> None:
    """An inventory given as --golden is named as one: the two files are easily swapped."""
    assert isinstance(doc.data, dict)
    if "fleet_golden" in doc.data:
        return
    key = next((k for k in _INVENTORY_KEYS if k in doc.data), None)
    if key is not None:
        raise GoldenError(
            "this looks like an inventory, not a golden template: pass it as the INVENTORY "
            "argument (a golden starts with fleet_golden: 1)",
            file=doc.file,
            line=doc.line_of((key,)),
            field=key,
        )


def _merge(model: GoldenIn) -> EmergencyPolicy:
    pol = EmergencyPolicy()
    for name in model.policy:
        pack = policies.load(name)
        for n in pack.numbers:
            if n not in pol.numbers:
                pol.numbers.append(n)
            pol.sources.setdefault(n, []).append(pack.citation)
        pol.location_required |= pack.location_required
        for p in pack.prefixes:
            if p not in pol.pack_prefixes:
                pol.pack_prefixes.append(p)
    em = model.emergency
    for n in em.numbers or []:
        if n not in pol.numbers:
            pol.numbers.append(n)
        pol.sources.setdefault(n, []).append(f"golden {model.name}")
    if em.max_dial_delay_s is not None:
        pol.max_dial_delay_s = em.max_dial_delay_s
    if em.phone_route is not None:
        pol.phone_route = [em.phone_route] if isinstance(em.phone_route, str) else em.phone_route
    if em.sbc_trunks is not None:
        pol.sbc_trunks = em.sbc_trunks
    if em.prefixes is not None:
        pol.prefixes = em.prefixes
    if em.location_required is not None:
        pol.location_required = em.location_required
    if em.location is not None:
        pol.location_required = em.location.required
        pol.location_source = em.location.source
    if em.callback is not None:
        pol.callback_matches = em.callback.matches
    return pol
