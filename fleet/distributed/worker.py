"""``fleet worker``: a collector inside one site's network, taking batches from its queues
until stopped (SIGTERM finishes the batch in hand: its results are not lost)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from fleet.distributed import tasks
from fleet.distributed.coordinator import reachable, shown


def run(
    queues: list[str],
    broker: str,
    *,
    secrets_base: Path,
    visibility_timeout: float = tasks.VISIBILITY_TIMEOUT,
) -> int:
    app = tasks.make_app(broker, visibility_timeout=visibility_timeout)
    app.conf.fleet_secrets_base = str(secrets_base.resolve())
    reachable(app, broker, then="the collector did not start")
    names = [tasks.queue_for(q) for q in queues]
    print(f"fleet worker: taking {', '.join(names)} from {shown(broker)}", flush=True)
    w = app.Worker(
        queues=names,
        pool="solo",  # one batch at a time, in this process's own asyncio loop
        concurrency=1,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="WARNING",
        hostname=f"fleet-{os.getpid()}@{socket.gethostname()}",
        quiet=True,
    )
    w.start()
    return int(w.exitcode or 0)
