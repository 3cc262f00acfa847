"""Peak memory and rate of a whole `fleet sweep` (store and report included) at several fleet
sizes: devices/s, CPU per device, peak RSS and store size at each.

    python bench/sweep_memory.py --sizes 1000,10000
    python bench/sweep_memory.py --sizes 1000,10000,50000 --concurrency 500

Each size is swept by its own `fleet sweep` process (the command a user runs, the report
written to a file), so its peak RSS (``ru_maxrss`` from ``wait4``) and CPU are that sweep's
alone. The lab serves in child processes (one `fleet lab serve` up to 15,000 phones; above
that, one process per slice of the same lab, each under the open-file limit), so its CPU
and memory are not fleet's; the lab runs no faults and one SBC per site, so every phone's
emergency path is walked through an SBC. Size N sweeps the lab's first N phones and its SBCs.
Peak RSS must stay under 300 MB at 10,000 phones and grow less than linearly past that; a
10,000-phone sweep must take at most 60 s on the bench machine with the lab on it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet.lab import fleet as labfleet  # noqa: E402

ONE_LAB = 15_000  # phones one lab process serves (a listening socket each, under `ulimit -n`)


def start_lab(phones: int, net: int, out: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fleet", "lab", "serve", "--phones", str(phones)]
    cmd += ["--out", str(out), "--no-faults", "--net", str(net)]
    return _ready(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))


def start_slice(phones: int, net: int, out: Path, k: int, n: int) -> subprocess.Popen[str]:
    """Slice ``k`` of ``n`` of one lab of ``phones`` (slice 0 also serves the SBCs and
    writes the lab's files)."""
    cmd = [sys.executable, __file__, "--serve-slice", f"{k}/{n}", "--phones", str(phones)]
    cmd += ["--net", str(net), "--out", str(out)]
    return _ready(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))


def _ready(lab: subprocess.Popen[str]) -> subprocess.Popen[str]:
    assert lab.stdout is not None
    line = lab.stdout.readline()
    if not line.startswith("serving"):
        lab.terminate()
        raise SystemExit(f"lab did not start: {line}")
    return lab


def serve_slice(phones: int, net: int, out: Path, k: int, n: int) -> None:
    import asyncio
    import signal

    lab = labfleet.build(phones, faults=False, net=net)
    if k == 0:
        labfleet.write_files(lab, out)
    lab.phones = lab.phones[k::n]
    if k:
        lab.sbcs = []

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with labfleet.running(lab):
            print(f"serving {len(lab.phones)} phones, slice {k}/{n}", flush=True)
            await stop.wait()

    asyncio.run(serve())


def sub_inventory(folder: Path, size: int) -> Path:
    """The lab's inventory cut to its first ``size`` phones and every SBC, beside it (the
    secret files it names are relative to it)."""
    inv = yaml.safe_load((folder / "inventory.yaml").read_text())
    hosts = inv["hosts"]
    phones = [h for h, v in hosts.items() if not v["address"].startswith("ssh://")]
    keep = set(phones[:size]) | {h for h, v in hosts.items() if v["address"].startswith("ssh://")}
    inv["hosts"] = {h: v for h, v in hosts.items() if h in keep}
    path = folder / f"inventory-{size}.yaml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def sweep(folder: Path, size: int, concurrency: int, env: dict[str, str]) -> dict[str, Any]:
    inv = sub_inventory(folder, size)
    store = folder / f"store-{size}.db"
    report = folder / f"report-{size}.json"
    cmd = [sys.executable, "-m", "fleet", "sweep", str(inv), "--golden"]
    cmd += [str(folder / "golden.yaml"), "--store", str(store), "--format", "json"]
    cmd += ["--output", str(report), "--concurrency", str(concurrency), "--timeout", "60"]
    w0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - w0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"sweep of {size} failed ({proc.returncode}): {err[-2000:]}")
    devices = json.loads(report.read_text())
    summary = devices.get("summary", {})
    return {
        "size": size,
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "rss_mb": ru.ru_maxrss / 1024,
        "store_mb": sum(p.stat().st_size for p in folder.glob(f"store-{size}.db*")) / 1e6,
        "devices": summary.get("devices"),
        "audited": summary.get("audited"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="phone counts, comma-separated")
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--net", type=int, default=0, help="the lab's 127.N net (0: the first free)")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the sweeps")
    ap.add_argument("--serve-slice", help=argparse.SUPPRESS)
    ap.add_argument("--phones", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_slice:
        k, n = (int(x) for x in args.serve_slice.split("/"))
        serve_slice(args.phones, args.net, Path(args.out), k, n)
        return
    sizes = sorted(int(n) for n in args.sizes.split(","))
    net = args.net or labfleet.free_net(40)
    env = dict(os.environ) | dict(e.split("=", 1) for e in args.env)
    biggest = max(sizes)
    with tempfile.TemporaryDirectory(prefix="fleet-sweep-memory-") as tmp:
        folder = Path(tmp)
        if biggest <= ONE_LAB:
            labs = [start_lab(biggest, net, folder)]
        else:
            n = -(-biggest // ONE_LAB)
            labs = [start_slice(biggest, net, folder, k, n) for k in range(n)]
        try:
            print(
                f"lab: {biggest} phones in {len(labs)} process(es), concurrency {args.concurrency}"
            )
            sweep(folder, 100, args.concurrency, env)  # warm: compiled files, page cache
            rows = [sweep(folder, size, args.concurrency, env) for size in sizes]
        finally:
            for lab in labs:
                lab.terminate()
            for lab in labs:
                lab.wait(60)
    for r in rows:
        n = r["devices"] or r["size"]
        print(
            f"{r['size']:6d} phones ({n} devices, {r['audited']} audited): "
            f"{n / r['wall']:6.1f} devices/s, {r['wall']:6.1f} s, "
            f"{r['cpu'] / n * 1000:5.2f} ms CPU per device, peak RSS {r['rss_mb']:6.1f} MB, "
            f"store {r['store_mb']:6.1f} MB"
        )
    by = {r["size"]: r for r in rows}
    if 10_000 in by:
        r = by[10_000]
        print(
            f"10,000 phones: peak RSS {r['rss_mb']:.0f} MB (target <= 300: "
            f"{'met' if r['rss_mb'] <= 300 else 'NOT met'}), {r['wall']:.1f} s (target <= 60: "
            f"{'met' if r['wall'] <= 60 else 'NOT met'})"
        )
    for a, b in itertools.pairwise(rows):
        grow = (b["rss_mb"] / a["rss_mb"]) / (b["size"] / a["size"])
        print(
            f"{a['size']} -> {b['size']}: RSS x{b['rss_mb'] / a['rss_mb']:.2f} for "
            f"x{b['size'] / a['size']:.0f} phones (sub-linear: {'yes' if grow < 1 else 'NO'})"
        )


if __name__ == "__main__":
    main()
