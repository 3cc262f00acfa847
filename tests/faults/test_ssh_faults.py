"""Each SSH fault of ``ssh_servers``, swept by the real `fleet sweep` beside a healthy lab SBC:
the fault is that device's clear reason and status, in its deadline, with no traceback and the
exit code of SPEC (1: a device not audited is a finding); the healthy SBC is still audited;
and nothing after a password went out is ever tried again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleet import inventory
from fleet.collect import ssh
from fleet.collect.crawler import CrawlOptions, crawl
from fleet.collect.netmiko_transport import _run as netmiko_run
from fleet.collect.ssh import SshOptions, SshTarget
from fleet.errors import AuthFailed, DeviceError, ProtocolError, Unreachable
from fleet.lab import sbc as labsbc
from tests.conftest import run_fleet
from tests.faults.ssh_servers import FaultLab, ssh_fault_lab

DEADLINE = 2.5  # the faulty host's timeout: what never ends is reported at it
SLACK = 0.75  # a loaded machine's scheduling, over the deadline, as stored for the device


@dataclass(slots=True)
class Swept:
    returncode: int
    stderr: str
    devices: dict[str, dict[str, Any]]
    elapsed: dict[str, float]  # device id -> seconds its exchange took, as stored


def sweep(lab: FaultLab, tmp: Path) -> Swept:
    db = tmp / "s.db"
    run = run_fleet(
        "sweep",
        str(lab.inventory),
        "--golden",
        str(lab.golden),
        "--format",
        "json",
        "--store",
        str(db),
        timeout=120,
    )
    report = json.loads(run.stdout) if run.stdout.lstrip().startswith("{") else {"devices": []}
    elapsed: dict[str, float] = {}
    if db.exists():
        with contextlib.closing(sqlite3.connect(db)) as con:
            elapsed = dict(con.execute("SELECT device_id, elapsed_s FROM devices").fetchall())
    return Swept(run.returncode, run.stderr, {d["id"]: d for d in report["devices"]}, elapsed)


def _clean(out: Swept, lab: FaultLab) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    good = out.devices[lab.good.id]
    assert good["status"] == "audited", good
    assert lab.good_device.sessions >= 1


# fault -> (status, what the reason must say)
CASES = {
    "banner-then-silence": (
        "unreachable",
        r"SSH handshake timed out after [\d.]+ s: the server sent 'SSH-2\.0-OpenSSH_9\.6p1",
    ),
    "garbage-banner": ("error", r"not an SSH server"),
    "auth-refused": ("auth-failed", r"SSH login refused for user 'admin'"),
    "no-prompt": ("error", r"logged in, but no prompt .*Authorized access only"),
    "endless-paging": (
        "error",
        r"output of 'show running-config' did not end by the device's deadline: paging never "
        r"stopped \(\d+ pages",
    ),
    "reset-mid-output": (
        "error",
        r"SSH session ended while waiting for the output of 'show running-config': "
        r"(connection reset by peer|connection lost)",
    ),
    "huge-output": ("error", r"output of 'show running-config' did not end"),
    "nothing-listens": ("unreachable", r"connection refused \(nothing listens there\)"),
    "drops-every-handshake": (
        "unreachable",
        r"the server closed the connection before login \(connection (reset by peer|lost)\), "
        r"\d+ times in [\d.]+ s: too many connections at once for it\?",
    ),
}


@pytest.mark.parametrize("fault", sorted(CASES))
def test_each_fault_is_reported_cleanly_beside_a_healthy_sbc(fault: str, tmp_path: Path) -> None:
    status, reason = CASES[fault]
    with ssh_fault_lab(tmp_path / "lab", fault, timeout=DEADLINE) as lab:
        out = sweep(lab, tmp_path)
        counters = lab.server.counters
    assert out.returncode == 1, out.stderr
    _clean(out, lab)
    bad = out.devices[lab.faulty[0].id]
    assert bad["status"] == status, bad
    assert re.search(reason, bad["error"]), bad["error"]
    assert f"coverage.{status}" in {f["rule"] for f in bad["findings"]}, bad["findings"]
    assert out.elapsed[bad["id"]] <= DEADLINE + SLACK, out.elapsed
    # never a second login: one password at most, whatever went wrong after it
    assert counters.logins <= 1, counters
    assert "lab-admin" not in out.stderr + json.dumps(bad)  # the password never shows


@pytest.mark.parametrize("fault", ["max-startups", "max-startups-after-banner"])
def test_a_server_that_drops_handshakes_beyond_5_serves_all_20(fault: str, tmp_path: Path) -> None:
    with ssh_fault_lab(tmp_path / "lab", fault, copies=20) as lab:
        out = sweep(lab, tmp_path)
        counters = lab.server.counters
    _clean(out, lab)
    statuses = {i: out.devices[s.id]["status"] for i, s in enumerate(lab.faulty)}
    assert set(statuses.values()) == {"audited"}, [
        (s.id, out.devices[s.id].get("error")) for s in lab.faulty
    ]
    assert out.returncode == 0, out.stderr
    assert counters.dropped > 0, counters  # the limit was really met, and survived
    assert counters.most_in_flight <= 5
    assert counters.logins == 20 and counters.sessions == 20, counters  # each logged in once


def _rewrite_known_hosts(lab: FaultLab, line_for_faulty: str | None) -> None:
    kh = lab.folder / "lab_known_hosts"
    where = f"[{lab.faulty[0].address}]:{lab.faulty[0].port} "
    lines = [ln for ln in kh.read_text().splitlines() if not ln.startswith(where)]
    if line_for_faulty is not None:
        lines.append(line_for_faulty)
    kh.write_text("\n".join(lines) + "\n")


def test_unknown_host_key_says_so_and_names_the_file(tmp_path: Path) -> None:
    with ssh_fault_lab(tmp_path / "lab", "healthy") as lab:
        _rewrite_known_hosts(lab, None)
        out = sweep(lab, tmp_path)
        counters = lab.server.counters
    _clean(out, lab)
    bad = out.devices[lab.faulty[0].id]
    assert bad["status"] == "error", bad
    assert "SSH host key unknown" in bad["error"] and "lab_known_hosts" in bad["error"]
    assert counters.logins == 0  # no password goes to a box whose key is not trusted


def test_a_changed_host_key_is_a_mismatch_not_an_unknown_key(tmp_path: Path) -> None:
    with ssh_fault_lab(tmp_path / "lab", "healthy") as lab:
        _rewrite_known_hosts(lab, labsbc.known_hosts_line(lab.faulty[0], labsbc.host_key()))
        out = sweep(lab, tmp_path)
        counters = lab.server.counters
    _clean(out, lab)
    bad = out.devices[lab.faulty[0].id]
    assert bad["status"] == "error", bad
    assert "SSH host key mismatch" in bad["error"], bad["error"]
    assert counters.logins == 0


def test_a_name_that_does_not_resolve_is_name_not_found() -> None:
    # The lowest real layer: the exception getaddrinfo raises for a name with no address
    # (a live lookup would ask this machine's DNS server, off loopback).
    e = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert ssh.why(e, "sbc-9.example.invalid") == (
        "name not found: 'sbc-9.example.invalid' has no address"
    )
    again = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    assert "the DNS server did not answer" in ssh.why(again, "x")
    assert "unknown error" not in ssh.why(e, "x").lower()


@pytest.mark.parametrize("fault", ["no-prompt", "reset-mid-output", "endless-paging"])
def test_nothing_after_the_login_is_tried_again(fault: str, tmp_path: Path) -> None:
    # In process, with a read timeout well inside the deadline: the crawler retries what is
    # "unreachable", so a failure after the login must never be reported as that.
    with ssh_fault_lab(tmp_path / "lab", fault, timeout=3) as lab:
        hosts = [h for h in inventory.load(lab.inventory).hosts if h.role == "sbc"]
        opts = CrawlOptions(read_timeout=0.4, device_timeout=30, retries=2, backoff=0.05)
        got = {f.host.id: f for f in asyncio.run(crawl(hosts, {}, opts))}
        counters = lab.server.counters
    bad = got[lab.faulty[0].id]
    assert bad.collected is None and bad.error is not None
    assert bad.error.status == "error", bad.error
    assert bad.attempts == 1 and counters.logins == 1, (bad.attempts, counters)
    assert got[lab.good.id].collected is not None, got[lab.good.id].error


NETMIKO_CASES = {
    "nothing-listens": (Unreachable, r"connection refused \(nothing listens there\)"),
    "unknown-key": (DeviceError, r"SSH host key unknown: \[127\.[\d.]+\]:\d+ is not in "),
    "changed-key": (DeviceError, r"SSH host key mismatch"),
    "auth-refused": (AuthFailed, r"SSH login refused for user 'admin'"),
    "garbage-banner": (Unreachable, r"(no SSH banner|SSH handshake timed out) (within|after) 1 s"),
    "no-prompt": (ProtocolError, r"logged in, but netmiko's cisco_ios driver did not see"),
}


@pytest.mark.parametrize("case", sorted(NETMIKO_CASES))
def test_the_netmiko_transport_says_what_happened(case: str, tmp_path: Path) -> None:
    pytest.importorskip("netmiko")
    kind, reason = NETMIKO_CASES[case]
    fault = "healthy" if case.endswith("-key") else case
    with ssh_fault_lab(tmp_path / "lab", fault) as lab:
        if case == "unknown-key":
            _rewrite_known_hosts(lab, None)
        elif case == "changed-key":
            _rewrite_known_hosts(lab, labsbc.known_hosts_line(lab.faulty[0], labsbc.host_key()))
        s = lab.faulty[0]
        target = SshTarget(
            s.address,
            s.port,
            s.admin_user,
            s.admin_password,
            s.enable_password,
            SshOptions(known_hosts=str(lab.folder / "lab_known_hosts")),
        )
        with pytest.raises(DeviceError) as caught:
            netmiko_run(target, "cisco_ios", ["show running-config"], 1)
    assert type(caught.value) is kind, caught.value
    assert re.search(reason, str(caught.value)), str(caught.value)
    assert "lab-admin" not in str(caught.value)


def test_waiting_for_a_handshake_slot_is_not_the_devices_time(tmp_path: Path) -> None:
    # 20 healthy SBCs whose logins take 0.15 s, one handshake at a time, 1 s each: the queue
    # for the slot is longer than any one device's deadline, and is fleet's, so all audited.
    with ssh_fault_lab(tmp_path / "lab", "slow-login", copies=20, timeout=1.0) as lab:
        hosts = [h for h in inventory.load(lab.inventory).hosts if h.role == "sbc"]
        opts = CrawlOptions(ssh_handshakes=1)
        got = asyncio.run(crawl(hosts, {}, opts))
        counters = lab.server.counters
    assert [(f.host.id, f.error) for f in got if f.error] == []
    assert counters.logins == 20
    slowest = max(f.elapsed_s for f in got)
    assert slowest > 1.0, slowest  # the queue really was longer than a deadline
