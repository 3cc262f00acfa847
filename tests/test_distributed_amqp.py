"""A sweep across collectors on RabbitMQ (``amqp://``): a real RabbitMQ node started here on
loopback (its own ports, epmd, data and logs in a temp folder) and real `fleet worker`
processes, against the same lab a single-process sweep reads. Results come back on Celery's
``rpc://`` backend; a dead worker's batch is redelivered when its connection closes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.lab import workers as workers_mod
from tests.conftest import ROOT, running_lab
from tests.test_distributed import Workers, _devices, _free_port, _sweep

if workers_mod.rabbitmq_exe() is None:
    pytest.skip(
        "rabbitmq-server is not installed (apt-get install rabbitmq-server; "
        ".ci/ensure-packages installs it for `make test`)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[workers_mod.RabbitMQ]:
    with workers_mod.rabbitmq_server(tmp_path_factory.mktemp("rabbitmq")) as node:
        yield node


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    with running_lab(tmp_path_factory.mktemp("amqp-lab"), 12) as running:
        yield running


@pytest.fixture(scope="module")
def single_db(lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    db = tmp_path_factory.mktemp("single") / "s.db"
    return _devices(_sweep(lab, db)[1]), db


@pytest.fixture(scope="module")
def single(single_db) -> dict[str, dict]:
    """What a single-process sweep of the same lab says, device by device."""
    return single_db[0]


def _stored(db: Path) -> dict[str, tuple[str, str]]:
    """Each device's stored status and raw configuration (redacted), by id."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT device_id, status, raw FROM devices").fetchall()
    return {d: (status, raw) for d, status, raw in rows}


class Firehose:
    """Every message the node routes while the block runs (RabbitMQ's firehose tracer,
    ``rabbitmqctl trace_on``): the task messages the coordinator publishes and the results
    the workers send back, bodies included, as one blob to search."""

    def __init__(self, node: workers_mod.RabbitMQ) -> None:
        self.node, self.seen = node, []  # type: list[str]
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        from kombu import Connection, Exchange, Queue

        trace = Exchange("amq.rabbitmq.trace", type="topic", passive=True)
        with Connection(self.node.url) as conn:
            queue = Queue("fleet-test-firehose", trace, routing_key="#", exclusive=True)

            def on_message(message: Any) -> None:  # raw: the traced bodies are not decoded
                raw = message.body
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                key = message.delivery_info.get("routing_key", "")
                # the original message's properties and headers (the task's name) ride in the
                # traced message's headers
                self.seen.append(f"{key} {message.headers!r} {text}")
                message.ack()

            with conn.Consumer(queue, on_message=on_message):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        conn.drain_events(timeout=0.3)
                    except TimeoutError:
                        continue

    def __enter__(self) -> Firehose:
        got = self.node.ctl("trace_on")
        assert got.returncode == 0, got.stderr
        self._thread.start()
        assert self._ready.wait(20), "the firehose consumer did not start"
        return self

    def wait_for(self, seen: Callable[[list[str]], bool], timeout: float = 30) -> bool:
        """Whether what was seen satisfies ``seen`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not seen(list(self.seen)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # the last traced messages reach our queue
        self._stop.set()
        self._thread.join(10)
        self.node.ctl("trace_off")

    @property
    def blob(self) -> str:
        return "\n".join(self.seen)


def _secrets(lab) -> set[str]:
    return {p.admin_password for p in lab.fleet.phones} | {p.sip_password for p in lab.fleet.phones}


def _coordinator(lab, db: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "fleet", "sweep", str(lab.inventory), "--golden"]
    args += [str(lab.golden), "--store", str(db), "--format", "json", "--broker", url, *extra]
    return subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_an_amqp_sweep_equals_a_single_process_sweep_and_carries_no_secret(
    lab, rabbit, single, single_db, tmp_path
) -> None:
    workers = Workers(rabbit.url, lab.folder)
    try:
        workers.start("site:lon", "site:man")
        workers.start("site:edi")
        with Firehose(rabbit) as tap:
            code, out, err = _sweep(lab, tmp_path / "d.db", "--broker", rabbit.url)
    finally:
        workers.stop()
    assert code == 1, err  # the lab's seeded faults
    assert "Traceback" not in err
    dist = _devices(out)
    assert dist.keys() == single.keys() and len(dist) > 12
    assert dist == single
    # stored as the single process stores it: raw configurations kept (staged as each
    # batch answered, then dropped from the coordinator's memory)
    stored = _stored(tmp_path / "d.db")
    assert stored == _stored(single_db[1])
    assert sum(1 for _s, raw in stored.values() if raw and raw != "{}") > 12
    # what travelled: the batches out (publish to the site queues' exchanges), the results
    # back (on the coordinator's reply queue), secrets as references only, none in clear
    assert "deliver.site:lon" in tap.blob and "fleet.collect_batch" in tap.blob
    assert "${file:" in tap.blob and '"status": "audited"' in tap.blob
    assert not [s for s in _secrets(lab) if s in tap.blob]
    assert rabbit.url.split(":")[2].split("@")[0] not in tap.blob  # nor the broker's password


def test_a_worker_killed_mid_batch_on_amqp_loses_no_device(lab, rabbit, single, tmp_path) -> None:
    """RabbitMQ gives the unacknowledged batch of a worker killed with SIGKILL back to the
    queue when its connection closes (no visibility timeout): a second worker reads it, every
    device once, none lost, none counted twice."""
    workers = Workers(rabbit.url, lab.folder)
    try:
        with Firehose(rabbit) as tap:
            victim = workers.start("site:lon", "site:man", "site:edi")
            sweep = _coordinator(
                lab, tmp_path / "d.db", rabbit.url, "--batch-size", "2", "--site-timeout", "90"
            )
            # killed as soon as it holds its first batch (read before it answers: a fresh
            # worker's first batch loads the profiles)
            assert tap.wait_for(lambda seen: any(s.startswith("deliver.site:") for s in seen))
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            t0 = time.monotonic()
            workers.start("site:lon", "site:man", "site:edi")
            out, err = sweep.communicate(timeout=150)
            after_kill = time.monotonic() - t0
    finally:
        workers.stop()
    assert sweep.returncode in (0, 1), err
    # the batch the victim held was delivered again
    assert any(s.startswith("deliver.site:") and "'redelivered': 1" in s for s in tap.seen)
    devices = json.loads(out)["devices"]
    ids = [d["id"] for d in devices]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(single)
    assert _devices(out) == single
    assert after_kill < 60  # redelivered at once, not after a visibility timeout


def test_a_batch_left_in_an_amqp_queue_by_a_coordinator_reaches_a_late_worker(
    lab, rabbit, single, tmp_path
) -> None:
    """No worker yet when the coordinator publishes: the batches wait in RabbitMQ (the site
    queues are declared as the batches are sent, so none is dropped unrouted) until one
    starts."""
    sweep = _coordinator(lab, tmp_path / "d.db", rabbit.url, "--site-timeout", "90")
    workers = Workers(rabbit.url, lab.folder)
    try:
        time.sleep(3)
        assert sweep.poll() is None
        workers.start("site:lon", "site:man", "site:edi")
        out, err = sweep.communicate(timeout=120)
    finally:
        workers.stop()
    assert sweep.returncode == 1, err
    assert _devices(out) == single


def test_the_amqp_broker_down_at_start_exits_2_naming_it(lab, tmp_path) -> None:
    port = _free_port()
    url = f"amqp://fleet:s3cret@127.0.0.1:{port}//"
    code, _out, err = _sweep(lab, tmp_path / "d.db", "--broker", url)
    assert code == 2, err
    assert f"amqp://fleet:***@127.0.0.1:{port}//" in err
    assert "s3cret" not in err and "Traceback" not in err
    if (tmp_path / "d.db").exists():
        with sqlite3.connect(tmp_path / "d.db") as con:
            assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    worker = subprocess.run(
        [sys.executable, "-m", "fleet", "worker", "--queue", "site:lon", "--broker", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 2
    assert f"amqp://fleet:***@127.0.0.1:{port}//" in worker.stderr
    assert "s3cret" not in worker.stderr + worker.stdout and "Traceback" not in worker.stderr


def test_the_rabbitmq_node_is_our_own_and_stops(tmp_path) -> None:
    """The helper's node keeps everything under its folder and leaves nothing running."""
    with workers_mod.rabbitmq_server(tmp_path / "node") as node:
        port = int(node.url.rsplit(":", 1)[1].rstrip("/"))
        assert workers_mod._amqp_answers(port)
        assert (tmp_path / "node" / "mnesia").is_dir() and (tmp_path / "node" / "log").is_dir()
        epmd = int(node.env["ERL_EPMD_PORT"])
    assert node.proc.poll() is not None
    assert not workers_mod._amqp_answers(port)
    with pytest.raises(OSError):  # its epmd stopped with it
        socket.create_connection(("127.0.0.1", epmd), timeout=1).close()


