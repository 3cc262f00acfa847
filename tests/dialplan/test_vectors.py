"""Every vector table in tests/dialplan/vectors/: plans from RFC 3435 and the vendors'
manuals, each citing its source, evaluated as the phone would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet import dialplan

FOLDER = Path(__file__).with_name("vectors")
FIELDS = ("outcome", "after_timeout", "delay_s", "sent", "route", "matched")


def _cases() -> list:
    out = []
    for f in sorted(FOLDER.glob("*.yaml")):
        syntax = f.stem
        for i, block in enumerate(yaml.safe_load(f.read_text()) or []):
            assert block.get("source"), f"{f.name} plan {i}: every plan cites its source"
            for case in block["cases"]:
                out.append(
                    pytest.param(
                        syntax,
                        block["plan"],
                        {k: str(v) for k, v in (block.get("options") or {}).items()},
                        case,
                        id=f"{syntax}-{i}-{case['digits']}",
                    )
                )
    return out


CASES = _cases()


@pytest.mark.parametrize(("syntax", "plan", "options", "case"), CASES)
def test_vector(syntax: str, plan: str, options: dict, case: dict) -> None:
    got = dialplan.evaluate(syntax, plan, str(case["digits"]), options)
    want = {k: case[k] for k in FIELDS if k in case}
    if "sent" in want and want["sent"] is not None:
        want["sent"] = str(want["sent"])
    have = {k: getattr(got, k) for k in want}
    assert have == want, "\n".join(got.steps)
    if "problems" in case:
        assert bool(got.problems) == bool(case["problems"]), got.problems


def test_enough_vectors_for_every_syntax() -> None:
    per = {s: sum(1 for c in CASES if c.values[0] == s) for s in dialplan.SYNTAXES}
    for syntax, n in per.items():
        if dialplan.engine_for(syntax) is not None:
            assert n >= 25, f"{syntax}: only {n} vectors"
