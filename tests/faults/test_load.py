"""Load and cost growth: a phone's session stays that phone's, and a device's deadline measures
the device, not fleet's own queueing.

Real HTTP servers on loopback (asyncio servers in the test's own event loop); the sweep-scale
figures (500 vs 5,000 lab phones at concurrency 1000) are ``bench/sweep_http.py``'s.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence

from fleet.collect.crawler import CrawlOptions, Fetched, crawl
from fleet.collect.fake import FakeTransport
from fleet.collect.http import HttpHost, HttpPool
from fleet.collect.options import TlsOptions, queued
from fleet.errors import Unreachable
from fleet.inventory import Host
from fleet.model import Collected
from fleet.profiles import Profile

Reply = Callable[[bytes], Awaitable[bytes]]


async def _serve(address: str, reply: Reply, seen: list[bytes]) -> asyncio.Server:
    """An HTTP/1.1 server answering each request head with ``reply(head)``, then closing."""

    async def conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            writer.write(await reply(head))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the test is over
        finally:
            writer.close()

    return await asyncio.start_server(conn, address, 0)


def _answer(*headers: str, body: bytes = b"ok") -> bytes:
    lines = ["HTTP/1.1 200 OK", *headers, f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _cookie_header(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cookie":
            return value.strip().decode()
    return None


def test_one_phones_session_cookie_never_reaches_another_phone() -> None:
    """Two phones behind one address (a site router's port forwards): a cookie jar matches
    by host, not port, so a shared jar would hand phone A's session to phone B."""

    async def run() -> tuple[list[bytes], list[bytes], int]:
        seen_a: list[bytes] = []
        seen_b: list[bytes] = []

        async def login(head: bytes) -> bytes:
            return _answer("Set-Cookie: sid=phone-a-session; Path=/")

        async def plain(head: bytes) -> bytes:
            return _answer()

        a = await _serve("127.0.0.1", login, seen_a)
        b = await _serve("127.0.0.1", plain, seen_b)
        port_a, port_b = (s.sockets[0].getsockname()[1] for s in (a, b))
        async with a, b, HttpPool() as pool:
            phone_a = HttpHost(pool, f"http://127.0.0.1:{port_a}", None, None)
            phone_b = HttpHost(pool, f"http://127.0.0.1:{port_b}", None, None)
            await phone_a.request("POST", "/login")
            await phone_b.request("GET", "/config")
            await phone_a.request("GET", "/config")
            for _ in range(50):  # more logins: the shared client must still hold none
                await HttpHost(pool, f"http://127.0.0.1:{port_a}", None, None).request(
                    "POST", "/login"
                )
            jar = len(pool.client(TlsOptions()).cookies.jar)
        return seen_a, seen_b, jar

    seen_a, seen_b, jar = asyncio.run(run())
    assert _cookie_header(seen_b[0]) is None
    assert _cookie_header(seen_a[1]) == "sid=phone-a-session"  # its own session goes on
    assert jar == 0  # nothing kept for a later request to scan, however many phones log in


# --- the deadline measures the device --------------------------------------------------------

TIMEOUT = 0.4  # each device's own time, retries included
PARSE_S = 0.01  # fleet's CPU per answer (parsing, checks): it blocks the one event loop


def _host(hid: str, url: str = "http://127.0.0.1:9") -> Host:
    host, _, port = url.removeprefix("http://").partition(":")
    return Host(
        id=hid,
        address=host,
        scheme="http",
        hostname=host,
        port=int(port),
        profile="polycom",
        role="phone",
        site=None,
        groups=[],
        tags=[],
        username=None,
        password=None,
        tls=TlsOptions(),
        timeout=TIMEOUT,
        transport="http",
    )


class _ThreeReads:
    """A phone read in three requests over fleet's real HTTP client, each answer parsed on
    the event loop, as a profile does."""

    def __init__(self, opts: CrawlOptions) -> None:
        self.pool = HttpPool(opts.connect_timeout, opts.read_timeout)

    async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        http = HttpHost(self.pool, host.base_url, None, None)
        for path in ("/info", "/config", "/status"):
            await http.request("GET", path)
            time.sleep(PARSE_S)
        return Collected(params={"id": host.id})

    async def aclose(self) -> None:
        await self.pool.aclose()


def _sweep_loopback(healthy: int, hanging: int, concurrency: int) -> tuple[list[Fetched], float]:
    async def run() -> tuple[list[Fetched], float]:
        async def quick(head: bytes) -> bytes:
            await asyncio.sleep(0.005)  # the phone's own answer time
            return _answer(body=b"{}")

        async def never(head: bytes) -> bytes:
            await asyncio.sleep(3600)
            return b""

        ok = await _serve("127.0.0.1", quick, [])
        hang = await _serve("127.0.0.1", never, [])
        url_ok, url_hang = (f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in (ok, hang))
        hosts = [_host(f"hang-{i}", url_hang) for i in range(hanging)]
        hosts += [_host(f"phone-{i}", url_ok) for i in range(healthy)]
        opts = CrawlOptions(concurrency=concurrency, retries=0)
        t0 = time.monotonic()
        async with ok, hang:
            got = await crawl(hosts, {}, opts, transports={"http": _ThreeReads})
            return got, time.monotonic() - t0

    return asyncio.run(run())


def test_a_busy_fleet_never_reports_a_healthy_phone_unreachable() -> None:
    """60 phones at once, each 3 requests whose answers fleet parses on its one loop: about
    1.8 s of fleet's own CPU, so most phones wait far longer than their 0.4 s in fleet's
    queue. All are audited; the one phone that hangs is still cut, at its own 0.4 s."""
    got, wall = _sweep_loopback(healthy=60, hanging=1, concurrency=61)
    hang, phones = got[0], got[1:]
    assert [f.host.id for f in phones if f.error] == []
    assert max(f.elapsed_s for f in phones) > 2 * TIMEOUT  # fleet's queue, not the phones
    assert isinstance(hang.error, Unreachable) and "within 0.4 s" in str(hang.error)
    # its 0.4 s are its own: fleet's busy time (at most the whole sweep) comes on top
    assert TIMEOUT <= hang.elapsed_s <= wall + 0.2


def test_a_hanging_phone_is_cut_at_its_deadline_when_fleet_is_idle() -> None:
    [hang] = _sweep_loopback(healthy=0, hanging=1, concurrency=1)[0]
    assert isinstance(hang.error, Unreachable)
    # a loaded machine delays fleet's own loop too, and that is not the phone's time either
    assert TIMEOUT <= hang.elapsed_s < TIMEOUT + 0.5


def test_waiting_for_a_turn_is_not_the_devices_time() -> None:
    """Concurrency 2 for 40 phones of 3 requests each: the last phone starts long after its
    0.4 s would have run out had the clock started with the sweep."""
    got, wall = _sweep_loopback(healthy=40, hanging=0, concurrency=2)
    assert wall > 2 * TIMEOUT
    assert [f.host.id for f in got if f.error] == []


def test_the_fake_transport_phones_survive_a_saturated_loop() -> None:
    """The same with no sockets: 30 phones, each five exchanges of 10 ms with 12 ms of fleet
    CPU after each (1.8 s of loop time in all) against a 0.4 s deadline; one never answers."""

    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        if host.id == "hang":
            await asyncio.sleep(3600)
        for _ in range(5):
            await asyncio.sleep(0.01)
            time.sleep(0.012)
        return Collected(params={})

    fake = FakeTransport(handler)
    hosts = [_host("hang"), *(_host(f"p{i}") for i in range(30))]
    t0 = time.monotonic()
    got = asyncio.run(
        crawl(hosts, {}, CrawlOptions(concurrency=31), transports={"http": lambda _o: fake})
    )
    wall = time.monotonic() - t0
    assert [f.host.id for f in got[1:] if f.error] == []
    assert isinstance(got[0].error, Unreachable) and TIMEOUT <= got[0].elapsed_s <= wall + 0.2


def test_a_wait_in_fleets_own_queue_is_not_the_devices_time() -> None:
    """A transport that takes a slot of its own (SSH handshakes are so limited) marks the
    wait with ``queued``: ten devices behind one slot held 0.1 s each wait up to 0.9 s, more
    than their 0.4 s, and are all read; the hold itself, the device's own time, still counts:
    one that holds it 2 s is cut."""
    slot = asyncio.Semaphore(1)

    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        await queued(slot.acquire())
        try:
            await asyncio.sleep(0.1 if host.id != "slow" else 2.0)
        finally:
            slot.release()
        return Collected(params={})

    fake = FakeTransport(handler)
    hosts = [*(_host(f"p{i}") for i in range(10)), _host("slow")]
    got = asyncio.run(
        crawl(hosts, {}, CrawlOptions(concurrency=11), transports={"http": lambda _o: fake})
    )
    assert [f.host.id for f in got if f.error] == ["slow"]
    assert max(f.elapsed_s for f in got[:10]) > TIMEOUT
    # the slow one queued about 1 s, then is cut 0.4 s into its 2 s hold, not at its end
    assert isinstance(got[10].error, Unreachable) and got[10].elapsed_s < 2.5


def test_a_read_timer_that_ran_out_while_fleet_was_busy_is_not_the_phones_fault() -> None:
    """A phone answers in 50 ms, but fleet's loop is stuck 0.8 s in another device's parsing
    (its read timeout is 0.3 s): when the loop comes back, the timer and the answer are due
    together and the timer wins. The request is sent again, and the phone is audited."""

    class OneRead:
        def __init__(self, opts: CrawlOptions) -> None:
            self.pool = HttpPool(connect_timeout=0.3, read_timeout=0.3)

        async def read(self, host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
            if host.id == "parser":
                await asyncio.sleep(0.02)  # the phone's request is on the wire by now
                time.sleep(0.8)  # fleet's CPU for another device, on the one loop
                return Collected(params={})
            http = HttpHost(self.pool, host.base_url, None, None)
            await http.request("GET", "/config")
            return Collected(params={"requests": str(http.requests)})

        async def aclose(self) -> None:
            await self.pool.aclose()

    async def run() -> list[Fetched]:
        async def answer(head: bytes) -> bytes:
            await asyncio.sleep(0.05)
            return _answer()

        server = await _serve("127.0.0.1", answer, [])
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            hosts = [_host("phone", url), _host("parser", url)]
            opts = CrawlOptions(concurrency=2, retries=0, device_timeout=2.0)
            return await crawl(hosts, {}, opts, transports={"http": OneRead})

    phone, _ = asyncio.run(run())
    assert phone.error is None, phone.error
    assert phone.elapsed_s > 0.8  # it waited out fleet's busy spell, and was not blamed


def test_a_crawl_leaves_the_collector_as_it_found_it_even_when_crawls_overlap() -> None:
    """The crawl tunes the garbage collector for its own run (fewer, cheaper collections);
    the process that called it (a worker, a test) gets its settings back, once the last of
    two overlapping crawls ends."""
    before = gc.get_threshold()

    async def handler(host: Host, profile: Profile, wanted: Sequence[str]) -> Collected:
        await asyncio.sleep(0.05 if host.id == "long" else 0.01)
        seen.append(gc.get_threshold())
        return Collected(params={})

    seen: list[tuple[int, int, int]] = []

    async def both() -> None:
        fake = FakeTransport(handler)
        opts = CrawlOptions(concurrency=2)
        run = {"http": lambda _o: fake}
        await asyncio.gather(
            crawl([_host("long")], {}, opts, transports=run),
            crawl([_host("short")], {}, opts, transports=run),
        )

    asyncio.run(both())
    assert seen and all(t != before for t in seen)  # tuned while devices were read
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
