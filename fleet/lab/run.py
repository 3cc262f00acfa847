"""`fleet demo` and `fleet lab serve`: the simulated fleet started on loopback, then swept
once (the demo) or served until stopped. The sweep is the one a user runs on real devices."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fleet import app, inventory, pipeline, profiles
from fleet.check import golden as golden_mod
from fleet.collect.crawler import CrawlOptions
from fleet.errors import InputError
from fleet.lab import fleet as labfleet
from fleet.lab import rollout
from fleet.lab.httpd import DeviceServer
from fleet.model import Snapshot
from fleet.report import progress
from fleet.store import Store


def demo(
    phones: int, *, store: Path | None, fmt: str, workers: int = 0, show_all: bool = False
) -> int:
    """``workers``: sweep through that many local `fleet worker` collectors on a
    redis-server started for the demo (the distributed path), else in this process."""
    app.writable(store, "--store", store=True)
    lab = labfleet.build(phones, net=labfleet.free_net())  # the first 127.x net no lab is on
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        inv_path, golden_path = labfleet.write_files(lab, Path(tmp))
        inv = inventory.load(inv_path)
        gold = golden_mod.load(golden_path)
        print(_banner(lab, gold), file=sys.stderr)

        async def sweep() -> Snapshot:
            try:
                if workers:
                    return await asyncio.to_thread(
                        _through_workers, workers, inv.hosts, gold, golden_path, Path(tmp), advance
                    )
                return await pipeline.sweep(
                    inv.hosts, gold, CrawlOptions(device_timeout=10), on_done=advance
                )
            finally:
                await labfleet.stop(lab)

        with progress.bar(len(inv.hosts), sys.stderr.isatty()) as advance:
            snap = _on_lab_loop(lab, sweep)
        with Store.open(store or Path(tmp, "demo.db"), write=True) as st:
            app.finish(st, snap, app.Output(fmt, show_all=show_all), app.Publish(), drift_kind=None)
    return 0  # the demo's seeded faults are the point: they never fail the command


def _through_workers(
    count: int,
    hosts: list[inventory.Host],
    gold: golden_mod.Golden,
    golden_path: Path,
    folder: Path,
    advance: Callable[[Any], None] | None,
) -> Snapshot:
    from fleet import distributed

    distributed.require("--workers")
    from fleet.distributed import coordinator
    from fleet.lab.workers import collectors, local_broker

    with local_broker(folder) as url, collectors(count, url, folder):
        return coordinator.sweep(
            hosts,
            gold,
            golden_path,
            CrawlOptions(device_timeout=10),
            broker=url,
            site_timeout=300,
            on_done=advance,
        )


def _banner(lab: labfleet.LabFleet, gold: golden_mod.Golden) -> str:
    faults = ", ".join(f"{p.id}: {p.extra['_fault']}" for p in lab.phones if "_fault" in p.extra)
    vendors = ", ".join(sorted({profiles.get(p.profile).vendor for p in lab.phones}))
    net = lab.phones[0].address.rsplit(".", 2)[0]
    return (
        f"fleet demo: {len(lab.phones)} simulated phones ({vendors}) on "
        f"{net}.0.0/16, golden {gold.name!r} ({', '.join(gold.packs)}); seeded faults: "
        f"{faults}\n"
    )


def _on_lab_loop(lab: labfleet.LabFleet, body: Callable[[], Awaitable[Snapshot]]) -> Snapshot:
    async def run() -> Snapshot:
        await labfleet.start(lab)
        return await body()

    return asyncio.run(run())


CONTROL_FILE = "lab.json"  # in the lab's --out folder while it serves: where its control is


def lab_serve(
    phones: int,
    out: Path,
    faults: bool,
    only: list[str] | None = None,
    net: int | None = None,
    extra_sbcs: int = 0,
    sbc_only: list[str] | None = None,
    scenario: str | None = None,
    with_sbcs: bool = True,
) -> int:
    """Serve the lab until stopped. The rollout control always runs (``--scenario rollout``
    is still accepted, from when it had to be asked for); ``net`` None: the first free net
    from 10, so a second lab, or a test's, never collides with the first."""
    if scenario not in (None, "rollout"):
        raise InputError(f"unknown scenario {scenario!r} (known: rollout)", field="--scenario")
    names = only or list(labfleet.phone_profiles())
    for n in names:
        if n not in labfleet.phone_profiles():
            raise InputError(f"no simulated {n!r} phone", field="--profile")
    net = labfleet.free_net() if net is None else net
    lab = labfleet.build(
        phones,
        faults=faults,
        profile_names=names,
        net=net,
        extra_sbcs=extra_sbcs,
        sbc_profile_names=sbc_only,
        sbcs=with_sbcs,
    )
    with contextlib.suppress(OSError):  # a stale one (a lab killed -9) until this one serves
        (out / CONTROL_FILE).unlink()
    inv_path, golden_path = labfleet.write_files(lab, out)
    try_line = f"  fleet sweep {inv_path} --golden {golden_path}\n"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(lab, net, try_line, out))
    return 0


