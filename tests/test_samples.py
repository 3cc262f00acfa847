"""Every profile sample parses to the expected state beside it (the ntc-templates rule: a
sample without an expected parse, or an expected parse without a sample, fails)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet import profiles

CASES = []
for prof in profiles.registry().values():
    if prof.folder is None or prof.parse_files is None:
        continue
    sdir = prof.folder / "samples"
    for expected in sorted(sdir.rglob("*.expected.json")):
        CASES.append(pytest.param(prof, expected, id=f"{prof.name}/{expected.relative_to(sdir)}"))


def _sample_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    matches = [p for p in expected.parent.iterdir() if p.stem == stem and p != expected]
    assert len(matches) == 1, f"{expected}: needs exactly one sample named {stem}.*"
    return matches[0]


@pytest.mark.parametrize(("prof", "expected"), CASES)
def test_sample_parses_as_expected(prof: profiles.Profile, expected: Path) -> None:
    sample = _sample_for(expected)
    want = json.loads(expected.read_text())

    def read_sibling(name: str) -> str | None:
        p = sample.parent / name
        return p.read_text() if p.is_file() else None

    text = sample.read_text()
    assert profiles.detect(text) is prof, f"{sample.name} is not recognised as {prof.name}"
    collected = prof.parse_files(sample.name, text, read_sibling)
    state = prof.to_state(collected).to_dict()
    state.pop("raw")
    assert state == want["state"]
    for key, value in want.get("params", {}).items():
        assert collected.params.get(key) == value, key


def test_every_profile_folder_loads() -> None:
    assert profiles.broken() == {}


def test_every_profile_has_samples() -> None:
    for prof in profiles.registry().values():
        if prof.parse_files is None:
            continue
        assert any(c.values[0] is prof for c in CASES), f"{prof.name} has no samples"
