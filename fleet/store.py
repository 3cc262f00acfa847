"""The SQLite snapshot store: one transaction per snapshot, WAL, a schema version that
upgrades itself. Raw configurations are kept redacted so checks can be re-run offline."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet import lock
from fleet.drift import ScopeKey, scope_key
from fleet.errors import InputError, StoreBusy, StoreError
from fleet.model import DeviceResult, DeviceState, Finding, Snapshot

SCHEMA_VERSION = 5
SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL, tag TEXT, golden TEXT,
  started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_s REAL,
  summary TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS snapshots_tag ON snapshots(tag);
CREATE TABLE IF NOT EXISTS devices(
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL, site TEXT, role TEXT, profile TEXT, address TEXT,
  status TEXT NOT NULL, error TEXT, model TEXT, firmware TEXT, mac TEXT,
  state TEXT, raw TEXT, elapsed_s REAL,
  PRIMARY KEY(snapshot_id, device_id));
CREATE TABLE IF NOT EXISTS findings(
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, subject TEXT,
  message TEXT, expected TEXT, actual TEXT, evidence TEXT);
CREATE INDEX IF NOT EXISTS findings_snap ON findings(snapshot_id, device_id);
"""
# Each step takes a store from the version before it; a new store runs them all.
MIGRATIONS: dict[int, str] = {
    1: SCHEMA,
    # v2: what a snapshot was made from, so `fleet rollout verify` can sweep the same again
    2: """
ALTER TABLE snapshots ADD COLUMN inventory TEXT;
ALTER TABLE snapshots ADD COLUMN golden_file TEXT;
ALTER TABLE snapshots ADD COLUMN selection TEXT;
""",
    # v3: reports sent, so --only-on-change knows what the last one said
    3: """
CREATE TABLE IF NOT EXISTS reports(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  snapshot_id INTEGER NOT NULL, sent_at TEXT NOT NULL, channel TEXT NOT NULL,
  fingerprint TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reports_channel ON reports(channel, id);
""",
    # v4: the files an audited device was read from (a master file and those it includes)
    4: """
ALTER TABLE devices ADD COLUMN files TEXT;
""",
    # v5: the emergency numbers a snapshot's checks required (what `fleet timeline` reads)
    5: """
ALTER TABLE snapshots ADD COLUMN numbers TEXT;
""",
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Rows of :meth:`Store.evidence`: snapshots (id, kind, finished_at, numbers), devices
    (snapshot, device, site, role, status, firmware), findings (snapshot, device, rule,
    subject) of the emergency and coverage rules."""

    snapshots: list[tuple[int, str, str, list[str]]]
    devices: list[tuple[Any, ...]]
    findings: list[tuple[Any, ...]]


class Store:
    @classmethod
    @contextmanager
    def open(
        cls, path: str | Path, *, write: bool, wait: float = 30.0, must_exist: bool = False
    ) -> Iterator[Store]:
        """The store at ``path``, closed on exit. A writing open holds ``<store>.lock`` for
        as long as the store is open, so a run fired by cron while the last one is still
        going waits up to ``wait`` seconds, then fails (StoreBusy) instead of colliding; a
        read-only open takes no lock. ``must_exist``: see :meth:`require`."""
        if must_exist:
            cls.require(path)
        with (
            lock.held(Path(path), wait) if write else nullcontext(),
            cls(path, timeout=wait) as st,
        ):
            yield st

    @staticmethod
    def require(path: str | Path) -> None:
        """A mistyped path is an input error naming --store, never a new empty store."""
        if not Path(path).exists():
            raise InputError("no such store", file=str(path), field="--store")

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._staged: set[str] = set()  # device ids in temp.staged (see stage)
            self._pending: list[tuple[Any, ...]] = []  # their rows not yet written there
        except sqlite3.OperationalError as e:
            raise _store_error(self.path, e) from e
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a fleet store ({e})") from e

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema {version} is newer than this fleet ({SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            with self._tx():
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for stmt in MIGRATIONS[step].split(";"):
                        if stmt.strip():
                            self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Rows of devices read by a sweep still under way, one transaction of this many at a time.
    STAGE_BATCH = 256

    def stage(self, result: DeviceResult) -> None:
        """Write one device's row (state and raw configuration) as the sweep reads it, so
        the sweep need not hold it: into a TEMP table of this connection, outside every
        snapshot. :meth:`save` moves the rows of the snapshot's devices into it, in the
        snapshot's one transaction. A run that dies first (kill -9, a full disk, Ctrl-C)
        leaves nothing: SQLite drops a connection's temp tables with it, and no reader of
        the store ever sees them."""
        try:
            if not self._staged and not self._pending:
                self.db.execute(STAGED_TABLE)
            if result.id in self._staged:  # read again (a retry): the last reading counts
                self._flush_staged()
                self.db.execute("DELETE FROM temp.staged WHERE device_id=?", (result.id,))
            self._staged.add(result.id)
            self._pending.append(_device_row(0, result)[1:])
            if len(self._pending) >= self.STAGE_BATCH:
                self._flush_staged()
        except sqlite3.OperationalError as e:
            raise _staging_error(self.path, e) from e

    def _flush_staged(self) -> None:
        if self._pending:
            self.db.executemany(f"INSERT INTO temp.staged VALUES ({_ROW_MARKS})", self._pending)
            self._pending.clear()

    def _insert_devices(self, sid: int, results: list[DeviceResult]) -> None:
        """The snapshot's device rows: those staged moved from temp.staged, the rest from
        ``results``."""
        if self._staged:
            self._flush_staged()
            ids = [r.id for r in results if r.id in self._staged]
            self.db.execute(
                f"INSERT INTO devices({DEVICE_COLUMNS}) SELECT ?, {STAGED_COLUMNS}"
                " FROM temp.staged WHERE device_id IN (SELECT value FROM json_each(?))",
                (sid, json.dumps(ids)),
            )
            self.db.execute("DELETE FROM temp.staged")
        self.db.executemany(
            f"INSERT INTO devices({DEVICE_COLUMNS}) VALUES (?,{_ROW_MARKS})",
            [_device_row(sid, r) for r in results if r.id not in self._staged],
        )

    def save(self, snap: Snapshot) -> int:
        """Write the whole snapshot in one transaction; returns its id. Devices staged
        (:meth:`stage`) are moved into it, the others written from ``snap``."""
        try:
            with self._tx():
                cur = self.db.execute(
                    "INSERT INTO snapshots(kind, tag, golden, started_at, finished_at,"
                    " duration_s, summary, inventory, golden_file, selection, numbers)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        snap.kind,
                        snap.tag,
                        snap.golden,
                        snap.started_at,
                        snap.finished_at,
                        snap.duration_s,
                        json.dumps(snap.summary()),
                        snap.inventory,
                        snap.golden_file,
                        json.dumps(snap.selection),
                        json.dumps(snap.numbers),
                    ),
                )
                sid = int(cur.lastrowid or 0)
                self._insert_devices(sid, snap.results)
                self.db.executemany(
                    "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            sid,
                            r.id,
                            f.rule,
                            f.severity,
                            f.subject,
                            f.message,
                            f.expected,
                            f.actual,
                            json.dumps(f.evidence),
                        )
                        for r in snap.results
                        for f in r.findings
                    ],
                )
        except sqlite3.OperationalError as e:
            raise _store_error(self.path, e) from e
        self._staged.clear()
        snap.id = sid
        return sid

    def restore_raw(self, snap: Snapshot) -> None:
        """Put back the raw configurations a streamed sweep (:meth:`stage`) left in the store
        only, for a report that compares them with the previous snapshot's (the HTML and
        email drift section). A snapshot whose devices still hold theirs is left alone."""
        if snap.id is None or all(r.state is None or r.state.raw for r in snap.results):
            return
        by_id = {r.id: r.state for r in snap.results if r.state is not None and not r.state.raw}
        rows = self.db.execute(
            "SELECT device_id, raw FROM devices WHERE snapshot_id=? AND raw IS NOT NULL",
            (snap.id,),
        )
        for device_id, raw in rows:
            if (state := by_id.get(device_id)) is not None:
                state.raw = json.loads(raw)

    def snapshots(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, kind, tag, golden, started_at, finished_at, duration_s, summary"
            " FROM snapshots ORDER BY id"
        ).fetchall()
        return [
            {
                "id": r[0],
                "kind": r[1],
                "tag": r[2],
                "golden": r[3],
                "started_at": r[4],
                "finished_at": r[5],
                "duration_s": r[6],
                "summary": json.loads(r[7]),
            }
            for r in rows
        ]

    def resolve(self, ref: str | None) -> int:
        """A snapshot id from ``ref``: an id, a tag (newest with it), or None for the last."""
        if ref is None:
            row = self.db.execute("SELECT max(id) FROM snapshots").fetchone()
        elif ref.isdigit():
            row = self.db.execute("SELECT id FROM snapshots WHERE id=?", (int(ref),)).fetchone()
        else:
            row = self.db.execute("SELECT max(id) FROM snapshots WHERE tag=?", (ref,)).fetchone()
        if not row or row[0] is None:
            raise StoreError(
                f"{self.path}: no snapshot {ref!r}"
                if ref
                else f"{self.path}: the store holds no snapshot yet"
            )
        return int(row[0])

    def load_light(self, snapshot_id: int) -> Snapshot:
        """The snapshot with each device's identity only: status, and a state holding just
        the model, firmware and MAC columns (no lines, raw configuration or findings; the
        vendor left empty). What firmware drift reads of the previous snapshot, without
        parsing every device's stored state: a nightly sweep of 10,000 phones would hold two
        fleets' states at once for it."""
        snap = self.load_meta(snapshot_id)
        for row in self.db.execute(
            "SELECT device_id, site, role, profile, address, status, error, model, firmware,"
            " mac, state IS NOT NULL FROM devices WHERE snapshot_id=? ORDER BY device_id",
            (snapshot_id,),
        ):
            state = DeviceState("", row[3], model=row[7], firmware=row[8], mac=row[9])
            snap.results.append(
                DeviceResult(
                    id=row[0],
                    site=row[1],
                    role=row[2],
                    profile=row[3],
                    address=row[4],
                    status=row[5],
                    error=row[6],
                    state=state if row[10] else None,
                    mac=row[9],
                )
            )
        return snap

    def load_meta(self, snapshot_id: int) -> Snapshot:
        """The snapshot's own row, with no device."""
        meta = self.db.execute(
            "SELECT kind, tag, golden, started_at, finished_at, duration_s, inventory,"
            " golden_file, selection, numbers FROM snapshots WHERE id=?",
            (snapshot_id,),
        ).fetchone()
        if meta is None:
            raise StoreError(f"{self.path}: no snapshot {snapshot_id}")
        return Snapshot(
            kind=meta[0],
            tag=meta[1],
            golden=meta[2],
            started_at=meta[3],
            finished_at=meta[4],
            duration_s=meta[5] or 0.0,
            results=[],
            id=snapshot_id,
            inventory=meta[6],
            golden_file=meta[7],
            selection=json.loads(meta[8] or "[]"),
            numbers=json.loads(meta[9] or "[]"),
        )

    def load(self, snapshot_id: int) -> Snapshot:
        snap = self.load_meta(snapshot_id)
        findings: dict[str, list[Finding]] = {}
        for row in self.db.execute(
            "SELECT device_id, rule, severity, subject, message, expected, actual, evidence"
            " FROM findings WHERE snapshot_id=? ORDER BY rowid",
            (snapshot_id,),
        ):
            findings.setdefault(row[0], []).append(
                Finding(row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]))
            )
        results = []
        for row in self.db.execute(
            "SELECT device_id, site, role, profile, address, status, error, state, raw,"
            " elapsed_s, files, mac FROM devices WHERE snapshot_id=? ORDER BY device_id",
            (snapshot_id,),
        ):
            state = None
            if row[7]:
                state = DeviceState.from_dict(json.loads(row[7]))
                state.raw = json.loads(row[8] or "{}")
            results.append(
                DeviceResult(
                    id=row[0],
                    site=row[1],
                    role=row[2],
                    profile=row[3],
                    address=row[4],
                    status=row[5],
                    error=row[6],
                    state=state,
                    findings=findings.get(row[0], []),
                    elapsed_s=row[9] or 0.0,
                    files=json.loads(row[10] or "[]"),
                    mac=row[11],
                )
            )
        snap.results = results
        return snap

    def previous(self, kind: str | None = None, before: int | None = None) -> int | None:
        """The newest snapshot id (of ``kind``, older than ``before``), or None."""
        sql = "SELECT max(id) FROM snapshots WHERE 1=1"
        args: list[str | int] = []
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        if before is not None:
            sql += " AND id<?"
            args.append(before)
        row = self.db.execute(sql, args).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def scopes(self) -> dict[int, ScopeKey]:
        """Every snapshot's scope (kind, inventory, selection: recorded with it since schema
        2), by id, so diff, drift and the trend compare like with like."""
        rows = self.db.execute("SELECT id, kind, inventory, selection FROM snapshots")
        return {int(r[0]): scope_key(r[1], r[2], json.loads(r[3] or "[]")) for r in rows}

    def previous_in_scope(self, scope: ScopeKey, before: int | None = None) -> int | None:
        """The newest snapshot of ``scope`` (older than ``before``), or None."""
        older = [
            i for i, sc in self.scopes().items() if sc == scope and (before is None or i < before)
        ]
        return max(older) if older else None

    def last_report(self, channel: str) -> tuple[int, str] | None:
        """(snapshot id, findings fingerprint) of the last report sent on ``channel``."""
        row = self.db.execute(
            "SELECT snapshot_id, fingerprint FROM reports WHERE channel=? ORDER BY id DESC LIMIT 1",
            (channel,),
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def record_report(self, snapshot_id: int, channel: str, fingerprint: str, sent_at: str) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO reports(snapshot_id, sent_at, channel, fingerprint) VALUES (?,?,?,?)",
                (snapshot_id, sent_at, channel, fingerprint),
            )

    def last_proven(self) -> dict[str, str]:
        """For each device, when its emergency checks last all passed (audited, with no
        emergency finding and nothing left unevaluated): the basis of coverage.stale."""
        return self.last_proven_until(None)

    def last_proven_until(self, snapshot_id: int | None) -> dict[str, str]:
        """:meth:`last_proven` as it stood at snapshot ``snapshot_id`` (None: now): a report
        of an older snapshot must not call a path proven by a sweep made after it."""
        rows = self.db.execute(
            "SELECT d.device_id, max(s.finished_at) FROM devices d"
            " JOIN snapshots s ON s.id = d.snapshot_id"
            " WHERE d.status = 'audited' AND (? IS NULL OR s.id <= ?)"
            " AND NOT EXISTS (SELECT 1 FROM findings f"
            "   WHERE f.snapshot_id = d.snapshot_id AND f.device_id = d.device_id"
            "   AND (f.rule LIKE 'emergency.%'"
            "        OR (f.rule LIKE 'coverage.%' AND f.rule != 'coverage.stale')))"
            " GROUP BY d.device_id",
            (snapshot_id, snapshot_id),
        )
        return {r[0]: r[1] for r in rows}

    def evidence(self, since: str | None = None) -> Evidence:
        """What every snapshot finished at or after ``since`` said of each device's
        emergency calling, lightly (no states): the rows `fleet timeline` reads."""
        snaps = [
            (int(r[0]), r[1], r[2], json.loads(r[3] or "[]"))
            for r in self.db.execute(
                "SELECT id, kind, finished_at, numbers FROM snapshots"
                " WHERE ? IS NULL OR finished_at >= ? ORDER BY finished_at, id",
                (since, since),
            )
        ]
        first = snaps[0][0] if snaps else None
        devices = self.db.execute(
            "SELECT snapshot_id, device_id, site, role, status, firmware FROM devices"
            " WHERE snapshot_id >= ? ORDER BY snapshot_id, device_id",
            (first or 0,),
        ).fetchall()
        findings = self.db.execute(
            "SELECT snapshot_id, device_id, rule, subject FROM findings"
            " WHERE snapshot_id >= ? AND (rule LIKE 'emergency.%' OR rule LIKE 'coverage.%')",
            (first or 0,),
        ).fetchall()
        return Evidence(snaps, devices, findings)

    def prune(self, keep: int, tagged: bool = False) -> int:
        """Drop all but the newest ``keep`` snapshots; tagged ones (a rollout's baseline)
        stay unless ``tagged``."""
        rows = self.db.execute("SELECT id, tag FROM snapshots ORDER BY id DESC").fetchall()
        drop = [sid for sid, tag in rows[keep:] if tagged or not tag]
        with self._tx():
            for sid in drop:
                self.db.execute("DELETE FROM snapshots WHERE id=?", (sid,))
        return len(drop)


