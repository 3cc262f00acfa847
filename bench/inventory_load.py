"""Memory and time of loading an inventory alone (`fleet.inventory.load`, what every sweep
does first), at several fleet sizes, with the YAML loader of today and the one before it
in the same run.

    python bench/inventory_load.py --sizes 10000,50000,100000
    python bench/inventory_load.py --sizes 10000 --loaders events   # one loader only

The inventory is the lab's own (``fleet.lab.fleet.build`` and ``fleet/lab/files.py``'s
``inventory_dict``: every lab phone profile in the lab's proportions, a group per profile
holding role, profile and a ``${file:}`` password, per host an address URL, a site, its group,
a MAC and a model, the lab's SBCs) and is written as `fleet lab serve` writes it
(``yaml.safe_dump``, block style). Each (size, loader) is loaded
twice, each time in a fresh process (the profiles imported first: their imports are the
process's, not the load's): once for wall time, CPU and peak RSS (VmHWM, the process's own,
minus its RSS before loading: what loading added), once under tracemalloc for the peak and
the retained Python allocation (tracemalloc slows the load: its time is not reported).
Loaders: ``events`` (today's: libyaml's events built into data directly, hosts validated one
at a time) and ``nodes`` (before: PyYAML's pure-Python composer, the whole node tree in
memory, the whole document validated at once).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def inventory(size: int) -> dict[str, Any]:
    """The lab's own inventory of ``size`` phones: every lab phone profile in the lab's
    proportions, an SBC of each SBC profile, built as `fleet lab serve` builds it."""
    from fleet.lab import fleet as labfleet
    from fleet.lab.files import inventory_dict

    return inventory_dict(labfleet.build(size, faults=False, net=150))


def write(folder: Path, size: int) -> Path:
    import yaml

    for name in ("lab-admin.secret", "lab-enable.secret"):  # what the inventory refers to
        (folder / name).write_text("admin-pw\n")
    (folder / "lab_known_hosts").write_text("")
    path = folder / f"inventory-{size}.yaml"
    path.write_text(yaml.safe_dump(inventory(size), sort_keys=False))
    return path


def child(path: Path, loader: str, traced: bool) -> None:
    """One load in this (fresh) process; prints one JSON line."""
    import resource
    import time
    import tracemalloc

    from fleet import inventory as inv
    from fleet import profiles, yamlsrc

    yamlsrc.LOADER = loader
    profiles.registry()  # the profiles' imports are the process's, not the load's
    base = _rss_kb("VmRSS")
    if traced:
        tracemalloc.start()
    c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    loaded = inv.load(path)
    wall = time.perf_counter() - w0
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {"hosts": len(loaded.hosts)}
    if traced:
        out["traced_peak"], out["traced_kept"] = tracemalloc.get_traced_memory()[::-1]
    else:
        cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
        out |= {"wall": wall, "cpu": cpu, "rss_added_kb": _rss_kb("VmHWM") - base}
    print(json.dumps(out))


def _rss_kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field)))


def run(path: Path, loader: str, traced: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(path), loader]
    cmd += ["--traced"] if traced else []
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise SystemExit(f"load of {path} with {loader} failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,100000", help="host counts, comma-separated")
    ap.add_argument("--loaders", default="events,nodes", help="events (today), nodes (before)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.traced)
        return
    sizes = sorted(int(n) for n in args.sizes.split(","))
    loaders = args.loaders.split(",")
    with tempfile.TemporaryDirectory(prefix="fleet-inventory-load-") as tmp:
        for size in sizes:
            path = write(Path(tmp), size)
            mb = path.stat().st_size / 1e6
            for loader in loaders:
                r = run(path, loader, traced=False) | run(path, loader, traced=True)
                n = r["hosts"]
                print(
                    f"{size:7d} hosts ({mb:5.1f} MB of YAML), {loader:6s}: "
                    f"{r['wall']:6.2f} s, {r['cpu'] / n * 1e6:6.1f} us CPU per host, "
                    f"RSS added {r['rss_added_kb'] / 1024:6.1f} MB "
                    f"({r['rss_added_kb'] / n * 1024:6.0f} B per host), tracemalloc peak "
                    f"{r['traced_peak'] / 1e6:6.1f} MB ({r['traced_peak'] / n:5.0f} B per host), "
                    f"kept {r['traced_kept'] / 1e6:5.1f} MB ({r['traced_kept'] / n:5.0f} B/host)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
