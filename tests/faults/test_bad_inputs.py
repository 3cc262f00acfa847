"""The malformed-input corpus (issue 11): every inventory and golden file of
``tests/faults/bad_inputs/`` is refused by `fleet validate` and by `fleet sweep` with exit 2,
a message that names its file, line and field, no traceback, no secret echoed and nothing
stored. ``bad_inputs/index.yaml`` lists the cases and what each must say.

The fast test runs every case through the real command tree in this process (typer's
runner: the same parsing and error boundary as the console script) and a seeded slice
through the real console script in a child process. The whole corpus through child
processes, with counts::

    .venv/bin/python -m tests.faults.test_bad_inputs
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
GOOD = CORPUS / "good"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "index.yaml").read_text())["cases"]
COMMANDS = ("validate", "sweep")
CANARY = "canary-"  # every secret the corpus writes starts so; none may be echoed
# Where secret files may be read from is the environment's to widen: not in these runs.
CLEAN_ENV = {
    k: v for k, v in os.environ.items() if k not in ("FLEET_SECRETS_DIRS", "CREDENTIALS_DIRECTORY")
}


@dataclass(slots=True, frozen=True)
class Expect:
    where: str
    says: str
    exit: int


def expected(case: dict[str, Any], command: str) -> Expect:
    over = case.get(command, {})
    return Expect(
        over.get("where", case["where"]), over.get("says", case["says"]), over.get("exit", 2)
    )


def case_path(case: dict[str, Any]) -> str:
    return case["file"] if case["file"].startswith("/") else str(CORPUS / case["file"])


def arguments(case: dict[str, Any], command: str, store: Path) -> list[str]:
    path = case_path(case)
    if command == "validate":
        return ["validate", path]
    if case["kind"] == "inventory":
        inv, golden = path, str(GOOD / "golden.yaml")
    else:
        inv, golden = str(GOOD / "inventory.yaml"), path
    return ["sweep", inv, "--golden", golden, "--store", str(store), "--timeout", "1"]


def problems(
    case: dict[str, Any], command: str, code: int, out: str, err: str, store: Path
) -> list[str]:
    """What is wrong with one run's outcome; empty when it is right."""
    want = expected(case, command)
    said = out + err
    found = []
    if code != want.exit:
        found.append(f"exit {code}, expected {want.exit}")
    if want.where not in said:
        found.append(f"does not name {want.where!r}")
    if want.says not in said:
        found.append(f"does not say {want.says!r}")
    if "Traceback" in said:
        found.append("a traceback")
    if CANARY in said:
        found.append("a secret echoed")
    if command == "sweep" and want.exit == 2 and store.exists():
        found.append("a store was created for a run that failed on its input")
    if found:
        found.append(f"output: {said.strip()[-400:]!r}")
    return found


def _id(case: dict[str, Any]) -> str:
    return Path(case["file"]).name


def test_the_corpus_is_big_and_every_file_is_there() -> None:
    assert len(CASES) >= 82
    names = [c["file"] for c in CASES]
    assert len(names) == len(set(names)), "a case listed twice"
    missing = [
        c["file"]
        for c in CASES
        if not os.path.lexists(case_path(c)) and not c["file"].startswith("no-such")
    ]
    assert not missing
    kinds = {c["kind"] for c in CASES}
    assert kinds == {"inventory", "golden"}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_bad_input_is_refused_naming_file_line_and_field(
    case: dict[str, Any], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from fleet.cli import app

    for var in ("FLEET_SECRETS_DIRS", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    store = tmp_path / "fleet.db"
    result = CliRunner().invoke(app, arguments(case, command, store))
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{case['file']}: {result.exception!r}"
    assert not problems(case, command, result.exit_code, result.stdout, result.stderr, store)


SLICE = random.Random(11).sample(CASES, 6)  # seeded: the same slice on every run


@pytest.mark.parametrize("case", SLICE, ids=_id)
def test_the_console_script_refuses_them_too(case: dict[str, Any], tmp_path: Path) -> None:
    for command in COMMANDS:
        code, out, err = run(case, command, tmp_path / f"{command}.db")
        assert not problems(case, command, code, out, err, tmp_path / f"{command}.db")


def run(case: dict[str, Any], command: str, store: Path) -> tuple[int, str, str]:
    """One case through `python -m fleet` in a child process, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", *arguments(case, command, store)],
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
        timeout=60,
        cwd=CORPUS.parents[2],
    )
    return proc.returncode, proc.stdout, proc.stderr


def main() -> int:
    """Every case, both commands, in child processes: the counts for the closing note."""
    tried = passed = 0
    slowest = (0.0, "")
    failures: list[str] = []

    def one(item: tuple[dict[str, Any], str]) -> tuple[str, float, list[str]]:
        case, command = item
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "fleet.db"
            t0 = time.monotonic()
            code, out, err = run(case, command, store)
            took = time.monotonic() - t0
            return f"{command} {case['file']}", took, problems(case, command, code, out, err, store)

    items = [(c, cmd) for c in CASES for cmd in COMMANDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, took, found in pool.map(one, items):
            tried += 1
            slowest = max(slowest, (took, name))
            if found:
                failures.append(f"{name}: {'; '.join(found)}")
            else:
                passed += 1
    for f in failures:
        print(f"FAIL {f}")
    print(
        f"bad inputs: {len(CASES)} files, {tried} runs (validate and sweep); "
        f"{passed}/{tried} exit as expected naming file:line:field, no traceback, no secret; "
        f"slowest {slowest[0]:.2f} s ({slowest[1]})"
    )
    return 0 if passed == tried else 1


if __name__ == "__main__":
    sys.exit(main())
