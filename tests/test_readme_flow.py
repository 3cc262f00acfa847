"""The README's rollout flow, run as written: its code block is parsed from README.md and
each command run in a fresh folder, the lab in the background as the `&` says, against real
sockets. What the README's comments claim (exit codes, how many phones the update touches and
how many lose 112) is checked against what the commands did; so is SIGUSR1 on that lab."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.conftest import ROOT

SECTION = "### Around a firmware rollout"


@dataclass(slots=True)
class Step:
    argv: list[str]
    comment: str
    background: bool

    @property
    def exit(self) -> int:
        """The exit code the README states for this step (0 where it states none)."""
        m = re.search(r"\bexit (\d)\b", self.comment)
        return int(m.group(1)) if m else 0


def readme_steps() -> list[Step]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in text, "the README lost its rollout section"
    block = re.search(r"```sh\n(.*?)```", text[text.index(SECTION) :], re.S)
    assert block, "no sh code block in the README's rollout section"
    steps = []
    for line in block.group(1).splitlines():
        code, _, comment = line.partition("#")
        argv = shlex.split(code)
        if not argv:
            continue
        background = argv[-1] == "&"
        steps.append(Step(argv[:-1] if background else argv, comment.strip(), background))
    return steps


def _fleet(argv: list[str]) -> list[str]:
    assert argv[0] == "fleet", f"the README's flow runs only fleet commands: {argv}"
    return [sys.executable, "-m", "fleet", *argv[1:]]


@dataclass(slots=True)
class Flow:
    folder: Path
    steps: list[Step]
    runs: list[subprocess.CompletedProcess[str]]
    lab: subprocess.Popen[str]
    control: str
    lost_112: set[str]  # the phones the update took 112 from, as the lab says


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("readme-flow")
    steps = readme_steps()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    lab: subprocess.Popen[str] | None = None
    log = None
    runs: list[subprocess.CompletedProcess[str]] = []
    lost: set[str] = set()
    control = ""
    try:
        for step in steps:
            if step.background:
                assert step.argv[:3] == ["fleet", "lab", "serve"], step.argv
                out = step.argv[step.argv.index("--out") + 1] if "--out" in step.argv else "lab"
                log = open(folder / "lab.log", "w")  # noqa: SIM115 - the lab's whole life
                lab = subprocess.Popen(
                    _fleet(step.argv), cwd=folder, env=env, stdout=log, stderr=log, text=True
                )
                control = _wait_for_control(folder / out / "lab.json", lab)
                runs.append(subprocess.CompletedProcess(step.argv, 0, "", ""))
                continue
            done = subprocess.run(
                _fleet(step.argv), cwd=folder, env=env, capture_output=True, text=True, timeout=300
            )
            runs.append(done)
            if step.argv[:3] == ["fleet", "lab", "rollout"] and "--fix" not in step.argv:
                state = httpx.get(f"{control}/state", timeout=10).json()
                lost = {
                    d
                    for d, s in state.items()
                    if s["updated_from"] and "112" not in s["emergency_numbers"]
                }
        assert lab is not None, "the README's flow starts no lab"
        yield Flow(folder, steps, runs, lab, control, lost)
    finally:
        if lab is not None:
            lab.send_signal(signal.SIGTERM)
            lab.wait(30)
        if log is not None:
            log.close()


def _wait_for_control(path: Path, lab: subprocess.Popen[str]) -> str:
    """The lab writes lab.json once everything listens: wait for it."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert lab.poll() is None, "the lab exited while starting"
        if path.exists():
            return str(json.loads(path.read_text())["control"])
        time.sleep(0.1)
    raise AssertionError(f"the lab wrote no {path}")


def _step(flow: Flow, *prefix: str, nth: int = 0) -> tuple[Step, subprocess.CompletedProcess[str]]:
    hits = [
        (s, r)
        for s, r in zip(flow.steps, flow.runs, strict=True)
        if s.argv[1 : 1 + len(prefix)] == list(prefix)
    ]
    assert len(hits) > nth, f"the README's flow has no `fleet {' '.join(prefix)}` step #{nth + 1}"
    return hits[nth]


