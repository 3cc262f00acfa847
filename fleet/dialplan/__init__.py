"""Dial-plan engines: pure functions (plan, digits) -> Outcome, one module per syntax.

``fleet.dialplan.<syntax>`` exposes ``evaluate(plan: DialPlan, digits: str) -> Outcome``;
:func:`engine_for` finds it. Each engine compiles a plan once per distinct (text, options) and
simulates the phone: the user keys ``digits`` one after another without pausing, then waits,
pressing nothing (no Send, no #). See docs/dialplan.md for the outcome contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from fleet.model import DialPlan

SYNTAXES = ("mgcp", "cisco", "yealink", "grandstream", "snom")


@dataclass(slots=True, frozen=True)
class Outcome:
    digits: str
    outcome: str  # dial | block | wait | no-match
    after_timeout: bool = False  # sent only when an inter-digit timer ran out
    delay_s: float = 0.0  # seconds between the last digit keyed and the phone sending
    sent: str | None = None  # the digits the phone sends (after rewrites)
    route: str | None = None  # where the plan itself sends it (gateway, line), else None
    matched: str | None = None  # the plan entry that decided, as written
    steps: tuple[str, ...] = field(default=(), compare=False)  # --explain, one line a step
    problems: tuple[str, ...] = ()  # what is malformed in the plan, as the phone reads it

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "digits": self.digits,
            "outcome": self.outcome,
            "after_timeout": self.after_timeout,
            "delay_s": self.delay_s,
            "sent": self.sent,
            "route": self.route,
            "matched": self.matched,
        }
        if self.problems:
            d["problems"] = list(self.problems)
        return d


Engine = Callable[[DialPlan, str], Outcome]


@cache
def engine_for(syntax: str) -> Engine | None:
    if syntax not in SYNTAXES:
        return None
    try:
        module = importlib.import_module(f"fleet.dialplan.{syntax}")
    except ModuleNotFoundError as e:
        if e.name == f"fleet.dialplan.{syntax}":
            return None
        raise
    return module.evaluate


def evaluate(
    syntax: str, text: str, digits: str, options: dict[str, str] | None = None, source: str = "plan"
) -> Outcome:
    """Evaluate ``digits`` against a plan given as text (the CLI's entry point)."""
    engine = engine_for(syntax)
    if engine is None:
        from fleet.errors import DialPlanError

        raise DialPlanError(f"no dial-plan engine for syntax {syntax!r}")
    return engine(DialPlan(syntax, text, source, dict(options or {})), digits)


def evaluate_plan(plan: DialPlan, digits: str) -> Outcome | None:
    """``plan`` evaluated for ``digits``, memoised: a fleet shares a handful of plans, and
    the engines are pure functions of (plan, digits). None when no engine reads the syntax."""
    if engine_for(plan.syntax) is None:
        return None
    return _memo(plan.syntax, plan.text, tuple(sorted(plan.options.items())), digits)


@lru_cache(maxsize=65536)
def _memo(syntax: str, text: str, options: tuple[tuple[str, str], ...], digits: str) -> Outcome:
    engine = engine_for(syntax)
    assert engine is not None
    return engine(DialPlan(syntax, text, "plan", dict(options)), digits)


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