def test_the_amqp_broker_lost_mid_sweep_fails_cleanly_and_stores_nothing(lab, tmp_path) -> None:
    with workers_mod.rabbitmq_server(tmp_path / "node") as node:
        workers = Workers(node.url, lab.folder)
        try:
            workers.start("site:lon")  # man and edi wait: the sweep is still under way
            db = tmp_path / "d.db"
            sweep = _coordinator(lab, db, node.url, "--site-timeout", "60")
            time.sleep(4)
            os.killpg(node.proc.pid, signal.SIGKILL)  # the node dies, no clean shutdown
            node.proc.wait(10)
            _out, err = sweep.communicate(timeout=90)
        finally:
            workers.stop()
    assert sweep.returncode == 2, err
    assert "lost the broker amqp://fleet:***@127.0.0.1:" in err and "Traceback" not in err
    assert node.url.split(":")[2].split("@")[0] not in err
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0


def test_two_coordinators_at_once_on_amqp_keep_their_results_apart(
    lab, rabbit, single, tmp_path
) -> None:
    """Each coordinator's results come back on its own reply queue (``rpc://``)."""
    workers = Workers(rabbit.url, lab.folder)
    try:
        workers.start("site:lon", "site:man", "site:edi")
        workers.start("site:lon", "site:man", "site:edi")
        runs = [
            _coordinator(lab, tmp_path / f"{k}.db", rabbit.url, "--batch-size", "3")
            for k in range(2)
        ]
        outs = [r.communicate(timeout=150) for r in runs]
    finally:
        workers.stop()
    for r, (out, err) in zip(runs, outs, strict=True):
        assert r.returncode == 1, err
        assert _devices(out) == single