async def _serve(lab: labfleet.LabFleet, net: int, try_line: str, out: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with labfleet.running(lab):
        ctl = await _rollout_control(lab)
        url = f"http://{ctl.dev.spec.address}:{ctl.dev.spec.port}"
        control_file = out / CONTROL_FILE
        # written once everything listens: its presence says the lab is ready
        control_file.write_text(
            json.dumps({"control": url, "net": net, "pid": os.getpid()}, indent=2) + "\n"
        )
        print(
            f"serving {len(lab.phones)} phones and {len(lab.sbcs)} SBCs on "
            f"127.{net}.0.0/16; try:\n{try_line}"
            f"rollout control: POST {url}/rollout "
            '{"count": N, "lose_112": M}, POST /fix (or `fleet lab rollout`, or SIGUSR1);'
            f" address in {control_file}\n(Ctrl-C stops)",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await ctl.close()
            _forget(control_file)


def _forget(control_file: Path) -> None:
    """Remove this lab's control file, not one a later lab on the same folder wrote."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(control_file.read_text(encoding="utf-8")).get("pid") == os.getpid():
            control_file.unlink()


async def _rollout_control(lab: labfleet.LabFleet) -> DeviceServer:
    """Start the rollout control on HTTP; SIGUSR1 applies the documented update as well (and
    never kills the lab: Python's default for SIGUSR1 is to terminate)."""
    ctl = rollout.controller(lab)
    await ctl.start()

    def on_usr1() -> None:
        done = rollout.apply_update(lab, *rollout.default_update(lab))
        print(
            f"SIGUSR1: updated {len(done.updated)} phone(s); {len(done.lost_112)} lost 112",
            flush=True,
        )

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, on_usr1)
    return ctl


def lab_rollout(out: Path, count: int | None, lose_112: int | None, fix: bool) -> int:
    """`fleet lab rollout`: ask the lab serving from ``out`` to play its update (or the fix)
    through its control, found in ``out/lab.json``; print what changed."""
    import httpx

    from fleet.errors import LabControlError

    control_file = out / CONTROL_FILE
    try:
        url = json.loads(control_file.read_text(encoding="utf-8"))["control"]
    except FileNotFoundError:
        raise InputError(
            f"no lab is serving from {out} (start one: fleet lab serve --out {out})",
            file=str(control_file),
            field="--out",
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"not a lab control file ({e})", file=str(control_file)) from None
    body = {k: v for k, v in (("count", count), ("lose_112", lose_112)) if v is not None}
    try:
        resp = httpx.post(f"{url}/fix" if fix else f"{url}/rollout", json=body, timeout=30)
        resp.raise_for_status()
    except httpx.HTTPError as e:
        raise LabControlError(
            f"the lab's control at {url} did not answer ({e}): is it still running?"
        ) from None
    done = resp.json()
    print(_rollout_summary(done, fix))
    return 0


def _rollout_summary(done: dict, fix: bool) -> str:
    updated, lost = done.get("updated", []), done.get("lost_112", [])
    if fix:
        return f"fixed release on {len(updated)} phone(s): 112 restored" + (
            f": {_names(updated)}" if updated else " (none had lost it)"
        )
    head = f"firmware update on {len(updated)} phone(s); {len(lost)} lost 112"
    return head + (f": {_names(lost)}" if lost else "")


def _names(ids: list[str], first: int = 10) -> str:
    more = len(ids) - first
    return ", ".join(ids[:first]) + (f" and {more} more" if more > 0 else "")
