"""The crawler retries transient failures only, with backoff, and counts its attempts."""

from __future__ import annotations

import asyncio

from fleet import inventory
from fleet.collect.crawler import CrawlOptions, crawl
from tests.conftest import running_lab


def test_retries_transient_errors_only(tmp_path):
    faults = ("http503", "http500", "auth", "down")
    with running_lab(
        tmp_path, 4, net_from=140, faults=False, profile_names=["polycom"], seed=faults
    ) as lab:
        fleet = lab.fleet
        hosts = inventory.load(lab.inventory).hosts
        got = asyncio.run(crawl(hosts, {}, CrawlOptions(retries=2, backoff=0.01)))
        served = {p.id: fleet.devices[p.id].requests for p in fleet.phones}
    by_id = {f.host.id: f for f in got}
    unavailable, broken, refused, down = (by_id[p.id] for p in fleet.phones)
    assert unavailable.attempts == 3 and served[fleet.phones[0].id] == 3
    assert "HTTP 503" in str(unavailable.error)
    assert broken.attempts == 1 and served[fleet.phones[1].id] == 1
    assert refused.attempts == 1 and refused.error.status == "auth-failed"
    assert down.attempts == 3 and down.error.status == "unreachable"
