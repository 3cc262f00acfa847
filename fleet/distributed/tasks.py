"""The Celery application and the one task a collector runs.

Delivery is at least once: ``acks_late`` (a batch is acknowledged only when its results are
stored) and ``reject_on_worker_lost`` give a batch whose worker died to another worker: on
Redis after the visibility timeout, on RabbitMQ as soon as the dead worker's connection
closes. Its results are safe to receive twice (the coordinator keeps one per device). One
batch at a time per worker (``prefetch 1``), read in one asyncio loop.

Results come back through Redis itself on a ``redis://`` broker; on RabbitMQ through Celery's
``rpc://`` backend (each result a message on the coordinator's own reply queue), since Celery 5
has no result backend on an ``amqp://`` URL.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from celery import Celery

from fleet import pipeline
from fleet.check import golden as golden_mod
from fleet.collect.crawler import CrawlOptions, crawl
from fleet.distributed import payload

TASK = "fleet.collect_batch"
VISIBILITY_TIMEOUT = 1800.0  # s: a batch unacknowledged this long goes to another worker
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def is_amqp(broker: str) -> bool:
    """Whether ``broker`` is a RabbitMQ (AMQP 0-9-1) URL."""
    return urlsplit(broker).scheme.lower() in AMQP_SCHEMES


def backend_for(broker: str) -> str:
    """Where results come back: the broker itself on Redis; ``rpc://`` (replies on the
    coordinator's own queue, no second server) on RabbitMQ."""
    return "rpc://" if is_amqp(broker) else broker


def queue_for(shard: str) -> str:
    """The queue of a site (or group): ``site:lon``."""
    return shard if ":" in shard else f"site:{shard}"


def make_app(broker: str, *, visibility_timeout: float = VISIBILITY_TIMEOUT) -> Celery:
    app = Celery("fleet", broker=broker, backend=backend_for(broker), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=2,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # look for a dead worker's batches often enough to redeliver them soon after
            # their visibility timeout (kombu's default: every 100 s)
            "unacked_restore_interval": max(1, min(10, int(visibility_timeout // 3))),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={
            "visibility_timeout": visibility_timeout,
            # a lost broker ends the sweep in seconds (exit 2), not after minutes of retries
            "retry_policy": {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        },
        redis_socket_connect_timeout=5,
        redis_socket_timeout=30,
        worker_hijack_root_logger=False,
        task_default_queue="fleet",
    )
    if is_amqp(broker):
        # the solo pool runs a batch in the consumer's own thread, so no AMQP heartbeat is sent
        # while it reads: a batch longer than the heartbeat timeout would have its connection
        # closed and be redelivered forever. A dead worker's socket closing (or RabbitMQ's
        # consumer_timeout, 30 min by default) gives its batch to another worker instead.
        app.conf.broker_heartbeat = 0
    app.task(name=TASK, bind=True)(_collect_batch)
    return app


def _collect_batch(task: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """Read and check one batch of hosts; the results as plain data."""
    base = Path(task.app.conf.get("fleet_secrets_base") or ".")
    hosts = [payload.host_from_dict(h, base) for h in batch["hosts"]]
    opts = CrawlOptions(**batch["options"])
    with tempfile.TemporaryDirectory(prefix="fleet-golden-") as tmp:
        path = Path(tmp) / batch.get("golden_name", "golden.yaml")
        path.write_text(batch["golden"], encoding="utf-8")
        gold = golden_mod.load(path)
    results = asyncio.run(_collect(hosts, gold, opts))
    return {
        "batch": batch["batch"],
        "results": [payload.result_to_dict(r) for r in results],
    }


async def _collect(hosts: list[Any], gold: golden_mod.Golden, opts: CrawlOptions) -> list[Any]:
    fetched = await crawl(hosts, pipeline.wanted_keys(gold), opts)
    return [pipeline.fetched_result(f, gold) for f in fetched]
