"""Dial-plan engines: pure functions (plan, digits) -> Outcome, one module per syntax.

Engines register themselves in ``ENGINES`` by syntax name. The emergency checks ask
:func:`engine_for` and evaluate only the syntaxes that have an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fleet.model import DialPlan


@dataclass(slots=True, frozen=True)
class Outcome:
    digits: str
    outcome: str  # dial | block | wait | no-match
    after_timeout: bool = False
    delay_s: float = 0.0
    sent: str | None = None
    route: str | None = None
    matched: str | None = None


Engine = Callable[[DialPlan, str], Outcome]
ENGINES: dict[str, Engine] = {}


def engine_for(syntax: str) -> Engine | None:
    return ENGINES.get(syntax)
