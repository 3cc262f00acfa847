"""Shared fixtures: the simulated fleet running on loopback in a thread of its own, so tests
sweep it over real sockets exactly as a user's `fleet sweep` would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleet.collect.http import HttpHost, HttpPool, TlsOptions
from fleet.lab import fleet as labfleet
from fleet.lab.spec import LabPhone

ROOT = Path(__file__).resolve().parent.parent


class LabThread:
    def __init__(self, lab: labfleet.LabFleet) -> None:
        self.lab = lab
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> labfleet.LabFleet:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(labfleet.start(self.lab), self.loop).result(60)
        return self.lab

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(labfleet.stop(self.lab), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass(slots=True)
class RunningLab:
    fleet: labfleet.LabFleet
    inventory: Path
    golden: Path
    folder: Path


def make_lab(
    folder: Path,
    phones: int,
    *,
    net: int | None = None,
    net_from: int = 100,
    seed: Sequence[str] = (),
    tweak: Callable[[labfleet.LabFleet], None] | None = None,
    **build: Any,
) -> RunningLab:
    """A lab built and written, not served: ``labfleet.build(phones, **build)`` on ``net``
    (default: the first free 127.x net from ``net_from``), the faults in ``seed`` put on its
    first phones in order, then ``tweak(fleet)`` (specs changed before anything is written or
    served), its inventory, golden and secrets written into ``folder``."""
    fleet = labfleet.build(phones, net=labfleet.free_net(net_from) if net is None else net, **build)
    for spec, fault in zip(fleet.phones, seed, strict=False):
        labfleet.apply_fault(spec, fault, fleet)
    if tweak is not None:
        tweak(fleet)
    inv, golden = labfleet.write_files(fleet, folder)
    return RunningLab(fleet, inv, golden, folder)


@contextlib.contextmanager
def running_lab(folder: Path, phones: int, **kw: Any) -> Iterator[RunningLab]:
    """A lab of its own for one test or module (``make_lab``'s arguments), served over real
    sockets in a thread until the block ends."""
    lab = make_lab(folder, phones, **kw)
    with LabThread(lab.fleet):
        yield lab


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., labfleet.LabFleet]]:
    """``running_lab`` for one test, as a call: ``lab_factory(phones, **kw)`` returns the
    running fleet (its files in a folder of the test's own), stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        made = iter(range(100))

        def factory(phones: int, **kw: Any) -> labfleet.LabFleet:
            folder = tmp_path / f"lab-{next(made)}"
            return stack.enter_context(running_lab(folder, phones, **kw)).fleet

        yield factory


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[labfleet.LabFleet, Path, Path]]:
    """A 30-phone lab with the seeded faults; yields (fleet, inventory path, golden path)."""
    with running_lab(tmp_path_factory.mktemp("lab"), 30) as running:
        yield running.fleet, running.inventory, running.golden


def run_fleet(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """The real `fleet` command in a child process (as a user or cron runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def phone_host(
    pool: HttpPool, spec: LabPhone, password: str | None = None, *, scheme: str | None = None
) -> HttpHost:
    """A lab phone as a profile's fetch sees it (self-signed TLS accepted, as lab phones
    carry one); ``password`` / ``scheme`` override the spec to test refusals."""
    return HttpHost(
        pool,
        f"{scheme or spec.scheme}://{spec.address}:{spec.port}",
        spec.admin_user,
        spec.admin_password if password is None else password,
        TlsOptions(verify=False),
    )
