"""Disks and paths that fail: a full disk under --output, --metrics or the store, a device
file, a read-only filesystem, a missing folder, a folder where a file should be. Each ends
with exit 2 and one line naming the path and what happened, no traceback, nothing stored lost.

The full and read-only filesystems are real: a small tmpfs mounted in a mount namespace of the
test's own (``unshare -m``; nothing outside it sees the mount), filled up or remounted
read-only. We run as root, so chmod would not stop a write; a read-only mount does. Where
``unshare``/``mount`` is not allowed (no CAP_SYS_ADMIN) those tests skip and say so.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_fleet, running_lab

SAMPLES = ROOT / "device_profiles" / "polycom" / "samples"
GOLDEN = ROOT / "inventory" / "golden-uk.yaml"
NOISE = ("Traceback", "Exception", "Error:", "Errno")


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


NAMESPACES = _namespaces_work()
needs_mount = pytest.mark.skipif(
    not NAMESPACES, reason="unshare -m / mount not permitted here: no real full or read-only disk"
)


@dataclass(slots=True)
class Ran:
    returncode: int
    stderr: str
    notes: dict[str, str]  # what the namespace's script wrote down after the run

    def one_line(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, self.stderr
        assert not any(n in lines[0] for n in NOISE), lines[0]
        return lines[0]


def fleet_cmd(*args: str | Path) -> str:
    return shlex.join([sys.executable, "-m", "fleet", *map(str, args)])


def audit_args(store: Path, *extra: str | Path) -> list[str | Path]:
    return ["audit", SAMPLES, "--golden", GOLDEN, "--store", store, "--format", "json", *extra]


def in_namespace(tmp: Path, before: str, command: str, after: str = "", size: str = "64k") -> Ran:
    """``command`` (one fleet run) in a mount namespace where ``tmp/mnt`` is a tmpfs of
    ``size``, after the shell lines ``before``; the lines ``after`` may write notes into
    ``tmp/notes/NAME`` (the tmpfs goes away with the namespace)."""
    mnt, notes = tmp / "mnt", tmp / "notes"
    mnt.mkdir()
    notes.mkdir()
    script = "\n".join(
        [
            "set -e",
            f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(mnt))}",
            f"cd {shlex.quote(str(ROOT))}",
            before,
            "set +e",
            f"{command} > {tmp}/out 2> {tmp}/err",
            f"echo $? > {tmp}/rc",
            after,
        ]
    )
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=120)
    return Ran(
        int((tmp / "rc").read_text()),
        (tmp / "err").read_text(),
        {p.name: p.read_text().strip() for p in notes.iterdir()},
    )


def fill(path: Path) -> str:
    """Shell lines that fill the filesystem under ``path`` to the last byte."""
    return f"dd if=/dev/zero of={path}/.fill bs=1k 2>/dev/null || true"


def snapshots(db: Path) -> list[tuple[int, int]]:
    """(id, devices stored) of each snapshot; the store's integrity checked first."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute(
            "SELECT s.id, count(d.device_id) FROM snapshots s"
            " LEFT JOIN devices d ON d.snapshot_id = s.id GROUP BY s.id ORDER BY s.id"
        ).fetchall()


