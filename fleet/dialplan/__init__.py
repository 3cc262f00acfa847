"""Dial-plan engines: pure functions (plan, digits) -> Outcome, one dialect per syntax.

One compiled automaton (``automaton``) serves every syntax; each syntax is a small front end
declaring a :class:`Dialect`: RFC 3435 (``mgcp``) here, the vendors' own syntaxes in their
folders (``device_profiles/<vendor>/dialplan.py``). Each compiles a plan once per distinct
(text, options) and simulates the phone: the user keys ``digits`` one after another without
pausing, then waits, pressing nothing (no Send, no #). See docs/dialplan.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from fleet.dialplan.dialect import Dialect, registry
from fleet.dialplan.outcome import Outcome, describe
from fleet.errors import DialPlanError
from fleet.model import DialPlan

__all__ = [
    "SYNTAXES",
    "DialPlanError",
    "Dialect",
    "Outcome",
    "describe",
    "dialect_for",
    "engine_for",
    "evaluate",
    "evaluate_plan",
    "syntaxes",
]

Engine = Callable[[DialPlan, str], Outcome]


def syntaxes() -> tuple[str, ...]:
    """Every syntax an engine reads: what the CLI, the bench and the docs offer."""
    return tuple(registry())


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "SYNTAXES":  # the old constant, derived now (fleet.cli reads it meanwhile)
        return syntaxes()
    raise AttributeError(name)


def dialect_for(syntax: str) -> Dialect:
    """The dialect of ``syntax``; DialPlanError when no engine reads it."""
    found = registry().get(syntax)
    if found is None:
        raise DialPlanError(f"no dial-plan engine for syntax {syntax!r}")
    return found


def engine_for(syntax: str) -> Engine | None:
    """The evaluate function of ``syntax``, None when no engine reads it (a check reports
    that line as unevaluated)."""
    found = registry().get(syntax)
    return None if found is None else found.evaluate


def evaluate(
    syntax: str, text: str, digits: str, options: dict[str, str] | None = None, source: str = "plan"
) -> Outcome:
    """Evaluate ``digits`` against a plan given as text (the CLI's entry point)."""
    return dialect_for(syntax).evaluate(DialPlan(syntax, text, source, dict(options or {})), digits)


def evaluate_plan(plan: DialPlan, digits: str) -> Outcome | None:
    """``plan`` evaluated for ``digits``, memoised: a fleet shares a handful of plans, and
    the engines are pure functions of (plan, digits). None when no engine reads the syntax."""
    if plan.syntax not in registry():
        return None
    return _memo(plan.syntax, plan.text, tuple(sorted(plan.options.items())), digits)


@lru_cache(maxsize=65536)
def _memo(syntax: str, text: str, options: tuple[tuple[str, str], ...], digits: str) -> Outcome:
    return registry()[syntax].evaluate(DialPlan(syntax, text, "plan", dict(options)), digits)
