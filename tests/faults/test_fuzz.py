"""A seeded slice of the mutation fuzzer (tests/faults/fuzz.py; the long run is
``python -m tests.faults.fuzz --mutants 5000 --seed 1``): every mutant of every profile's
samples ends as its one device's clean result or error naming the file, never a traceback,
raw Python text or a fleet bug, within the CPU limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import fuzz


def test_every_profile_has_seed_files() -> None:
    from fleet import profiles

    readable = {n for n, p in profiles.registry().items() if p.parse_files is not None}
    assert readable <= {s.profile for s in fuzz.seeds()}


def test_the_mutations_change_the_files() -> None:
    pool = fuzz.seeds()
    changed = {m.kind for m in fuzz.mutants(200, 7, pool) if m.data != m.seed.path.read_bytes()
               or m.name != m.seed.path.name}  # fmt: skip
    assert changed == set(fuzz.MUTATIONS)
    # the same seed and index give the same mutant (a failure can be replayed with --only)
    assert fuzz.mutant(42, 7, pool).data == fuzz.mutant(42, 7, pool).data


def test_a_seeded_slice_ends_cleanly() -> None:
    tally = fuzz.run(300, seed=11)
    failures = [f"#{o.mutant.index} {o.mutant.kind} {o.mutant.seed.path.name}: {o.why}"
                for o in tally.failures]  # fmt: skip
    assert len(tally.outcomes) == 300
    assert not failures, "\n".join(failures)
    # not every mutant may end audited: the slice must reach the error paths too
    assert {o.status for o in tally.outcomes} >= {"audited", "error"}


@pytest.mark.parametrize("kind", ["unknown-encoding", "huge-value", "long-name"])
def test_the_known_failures_end_cleanly_through_the_cli(kind: str, tmp_path: Path) -> None:
    """The issue's tracebacks, through the real `fleet audit` command: exit 0 or 1."""
    pool = fuzz.seeds()
    index = next(i for i in range(10_000) if fuzz.mutant(i, 5, pool).kind == kind)
    problems = fuzz.run_cli_one(fuzz.mutant(index, 5, pool), tmp_path)
    assert problems is None, problems
