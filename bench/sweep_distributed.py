"""A distributed sweep (``fleet sweep --broker``) against the single-process sweep, in one run,
on one machine: the same lab phones swept in one process, then through 1 and 2 local
``fleet worker`` collectors on a redis-server started here. Prints wall time, devices/s, CPU
per device (coordinator + collectors, read from /proc) and the ratios to the single process.

    python bench/sweep_distributed.py --phones 2000

The lab runs in a child process (`fleet lab serve`). With 2 cores shared by the lab, the
coordinator and the collectors, the ratio is the engine's own cost of distribution
(serialising hosts and results, the broker round trips), not a speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet import inventory as inventory_mod  # noqa: E402
from fleet import pipeline  # noqa: E402
from fleet.check import golden as golden_mod  # noqa: E402
from fleet.collect.crawler import CrawlOptions  # noqa: E402
from fleet.distributed import coordinator  # noqa: E402
from fleet.lab import fleet as labfleet  # noqa: E402
from fleet.lab.workers import collectors, local_broker  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


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


def worker_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "fleet worker"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def start_lab(phones: int, net: int, out: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fleet", "lab", "serve", "--phones", str(phones)]
    cmd += ["--out", out, "--no-faults", "--no-with-sbcs", "--net", str(net)]
    lab = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert lab.stdout is not None
    line = lab.stdout.readline()
    if not line.startswith("serving"):
        lab.terminate()
        raise SystemExit(f"lab did not start: {line}")
    return lab


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=200)
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    tmp = tempfile.mkdtemp(prefix="fleet-bench-dist-")
    lab = start_lab(args.phones, labfleet.free_net(50), tmp)
    rows = []
    try:
        inv = inventory_mod.load(Path(tmp, "inventory.yaml"))
        gold_path = Path(tmp, "golden.yaml")
        gold = golden_mod.load(gold_path)
        opts = CrawlOptions(concurrency=args.concurrency)
        w0, c0 = time.perf_counter(), time.process_time()
        snap = asyncio.run(pipeline.sweep(inv.hosts, gold, opts))
        rows.append(("single process", time.perf_counter() - w0, time.process_time() - c0, snap))
        with local_broker(Path(tmp)) as url:
            for n in (1, 2):
                with collectors(n, url, Path(tmp)):
                    pids = worker_pids()
                    before = cpu_of(pids)
                    w0, c0 = time.perf_counter(), time.process_time()
                    snap = coordinator.sweep(
                        inv.hosts, gold, gold_path, opts, broker=url, site_timeout=3600
                    )
                    wall = time.perf_counter() - w0
                    cpu = time.process_time() - c0 + cpu_of(pids) - before
                    rows.append((f"{n} collector(s)", wall, cpu, snap))
    finally:
        lab.terminate()
        lab.wait(30)
    base_cpu = rows[0][2] / args.phones
    print(f"{args.phones} lab phones, concurrency {args.concurrency} per process")
    print(f"{'run':18} {'wall s':>8} {'devices/s':>10} {'CPU ms/dev':>11} {'x single':>9}  audited")
    for name, wall, cpu, snap in rows:
        per = cpu / args.phones
        audited = Counter(r.status for r in snap.results)["audited"]
        print(
            f"{name:18} {wall:8.1f} {args.phones / wall:10.0f} {per * 1000:11.2f} "
            f"{per / base_cpu:8.2f}x  {audited}/{len(snap.results)}"
        )


if __name__ == "__main__":
    main()
