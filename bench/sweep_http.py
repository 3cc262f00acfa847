"""Sweep N lab phones with fleet's crawler and, in the same run, with a bare asyncio-streams
client doing the same HTTP exchanges (the lower bound); print devices/s and CPU per device
for both and the ratios.

    python bench/sweep_http.py --phones 2000

The lab runs in a child process (`fleet lab serve`), so the server has a core of its own and
both clients meet the same server. The bare client replays, per profile, the requests fleet's
profile made to one phone (recorded at fleet's HttpHost), answering the same Basic/Digest
challenges and opening one connection per request as fleet does (keep-alive off). Profiles
with a vendor login (Yealink: an RSA-encrypted password) cannot be replayed and are left out.
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
import subprocess
import sys
import tempfile
import time
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
from fleet.collect.http import HttpHost, HttpPool, HttpStatusError  # noqa: E402
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


# --- the run -----------------------------------------------------------------------------


def measure(label: str, fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    result = asyncio.run(fn())
    return time.perf_counter() - w0, time.process_time() - c0, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=2000)
    ap.add_argument("--profiles", default="polycom,cisco_mpp")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--net", type=int, default=40)
    args = ap.parse_args()
    names = args.profiles.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "fleet",
            "lab",
            "serve",
            "--phones",
            str(args.phones),
            "--out",
            tmp,
            "--no-faults",
            "--no-with-sbcs",  # phones only: this measures the HTTP crawler
            "--net",
            str(args.net),
        ]
        for n in names:
            cmd += ["--profile", n]
        lab = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert lab.stdout is not None
            line = lab.stdout.readline()
            if not line.startswith("serving"):
                raise SystemExit(f"lab did not start: {line}")
            inv = inventory_mod.load(Path(tmp, "inventory.yaml"))
            gold = golden_mod.load(Path(tmp, "golden.yaml"))
            hosts = inv.hosts
            # Exchanges differ by firmware (Poly's device/info v1 or v2): the lab is built
            # deterministically, so rebuild its specs here to know each phone's firmware.
            specs = {
                p.id: p
                for p in labfleet.build(
                    args.phones, faults=False, profile_names=names, net=args.net, sbcs=False
                ).phones
            }
            key = {h.id: (h.profile, specs[h.id].firmware) for h in hosts}
            plans: dict[Any, list[Call]] = {}
            for h in hosts:
                if key[h.id] not in plans:
                    plans[key[h.id]] = asyncio.run(record(h))
            per_host = {h.id: plans[key[h.id]] for h in hosts}
            print(
                f"{len(hosts)} lab phones ({', '.join(names)}), concurrency "
                f"{args.concurrency}; requests per phone: "
                + ", ".join(f"{k[0]} {k[1]}: {len(c)}" for k, c in plans.items())
            )
            opts = CrawlOptions(concurrency=args.concurrency)
            rows = []
            for r in range(args.rounds):
                fw, fc, snap = measure(
                    "fleet", lambda: pipeline.sweep(hosts, gold, opts, progress=False)
                )
                ok_f = sum(1 for x in snap.results if x.status == "audited")
                bw, bc, ok_b = measure(
                    "bare", lambda: bare_sweep(hosts, per_host, args.concurrency)
                )
                rows.append((fw, fc, ok_f, bw, bc, ok_b))
                print(
                    f"round {r + 1}: fleet {len(hosts) / fw:7.1f} devices/s "
                    f"({fc / len(hosts) * 1000:.2f} ms CPU/device, {ok_f} audited) | "
                    f"bare {len(hosts) / bw:7.1f} devices/s "
                    f"({bc / len(hosts) * 1000:.2f} ms CPU/device, {ok_b} ok) | "
                    f"rate ratio {bw / fw:.2f}, CPU ratio {fc / bc:.2f}"
                )
            best = min(rows, key=lambda x: x[0])
            bare_best = min(rows, key=lambda x: x[3])
            print(
                f"best: fleet {len(hosts) / best[0]:.1f} devices/s vs bare "
                f"{len(hosts) / bare_best[3]:.1f} devices/s: fleet at "
                f"{bare_best[3] / best[0]:.0%} of the lower bound's rate"
            )
        finally:
            lab.terminate()
            lab.wait(30)


if __name__ == "__main__":
    main()