def copy_store(src: Path, dst: Path) -> str:
    """Shell lines copying a store (with its WAL) out of the namespace's tmpfs."""
    files = " ".join(f"{src}{x}" for x in ("", "-wal", "-shm"))
    return f"mkdir -p {dst} && for f in {files}; do [ -e $f ] && cp $f {dst}/; done; true"


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A store holding one audit snapshot, outside any namespace."""
    db = tmp_path / "seed.db"
    first = run_fleet(*map(str, audit_args(db)))
    assert first.returncode in (0, 1), first.stderr
    return db


# --- paths: no namespace needed -------------------------------------------------------------


@pytest.mark.parametrize("option", ["--store", "--output", "--metrics"])
@pytest.mark.parametrize("kind", ["missing-folder", "a-folder"])
def test_a_path_in_a_missing_folder_or_naming_a_folder(tmp_path, seeded, option, kind):
    target = tmp_path / "nowhere" / "x.out" if kind == "missing-folder" else tmp_path
    store = target if option == "--store" else seeded
    extra = [option, target] if option != "--store" else []
    before = snapshots(seeded)
    ran = run_fleet(*map(str, audit_args(store, *extra)))
    assert ran.returncode == 2, ran.stderr
    line = Ran(ran.returncode, ran.stderr, {}).one_line()
    assert str(target) in line and option in line, line
    assert ("does not exist" if kind == "missing-folder" else "is a folder") in line, line
    assert snapshots(seeded) == before  # it failed before the run: nothing new, nothing lost


# --- full disks ---------------------------------------------------------------------------


@needs_mount
def test_output_on_a_full_disk(tmp_path, seeded):
    report = tmp_path / "mnt" / "report.json"
    ran = in_namespace(
        tmp_path,
        fill(tmp_path / "mnt"),
        fleet_cmd(*audit_args(seeded, "--output", report)),
        f"[ -e {report} ] && wc -c < {report} > {tmp_path}/notes/left || true",
    )
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(report) in line and "No space left on device" in line, line
    assert "snapshot 2 was stored" in line, line  # true: the store is on another disk
    assert [sid for sid, _ in snapshots(seeded)] == [1, 2]
    assert ran.notes.get("left", "0") == "0", "a cut-off report was left behind"


@needs_mount
def test_output_to_a_device_that_is_full(tmp_path, seeded):
    full = tmp_path / "mnt" / "full"  # /dev/full's own device numbers, on the test's tmpfs
    ran = in_namespace(
        tmp_path, f"mknod {full} c 1 7", fleet_cmd(*audit_args(seeded, "--output", full))
    )
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(full) in line and "No space left on device" in line, line
    assert [sid for sid, _ in snapshots(seeded)] == [1, 2]


def _metrics_on_full_disk(tmp_path: Path, seeded: Path) -> tuple[Ran, Path]:
    mnt = tmp_path / "mnt"
    prom = mnt / "fleet.prom"
    ran = in_namespace(
        tmp_path,
        fill(mnt),
        fleet_cmd(*audit_args(seeded, "--metrics", prom)),
        f"ls -A {mnt} | grep -v '^.fill$' > {tmp_path}/notes/files || true",
    )
    return ran, prom


@needs_mount
def test_metrics_on_a_full_disk(tmp_path, seeded):
    ran, prom = _metrics_on_full_disk(tmp_path, seeded)
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(prom) in line and "No space left on device" in line, line
    assert [sid for sid, _ in snapshots(seeded)] == [1, 2]
    # node_exporter reads *.prom: no cut-off one there, nor a temporary file left over
    assert ran.notes.get("files", "") == "", ran.notes


@needs_mount
def test_metrics_never_replace_a_device_file(tmp_path, seeded):
    full = tmp_path / "mnt" / "full"
    ran = in_namespace(
        tmp_path,
        f"mknod {full} c 1 7",
        fleet_cmd(*audit_args(seeded, "--metrics", full)),
        f"[ -c {full} ] && echo yes > {tmp_path}/notes/still-a-device || true",
    )
    assert ran.notes.get("still-a-device") == "yes", "the metrics replaced a device file"
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(full) in line and "--metrics" in line, line
    assert [sid for sid, _ in snapshots(seeded)] == [1]  # refused before the run


@needs_mount
def test_the_store_on_a_full_disk_keeps_what_it_holds(tmp_path):
    mnt = tmp_path / "mnt"
    db = mnt / "s.db"
    ran = in_namespace(
        tmp_path,
        f"{fleet_cmd(*audit_args(db))} > /dev/null 2>&1 || [ $? -eq 1 ]\n{fill(mnt)}",
        fleet_cmd(*audit_args(db)),
        copy_store(db, tmp_path / "copy"),
        size="512k",
    )
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(db) in line and "full" in line, line
    assert snapshots(tmp_path / "copy" / "s.db") == [(1, 8)]


# --- read-only filesystems ----------------------------------------------------------------


@needs_mount
def test_a_store_on_a_read_only_filesystem(tmp_path):
    mnt = tmp_path / "mnt"
    db = mnt / "s.db"
    ran = in_namespace(
        tmp_path,
        f"{fleet_cmd(*audit_args(db))} > /dev/null 2>&1 || [ $? -eq 1 ]\nmount -o remount,ro {mnt}",
        fleet_cmd(*audit_args(db)),
        copy_store(db, tmp_path / "copy"),
        size="2m",
    )
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(db) in line and "read-only" in line.lower(), line
    assert snapshots(tmp_path / "copy" / "s.db") == [(1, 8)]


@needs_mount
@pytest.mark.parametrize("option", ["--output", "--metrics"])
def test_output_or_metrics_on_a_read_only_filesystem(tmp_path, seeded, option):
    mnt = tmp_path / "mnt"
    target = mnt / "out.file"
    ran = in_namespace(
        tmp_path, f"mount -o remount,ro {mnt}", fleet_cmd(*audit_args(seeded, option, target))
    )
    assert ran.returncode == 2
    line = ran.one_line()
    assert str(target) in line and option in line, line
    assert [sid for sid, _ in snapshots(seeded)] == [1]  # refused before the run


@needs_mount
def test_a_sweep_whose_working_folder_is_read_only(tmp_path):
    """The default --store (fleet.db in the working folder) on a read-only filesystem: refused
    before any device is read."""
    mnt = tmp_path / "mnt"
    with running_lab(tmp_path / "lab", 6, faults=False, sbcs=False) as lab:
        served = sum(d.requests for d in lab.fleet.devices.values())
        sweep = fleet_cmd("sweep", lab.inventory, "--golden", lab.golden)
        ran = in_namespace(
            tmp_path,
            f"mount -o remount,ro {mnt}",
            f"cd {mnt} && PYTHONPATH={shlex.quote(str(ROOT))} {sweep}",
        )
        assert sum(d.requests for d in lab.fleet.devices.values()) == served
    assert ran.returncode == 2
    line = ran.one_line()
    assert "fleet.db" in line and "--store" in line and "not writable" in line, line


@needs_mount
def test_reading_a_store_on_a_read_only_filesystem_fails_closed(tmp_path):
    """`fleet report` of a store on read-only media: the report, or (SQLite cannot open a WAL
    store whose folder it cannot write its -shm file in) exit 2 naming the store; never a
    traceback, never an empty report passed off as the store's."""
    mnt = tmp_path / "mnt"
    db = mnt / "s.db"
    ran = in_namespace(
        tmp_path,
        f"{fleet_cmd(*audit_args(db))} > /dev/null 2>&1 || [ $? -eq 1 ]\nmount -o remount,ro {mnt}",
        fleet_cmd("report", "--store", db, "--format", "json"),
        size="2m",
    )
    if ran.returncode == 2:
        assert str(db) in ran.one_line()
    else:
        assert ran.returncode in (0, 1), ran.stderr
        assert '"devices": 8' in (tmp_path / "out").read_text()
