"""The crawler retries transient failures only, with backoff, and counts its attempts."""

from __future__ import annotations

import asyncio

from fleet import inventory
from fleet.collect.crawler import CrawlOptions, crawl
from fleet.lab import fleet as labfleet
from tests.conftest import LabThread


def test_retries_transient_errors_only(tmp_path):
    fleet = labfleet.build(4, faults=False, profile_names=["polycom"], net=labfleet.free_net(140))
    for p, fault in zip(fleet.phones, ("http503", "http500", "auth", "down"), strict=True):
        labfleet.apply_fault(p, fault)
    inv_path, _ = labfleet.write_files(fleet, tmp_path)
    hosts = inventory.load(inv_path).hosts
    with LabThread(fleet):
        got = asyncio.run(crawl(hosts, {}, CrawlOptions(retries=2, backoff=0.01)))
        served = {p.id: fleet.devices[p.id].requests for p in fleet.phones}
    by_id = {f.host.id: f for f in got}
    unavailable, broken, refused, down = (by_id[p.id] for p in fleet.phones)
    assert unavailable.attempts == 3 and served[fleet.phones[0].id] == 3
    assert "HTTP 503" in str(unavailable.error)
    assert broken.attempts == 1 and served[fleet.phones[1].id] == 1
    assert refused.attempts == 1 and refused.error.status == "auth-failed"
    assert down.attempts == 3 and down.error.status == "unreachable"
