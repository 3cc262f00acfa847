"""What the crawler does around a transport, driven by a fake one: retries of transient errors
only, exponential backoff, a deadline per device that covers its retries, one outcome per host
whatever one host raises, and transports looked up by name."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import httpx
import pytest

from fleet.collect import transport
from fleet.collect.crawler import CrawlOptions, Fetched, crawl
from fleet.collect.fake import FakeTransport, Handler
from fleet.collect.http import HttpReply, HttpTransport
from fleet.collect.netmiko_transport import NetmikoTransport
from fleet.collect.options import TlsOptions
from fleet.collect.ssh import SshTransport
from fleet.errors import AuthFailed, HttpStatusError, ProtocolError, Unreachable
from fleet.inventory import Host
from fleet.model import Collected
from fleet.profiles import Profile

OK = Collected(params={"k": "v"})


def _host(hid: str, transport_name: str = "http", timeout: float | None = None) -> Host:
    return Host(
        id=hid,
        address=f"{hid}.example",
        scheme="http",
        hostname=f"{hid}.example",
        port=80,
        profile="polycom",
        role="phone",
        site=None,
        groups=[],
        tags=[],
        username=None,
        password=None,
        tls=TlsOptions(),
        timeout=timeout,
        transport=transport_name,
    )


def _status(code: int) -> HttpStatusError:
    return HttpStatusError(HttpReply(code, httpx.Headers(), b"", "http://phone/"))


def _failing(*errors: BaseException) -> Handler:
    """Raises ``errors`` one per attempt, then answers."""
    left = list(errors)

    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if left:
            raise left.pop(0)
        return OK

    return handler


def _run(fake: FakeTransport, hosts: list[Host], opts: CrawlOptions | None = None) -> list[Fetched]:
    opts = opts or CrawlOptions(retries=2, backoff=0.01)
    return asyncio.run(crawl(hosts, {}, opts, transports={"http": lambda _o: fake}))


@pytest.mark.parametrize(
    "error", [Unreachable("refused"), _status(503), _status(502), _status(504)], ids=str
)
def test_transient_errors_are_retried(error: Exception) -> None:
    fake = FakeTransport(_failing(error, error))
    [got] = _run(fake, [_host("a")])
    assert got.error is None and got.collected == OK
    assert got.attempts == 3 and len(fake.calls) == 3


@pytest.mark.parametrize(
    "error",
    [AuthFailed("credentials refused"), _status(500), _status(404), ProtocolError("not XML")],
    ids=str,
)
def test_other_device_errors_are_not_retried(error: Exception) -> None:
    fake = FakeTransport(_failing(error, error))
    [got] = _run(fake, [_host("a")])
    assert got.error is error and got.attempts == 1 and len(fake.calls) == 1


def test_an_auth_failure_is_reported_as_such_after_one_attempt() -> None:
    fake = FakeTransport(_failing(AuthFailed("HTTP 401: credentials refused")))
    [got] = _run(fake, [_host("a")], CrawlOptions(retries=5, backoff=0.001))
    assert got.attempts == 1 and got.error is not None and got.error.status == "auth-failed"


def test_retries_stop_after_the_configured_number() -> None:
    fake = FakeTransport(_failing(*[Unreachable("down")] * 10))
    [got] = _run(fake, [_host("a")], CrawlOptions(retries=3, backoff=0.001))
    assert got.attempts == 4 and got.error is not None and got.error.status == "unreachable"


def test_backoff_doubles_between_attempts() -> None:
    fake = FakeTransport(_failing(*[Unreachable("down")] * 10))
    [got] = _run(fake, [_host("a")], CrawlOptions(retries=3, backoff=0.05))
    starts = fake.attempts("a")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert got.attempts == 4 and len(gaps) == 3
    for gap, pause in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert pause <= gap < pause + 0.5


def test_the_deadline_covers_every_attempt_and_pause() -> None:
    async def slow_then_down(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        await asyncio.sleep(0.15)
        raise Unreachable("down")

    fake = FakeTransport(slow_then_down)
    [got] = _run(fake, [_host("a", timeout=0.5)], CrawlOptions(retries=50, backoff=0.05))
    # each attempt takes 0.15 s plus its pause: the deadline, not the retry count, ends it
    assert 2 <= got.attempts <= 3
    assert got.elapsed_s < 0.5 + 0.3
    assert got.error is not None and got.error.status == "unreachable"


def test_a_read_that_never_ends_is_cut_at_the_deadline() -> None:
    async def slow_refusal(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        await asyncio.sleep(0.4)
        raise Unreachable("refused")

    async def hangs(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    fake = FakeTransport(_then(slow_refusal, hangs))
    [got] = _run(fake, [_host("a", timeout=0.6)], CrawlOptions(retries=5, backoff=0.01))
    # the second attempt gets what is left of the device's 0.6 s (about 0.2 s), not a fresh
    # 0.6 s, which would end the read at about 1 s
    assert got.attempts == 2
    assert 0.6 <= got.elapsed_s < 0.9
    assert isinstance(got.error, Unreachable)
    assert str(got.error) == "no complete answer within 0.6 s"


def _then(first: Handler, rest: Handler) -> Handler:
    used = [False]

    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if not used[0]:
            used[0] = True
            return await first(host, profile, wanted)
        return await rest(host, profile, wanted)

    return handler


def test_one_hosts_exception_never_stops_the_others() -> None:
    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if host.id == "bug":
            raise KeyError("password=hunter2")  # a profile bug; its text may hold a secret
        if host.id == "slow":
            await asyncio.sleep(3600)
        return Collected(params={"id": host.id})

    fake = FakeTransport(handler)
    hosts = [_host("a"), _host("bug"), _host("slow", timeout=0.2), _host("b")]
    got = _run(fake, hosts)
    assert [f.host.id for f in got] == ["a", "bug", "slow", "b"]
    assert [f.collected.params["id"] for f in got if f.collected] == ["a", "b"]
    bug = got[1].error
    assert bug is not None and bug.status == "error" and got[1].attempts == 1
    assert "KeyError" in str(bug) and "hunter2" not in str(bug)
    assert isinstance(got[2].error, Unreachable)


def test_on_done_sees_every_host_once() -> None:
    fake = FakeTransport(_failing(AuthFailed("no")))
    seen: list[str] = []
    hosts = [_host("a"), _host("b"), _host("c")]
    opts = CrawlOptions(retries=1, backoff=0.001)
    asyncio.run(
        crawl(
            hosts, {}, opts, lambda f: seen.append(f.host.id), transports={"http": lambda _o: fake}
        )
    )
    assert sorted(seen) == ["a", "b", "c"]


def test_transports_are_looked_up_by_the_hosts_transport() -> None:
    built: list[str] = []

    def factory(name: str) -> transport.TransportFactory:
        def make(opts: CrawlOptions) -> FakeTransport:
            built.append(name)
            fakes[name] = FakeTransport(_failing())
            return fakes[name]

        return make

    fakes: dict[str, FakeTransport] = {}
    hosts = [_host("p1"), _host("s1", "ssh"), _host("p2"), _host("x", "telnet")]
    factories = {"http": factory("http"), "ssh": factory("ssh"), "netmiko": factory("netmiko")}
    got = asyncio.run(crawl(hosts, {"polycom": ["a.b"]}, CrawlOptions(), transports=factories))
    assert built == ["http", "ssh"]  # netmiko's is never built for a sweep without it
    assert [c.host for c in fakes["http"].calls] == ["p1", "p2"]
    assert [c.host for c in fakes["ssh"].calls] == ["s1"]
    assert fakes["http"].calls[0].wanted == ("a.b",)
    assert all(f.closed == 1 for f in fakes.values())
    assert [f.error is None for f in got] == [True, True, True, False]
    assert "unknown transport 'telnet'" in str(got[3].error)


def test_the_registry_names_the_three_transports() -> None:
    reg = transport.registry()
    assert reg["http"] is HttpTransport
    assert reg["ssh"] is SshTransport
    assert reg["netmiko"] is NetmikoTransport


def test_a_registered_transport_serves_crawl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "_REGISTRY", dict(transport._REGISTRY))  # undone after
    fake = FakeTransport(_failing())
    transport.register("fake", lambda _o: fake)
    [got] = asyncio.run(crawl([_host("a", "fake")], {}, CrawlOptions()))
    assert got.collected == OK and fake.closed == 1


def test_the_real_transports_close_cleanly_unused() -> None:
    async def go() -> None:
        for factory in transport.registry().values():
            await factory(CrawlOptions()).aclose()

    asyncio.run(go())
