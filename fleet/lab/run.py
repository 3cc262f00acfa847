"""`fleet demo` and `fleet lab serve`: the simulated fleet started on loopback, then swept
once (the demo) or served until stopped. The sweep is the one a user runs on real devices."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from fleet import app, inventory, pipeline, profiles
from fleet.check import golden as golden_mod
from fleet.collect.crawler import CrawlOptions
from fleet.errors import InputError
from fleet.lab import fleet as labfleet
from fleet.lab import rollout
from fleet.model import Snapshot
from fleet.report import progress
from fleet.store import Store


def demo(phones: int, *, store: Path | None, fmt: str) -> int:
    app.writable(store, "--store", store=True)
    lab = labfleet.build(phones, net=labfleet.free_net())  # the first 127.x net no lab is on
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        inv_path, golden_path = labfleet.write_files(lab, Path(tmp))
        inv = inventory.load(inv_path)
        gold = golden_mod.load(golden_path)
        print(_banner(lab, gold), file=sys.stderr)

        async def sweep() -> Snapshot:
            try:
                return await pipeline.sweep(
                    inv.hosts, gold, CrawlOptions(device_timeout=10), on_done=advance
                )
            finally:
                await labfleet.stop(lab)

        with progress.bar(len(inv.hosts), sys.stderr.isatty()) as advance:
            snap = _on_lab_loop(lab, sweep)
        with Store.open(store or Path(tmp, "demo.db"), write=True) as st:
            app.finish(st, snap, app.Output(fmt), app.Publish(), drift_kind=None)
    return 0  # the demo's seeded faults are the point: they never fail the command


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


def lab_serve(
    phones: int,
    out: Path,
    faults: bool,
    only: list[str] | None = None,
    net: int = 10,
    extra_sbcs: int = 0,
    sbc_only: list[str] | None = None,
    scenario: str | None = None,
    with_sbcs: bool = True,
) -> int:
    if scenario not in (None, "rollout"):
        raise InputError(f"unknown scenario {scenario!r} (known: rollout)", field="--scenario")
    names = only or list(labfleet.phone_profiles())
    for n in names:
        if n not in labfleet.phone_profiles():
            raise InputError(f"no simulated {n!r} phone", field="--profile")
    lab = labfleet.build(
        phones,
        faults=faults,
        profile_names=names,
        net=net,
        extra_sbcs=extra_sbcs,
        sbc_profile_names=sbc_only,
        sbcs=with_sbcs,
    )
    inv_path, golden_path = labfleet.write_files(lab, out)
    try_line = f"  fleet sweep {inv_path} --golden {golden_path}\n"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(lab, net, try_line, rollouts=scenario == "rollout"))
    return 0


async def _serve(lab: labfleet.LabFleet, net: int, try_line: str, *, rollouts: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with labfleet.running(lab):
        control = await _rollout_control(lab) if rollouts else ""
        print(
            f"serving {len(lab.phones)} phones and {len(lab.sbcs)} SBCs on "
            f"127.{net}.0.0/16; try:\n{try_line}{control}(Ctrl-C stops)",
            flush=True,
        )
        await stop.wait()


async def _rollout_control(lab: labfleet.LabFleet) -> str:
    """Start the rollout scenario's HTTP control; SIGUSR1 applies an update as well."""
    ctl = rollout.controller(lab)
    await ctl.start()
    spec = ctl.dev.spec
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1,
        lambda: rollout.apply_update(
            lab, max(1, len(lab.phones) // 5), max(1, len(lab.phones) // 20)
        ),
    )
    return (
        f"rollout control: POST http://{spec.address}:{spec.port}/rollout "
        '{"count": N, "lose_112": M} (or SIGUSR1)\n'
    )