def test_every_step_exits_as_the_readme_says(flow: Flow) -> None:
    for step, run in zip(flow.steps, flow.runs, strict=True):
        assert run.returncode == step.exit, (
            f"`{' '.join(step.argv)}` exited {run.returncode}, the README says {step.exit}:\n"
            f"{run.stdout[-1500:]}{run.stderr[-1500:]}"
        )


def test_the_update_is_the_one_the_readme_describes(flow: Flow) -> None:
    step, run = _step(flow, "lab", "rollout")
    m = re.search(r"(\d+) phones get new firmware, (\d+) lose 112", step.comment)
    assert m, step.comment
    updated, lost = int(m.group(1)), int(m.group(2))
    assert f"firmware update on {updated} phone(s); {lost} lost 112" in run.stdout, run.stdout
    assert len(flow.lost_112) == lost


def test_verify_fails_naming_112_on_exactly_the_phones_that_lost_it(flow: Flow) -> None:
    step, _ = _step(flow, "rollout", "verify")
    out = flow.folder / step.argv[step.argv.index("--output") + 1]
    cases = ET.parse(out).getroot().findall("testcase")
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == flow.lost_112
    for name, fail in failed.items():
        assert fail is not None and "112]" in (fail.get("message") or ""), name
    # the lab's seeded faults were down at the baseline too: skipped, not failed
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert skipped and all(
        "as at baseline" in (c.find("skipped").get("message") or "")  # type: ignore[union-attr]
        for c in skipped
    )


def test_diff_names_the_devices_the_update_changed(flow: Flow) -> None:
    _, run = _step(flow, "diff")
    assert "Emergency-relevant:" in run.stdout
    assert any(d in run.stdout for d in flow.lost_112), run.stdout[:2000]
    assert "no changes" not in run.stdout


def test_after_the_fix_verify_passes_with_the_old_faults_counted_apart(flow: Flow) -> None:
    _, run = _step(flow, "rollout", "verify", nth=1)
    assert ": PASS" in run.stdout.splitlines()[0], run.stdout[:2000]
    assert "Unreachable, as at baseline" in run.stdout
    assert "pre-existing" in run.stdout


def test_sigusr1_plays_the_update_and_the_lab_keeps_serving(flow: Flow) -> None:
    before = httpx.get(f"{flow.control}/state", timeout=10).json()
    flow.lab.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    after = before
    while time.monotonic() < deadline and after == before:
        time.sleep(0.2)
        assert flow.lab.poll() is None, "SIGUSR1 killed the lab"
        after = httpx.get(f"{flow.control}/state", timeout=10).json()
    assert after != before, "SIGUSR1 changed nothing"
    assert flow.lab.poll() is None


def test_lab_rollout_without_a_running_lab_says_so(tmp_path: Path) -> None:
    from tests.conftest import run_fleet

    none = run_fleet("lab", "rollout", "--out", str(tmp_path))
    assert none.returncode == 2 and "no lab is serving from" in none.stderr, none.stderr
    # a lab killed -9 leaves its file: the control does not answer, exit 2, no traceback
    (tmp_path / "lab.json").write_text(json.dumps({"control": "http://127.254.254.254:9"}))
    stale = run_fleet("lab", "rollout", "--out", str(tmp_path))
    assert stale.returncode == 2 and "did not answer" in stale.stderr, stale.stderr
    assert "Traceback" not in stale.stderr


def test_lab_rollout_options_and_the_control_file_goes_with_the_lab(tmp_path: Path) -> None:
    from fleet.lab.fleet import free_net
    from tests.conftest import run_fleet

    out = tmp_path / "lab"
    serve = ["lab", "serve", "--phones", "8", "--no-faults", "--no-with-sbcs"]
    lab = subprocess.Popen(
        [sys.executable, "-m", "fleet", *serve, "--net", str(free_net(210)), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_control(out / "lab.json", lab)
        done = run_fleet("lab", "rollout", "--out", str(out), "--count", "3", "--lose-112", "2")
        assert done.returncode == 0 and "on 3 phone(s); 2 lost 112" in done.stdout, done.stdout
        fix = run_fleet("lab", "rollout", "--out", str(out), "--fix")
        assert "fixed release on 2 phone(s): 112 restored" in fix.stdout, fix.stdout
    finally:
        lab.send_signal(signal.SIGTERM)
        assert lab.wait(30) == 0
    assert not (out / "lab.json").exists()  # a stopped lab leaves no address to a dead control
