"""What a phone does with keyed digits (the one outcome type of every dialect), and the
sentence a person reads about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class Outcome:
    digits: str
    outcome: str  # dial | block | wait | no-match
    after_timeout: bool = False  # sent only when an inter-digit timer ran out
    delay_s: float = 0.0  # seconds between the last digit keyed and the phone sending
    sent: str | None = None  # the digits the phone sends (after rewrites)
    route: str | None = None  # where the plan itself sends it (gateway, line), else None
    matched: str | None = None  # the plan entry that decided, as written
    steps: Sequence[str] = field(default=(), compare=False)  # --explain, one line a step
    problems: tuple[str, ...] = ()  # what is malformed in the plan, as the phone reads it

    def to_dict(self) -> dict[str, Any]:
        fields = ("digits", "outcome", "after_timeout", "delay_s", "sent", "route", "matched")
        d: dict[str, Any] = {f: getattr(self, f) for f in fields}
        if self.problems:
            d["problems"] = list(self.problems)
        return d


def describe(res: Outcome) -> str:
    """The evaluation in one sentence, for evidence a person reads."""
    entry = f"entry {res.matched!r}" if res.matched else "no entry"
    keyed = f"keyed {res.digits}"
    if res.outcome == "block":
        return f"{keyed}: {entry} bars it; the phone never sends it"
    if res.outcome == "no-match":
        return f"{keyed}: no entry matches; the phone never sends it"
    if res.outcome == "wait":
        return f"{keyed}: {entry} waits for more digits or the Send key; nothing is sent"
    when = f"after {res.delay_s:g} s (a timer runs out)" if res.delay_s else "at once"
    if res.after_timeout and not res.delay_s:
        when = "when a timer runs out"
    what = f"sends {res.sent}" if res.sent == res.digits else f"rewrites it and sends {res.sent}"
    via = f" via {res.route}" if res.route else ""
    return f"{keyed}: {entry} matches; the phone {what}{via} {when}"
