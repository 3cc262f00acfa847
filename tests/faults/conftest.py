"""The fault lab's fixtures: a small healthy lab with the misbehaving servers of
``http_servers`` standing in for some of its phones, swept once by the real `fleet` command."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleet.errors import LabBusy
from fleet.lab import fleet as labfleet
from fleet.lab import tls as labtls
from tests.conftest import LabThread, RunningLab, make_lab, run_fleet
from tests.faults.http_servers import FAULTS, FaultServers

PROFILES = labfleet.phone_profiles()  # every simulated phone vendor, read over HTTP(S)
SWEEP_TIMEOUT = 4.0  # --timeout: each device's whole exchange, retries included


@dataclass(slots=True)
class FaultSweep:
    by_case: dict[tuple[str, str], dict[str, Any]]  # (fault, profile) -> the device's JSON
    healthy: list[dict[str, Any]]
    returncode: int
    stderr: str
    wall_s: float
    trap_hits: int
    elapsed: dict[str, float]  # device id -> seconds it took, as stored
    written: str  # the report, stderr and the store's bytes: where a secret must never be


@contextlib.contextmanager
def fault_lab(
    folder: Path, cases: Sequence[tuple[str, str]], healthy: Sequence[str] = PROFILES
) -> Iterator[tuple[RunningLab, dict[str, tuple[str, str]], FaultServers]]:
    """A lab whose first phones are ``cases`` ((fault, profile) each: a phone of that vendor
    whose address a fault server answers), then a healthy phone of each of ``healthy``; no
    SBCs. Yields the lab, victim id -> case, and the running fault servers. Other labs start
    on this machine at the same time (the helpers' own tests): a net taken between the probe
    and the bind is skipped for the next."""
    net_from = 100
    for _ in range(5):
        try:
            started = _fault_lab(folder / f"net-{net_from}", cases, healthy, net_from)
            lab, victims, servers = started.__enter__()
        except (OSError, LabBusy):
            net_from += 7
            continue
        try:
            yield lab, victims, servers
        finally:
            started.__exit__(None, None, None)
        return
    raise RuntimeError("no free 127.x net for the fault lab after 5 tries")


@contextlib.contextmanager
def _fault_lab(
    folder: Path, cases: Sequence[tuple[str, str]], healthy: Sequence[str], net_from: int
) -> Iterator[tuple[RunningLab, dict[str, tuple[str, str]], FaultServers]]:
    by_name = {f.name: f for f in FAULTS}
    names = tuple(p for _, p in cases) + tuple(healthy)

    def tweak(fleet: labfleet.LabFleet) -> None:
        for spec, (fault, _) in zip(fleet.phones, cases, strict=False):
            spec.fault = "down"  # the lab serves nothing there: the fault server does
            spec.extra["_fault"] = fault
            spec.scheme = "https" if by_name[fault].tls else "http"

    lab = make_lab(
        folder,
        len(names),
        net_from=net_from,
        faults=False,
        sbcs=False,
        profile_names=names,
        tweak=tweak,
    )
    pairs = list(zip(lab.fleet.phones, cases, strict=False))
    victims = {spec.id: case for spec, case in pairs}
    where = [(case[0], spec.address, spec.port) for spec, case in pairs]
    trap = (f"127.{lab.fleet.net}.250.250", 8080)
    tls_ctx = labtls.server_context([a for _, a, _ in where])
    with FaultServers(where, trap, tls_ctx) as servers, LabThread(lab.fleet):
        yield lab, victims, servers


def sweep_faults(folder: Path, cases: Sequence[tuple[str, str]]) -> FaultSweep:
    """``fleet sweep --format json`` of ``fault_lab(cases)``, as a user runs it."""
    with fault_lab(folder / "lab", cases) as (lab, victims, servers):
        t0 = time.monotonic()
        run = run_fleet(
            "sweep",
            str(lab.inventory),
            "--golden",
            str(lab.golden),
            "--store",
            str(folder / "faults.db"),
            "--format",
            "json",
            "--timeout",
            f"{SWEEP_TIMEOUT:g}",
            timeout=180,
        )
        wall = time.monotonic() - t0
        hits = servers.trap_hits
    elapsed: dict[str, float] = {}
    if (folder / "faults.db").exists():
        with contextlib.closing(sqlite3.connect(folder / "faults.db")) as db:
            elapsed = dict(db.execute("SELECT device_id, elapsed_s FROM devices").fetchall())
    report = json.loads(run.stdout) if run.stdout.lstrip().startswith("{") else {"devices": []}
    devices = {d["id"]: d for d in report["devices"]}
    return FaultSweep(
        by_case={case: devices[i] for i, case in victims.items() if i in devices},
        healthy=[d for i, d in devices.items() if i not in victims],
        returncode=run.returncode,
        stderr=run.stderr,
        wall_s=wall,
        trap_hits=hits,
        elapsed=elapsed,
        written=run.stdout + run.stderr + _store_bytes(folder / "faults.db"),
    )


def _store_bytes(db: Path) -> str:
    parts = [Path(f"{db}{x}") for x in ("", "-wal")]
    return "".join(p.read_bytes().decode("latin-1") for p in parts if p.exists())


@pytest.fixture(scope="session")
def fault_sweep(tmp_path_factory: pytest.TempPathFactory) -> FaultSweep:
    """Every fault of ``FAULTS`` against every phone vendor's reader, in one sweep."""
    cases = [(f.name, p) for f in FAULTS for p in PROFILES]
    return sweep_faults(tmp_path_factory.mktemp("faults"), cases)
