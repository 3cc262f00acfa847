"""Misbehaving HTTP/TLS servers stand in for phones of every vendor in one sweep of the real
`fleet` command: each is reported with its own clear reason and status, within the device's
deadline, while the healthy phones beside them are audited and nothing prints a traceback.

``python -m tests.faults.http_servers`` runs the same sweep and prints faults survived / tried.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import PROFILES, SWEEP_TIMEOUT, FaultSweep
from tests.faults.http_servers import CANARY, FAULTS, held

# A device's deadline is its own time: the crawler does not count the time fleet's event loop
# was busy elsewhere (here: the fault servers of 228 devices in this very process, all at
# once), so the wall time may pass it by that much, never without bound.
DEADLINE_SLACK_S = SWEEP_TIMEOUT


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_fault_is_reported_with_its_reason_for_every_vendor(fault, fault_sweep: FaultSweep):
    wrong = {
        profile: why
        for profile in PROFILES
        if (why := held(fault, fault_sweep.by_case.get((fault.name, profile)))) is not None
    }
    assert not wrong, wrong


def test_no_fault_outlives_the_device_deadline(fault_sweep: FaultSweep):
    assert fault_sweep.elapsed, "the sweep stored no device"
    late = {i: s for i, s in fault_sweep.elapsed.items() if s > SWEEP_TIMEOUT + DEADLINE_SLACK_S}
    assert not late, late
    # the whole run: start-up, every device at once, report; nothing waits for a fault twice
    assert fault_sweep.wall_s < SWEEP_TIMEOUT + 30, fault_sweep.wall_s


def test_healthy_phones_beside_the_faults_are_audited(fault_sweep: FaultSweep):
    assert sorted(d["profile"] for d in fault_sweep.healthy) == sorted(PROFILES)
    assert {d["status"] for d in fault_sweep.healthy} == {"audited"}, fault_sweep.healthy


def test_the_sweep_ends_as_a_result_not_a_crash(fault_sweep: FaultSweep):
    # exit 1: findings (every faulty phone is a coverage finding), never 2 (a crash)
    assert fault_sweep.returncode == 1, fault_sweep.stderr
    for text in ("Traceback", "Task exception was never retrieved", "unhandled exception"):
        assert text not in fault_sweep.stderr
    assert len(fault_sweep.by_case) == len(FAULTS) * len(PROFILES)


def test_a_redirect_to_another_host_is_never_followed(fault_sweep: FaultSweep):
    # following it would hand the phone's admin credentials to whoever the Location names
    assert fault_sweep.trap_hits == 0


def test_a_password_in_a_redirect_reaches_neither_report_nor_store(fault_sweep: FaultSweep):
    assert ("redirect-with-credentials", "polycom") in fault_sweep.by_case
    assert CANARY not in fault_sweep.written
