"""SIGTERM and SIGINT at seeded random moments of `fleet sweep`: never a traceback nor
asyncio's "unhandled exception during asyncio.run() shutdown" / "Task exception was never
retrieved"; exit 128+signal with one true line about what was stored. Interrupted while the
report email is being sent (to a real SMTP server that stalls), the snapshot was stored: the
line says so.

The long run (20 signals): ``python -m tests.faults.test_signals --runs 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import ROOT, RunningLab, run_fleet, running_lab

NOISE = (
    "Traceback",
    "unhandled exception during asyncio.run() shutdown",
    "Task exception was never retrieved",
    "Exception ignored",
    "was never awaited",
)
NOTE = re.compile(
    r"^fleet: interrupted; (nothing of this run was stored|snapshot (\d+) was stored before it)$"
)
TIMEOUT_S = 3  # the slow phones' deadline: how long an uninterrupted sweep runs, about


@dataclass(slots=True)
class Stopped:
    sig: int
    offset_s: float
    returncode: int
    stderr: str
    snapshots_before: int
    snapshots_after: int

    def problems(self) -> list[str]:
        """What is wrong with how this run ended (nothing: an empty list)."""
        out = [f"printed {n!r}" for n in NOISE if n in self.stderr]
        if self.returncode in (0, 1):
            return out  # it finished before the signal came: nothing to judge but the noise
        if self.returncode == -self.sig and self.snapshots_after > self.snapshots_before:
            # the run had ended (its snapshot stored, its report out) and Python was tearing
            # down, which puts the default handlers back: the shell sees 128+signal
            return out
        if self.returncode != 128 + self.sig:
            out.append(f"exit {self.returncode}, not {128 + self.sig}")
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("fleet: interrupted")]
        if len(lines) != 1 or not (m := NOTE.match(lines[0])):
            return [*out, f"no one-line note: {self.stderr.strip()[-300:]!r}"]
        stored = self.snapshots_after - self.snapshots_before
        if m.group(2) is None and stored:
            out.append("said nothing was stored, but a snapshot was")
        if m.group(2) is not None and not stored:
            out.append("said a snapshot was stored, but none was")
        return out


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as con:
        return int(con.execute("SELECT count(*) FROM snapshots").fetchone()[0])


def stop_sweep(lab: RunningLab, db: Path, sig: int, offset_s: float, *extra: str) -> Stopped:
    before = _count(db)
    args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *args, "--timeout", str(TIMEOUT_S), *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(offset_s)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return Stopped(sig, offset_s, proc.returncode, err, before, _count(db))


@contextlib.contextmanager
def slow_lab(folder: Path) -> Iterator[RunningLab]:
    # three phones that never answer keep the sweep going for its whole deadline
    with running_lab(folder, 12, faults=False, sbcs=False, seed=["slow"] * 3) as lab:
        yield lab


def random_stops(lab: RunningLab, folder: Path, runs: int, seed: int) -> list[Stopped]:
    rng = random.Random(seed)
    out = []
    for _ in range(runs):
        sig = rng.choice((signal.SIGTERM, signal.SIGINT))
        # from the interpreter's start-up to past the sweep's end (the store, the report)
        out.append(stop_sweep(lab, folder / "sig.db", sig, rng.uniform(0.05, TIMEOUT_S + 2.5)))
    return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with slow_lab(tmp_path_factory.mktemp("siglab")) as running:
        yield running


def test_signals_at_random_moments_end_cleanly(lab, tmp_path):
    stops = random_stops(lab, tmp_path, runs=3, seed=3)
    wrong = {f"{s.sig}@{s.offset_s:.2f}s": s.problems() for s in stops if s.problems()}
    assert not wrong, wrong
    assert any(s.returncode >= 128 for s in stops)  # some did land mid-run


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_while_stopping_prints_no_traceback(lab, tmp_path, sig):
    db = tmp_path / "twice.db"
    args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *args, "--timeout", "30"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # mid-sweep: the slow phones hold it
    proc.send_signal(sig)
    time.sleep(0.02)
    proc.send_signal(sig)  # an impatient operator
    _, err = proc.communicate(timeout=60)
    stopped = Stopped(sig, 2.0, proc.returncode, err, 0, _count(db))
    assert stopped.problems() == [], err


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _StallingHandler:
    """Accepts the envelope, then stalls on DATA: a mail server that hangs mid-send."""

    def __init__(self) -> None:
        self.in_data = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.in_data.set()
        await asyncio.sleep(120)
        return "250 OK"


@contextlib.contextmanager
def stalling_smtp(stage: str) -> Iterator[tuple[int, threading.Event]]:
    """A real SMTP server (aiosmtpd) that stalls on DATA, or a listener that accepts and never
    greets; yields its port and an event set once fleet's report reached that point."""
    if stage == "data":
        handler = _StallingHandler()
        smtp = Controller(handler, hostname="127.0.0.1", port=_free_port())
        smtp.start()
        try:
            yield smtp.port, handler.in_data
        finally:
            smtp.stop()
        return
    reached = threading.Event()
    with contextlib.closing(socket.socket()) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()

        def accept() -> None:
            with contextlib.suppress(OSError):
                conn, _ = srv.accept()
                reached.set()
                time.sleep(120)
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
        yield int(srv.getsockname()[1]), reached


@pytest.mark.parametrize("stage", ["greeting", "data"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_while_emailing_says_the_snapshot_was_stored(tmp_path, sig, stage):
    with (
        running_lab(tmp_path / "lab", 6, faults=False, sbcs=False) as lab,
        stalling_smtp(stage) as (port, reached),
    ):
        db = tmp_path / "mail.db"
        args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
        mail = ["--email", "noc@example.org", "--smtp", f"127.0.0.1:{port}"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet", *args, *mail],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert reached.wait(60), "the report never reached the SMTP server"
        proc.send_signal(sig)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    # not after the SMTP timeout (30 s): a QUIT to a stalled server is not waited for
    assert took < 10, took
    assert proc.returncode == 128 + sig, err
    assert _count(db) == 1
    stopped = Stopped(sig, 0, proc.returncode, err, 0, 1)
    assert stopped.problems() == [], err
    assert "snapshot 1 was stored before it" in err
    assert "report sent" not in err


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SIGTERM/SIGINT at random moments of a sweep")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d, slow_lab(Path(d) / "lab") as lab:
        assert run_fleet(
            "sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", f"{d}/sig.db"
        ).returncode in (0, 1)
        stops = random_stops(lab, Path(d), args.runs, args.seed)
    for s in stops:
        name = signal.Signals(s.sig).name
        print(f"{name} at {s.offset_s:.2f} s: exit {s.returncode}: {s.problems() or 'clean'}")
        if s.problems():
            print("    " + s.stderr.strip().replace("\n", "\n    "))
    clean = sum(not s.problems() for s in stops)
    mid = sum(s.returncode >= 128 for s in stops)
    print(f"signals ending cleanly: {clean}/{len(stops)} ({mid} landed before the run ended)")
    return 0 if clean == len(stops) else 1


if __name__ == "__main__":
    sys.exit(main())
