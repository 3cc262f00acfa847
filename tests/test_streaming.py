"""The streaming sweep: each device is parsed, checked and written to the store as it is read,
and the sweep keeps no device's raw configuration; the snapshot it stores is the one the
whole-fleet-at-the-end path stored, and nothing of it is visible before it is complete (a
run killed mid-sweep leaves nothing in the store)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fleet import app, commands
from fleet.model import DeviceResult, DeviceState
from fleet.store import Store
from tests.conftest import ROOT, run_fleet, running_lab


def _stored(db: Path) -> dict[str, tuple]:
    """Every device of the store's last snapshot, as stored (its elapsed time aside)."""
    with Store.open(db, write=False) as st:
        snap = st.load(st.resolve(None))
    return {
        r.id: (
            r.site,
            r.role,
            r.profile,
            r.status,
            r.error,
            r.state.to_dict() if r.state else None,
            sorted((f.rule, f.subject, f.message, tuple(f.evidence)) for f in r.findings),
        )
        for r in snap.results
    }


def _sweep(lab, db: Path, *, streamed: bool, timeout: float = 10):
    inputs = commands.load_inputs(lab.inventory, lab.golden, None)
    with Store.open(db, write=True) as st:
        snap = commands.run_sweep(inputs, 50, timeout, None, store=st if streamed else None)
        app.settle(st, snap, drift_kind="sweep", max_age_s=None, save=True)
    return snap


def test_streamed_sweep_stores_what_the_whole_fleet_path_stored(tmp_path):
    # seeded faults on phones and SBCs: findings of every kind, paths broken at the SBC
    with running_lab(tmp_path / "lab", 24) as lab:
        old = _sweep(lab, tmp_path / "old.db", streamed=False)
        new = _sweep(lab, tmp_path / "new.db", streamed=True)
    before, after = _stored(tmp_path / "old.db"), _stored(tmp_path / "new.db")
    assert sorted(after) == sorted(before)
    assert len(after) == len(lab.fleet.phones) + len(lab.fleet.sbcs)
    assert {k: v for k, v in after.items() if v != before[k]} == {}
    assert any(r.findings for r in new.results)
    # what the report is made of, in memory, is what was stored
    assert sorted((r.id, r.status, len(r.findings)) for r in new.results) == sorted(
        (r.id, r.status, len(r.findings)) for r in old.results
    )


def test_a_streamed_sweep_keeps_no_raw_configuration_but_stores_it(tmp_path):
    with running_lab(tmp_path / "lab", 12, faults=False) as lab:
        snap = _sweep(lab, tmp_path / "s.db", streamed=True)
    audited = [r for r in snap.results if r.state is not None]
    assert len(audited) == len(lab.fleet.phones) + len(lab.fleet.sbcs)
    assert [r.id for r in audited if r.state and r.state.raw] == []  # none held in memory
    stored = _stored(tmp_path / "s.db")
    assert [i for i, row in stored.items() if row[5] is None or not row[5]["raw"]] == []


def test_devices_are_written_as_they_arrive_and_invisible_until_the_save(tmp_path):
    # the first phone never answers: every other device is stored while it is still awaited
    with running_lab(tmp_path / "lab", 10, faults=False, seed=("slow",)) as lab:
        db = tmp_path / "s.db"
        inputs = commands.load_inputs(lab.inventory, lab.golden, None)
        slow = lab.fleet.phones[0].id
        seen: list[tuple[str, float]] = []
        with Store.open(db, write=True) as st:
            write = st.stage

            def stage(r: DeviceResult) -> None:  # when each device reached the store
                seen.append((r.id, time.monotonic()))
                write(r)

            st.stage = stage  # type: ignore[method-assign]
            t0 = time.monotonic()
            snap = commands.run_sweep(inputs, 50, 3, None, store=st)
            # read by another connection, as `fleet report` would: no snapshot, no device
            with sqlite3.connect(db) as other:
                assert other.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
                assert other.execute("SELECT count(*) FROM devices").fetchone() == (0,)
            app.settle(st, snap, drift_kind="sweep", max_age_s=None, save=True)
    assert seen[-1][0] == slow
    others = [t - t0 for i, t in seen if i != slow]
    assert len(others) == len(inputs.hosts) - 1
    assert max(others) < seen[-1][1] - t0 - 1.0  # stored well before the slow one gave up
    stored = _stored(db)
    assert stored[slow][3] == "unreachable"
    assert len(stored) == len(inputs.hosts)


