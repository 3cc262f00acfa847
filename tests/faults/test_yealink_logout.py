"""A Yealink phone allows one web session at a time (device_profiles/yealink/README.md, "HTTP
interface"), so fleet logs out after every read. When fleet's own event loop is late (a sweep
of thousands of phones keeps it busy), the logout must still reach the phone: otherwise the
phone keeps fleet's session and the next sweep finds "another web session holds the phone".

The lab phones are real HTTP(S) servers on loopback and the sweep is fleet's own
(``pipeline.sweep`` over its HTTP transport, in an event loop of its own as `fleet sweep`
runs it). What the test adds is load, on both sides of the logout:

* fleet's loop is held by a CPU-bound callback as the logout starts, for longer than the
  logout's wait (fleet busy with other devices: none of that time is the phone's);
* then the phone itself takes a moment to answer (the lab's loop is held for a fraction of
  the logout's wait: an embedded phone's TLS handshake is not instant).

The phone's own time stays well inside the logout's wait; only fleet's lateness exceeds it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from device_profiles.yealink import simulator, web
from fleet import inventory, pipeline
from fleet.check import golden as golden_mod
from fleet.collect import transport
from fleet.collect.http import HttpHost, HttpTransport
from fleet.collect.options import CrawlOptions
from fleet.model import Snapshot
from tests.conftest import LabThread, make_lab

LOGOUT_WAIT = 1.0  # web.LOGOUT_TIMEOUT for the test
FLEET_HOLD = 1.5  # fleet's loop held as the logout starts: longer than the wait
PHONE_HOLD = 0.25  # then the phone's own delay in answering: well inside the wait
BUSY = "another web session"


def _is_logout(path: str, params: dict[str, str] | None) -> bool:
    return path == "/api/auth/logout" or (
        path == "/servlet" and (params or {}).get("q") == "logout"
    )


class _Load:
    """Holds fleet's loop (CPU-bound, on the loop's thread), then the phone's."""

    def __init__(self, phone_loop: asyncio.AbstractEventLoop) -> None:
        self.phone_loop = phone_loop
        self.held: list[float] = []

    def hold_fleet(self) -> None:
        t0 = time.monotonic()
        while time.monotonic() < t0 + FLEET_HOLD:
            pass
        self.held.append(time.monotonic() - t0)
        self.phone_loop.call_soon_threadsafe(time.sleep, PHONE_HOLD)


class _LateHost(HttpHost):
    """fleet's HttpHost; as a logout starts, the load is scheduled (not run here: the
    request is under way, connecting, while fleet's loop is held)."""

    load: _Load

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        if _is_logout(path, kw.get("params")):
            asyncio.get_running_loop().call_soon(self.load.hold_fleet)
        return await super().request(method, path, **kw)


def _late_transport(load: _Load) -> Callable[[CrawlOptions], HttpTransport]:
    class Late(_LateHost):
        pass

    Late.load = load

    class LateTransport(HttpTransport):
        """fleet's HTTP transport over _LateHost (the same pool, timeouts and TLS)."""

        host_class = Late

    return LateTransport


def _busy_texts(snap: Snapshot) -> list[str]:
    out = []
    for r in snap.results:
        texts = [r.error or "", *(f.message for f in r.findings)]
        out += [f"{r.id}: {t}" for t in texts if BUSY in t]
    return out


@pytest.mark.parametrize("api", [True, False], ids=["api", "servlet"])
def test_a_late_loop_during_logout_still_hands_the_session_back(
    api: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "LOGOUT_TIMEOUT", LOGOUT_WAIT)
    # a phone still held is retried quickly, so a failure shows in seconds, not 17
    monkeypatch.setattr(web, "BUSY_BACKOFF", (0.05, 0.05))
    # the lab's Yealink models in order: a T54W on /api (HTTPS), a T46U on /servlet (HTTP);
    # one phone per sweep, so the sweep ends as soon as that phone's read does
    made = make_lab(tmp_path, 2, net_from=190, faults=False, profile_names=["yealink"])
    served = LabThread(made.fleet)
    with served as lab:
        [spec] = [p for p in lab.phones if simulator.has_api(p.firmware) is api]
        hosts = [h for h in inventory.load(made.inventory).hosts if h.id == spec.id]
        gold = golden_mod.load(made.golden)
        dev = lab.devices[spec.id]
        opts = CrawlOptions(device_timeout=30.0)

        load = _Load(served.loop)
        with monkeypatch.context() as m:
            m.setitem(transport._REGISTRY, "http", _late_transport(load))
            first = asyncio.run(pipeline.sweep(hosts, gold, opts))
        time.sleep(PHONE_HOLD)  # the phone's busy moment is over before anyone looks
        left_open = dict(simulator._state(dev)["live"])
        logins = simulator.login_attempts(dev)
        second = asyncio.run(pipeline.sweep(hosts, gold, opts))
        logins = simulator.login_attempts(dev) - logins

    # fleet's loop really was held longer than the logout's wait, once
    [held] = load.held
    assert held > LOGOUT_WAIT
    assert [r.status for r in first.results] == ["audited"], first.results
    assert _busy_texts(second) == []
    assert left_open == {}, "the phone still held fleet's web session after the first sweep"
    assert [r.status for r in second.results] == ["audited"], second.results
    assert logins == 1  # in at once: no busy answer to wait out
