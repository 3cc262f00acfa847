"""Every conformance case: third-party files, verdicts from the vendors' documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet import profiles
from tests.conformance import walk

CASES = walk.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: walk.Case, tmp_path: Path) -> None:
    o = walk.run(case, tmp_path)
    wrong = o.problems + o.false_alarms + o.misses
    assert not wrong, "\n".join(wrong)
    assert o.verdicts > 0, "the case checks nothing"


def test_every_profile_has_third_party_files() -> None:
    files: dict[str, int] = {}
    for c in CASES:
        name = c.spec.get("profile", "?")
        files[name] = files.get(name, 0) + len(c.files)
    readable = [
        p.name for p in profiles.registry().values() if p.parse_files and p.name != "netmiko"
    ]
    missing = [n for n in readable if not files.get(n)]
    assert not missing, f"profiles without conformance files: {missing}"
    assert sum(files.values()) >= 30
