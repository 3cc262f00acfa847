"""Sweep every lab phone profile, in the lab's proportions, at two fleet sizes in one run, and
print fleet's CPU per phone at each, their ratio and how many phones were audited.

    python bench/sweep_http.py --sizes 500,5000 --concurrency 1000
    python bench/sweep_http.py --sizes 2000 --bare            # with the lower bound
    python bench/sweep_http.py --phones 2000 --bare --transports httpcore,lean --rounds 2

CPU per phone must not grow with the fleet (target: the largest size within 1.5x of the
smallest) and every healthy phone must be audited (the lab runs no faults). The lab runs in a
child process (`fleet lab serve`, every simulated phone vendor, cycling over them as the lab
does), so its CPU is not fleet's; one lab of the largest size serves every size (its first N
phones are in the same proportions). A warm-up sweep runs first, so one-time costs (imports,
compiled dial plans and templates) do not flatter the larger size.

``--bare`` adds the lower bound: a bare asyncio-streams client replaying, per profile and
firmware, the requests fleet's profile made to one phone (recorded at fleet's HttpHost),
answering the same Basic/Digest challenges, one connection per request as fleet (keep-alive
off), against fleet over the same phones. A profile is left out of it, and named, when its
replayed exchange does not get the answers fleet got (Yealink: its session rides on a cookie,
which the replay does not send); where the session id travels in the request itself
(Grandstream's ``sid``), the replay reuses the recorded one, which the lab still holds, so the
requests and bytes are still fleet's. ``--transports`` sets fleet's HTTP transports (the lean
default and the previous httpcore one) against the bare client in the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet import inventory as inventory_mod  # noqa: E402
from fleet import pipeline, profiles  # noqa: E402
from fleet.check import golden as golden_mod  # noqa: E402
from fleet.collect.crawler import CrawlOptions  # noqa: E402
from fleet.collect.http import TRANSPORT_ENV, HttpHost, HttpPool, HttpStatusError  # noqa: E402
from fleet.lab import fleet as labfleet  # noqa: E402


@dataclass
class Call:
    method: str
    target: str
    body: bytes
    content_type: str | None
    status: int = 0


class RecordingHost(HttpHost):
    calls: list[Call]

    async def request(self, method: str, path: str, **kw: Any) -> Any:  # type: ignore[override]
        body, ctype = b"", None
        if kw.get("json") is not None:
            body, ctype = json.dumps(kw["json"]).encode(), "application/json"
        elif kw.get("data") is not None:
            body, ctype = urlencode(kw["data"]).encode(), "application/x-www-form-urlencoded"
        elif kw.get("content") is not None:
            c = kw["content"]
            body = c.encode() if isinstance(c, str) else c
        target = path + ("?" + urlencode(kw["params"]) if kw.get("params") else "")
        call = Call(method, target, body, ctype)
        self.calls.append(call)
        try:
            reply = await super().request(method, path, **kw)
        except HttpStatusError as e:
            call.status = e.reply.status
            raise
        call.status = reply.status
        return reply


async def record(host: inventory_mod.Host) -> list[Call]:
    async with HttpPool() as pool:
        h = RecordingHost(
            pool,
            host.base_url,
            host.username,
            host.password.value if host.password else None,
            host.tls,
        )
        h.calls = []
        await profiles.get(host.profile).fetch(h, [])
        return h.calls


# --- the bare client ---------------------------------------------------------------------

_CTX = ssl.create_default_context()
_CTX.check_hostname = False
_CTX.verify_mode = ssl.CERT_NONE


async def exchange(
    host: str, port: int, tls: bool, head: bytes, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(host, port, ssl=_CTX if tls else None)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        data = await reader.readexactly(n) if n else b""
        return status, headers, data
    finally:
        writer.close()


class Digest:
    def __init__(self, user: str, password: str, challenge: str) -> None:
        self.user, self.password = user, password
        self.p = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
        self.nc = 0

    def header(self, method: str, uri: str) -> str:
        self.nc += 1
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
        ha1 = md5(f"{self.user}:{self.p['realm']}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        nc, cnonce = f"{self.nc:08x}", os.urandom(8).hex()
        resp = md5(f"{ha1}:{self.p['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{self.user}", realm="{self.p["realm"]}", '
            f'nonce="{self.p["nonce"]}", uri="{uri}", response="{resp}", qop=auth, '
            f'nc={nc}, cnonce="{cnonce}", algorithm=MD5'
        )


async def bare_device(host: inventory_mod.Host, calls: list[Call]) -> bool:
    auth: Digest | str | None = None
    user, pw = host.username or "", host.password.value if host.password else ""
    tls = host.scheme == "https"
    for call in calls:
        for _ in range(2):
            hdrs = [
                f"{call.method} {call.target} HTTP/1.1",
                f"Host: {host.hostname}",
                "Connection: close",
                "User-Agent: bare",
                f"Content-Length: {len(call.body)}",
            ]
            if call.content_type:
                hdrs.append(f"Content-Type: {call.content_type}")
            if isinstance(auth, Digest):
                hdrs.append("Authorization: " + auth.header(call.method, call.target))
            elif auth:
                hdrs.append("Authorization: " + auth)
            head = ("\r\n".join(hdrs) + "\r\n\r\n").encode()
            status, headers, _ = await exchange(host.hostname, host.port, tls, head, call.body)
            if status != 401:
                break
            ch = headers.get("www-authenticate", "")
            if ch.lower().startswith("digest"):
                auth = Digest(user, pw, ch)
            else:
                auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        if status != call.status:
            return False
    return True


async def bare_sweep(
    hosts: list[inventory_mod.Host], plans: dict[str, list[Call]], concurrency: int
) -> int:
    sem = asyncio.Semaphore(concurrency)

    async def one(h: inventory_mod.Host) -> bool:
        async with sem:
            try:
                return await bare_device(h, plans[h.id])
            except OSError:
                return False

    return sum(await asyncio.gather(*(one(h) for h in hosts)))


# --- the run ---------------------------------------------------------------------------


def measure(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    result = asyncio.run(fn())
    return time.perf_counter() - w0, time.process_time() - c0, result


def start_lab(phones: int, names: list[str], net: int, out: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fleet", "lab", "serve", "--phones", str(phones)]
    cmd += ["--out", out, "--no-faults", "--no-with-sbcs", "--net", str(net)]
    for n in names:
        cmd += ["--profile", n]
    lab = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert lab.stdout is not None
    line = lab.stdout.readline()
    if not line.startswith("serving"):
        lab.terminate()
        raise SystemExit(f"lab did not start: {line}")
    return lab


def fleet_sweep(
    hosts: list[inventory_mod.Host], gold: Any, concurrency: int
) -> tuple[float, float, Counter[str], list[str]]:
    """Wall and CPU seconds, statuses, and the first few reasons a phone was not audited."""
    opts = CrawlOptions(concurrency=concurrency)
    wall, cpu, snap = measure(lambda: pipeline.sweep(hosts, gold, opts))
    statuses = Counter(r.status for r in snap.results)
    why = [f"{r.id}: {r.status}: {r.error}" for r in snap.results if r.status != "audited"]
    return wall, cpu, statuses, why[:5]


def replay_plans(
    hosts: list[inventory_mod.Host], names: list[str], phones: int, net: int
) -> tuple[dict[str, list[Call]], list[str]]:
    """Each replayable host's recorded requests, and the profiles that cannot be replayed."""
    # Exchanges differ by firmware (Poly's device/info v1 or v2): the lab is built
    # deterministically, so rebuild its specs here to know each phone's firmware.
    specs = {
        p.id: p
        for p in labfleet.build(
            phones, faults=False, profile_names=names, net=net, sbcs=False
        ).phones
    }
    key = {h.id: (h.profile, specs[h.id].firmware) for h in hosts}
    plans: dict[Any, list[Call] | None] = {}
    for h in hosts:
        if key[h.id] not in plans:
            calls = asyncio.run(record(h))
            try:  # a login the replay cannot redo shows as a different answer
                ok = asyncio.run(bare_device(h, calls))
            except (OSError, ValueError, IndexError):
                ok = False
            plans[key[h.id]] = calls if ok else None
    left_out = sorted({k[0] for k, c in plans.items() if c is None})
    per_host = {h.id: c for h in hosts if (c := plans[key[h.id]]) is not None}
    return per_host, left_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,5000", help="fleet sizes, comma-separated")
    ap.add_argument("--phones", type=int, help="one fleet size (the same as --sizes N)")
    ap.add_argument("--profiles", default=",".join(labfleet.phone_profiles()))
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=120, help="phones in the unmeasured warm-up")
    ap.add_argument("--bare", action="store_true", help="add the bare-client lower bound")
    ap.add_argument(
        "--transports",
        default="",
        help="with --bare: fleet's HTTP transports to set against the bare client in the same "
        "run, comma-separated (lean, httpcore; default: FLEET_HTTP_TRANSPORT's)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="with --bare: rounds of the comparison")
    ap.add_argument("--net", type=int, default=0, help="the lab's 127.N net (0: the first free)")
    args = ap.parse_args()
    names = args.profiles.split(",")
    sizes = [args.phones] if args.phones else sorted(int(n) for n in args.sizes.split(","))
    transports = [t for t in args.transports.split(",") if t]
    net = args.net or labfleet.free_net(40)
    with tempfile.TemporaryDirectory() as tmp:
        lab = start_lab(max(sizes), names, net, tmp)
        try:
            inv = inventory_mod.load(Path(tmp, "inventory.yaml"))
            gold = golden_mod.load(Path(tmp, "golden.yaml"))
            mix = Counter(h.profile for h in inv.hosts)
            print(
                f"lab: {len(inv.hosts)} phones ("
                + ", ".join(f"{p} {n}" for p, n in mix.items())
                + f"), concurrency {args.concurrency}"
            )
            fleet_sweep(inv.hosts[: args.warmup], gold, args.concurrency)
            per_phone: dict[int, float] = {}
            all_audited = True
            for n in sizes:
                wall, cpu, statuses, why = fleet_sweep(inv.hosts[:n], gold, args.concurrency)
                per_phone[n] = cpu / n * 1000
                all_audited &= statuses["audited"] == n
                print(
                    f"{n:6d} phones: {n / wall:7.1f} phones/s, {per_phone[n]:.2f} ms CPU per "
                    f"phone, {statuses['audited']}/{n} audited"
                    + "".join(f", {k} {v}" for k, v in statuses.items() if k != "audited")
                )
                for line in why:
                    print("    " + line)
            lo, hi = min(sizes), max(sizes)
            if lo != hi:
                ratio = per_phone[hi] / per_phone[lo]
                print(
                    f"CPU per phone at {hi} / at {lo}: {ratio:.2f}x (target: within 1.5x: "
                    f"{'met' if ratio <= 1.5 else 'NOT met'}); every healthy phone audited: "
                    f"{'yes' if all_audited else 'NO'}"
                )
            if args.bare:
                bare(
                    inv.hosts[:lo],
                    gold,
                    names,
                    max(sizes),
                    net,
                    args.concurrency,
                    transports,
                    args.rounds,
                )
        finally:
            lab.terminate()
            lab.wait(30)


def bare(
    hosts: list[inventory_mod.Host],
    gold: Any,
    names: list[str],
    phones: int,
    net: int,
    concurrency: int,
    transports: list[str] | None = None,
    rounds: int = 1,
) -> None:
    """fleet against the bare client over the phones whose exchange the bare client replays;
    each of ``transports`` (FLEET_HTTP_TRANSPORT's values) in turn, in the same round as the
    bare client, so the machine's load that minute is the same for every figure compared."""
    per_host, left_out = replay_plans(hosts, names, phones, net)
    same = [h for h in hosts if h.id in per_host]
    if not same:
        print(f"lower bound: no profile can be replayed (left out: {', '.join(left_out)})")
        return
    n = len(same)
    print(
        f"lower bound over {n} phones ({', '.join(sorted({h.profile for h in same}))}; left "
        f"out, not replayable: {', '.join(left_out) or 'none'})"
    )
    before = os.environ.get(TRANSPORT_ENV)
    ratios: dict[str, list[float]] = {}
    try:
        for r in range(1, rounds + 1):
            bw, bc, ok_b = measure(lambda: bare_sweep(same, per_host, concurrency))
            for t in transports or [before or "lean"]:
                os.environ[TRANSPORT_ENV] = t
                fw, fc, statuses, _ = fleet_sweep(same, gold, concurrency)
                ratios.setdefault(t, []).append(fc / bc)
                print(
                    f"  round {r}, transport {t}: fleet {n / fw:.1f} phones/s "
                    f"({fc / n * 1000:.2f} ms CPU, {statuses['audited']} audited) | bare "
                    f"{n / bw:.1f} phones/s ({bc / n * 1000:.2f} ms CPU, {ok_b} ok): fleet at "
                    f"{bw / fw:.0%} of the lower bound's rate, CPU ratio {fc / bc:.2f} "
                    f"(target: at most 2: {'met' if fc / bc <= 2 else 'NOT met'})"
                )
        if rounds > 1:  # one round's ratio moves with the machine's load that minute
            print(
                f"median CPU ratio over {rounds} rounds: "
                + ", ".join(f"{t} {statistics.median(v):.2f}" for t, v in ratios.items())
            )
    finally:
        if before is None:
            os.environ.pop(TRANSPORT_ENV, None)
        else:
            os.environ[TRANSPORT_ENV] = before


if __name__ == "__main__":
    main()
