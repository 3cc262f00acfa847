"""kill -9 at random moments of `fleet sweep`, and what must hold after each: the store passes
``PRAGMA integrity_check``, every earlier snapshot is still there and renders byte for byte as
before, a snapshot is either all there or not there at all, the store's lock is free, and the
next sweep works.

    python -m tests.faults.crash_run --runs 20 --phones 120 --seed 1

prints one line per run and "kill -9 runs with nothing lost: N/M". The fast test
(tests/faults/test_crash.py) runs a few seeded runs of the same code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fleet import commands, lock
from fleet.errors import StoreBusy
from tests.conftest import ROOT, RunningLab, run_fleet, running_lab

FORMATS = ("json", "table", "csv", "html")


@dataclass(slots=True)
class Outcome:
    run: int
    offset_s: float
    stored: bool  # the killed run had committed its snapshot before the kill
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_lost(self) -> bool:
        return not self.problems

    def line(self) -> str:
        what = "stored its snapshot" if self.stored else "stored nothing"
        verdict = "nothing lost" if self.nothing_lost else "; ".join(self.problems)
        return f"run {self.run}: kill -9 at {self.offset_s:.2f} s, {what}: {verdict}"


def sweep_args(lab: RunningLab, db: Path) -> list[str]:
    return ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]


def rendered(db: Path, snapshot_id: int, folder: Path) -> dict[str, bytes]:
    """The stored snapshot's report in every format, rendered as `fleet report ID` does."""
    out: dict[str, bytes] = {}
    for fmt in FORMATS:
        path = folder / f"report-{snapshot_id}.{fmt}"
        with _quiet():
            commands.report_cmd(
                str(snapshot_id), store=db, fmt=fmt, output=path, fail_on="high", store_wait=5
            )
        out[fmt] = path.read_bytes()
    return out


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # report_cmd says "report written to ..." on stderr: not this script's output
    with open("/dev/null", "w") as null, contextlib.redirect_stderr(null):
        yield


def snapshot_rows(db: Path) -> dict[int, tuple[int, int, int, int]]:
    """id -> (devices its summary counts, device rows stored, findings its summary counts,
    finding rows stored) for every snapshot."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT id, summary FROM snapshots ORDER BY id").fetchall()
        out = {}
        for sid, text in rows:
            summary = json.loads(text)
            (devices,) = con.execute("SELECT count(*) FROM devices WHERE snapshot_id=?", (sid,))
            (findings,) = con.execute("SELECT count(*) FROM findings WHERE snapshot_id=?", (sid,))
            found = sum(summary["findings"].values())
            out[sid] = (int(summary["devices"]), devices[0], found, findings[0])
        return out


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])


def lock_free(db: Path) -> bool:
    try:
        with lock.held(db, 0):
            return True
    except StoreBusy:
        return False


def kill_once(lab: RunningLab, db: Path, offset_s: float, *, at_save: bool = False) -> float:
    """Start a sweep and kill -9 it ``offset_s`` after its start, or (``at_save``) that long
    after it starts writing its snapshot (its first bytes in the store's WAL). Returns when,
    after the start, the kill came."""
    wal = Path(f"{db}-wal")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *sweep_args(lab, db)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if at_save:
        while proc.poll() is None and not (wal.exists() and wal.stat().st_size > 0):
            time.sleep(0.002)
    time.sleep(offset_s)
    at = time.monotonic() - t0
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return at


def check_after(
    run: int,
    offset_s: float,
    db: Path,
    before: dict[int, tuple[int, int, int, int]],
    reports: dict[int, dict[str, bytes]],
    devices: int,
    folder: Path,
) -> Outcome:
    """What a kill left: see the module's docstring."""
    problems: list[str] = []
    ok = integrity(db)
    if ok != "ok":
        problems.append(f"integrity_check: {ok}")
    after = snapshot_rows(db)
    lost = sorted(set(before) - set(after))
    if lost:
        problems.append(f"snapshots {lost} lost")
    new = {sid: counts for sid, counts in after.items() if sid not in before}
    for sid, (summary, stored, found, kept) in new.items():
        if summary != devices or stored != devices or found != kept:
            problems.append(
                f"snapshot {sid} half-written: {stored} of {devices} devices, {kept} of "
                f"{found} findings"
            )
    for sid, earlier in reports.items():
        if sid not in after:
            continue
        now = rendered(db, sid, folder)
        changed = [fmt for fmt in FORMATS if now[fmt] != earlier[fmt]]
        if changed:
            problems.append(f"snapshot {sid}'s {'/'.join(changed)} report changed")
    if not lock_free(db):
        problems.append("the store's lock is still held")
    return Outcome(run, offset_s, bool(new), problems)


def crash_runs(
    lab: RunningLab, folder: Path, runs: int, seed: int, *, earlier: int = 2
) -> tuple[list[Outcome], subprocess.CompletedProcess[str]]:
    """``earlier`` complete sweeps, then ``runs`` sweeps each killed at a seeded random moment
    of a full sweep's duration or of its save (every other one), each checked; then one
    sweep that must work."""
    db = folder / "crash.db"
    t0 = time.monotonic()
    for _ in range(earlier):
        first = run_fleet(*sweep_args(lab, db))
        if first.returncode not in (0, 1) or "Traceback" in first.stderr:
            raise RuntimeError(f"a complete sweep failed: {first.stderr}")
    full_s = (time.monotonic() - t0) / earlier
    devices = snapshot_rows(db)[1][0]
    rng = random.Random(seed)
    outcomes = []
    for run in range(1, runs + 1):
        before = snapshot_rows(db)
        reports = {sid: rendered(db, sid, folder) for sid in before}
        # every other kill while the snapshot is being written: within 20 ms of its first
        # bytes in the store's WAL (a save takes a few ms to a few tens)
        at_save = run % 2 == 0
        offset = rng.uniform(0, 0.02) if at_save else rng.uniform(0.05, full_s * 1.05)
        at = kill_once(lab, db, offset, at_save=at_save)
        outcomes.append(check_after(run, at, db, before, reports, devices, folder))
    return outcomes, run_fleet(*sweep_args(lab, db))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--phones", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d, running_lab(Path(d) / "lab", args.phones) as lab:
        outcomes, last = crash_runs(lab, Path(d), args.runs, args.seed)
    for o in outcomes:
        print(o.line())
    held = sum(o.nothing_lost for o in outcomes)
    stored = sum(o.stored for o in outcomes)
    print(
        f"kill -9 runs with nothing lost: {held}/{len(outcomes)} ({stored} killed after their "
        f"snapshot was committed); the next sweep exited {last.returncode}"
    )
    return 0 if held == len(outcomes) and last.returncode in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
