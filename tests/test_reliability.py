"""A sweep stopped halfway leaves no partial snapshot and every earlier one intact; two runs
on one store wait for each other or fail cleanly; an old store upgrades itself."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from fleet.store import MIGRATIONS, SCHEMA_VERSION, Store
from tests.conftest import ROOT, run_fleet, running_lab


@pytest.fixture(scope="module")
def slow_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow")
    # the first four answer never: the sweep is still running
    with running_lab(tmp, 12, net_from=170, faults=False, sbcs=False, seed=["slow"] * 4) as lab:
        yield lab.fleet, lab.inventory, lab.golden, tmp


def _snapshots(db) -> list[int]:
    return [r[0] for r in sqlite3.connect(db).execute("SELECT id FROM snapshots ORDER BY id")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_sweep_stopped_midway_stores_nothing(slow_lab, tmp_path, sig):
    fleet, inv, golden, _ = slow_lab
    db = tmp_path / "s.db"
    healthy = ",".join(f"id={p.id}" for p in fleet.phones[4:6])
    first = run_fleet(
        "sweep",
        str(inv),
        "--golden",
        str(golden),
        "--store",
        str(db),
        "--select",
        healthy.split(",")[0],
        "--select",
        healthy.split(",")[1],
    )
    assert first.returncode in (0, 1), first.stderr
    before = _snapshots(db)
    assert len(before) == 1

    def served() -> int:
        return sum(fleet.devices[p.id].requests for p in fleet.phones[6:])

    already = served()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fleet",
            "sweep",
            str(inv),
            "--golden",
            str(golden),
            "--store",
            str(db),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the healthy phones have been answered
        if served() - already >= 6:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert "nothing of this run was stored" in err
    assert _snapshots(db) == before
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(db) as st:
        assert len(st.load(before[0]).results) == 2


def test_a_second_run_waits_for_the_first_or_fails_cleanly(slow_lab, tmp_path):
    fleet, inv, golden, _ = slow_lab
    db = tmp_path / "s.db"
    sel = f"id={fleet.phones[5].id}"
    assert run_fleet(
        "sweep", str(inv), "--golden", str(golden), "--store", str(db), "--select", sel
    ).returncode in (0, 1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another run in the middle of writing its snapshot
    try:
        busy = run_fleet(
            "sweep",
            str(inv),
            "--golden",
            str(golden),
            "--store",
            str(db),
            "--select",
            sel,
            "--store-wait",
            "1",
        )
        assert busy.returncode == 2
        assert "another fleet run is writing this store" in busy.stderr
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet",
                "sweep",
                str(inv),
                "--golden",
                str(golden),
                "--store",
                str(db),
                "--select",
                sel,
                "--store-wait",
                "30",
                "--format",
                "json",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode in (0, 1), err
    assert json.loads(out)["summary"]["devices"] == 1
    assert len(_snapshots(db)) == 2


def test_an_old_store_upgrades_itself(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[1])
    con.execute(
        "INSERT INTO snapshots(kind, tag, golden, started_at, finished_at, duration_s,"
        " summary) VALUES ('sweep', 'v1', 'g', 'a', 'b', 1, '{}')"
    )
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    with Store(db) as st:
        snap = st.load(st.resolve("v1"))
        assert snap.tag == "v1" and snap.inventory is None and snap.selection == []
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_ssh_sweep_stopped_mid_session_leaves_no_session_open(tmp_path, sig):
    # SSH part: a box still paging out its configuration when the sweep is stopped
    from tests.faults.ssh_servers import ssh_fault_lab

    db = tmp_path / "s.db"
    with ssh_fault_lab(tmp_path / "lab", "endless-paging") as lab:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet",
                "sweep",
                str(lab.inventory),
                "--golden",
                str(lab.golden),
                "--store",
                str(db),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not lab.server.counters.sessions:
            time.sleep(0.05)
        assert lab.server.counters.sessions == 1
        time.sleep(0.3)  # well into the pages
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        gone = time.monotonic() + 3
        while lab.server.conns and time.monotonic() < gone:
            time.sleep(0.05)
        assert not lab.server.conns  # fleet closed its session on the way out
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and "never retrieved" not in err, err
    assert "nothing of this run was stored" in err
    assert not db.exists() or _snapshots(db) == []
