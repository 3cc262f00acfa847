"""Golden rules: a key of the normalised model (or ``raw:<vendor name>``) and one operator."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from fleet import dialplan
from fleet.check.golden import RuleIn, ScopeIn
from fleet.model import DeviceState, Finding


def in_scope(scope: ScopeIn, facts: dict[str, list[str]]) -> bool:
    for key, want in scope.model_dump(exclude_none=True).items():
        wants = [want] if isinstance(want, str) else want
        have = facts.get(key, [])
        if not any(fnmatch.fnmatchcase(h, w) for h in have for w in wants):
            return False
    return True


def value_of(state: DeviceState, key: str) -> str | None:
    if key.startswith("raw:"):
        return state.raw.get(key[4:])
    return state.normalised().get(key)


def check_dial_rule(rule: RuleIn, state: DeviceState) -> list[Finding]:
    """``dial: {"2001": dial, "09001234567": block}`` on every enabled line's dial plan."""
    assert rule.dial is not None
    out = []
    for digits, want in rule.dial.items():
        for ln in state.lines:
            plan = ln.dialplan or state.dialplan
            if not ln.enabled or plan is None:
                continue
            res = dialplan.evaluate_plan(plan, digits)
            if res is None:
                continue
            ok = res.outcome == "dial" if want == "dial" else res.outcome != "dial"
            if ok:
                continue
            got = f"dial {res.sent}" if res.outcome == "dial" else res.outcome
            out.append(
                Finding(
                    f"rule.{rule.id}",
                    rule.severity,
                    digits,
                    rule.description or f"line {ln.index}: {digits} gives {got}; expected {want}",
                    expected=want,
                    actual=got,
                    evidence=[
                        f"{plan.source} = {plan.text}",
                        "evaluation: " + dialplan.describe(res),
                    ],
                )
            )
            break  # one finding per number: the first line that fails it
    return out


def check_rule(rule: RuleIn, state: DeviceState) -> Finding | None:
    assert rule.key is not None
    value = value_of(state, rule.key)
    ok, expected = _evaluate(rule, value)
    if ok:
        return None
    shown = "not set" if value in (None, "") else value
    return Finding(
        f"rule.{rule.id}",
        rule.severity,
        rule.key,
        rule.description or f"{rule.key} is {shown}; expected {expected}",
        expected=expected,
        actual=None if value is None else str(value),
        evidence=[f"{rule.key} = {shown}"],
    )


def _evaluate(rule: RuleIn, value: str | None) -> tuple[bool, str]:
    present = value not in (None, "")
    if rule.present is not None:
        return present == rule.present, "set" if rule.present else "not set"
    if rule.absent is not None:
        return (not present) == rule.absent, "not set" if rule.absent else "set"
    if rule.equals is not None:
        return _same(value, rule.equals), str(rule.equals)
    if rule.one_of is not None:
        return any(_same(value, v) for v in rule.one_of), "one of " + ", ".join(
            map(str, rule.one_of)
        )
    assert rule.matches is not None
    return value is not None and re.search(rule.matches, str(value)) is not None, (
        f"matching /{rule.matches}/"
    )


def _same(value: str | None, want: Any) -> bool:
    if value is None:
        return want is None
    if isinstance(want, bool):
        return str(value).strip().lower() in (
            ("1", "true", "yes", "on") if want else ("0", "false", "no", "off")
        )
    return str(value).strip() == str(want).strip()
