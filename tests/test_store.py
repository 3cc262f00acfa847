"""The store: a snapshot round-trips, a failed write leaves earlier snapshots intact, the
schema carries its version, pruning keeps the newest; a writing open holds the lock."""

from __future__ import annotations

import sqlite3

import pytest

from fleet.errors import InputError, StoreBusy, StoreError
from fleet.model import DeviceResult, DeviceState, EmergencyEntry, Finding, Line, Snapshot
from fleet.store import SCHEMA_VERSION, Store


def snap(tag: str, n: int = 2) -> Snapshot:
    results = []
    for i in range(n):
        st = DeviceState(
            vendor="Poly",
            profile="polycom",
            model="VVX 450",
            firmware="6.4.3",
            mac=f"0004f2{i:06x}",
            raw={"reg.1.address": "2001"},
            lines=[
                Line(
                    1,
                    registrar="sbc:5060",
                    emergency=[
                        EmergencyEntry("999", "sbc:5060", "dialplan.routing.emergency.1.value")
                    ],
                )
            ],
        )
        results.append(
            DeviceResult(
                id=f"ph{i}",
                site="lon",
                role="phone",
                profile="polycom",
                address="h",
                status="audited",
                state=st,
                findings=[Finding("emergency.route", "critical", "112", "m", "e", "a", ["x = y"])],
            )
        )
    return Snapshot("sweep", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "g", results, tag)


def test_round_trip(tmp_path):
    with Store(tmp_path / "s.db") as st:
        sid = st.save(snap("pre"))
        back = st.load(st.resolve("pre"))
    assert back.id == sid and back.tag == "pre"
    assert back.results[0].state.lines[0].emergency[0].number == "999"
    assert back.results[0].state.raw == {"reg.1.address": "2001"}
    assert back.results[1].findings[0].evidence == ["x = y"]
    assert back.summary() == snap("pre").summary()


def test_failed_write_keeps_earlier_snapshots(tmp_path):
    with Store(tmp_path / "s.db") as st:
        st.save(snap("one"))
        bad = snap("two")
        bad.results.append(bad.results[0])  # duplicate device id violates the primary key
        with pytest.raises(sqlite3.IntegrityError):
            st.save(bad)
        assert [s["tag"] for s in st.snapshots()] == ["one"]
        assert len(st.load(st.resolve(None)).results) == 2


def test_schema_version_and_prune(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as st:
        for t in "abcd":
            st.save(snap(t, 1))
        assert st.prune(2) == 0  # every one is tagged: baselines stay unless asked
        assert st.prune(2, tagged=True) == 2
        assert [s["tag"] for s in st.snapshots()] == ["c", "d"]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_not_a_store(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a fleet store"):
        Store(p)


def test_a_writing_open_holds_the_lock_a_reading_one_does_not(tmp_path):
    db = tmp_path / "s.db"
    with Store.open(db, write=True, wait=0) as st:
        st.save(snap("one"))
        assert (tmp_path / "s.db.lock").exists()
        with (
            pytest.raises(StoreBusy, match="another fleet run is still working"),
            Store.open(db, write=True, wait=0),
        ):
            pass
        with Store.open(db, write=False, must_exist=True) as reader:
            assert [s["tag"] for s in reader.snapshots()] == ["one"]
    with Store.open(db, write=True, wait=0) as st:  # released on close
        assert st.prune(1) == 0


def test_must_exist_refuses_a_missing_store_and_creates_nothing(tmp_path):
    db = tmp_path / "typo.db"
    for write in (False, True):
        with (
            pytest.raises(InputError, match="no such store") as e,
            Store.open(db, write=write, must_exist=True),
        ):
            pass
        assert e.value.field == "--store"
    assert list(tmp_path.iterdir()) == []


def test_prune_keeps_tagged_baselines_unless_asked(tmp_path):
    from fleet.model import Snapshot

    with Store(tmp_path / "p.db") as st:
        for i in range(5):
            st.save(Snapshot("sweep", "t0", "t1", "g", [], tag="pre-rollout" if i == 0 else None))
        assert st.prune(2) == 2  # the tagged baseline stays
        assert next(s["tag"] for s in st.snapshots()) == "pre-rollout"
        assert st.prune(2, tagged=True) == 1
        assert all(s["tag"] is None for s in st.snapshots())