def test_a_device_staged_twice_is_stored_once_and_one_not_in_the_snapshot_not_at_all(tmp_path):
    def result(i: str, firmware: str) -> DeviceResult:
        return DeviceResult(
            i,
            "lon",
            "phone",
            "polycom",
            None,
            "audited",
            DeviceState("Poly", "polycom", firmware=firmware),
        )

    db = tmp_path / "s.db"
    with Store.open(db, write=True) as st:
        st.stage(result("a", "1.0"))
        st.stage(result("b", "1.0"))  # read, then left out of the snapshot
        st.stage(result("a", "2.0"))  # read again: the last reading counts
        snap = commands.Snapshot("sweep", "t0", "t1", "g", [result("a", "2.0"), result("c", "3.0")])
        st.save(snap)
        # the next snapshot of the same connection starts from nothing staged
        st.save(commands.Snapshot("sweep", "t2", "t3", "g", [result("d", "4.0")]))
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT snapshot_id, device_id, firmware FROM devices ORDER BY 1, 2")
        assert rows.fetchall() == [(1, "a", "2.0"), (1, "c", "3.0"), (2, "d", "4.0")]


def test_kill_9_mid_sweep_leaves_nothing_of_it_in_the_store(tmp_path):
    with running_lab(tmp_path / "lab", 10, faults=False, seed=("slow",)) as lab:
        db = tmp_path / "s.db"
        args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
        first = run_fleet(*args, "--format", "json", "--timeout", "2")
        assert first.returncode == 1, first.stderr  # the slow phone: coverage.unreachable
        before = _stored(db)
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleet", *args, "--timeout", "60"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # killed once every other phone has answered it (and so been staged), the slow
        # one still awaited: the run has written devices, and no snapshot
        answered = {p.id: lab.fleet.devices[p.id].requests for p in lab.fleet.phones[1:]}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            lab.fleet.devices[i].requests > n for i, n in answered.items()
        ):
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert all(lab.fleet.devices[i].requests > n for i, n in answered.items())
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (1,)
            assert con.execute("SELECT count(*) FROM devices").fetchone() == (len(before),)
        assert _stored(db) == before
        again = run_fleet(*args, "--format", "json", "--timeout", "2")
        assert again.returncode == 1, again.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (2,)


def _drift_section(html: str) -> str:
    start = html.index('<section aria-labelledby="h-drift"')
    return html[start : html.index("</section>", start)]


def test_the_html_drift_of_a_streamed_sweep_compares_raw_configurations_as_stored(tmp_path):
    # the drift section compares raw parameters with the previous snapshot's: those of a
    # streamed sweep are in the store only, and must read as they are, not as vanished
    from fleet.lab import rollout

    with running_lab(tmp_path / "lab", 10, faults=False) as lab:
        db = tmp_path / "s.db"
        args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
        args += ["--format", "html", "--output"]
        assert run_fleet(*args, str(tmp_path / "1.html")).returncode == 0
        assert run_fleet(*args, str(tmp_path / "2.html")).returncode == 0
        rollout.apply_update(lab.fleet, 2, 1)
        assert run_fleet(*args, str(tmp_path / "3.html")).returncode == 1  # one lost 112
    report = tmp_path / "report.html"
    shown = run_fleet("report", "--store", str(db), "--format", "html", "--output", str(report))
    assert shown.returncode == 1, shown.stderr
    unchanged = _drift_section((tmp_path / "2.html").read_text())
    assert "No changes since #1" in unchanged
    changed = _drift_section((tmp_path / "3.html").read_text())
    assert "vanished" not in changed and "firmware" in changed
    assert changed == _drift_section(report.read_text())
    # firmware drift read the previous snapshot lightly: the updated phones carry it
    with Store.open(db, write=False) as st:
        full, light = st.load(3), st.load_light(3)
    updated = sorted(
        r.id for r in full.results if any(f.rule == "drift.firmware" for f in r.findings)
    )
    assert updated == sorted(p.id for p in lab.fleet.phones if "_updated" in p.extra)
    assert len(updated) == 2

    def ident(r: DeviceResult) -> tuple:
        st = r.state
        return r.id, r.status, r.error, st and (st.model, st.firmware, st.mac)

    assert [ident(r) for r in light.results] == [ident(r) for r in full.results]
