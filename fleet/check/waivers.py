"""Golden ``waivers:``: a known, accepted finding reported as waived until a date, never one
that could hide an emergency fault.

A waiver names a rule (a golden rule's id, or any finding's rule such as ``drift.firmware``),
the devices (``device:`` glob or a rule-style ``scope:``), optionally
the finding's subject, a reason, an owner and an expiry date. A finding it matches stays in
every report, its message ending "[waived until DATE by OWNER: REASON]", its severity lowered
to ``info`` so no exit code counts it (the JSON keeps the original under ``waiver``). Past its
date a waiver stops applying and says so (``config.waiver_expired``, medium). A waiver on an
``emergency.*`` or ``coverage.*`` rule is refused when the golden is read: those can only be
fixed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_validator

from fleet.model import Finding

UNWAIVABLE = ("emergency.", "coverage.")
SCOPE_KEYS = ("id", "site", "role", "profile", "group", "tag", "model")  # as a rule's scope


class WaiverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str
    device: str | None = None  # a device id or glob
    scope: dict[str, str | list[str]] | None = None  # as a rule's scope
    subject: str | None = None
    reason: str
    owner: str
    expires: dt.date

    @field_validator("rule")
    @classmethod
    def _waivable(cls, v: str) -> str:
        if v.startswith(UNWAIVABLE) or v in ("emergency", "coverage"):
            raise ValueError(
                f"{v} cannot be waived: an emergency or coverage finding can only be fixed"
            )
        return v

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: dict[str, str | list[str]] | None) -> dict[str, str | list[str]] | None:
        for key in v or {}:
            if key not in SCOPE_KEYS:
                raise ValueError(f"unknown scope key {key!r} (known: {', '.join(SCOPE_KEYS)})")
        return v

    @field_validator("reason", "owner")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must say something: a waiver is accountable")
        return v


@dataclass(frozen=True, slots=True)
class Waiver:
    rule: str
    device: str | None
    scope: dict[str, str | list[str]] | None
    subject: str | None
    reason: str
    owner: str
    expires: dt.date

    @classmethod
    def of(cls, w: WaiverIn) -> Waiver:
        return cls(w.rule, w.device, w.scope, w.subject, w.reason, w.owner, w.expires)

    def covers(self, f: Finding, facts: dict[str, list[str]]) -> bool:
        # a golden rule's id (as the golden writes it) or the finding's rule (rule.<id>)
        if f.rule not in (self.rule, f"rule.{self.rule}"):
            return False
        if self.subject is not None and f.subject != self.subject:
            return False
        if self.device is not None and not any(
            fnmatch.fnmatchcase(i, self.device) for i in facts.get("id", [])
        ):
            return False
        return self.scope is None or all(
            any(
                fnmatch.fnmatchcase(have, want)
                for have in facts.get(key, [])
                for want in ([wants] if isinstance(wants, str) else wants)
            )
            for key, wants in self.scope.items()
        )

    def said(self) -> str:
        return f"[waived until {self.expires.isoformat()} by {self.owner}: {self.reason}]"


def apply(
    findings: list[Finding],
    waivers: list[Waiver],
    facts: dict[str, list[str]],
    today: dt.date | None = None,
) -> list[Finding]:
    """``findings`` with the waivers in force applied, and a ``config.waiver_expired`` for
    each expired waiver that would have matched one."""
    today = today or dt.datetime.now(dt.UTC).date()
    out: list[Finding] = []
    expired: list[Waiver] = []
    for f in findings:
        if f.rule.startswith(UNWAIVABLE):
            out.append(f)
            continue
        hit = next((w for w in waivers if w.covers(f, facts)), None)
        if hit is None:
            out.append(f)
        elif hit.expires < today:
            out.append(f)
            if hit not in expired:
                expired.append(hit)
        else:
            out.append(_waived(f, hit))
    out += [_expired(w) for w in expired]
    return out


def _waived(f: Finding, w: Waiver) -> Finding:
    evidence = [
        *f.evidence,
        f"waiver: {w.rule} (was {f.severity}), owner {w.owner}, expires {w.expires.isoformat()}",
    ]
    return Finding(
        f.rule, "info", f.subject, f"{f.message} {w.said()}", f.expected, f.actual, evidence
    )


def _expired(w: Waiver) -> Finding:
    return Finding(
        "config.waiver_expired",
        "medium",
        w.rule,
        f"the waiver of {w.rule} (owner {w.owner}: {w.reason}) expired on "
        f"{w.expires.isoformat()}: the finding counts again",
        expected=f"a waiver valid today, or {w.rule} fixed",
        actual=f"expired {w.expires.isoformat()}",
    )
