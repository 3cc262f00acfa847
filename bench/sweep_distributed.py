"""A distributed sweep (``fleet sweep --broker``) against the single-process sweep, in one run,
on one machine: the same lab phones swept by `fleet sweep` in one process, then through 1 and
2 local ``fleet worker`` collectors on a broker started here (redis-server, or a RabbitMQ node
of its own with ``--broker amqp``). Prints, per run: wall time, devices/s, CPU per device
(coordinator + collectors; the broker's apart), the coordinator's peak RSS, the collectors'
peak RSS, and the ratios to the single process; and whether each distributed report equals
the single-process one device for device.

    python bench/sweep_distributed.py --phones 10000
    python bench/sweep_distributed.py --phones 10000 --broker amqp
    python bench/sweep_distributed.py --phones 500            # a quick look

Each sweep is its own `fleet sweep` process (the command a user runs, the JSON report written
to a file, a store of its own), measured by ``bench/sweep_memory.py``'s machinery: its peak RSS
(VmHWM) read by the process itself as it exits, its CPU from ``wait4``; the collectors' CPU
and peak RSS from /proc. The lab serves in child processes as in ``bench/sweep_memory.py``
(one SBC per site, no seeded faults), so its CPU is not fleet's. With 2 cores shared by the
lab, the coordinator and the collectors, the ratio is the engine's own cost of distribution
(hosts and results serialised, the broker's round trips, the results written to the store
by the coordinator), not a speed-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sweep_memory  # noqa: E402  (the lab and the measured child, shared)

from fleet.lab import workers  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the RabbitMQ script's Erlang VM, its port programs)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return out


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def hwm_mb(pid: int) -> float:
    """A live process's peak RSS so far, MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM")) / 1024


@contextlib.contextmanager
def broker(kind: str, folder: Path) -> Iterator[tuple[str, int]]:
    """The broker's URL and its server's pid, for the length of the block."""
    if kind == "amqp":
        with workers.rabbitmq_server(folder / "rabbitmq") as node:
            yield node.url, node.proc.pid
    else:
        with workers.redis_server(folder) as (url, proc):
            yield url, proc.pid


def sweep(
    folder: Path, inv: Path, name: str, args: argparse.Namespace, extra: list[str]
) -> dict[str, Any]:
    """One `fleet sweep` of ``inv`` (its own store and report), measured."""
    store, report = folder / f"store-{name}.db", folder / f"report-{name}.json"
    peak = folder / f"peak-{name}"
    argv = [str(inv), "--golden", str(folder / "golden.yaml"), "--store", str(store)]
    argv += ["--format", "json", "--output", str(report), "--concurrency", str(args.concurrency)]
    argv += ["--timeout", "60", *extra]
    wall, cpu, rss_mb = sweep_memory.measured_sweep(
        peak, "stream", argv, None, f"{name}: the sweep"
    )
    doc = json.loads(report.read_text())
    return {
        "name": name,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": rss_mb,
        "devices": verdicts(doc),
        "summary": doc["summary"],
    }


def verdicts(doc: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """What the report says of each device (timings and evidence aside)."""
    return {
        d["id"]: (
            d["status"],
            d.get("firmware"),
            tuple(sorted((f["rule"], f["severity"], f["subject"]) for f in d["findings"])),
        )
        for d in doc["devices"]
    }


def run(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    inv = sweep_memory.sub_inventory(folder, args.phones)
    warm = sweep_memory.sub_inventory(folder, 100)
    sweep(folder, warm, "warm-up", args, [])
    rows = [sweep(folder, inv, "single process", args, [])]
    rows[0].update(collector_cpu=0.0, collector_rss=0.0, broker_cpu=0.0)
    with broker(args.broker, folder) as (url, server):
        for n in (1, 2):
            with workers.collectors(n, url, folder) as procs:
                pids = [p.pid for p in procs]
                before, b0 = cpu_of(pids), cpu_of(_tree(server))
                extra = ["--broker", url, "--batch-size", str(args.batch_size)]
                row = sweep(
                    folder, inv, f"{n} collector(s)", args, [*extra, "--site-timeout", "3600"]
                )
                row["collector_cpu"] = cpu_of(pids) - before
                row["broker_cpu"] = cpu_of(_tree(server)) - b0
                row["collector_rss"] = max(hwm_mb(p) for p in pids)
                rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--broker", choices=("redis", "amqp"), default="redis")
    args = ap.parse_args()
    if args.broker == "redis" and shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    if args.broker == "amqp" and workers.rabbitmq_exe() is None:
        raise SystemExit("rabbitmq-server is needed (apt-get install rabbitmq-server)")
    from fleet.lab import fleet as labfleet

    with tempfile.TemporaryDirectory(prefix="fleet-bench-dist-") as tmp:
        folder = Path(tmp)
        net = labfleet.free_net(150)
        if args.phones <= sweep_memory.ONE_LAB:
            labs = [sweep_memory.start_lab(args.phones, net, folder)]
        else:
            n = -(-args.phones // sweep_memory.ONE_LAB)
            labs = [sweep_memory.start_slice(args.phones, net, folder, k, n) for k in range(n)]
        try:
            rows = run(args, folder)
        finally:
            for lab in labs:
                lab.terminate()
            for lab in labs:
                lab.wait(60)
    show(args, rows)


def show(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    base = rows[0]
    devices = base["summary"]["devices"]
    print(
        f"{args.phones} lab phones + SBCs ({devices} devices), broker {args.broker}, "
        f"concurrency {args.concurrency}, batch size {args.batch_size}"
    )
    print(
        f"{'run':16} {'wall s':>7} {'dev/s':>6} {'CPU ms/dev':>10} {'x single':>8} "
        f"{'coord':>6} {'collect':>7} {'broker':>6} {'coord RSS':>9} {'coll RSS':>8}  "
        "audited  same as single"
    )
    base_per = base["cpu"] / devices
    for r in rows:
        cpu = r["cpu"] + r["collector_cpu"]
        per = cpu / devices
        same = "-" if r is base else ("yes" if r["devices"] == base["devices"] else "NO")
        print(
            f"{r['name']:16} {r['wall']:7.1f} {devices / r['wall']:6.0f} {per * 1000:10.2f} "
            f"{per / base_per:7.2f}x {r['cpu'] / devices * 1000:6.2f} "
            f"{r['collector_cpu'] / devices * 1000:7.2f} {r['broker_cpu'] / devices * 1000:6.2f} "
            f"{r['rss_mb']:7.0f}MB {r['collector_rss']:6.0f}MB  "
            f"{r['summary']['audited']}/{devices}  {same}"
        )
    for r in rows[1:]:
        extra = (r["cpu"] + r["collector_cpu"] - base["cpu"]) / devices * 1000
        print(f"{r['name']}: {extra:+.2f} ms CPU per device over the single process")


if __name__ == "__main__":
    main()