STAGED_COLUMNS = (
    "device_id, site, role, profile, address, status, error, model, firmware, mac, state, raw,"
    " elapsed_s, files"
)
DEVICE_COLUMNS = "snapshot_id, " + STAGED_COLUMNS
_ROW_MARKS = ",".join("?" * 14)  # a device row's values but the snapshot id
STAGED_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS staged(device_id TEXT NOT NULL, site TEXT, role TEXT,"
    " profile TEXT, address TEXT, status TEXT NOT NULL, error TEXT, model TEXT, firmware TEXT,"
    " mac TEXT, state TEXT, raw TEXT, elapsed_s REAL, files TEXT)"
)


def _device_row(sid: int, r: DeviceResult) -> tuple[Any, ...]:
    st = r.state
    state_json = raw_json = None
    if st is not None:
        d = st.to_dict()
        raw_json = json.dumps(d.pop("raw"), sort_keys=True)
        state_json = json.dumps(d)
    return (
        sid,
        r.id,
        r.site,
        r.role,
        r.profile,
        r.address,
        r.status,
        r.error,
        st.model if st else None,
        st.firmware if st else None,
        (st.mac if st else None) or r.mac,  # an unreachable phone keeps its inventory MAC
        state_json,
        raw_json,
        r.elapsed_s,
        json.dumps(r.files) if r.files else None,
    )


def _staging_error(path: str, e: sqlite3.OperationalError) -> StoreError:
    """The temp table lives in SQLite's temporary folder, not beside the store: a full or
    unwritable one must be named, or the user looks at the store's disk."""
    if "locked" in str(e) or "busy" in str(e):
        return _store_error(path, e)
    return StoreError(
        f"{path}: {e}, writing the devices read so far to SQLite's temporary file (in "
        "$SQLITE_TMPDIR, else $TMPDIR, else /var/tmp); nothing of this sweep was stored"
    )


def _store_error(path: str, e: sqlite3.OperationalError) -> StoreError:
    if "locked" in str(e) or "busy" in str(e):
        return StoreBusy(f"{path}: another fleet run is writing this store; try again")
    return StoreError(f"{path}: {e}")
