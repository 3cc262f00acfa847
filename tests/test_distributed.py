"""A sweep across collectors on Celery: a real redis-server and real `fleet worker` processes
on loopback, one queue per lab site, against the same lab a single-process sweep reads."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.lab import workers as workers_mod
from tests.conftest import ROOT, run_fleet, running_lab

SITES = ("lon", "man", "edi")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real redis-server (the demo's own helper); the tests need it installed."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make test` installs it (.ci/ensure-packages)")
    with workers_mod.redis_server(folder) as got:
        yield got


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _proc):
        yield url


class Workers:
    """`fleet worker` processes, stopped when the block ends."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder, self.procs = url, folder, []  # type: list[subprocess.Popen]

    def start(self, *queues: str, visibility: float = 1800.0) -> subprocess.Popen:
        args = [sys.executable, "-m", "fleet", "worker", "--broker", self.url]
        for q in queues:
            args += ["--queue", q]
        args += ["--secrets-base", str(self.folder), "--visibility-timeout", str(visibility)]
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "fleet worker: taking ..." once connected
        assert "taking" in line, line
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with running_lab(tmp_path_factory.mktemp("dist-lab"), 12) as running:
        yield running


@pytest.fixture(scope="module")
def single(lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """What a single-process sweep of the same lab says, device by device."""
    return _devices(_sweep(lab, tmp_path_factory.mktemp("single") / "s.db")[1])


class Wiretap:
    """Every command the broker receives while the block runs (redis MONITOR): the task
    messages going out and the results coming back, as one blob to search."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with self.client.monitor() as m:
            for event in m.listen():
                self.seen.append(str(event.get("command", "")))
                if self._stop.is_set():
                    return

    def __enter__(self) -> Wiretap:
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.client.ping()  # one more command, so the listener wakes and ends
        self._thread.join(5)

    @property
    def blob(self) -> str:
        """What was seen, with every base64 part (kombu encodes message bodies) decoded."""
        raw = "\n".join(self.seen)
        decoded = []
        for token in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", raw):
            try:
                decoded.append(base64.b64decode(token, validate=True).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
        return "\n".join([raw, *decoded])


def _devices(report: str) -> dict[str, dict]:
    doc = json.loads(report)
    out = {}
    for d in doc["devices"]:
        for f in d["findings"]:
            f.pop("evidence", None)  # elapsed times may differ; the verdicts may not
        # a finding's message may quote the lab's own state (a login lockout counting the
        # attempts of earlier sweeps); what was found may not differ
        found = sorted((f["rule"], f["severity"], f["subject"]) for f in d["findings"])
        out[d["id"]] = {k: d[k] for k in ("status", "site", "model", "firmware")} | {"found": found}
    return out


def _sweep(lab, db: Path, *extra: str) -> tuple[int, str, str]:
    got = run_fleet(
        "sweep",
        str(lab.inventory),
        "--golden",
        str(lab.golden),
        "--store",
        str(db),
        "--format",
        "json",
        *extra,
    )
    return got.returncode, got.stdout, got.stderr


def test_a_distributed_sweep_equals_a_single_process_sweep(
    lab, redis_url, single, tmp_path
) -> None:
    workers = Workers(redis_url, lab.folder)
    try:
        workers.start("site:lon", "site:man")
        workers.start("site:edi")
        with Wiretap(redis_url) as tap:
            code_d, out_d, err_d = _sweep(lab, tmp_path / "d.db", "--broker", redis_url)
    finally:
        workers.stop()
    # secrets never travel: only references go out, and results come back redacted
    secrets = {p.admin_password for p in lab.fleet.phones} | {
        p.sip_password for p in lab.fleet.phones
    }
    assert "fleet.collect_batch" in tap.blob and "${file:" in tap.blob  # what travelled
    assert not [s for s in secrets if s in tap.blob]
    assert code_d == 1, err_d  # the lab's seeded faults
    dist = _devices(out_d)
    assert dist.keys() == single.keys() and len(dist) > 12
    assert dist == single
    assert "Traceback" not in err_d


def test_a_site_without_a_collector_is_unreachable_and_the_sweep_completes(
    lab, redis_url, single, tmp_path
) -> None:
    workers = Workers(redis_url, lab.folder)
    try:
        workers.start("site:lon", "site:man")
        t0 = time.monotonic()
        code, out, err = _sweep(
            lab, tmp_path / "d.db", "--broker", redis_url, "--site-timeout", "4"
        )
        elapsed = time.monotonic() - t0
    finally:
        workers.stop()
    assert code == 1, err
    devices = json.loads(out)["devices"]
    edi = [d for d in devices if d["site"] == "edi"]
    assert edi and all(d["status"] == "unreachable" for d in edi)
    assert all("no collector for site:edi" in d["error"] for d in edi)
    assert all(any(f["rule"] == "coverage.unreachable" for f in d["findings"]) for d in edi)
    others = [d for d in devices if d["site"] != "edi"]
    assert others and all(d["status"] == single[d["id"]]["status"] for d in others)
    assert elapsed < 60


def test_the_broker_down_at_start_exits_2_naming_it(lab, tmp_path) -> None:
    url = f"redis://:s3cret@127.0.0.1:{_free_port()}/0"
    code, _out, err = _sweep(lab, tmp_path / "d.db", "--broker", url)
    assert code == 2
    assert f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in err
    assert "s3cret" not in err and "Traceback" not in err
    if (tmp_path / "d.db").exists():
        with sqlite3.connect(tmp_path / "d.db") as con:
            assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0


def test_a_worker_killed_mid_batch_loses_no_device(lab, redis_url, single, tmp_path) -> None:
    """The batch of a collector killed with SIGKILL is redelivered (visibility timeout) to the
    other collector of the site: every device once, none lost, none counted twice."""
    workers = Workers(redis_url, lab.folder)
    try:
        victim = workers.start("site:lon", "site:man", "site:edi", visibility=3)
        sweep = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet",
                "sweep",
                str(lab.inventory),
                "--golden",
                str(lab.golden),
                "--store",
                str(tmp_path / "d.db"),
                "--format",
                "json",
                "--broker",
                redis_url,
                "--batch-size",
                "2",
                "--site-timeout",
                "90",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)  # the victim is reading its first batches
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        workers.start("site:lon", "site:man", "site:edi", visibility=3)
        out, err = sweep.communicate(timeout=150)
    finally:
        workers.stop()
    assert sweep.returncode in (0, 1), err
    devices = json.loads(out)["devices"]
    ids = [d["id"] for d in devices]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(single)
    wrong = {
        d["id"]: (d["status"], d.get("error"))
        for d in devices
        if d["status"] != single[d["id"]]["status"]
    }
    assert not wrong, wrong


def test_the_broker_lost_mid_sweep_fails_cleanly_and_stores_nothing(lab, tmp_path) -> None:
    with redis_server(tmp_path) as (url, redis):
        workers = Workers(url, lab.folder)
        try:
            workers.start("site:lon")  # man and edi wait: the sweep is still under way
            db = tmp_path / "d.db"
            sweep = subprocess.Popen(
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
                    "--broker",
                    url,
                    "--site-timeout",
                    "60",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(4)
            redis.kill()
            redis.wait(10)
            _out, err = sweep.communicate(timeout=60)
        finally:
            workers.stop()
    assert sweep.returncode == 2, err
    assert "lost the broker" in err and "Traceback" not in err
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0


def test_two_coordinators_at_once_keep_their_results_apart(lab, redis_url, single, tmp_path):
    workers = Workers(redis_url, lab.folder)
    try:
        workers.start("site:lon", "site:man", "site:edi")
        workers.start("site:lon", "site:man", "site:edi")
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fleet",
                    "sweep",
                    str(lab.inventory),
                    "--golden",
                    str(lab.golden),
                    "--store",
                    str(tmp_path / f"{k}.db"),
                    "--format",
                    "json",
                    "--broker",
                    redis_url,
                    "--batch-size",
                    "3",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(2)
        ]
        outs = [r.communicate(timeout=150) for r in runs]
    finally:
        workers.stop()
    for r, (out, err) in zip(runs, outs, strict=True):
        assert r.returncode == 1, err
        assert _devices(out) == single


def test_the_demo_through_two_workers_shows_the_same_report() -> None:
    plain = run_fleet("demo", "--phones", "12", "--format", "json")
    dist = run_fleet("demo", "--phones", "12", "--format", "json", "--workers", "2")
    assert plain.returncode == dist.returncode == 0, dist.stderr
    assert "Traceback" not in dist.stderr
    a, b = _devices(plain.stdout), _devices(dist.stdout)
    assert len(a) > 12 and a == b


def test_the_inventory_names_the_broker_and_group_shards(lab, redis_url, single, tmp_path):
    """`broker:` in the inventory (a reference: a broker URL may hold a password) takes the
    place of --broker, and --shard-by group puts each host on its first group's queue."""
    import yaml

    doc = yaml.safe_load(lab.inventory.read_text())
    doc["broker"] = "${env:FLEET_TEST_BROKER}"
    inv = lab.folder / "inventory-broker.yaml"
    inv.write_text(yaml.safe_dump(doc))
    groups = sorted({h["groups"][0] for h in doc["hosts"].values() if h.get("groups")})
    workers = Workers(redis_url, lab.folder)
    try:
        workers.start(*(f"group:{g}" for g in groups))
        got = run_fleet(
            "sweep",
            str(inv),
            "--golden",
            str(lab.golden),
            "--store",
            str(tmp_path / "d.db"),
            "--format",
            "json",
            "--shard-by",
            "group",
            "--site-timeout",
            "8",
            env={"FLEET_TEST_BROKER": redis_url},
        )
    finally:
        workers.stop()
    assert got.returncode == 1, got.stderr
    assert _devices(got.stdout) == single
    doc["broker"] = "redis://:s3cret@127.0.0.1:6379/0"
    inv.write_text(yaml.safe_dump(doc))
    refused = run_fleet("validate", str(inv))
    assert refused.returncode == 2 and "broker" in refused.stderr
    assert "s3cret" not in refused.stderr + refused.stdout
