"""Every dialect's vector table (``Dialect.vectors``: mgcp's in tests/dialplan/vectors/, each
vendor syntax's beside it as device_profiles/<vendor>/dialplan_vectors.yaml): plans from
RFC 3435 and the vendors' manuals, each citing its source, evaluated as the phone would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet import dialplan

FIELDS = ("outcome", "after_timeout", "delay_s", "sent", "route", "matched")


def _cases() -> list:
    out = []
    for syntax in dialplan.syntaxes():
        f = dialplan.dialect_for(syntax).vectors
        if f is None:
            continue
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
    per = {s: sum(1 for c in CASES if c.values[0] == s) for s in dialplan.syntaxes()}
    for syntax, n in per.items():
        assert n >= 25, f"{syntax}: only {n} vectors"


def test_every_dialect_has_its_vectors_beside_it() -> None:
    for syntax in dialplan.syntaxes():
        f = dialplan.dialect_for(syntax).vectors
        assert f is not None and f.is_file(), f"{syntax}: no vector table"


def test_an_unknown_syntax_is_an_error() -> None:
    assert dialplan.engine_for("nope") is None
    with pytest.raises(dialplan.DialPlanError, match="nope"):
        dialplan.evaluate("nope", "999", "999")


def test_syntaxes_and_the_old_constant_agree() -> None:
    assert dialplan.syntaxes() == dialplan.SYNTAXES
    assert {"mgcp", "cisco", "yealink", "grandstream", "snom"} <= set(dialplan.syntaxes())


def test_the_docs_describe_every_syntax() -> None:
    """docs/dialplan.md, or for a vendor's own syntax its folder's README ("Dial plan"
    section), so that a vendor's syntax arrives with its folder."""
    doc = (Path(__file__).parents[2] / "docs" / "dialplan.md").read_text()
    for syntax in dialplan.syntaxes():
        vectors = dialplan.dialect_for(syntax).vectors
        readme = vectors.parent / "README.md" if vectors else None
        in_readme = readme is not None and readme.is_file() and "Dial plan" in readme.read_text()
        assert f"| `{syntax}` |" in doc or in_readme, f"no documentation for syntax {syntax}"
