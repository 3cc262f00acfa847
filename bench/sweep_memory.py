"""Peak memory and rate of a whole `fleet sweep` (store and report included) at several fleet
sizes: devices/s, CPU per device, peak RSS and store size at each.

    python bench/sweep_memory.py --sizes 1000,10000
    python bench/sweep_memory.py --sizes 1000,10000,50000
    python bench/sweep_memory.py --sizes 1000,10000 --whole-fleet --nightly
    python bench/sweep_memory.py --sizes 1000,10000,50000 --whole-fleet --old-loader

Each sweep is its own `fleet sweep` process (the command a user runs, the JSON report
written to a file), so its peak RSS (VmHWM, read by the process itself as it exits) and CPU
(``wait4``) are that sweep's alone. ``--whole-fleet`` adds, in the same run, the sweep as it
was before streaming (every device's result, raw configuration included, held to the end);
``--nightly`` a second sweep into each store (the previous snapshot is read for drift);
``--old-loader`` the streamed sweep as it was before inventories were built from events
(PyYAML's node composer, the whole document validated at once: ``yamlsrc.LOADER =
"nodes"``) and kept devices shared their strings (``pipeline.SHARE_STRINGS``), path
"nodes". The whole-fleet path loads the inventory that way too: it is the sweep before
streaming in every part.
The lab serves in child processes (one `fleet lab serve` up to 15,000 phones; above that,
one process per slice of the same lab, each under the open-file limit), so its CPU and
memory are not fleet's; the lab runs no faults and one SBC per site, so every phone's
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

# fleet.lab is imported where a lab is built: the measured child (this file, see
# ``measured``) must import no more than `fleet sweep` does.

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

    from fleet.lab import fleet as labfleet

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


def measured_sweep(
    peak: Path, path: str, argv: list[str], env: dict[str, str] | None, name: str
) -> tuple[float, float, float]:
    """`fleet sweep ARGV` in a child process (``path``: see ``measured``): wall seconds, CPU
    seconds and peak RSS (MB) of that child alone; a sweep that fails stops the bench."""
    cmd = [sys.executable, __file__, "--measured", str(peak), path, *argv]
    w0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - w0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{name} failed ({code}): {err[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, int(peak.read_text()) / 1024


def sweep(
    folder: Path, size: int, concurrency: int, env: dict[str, str], *, path: str, run: str
) -> dict[str, Any]:
    """One `fleet sweep` of ``size`` phones into the store of (size, path): ``run`` "first"
    into an empty store, "nightly" into the store the first left (the previous snapshot is
    read for drift, as every night after the first)."""
    inv = sub_inventory(folder, size)
    store = folder / f"store-{size}-{path}.db"
    report = folder / f"report-{size}-{path}-{run}.json"
    args = [str(inv), "--golden", str(folder / "golden.yaml"), "--store", str(store)]
    args += ["--format", "json", "--output", str(report), "--concurrency", str(concurrency)]
    args += ["--timeout", "60"]
    peak = folder / f"peak-{size}-{path}-{run}"
    wall, cpu, rss_mb = measured_sweep(peak, path, args, env, f"sweep of {size}")
    summary = json.loads(report.read_text()).get("summary", {})
    return {
        "size": size,
        "path": path,
        "run": run,
        "wall": wall,
        "cpu": cpu,
        "rss_mb": rss_mb,
        "store_mb": sum(p.stat().st_size for p in folder.glob(f"{store.name}*")) / 1e6,
        "devices": summary.get("devices") or size,
        "audited": summary.get("audited"),
    }


def measured(peak: Path, path: str, argv: list[str]) -> None:
    """Run one sweep and write this process's peak RSS (kB) to ``peak`` as it exits. Read
    from /proc (VmHWM), not from ``wait4``: a child's ``ru_maxrss`` starts from its parent's
    RSS at the fork, and the bench has read the biggest inventory by then."""
    import atexit

    def hwm() -> None:
        status = Path("/proc/self/status").read_text()
        peak.write_text(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))

    atexit.register(hwm)
    if path in ("nodes", "whole"):  # the inventory loaded, the devices kept, as before
        from fleet import pipeline, yamlsrc

        yamlsrc.LOADER = "nodes"
        pipeline.SHARE_STRINGS = False
    if path == "whole":  # the sweep before streaming: every device held until the end
        whole_fleet_sweep(argv)
        return
    import runpy

    sys.argv = ["fleet", "sweep", *argv]
    runpy.run_module("fleet", run_name="__main__", alter_sys=True)


def whole_fleet_sweep(argv: list[str]) -> None:
    """`fleet sweep` as it was before streaming (no store handed to the sweep: every
    device's result, raw configuration included, held until the end, then saved)."""
    from fleet import app, commands
    from fleet.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("inventory", type=Path)
    ap.add_argument("--golden", type=Path)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--format")
    ap.add_argument("--output", type=Path)
    ap.add_argument("--concurrency", type=int)
    ap.add_argument("--timeout", type=float)
    a = ap.parse_args(argv)
    inputs = commands.load_inputs(a.inventory, a.golden, None)
    with Store.open(a.store, write=True) as st:
        snap = commands.run_sweep(inputs, a.concurrency, a.timeout, None)
        out = app.Output(a.format, a.output)
        raise SystemExit(app.finish(st, snap, out, app.Publish(), drift_kind="sweep"))


def main() -> None:
    if sys.argv[1:2] == ["--measured"]:
        measured(Path(sys.argv[2]), sys.argv[3], sys.argv[4:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="phone counts, comma-separated")
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--net", type=int, default=0, help="the lab's 127.N net (0: the first free)")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the sweeps")
    ap.add_argument(
        "--whole-fleet", action="store_true", help="also the sweep before streaming, same run"
    )
    ap.add_argument("--nightly", action="store_true", help="also a second sweep into each store")
    ap.add_argument(
        "--old-loader",
        action="store_true",
        help="also the streamed sweep, inventory loaded as before",
    )
    ap.add_argument("--serve-slice", help=argparse.SUPPRESS)
    ap.add_argument("--phones", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_slice:
        k, n = (int(x) for x in args.serve_slice.split("/"))
        serve_slice(args.phones, args.net, Path(args.out), k, n)
        return
    sizes = sorted(int(n) for n in args.sizes.split(","))
    paths = [
        "stream",
        *(["nodes"] if args.old_loader else []),
        *(["whole"] if args.whole_fleet else []),
    ]
    runs = ["first", "nightly"] if args.nightly else ["first"]
    rows = measure(args, sizes, paths, runs)
    for r in rows:
        print(
            f"{r['size']:6d} phones, {r['path']:6s} {r['run']:7s}: {r['devices']} devices, "
            f"{r['audited']} audited, {r['devices'] / r['wall']:6.1f} devices/s, "
            f"{r['wall']:6.1f} s, {r['cpu'] / r['devices'] * 1000:5.2f} ms CPU per device, "
            f"peak RSS {r['rss_mb']:6.1f} MB, store {r['store_mb']:6.1f} MB"
        )
    for path in paths:
        verdicts([r for r in rows if r["path"] == path], path)


def measure(
    args: argparse.Namespace, sizes: list[int], paths: list[str], runs: list[str]
) -> list[dict[str, Any]]:
    from fleet.lab import fleet as labfleet

    net = args.net or labfleet.free_net(150)
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
                f"lab: {biggest} phones in {len(labs)} process(es), concurrency {args.concurrency}",
                flush=True,
            )
            sweep(folder, 100, args.concurrency, env, path="stream", run="warm-up")
            return [
                sweep(folder, size, args.concurrency, env, path=path, run=run)
                for size in sizes
                for path in paths
                for run in runs
            ]
        finally:
            for lab in labs:
                lab.terminate()
            for lab in labs:
                lab.wait(60)


def verdicts(rows: list[dict[str, Any]], path: str) -> None:
    for r in rows:
        if r["size"] == 10_000:
            print(
                f"{path}: 10,000 phones ({r['run']}): peak RSS {r['rss_mb']:.0f} MB ("
                f"target <= 300: "
                f"{'met' if r['rss_mb'] <= 300 else 'NOT met'}), {r['wall']:.1f} s (target <= "
                f"60: {'met' if r['wall'] <= 60 else 'NOT met'})"
            )
    for run in dict.fromkeys(r["run"] for r in rows):
        same = [r for r in rows if r["run"] == run]
        for a, b in itertools.pairwise(same):
            grow = (b["rss_mb"] / a["rss_mb"]) / (b["size"] / a["size"])
            print(
                f"{path} {run}: {a['size']} -> {b['size']} phones (x{b['size'] / a['size']:.0f}): "
                f"peak RSS x{b['rss_mb'] / a['rss_mb']:.2f}, "
                f"{(b['rss_mb'] - a['rss_mb']) * 1024 / (b['size'] - a['size']):.1f} KB per "
                f"added phone (less than linear: {'yes' if grow < 1 else 'NO'})"
            )


if __name__ == "__main__":
    main()
