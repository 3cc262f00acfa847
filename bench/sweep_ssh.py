"""Sweep N lab SBCs over SSH three ways in one run: fleet's crawler (asyncssh, platform data,
handshake limit), netmiko in a pool of 20 threads (as Nornir's default threaded runner would
run it), and bare asyncssh running the same commands with no parsing (the lower bound).

    python bench/sweep_ssh.py --sbcs 200 [--profile cisco_cube]

The lab runs in a child process (`fleet lab serve --phones 0 --sbcs N`), so the SSH servers
have a core of their own and all three clients meet the same servers.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncssh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleet import inventory as inventory_mod  # noqa: E402
from fleet import profiles  # noqa: E402
from fleet.collect.crawler import CrawlOptions, crawl  # noqa: E402
from fleet.collect.netmiko_transport import _run as netmiko_run  # noqa: E402
from fleet.collect.ssh import SshTarget  # noqa: E402
from fleet.platform import Platform  # noqa: E402

NETMIKO_TYPES = {
    "cisco_cube": "cisco_ios",
    "audiocodes": "audiocode_72",
    "acme_packet": "oracle_ossbc",
}


def target(h: inventory_mod.Host) -> SshTarget:
    return SshTarget(
        h.hostname,
        h.port,
        h.username,
        h.password.value if h.password else None,
        h.enable.value if h.enable else None,
        h.ssh,
    )


async def bare_one(
    h: inventory_mod.Host, platform: Platform, sem: asyncio.Semaphore, handshakes: asyncio.Semaphore
) -> bool:
    prompt = re.compile(platform.prompt)
    async with sem:
        async with handshakes:  # the same handshake limit as fleet's, so the same load
            conn = await asyncssh.connect(
                h.hostname,
                h.port,
                username=h.username,
                password=h.password.value if h.password else None,
                known_hosts=h.ssh.known_hosts,
                client_keys=None,
                agent_path=None,
            )
        async with conn:
            return await _session(conn, h, platform, prompt)


async def _session(
    conn: asyncssh.SSHClientConnection,
    h: inventory_mod.Host,
    platform: Platform,
    prompt: re.Pattern[str],
) -> bool:
    proc = await conn.create_process(term_type="vt100", encoding="utf-8")

    async def until_prompt() -> str:
        buf = ""
        while not prompt.search(buf.replace("\r", "").rsplit("\n", 1)[-1]):
            chunk = await proc.stdout.read(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    await until_prompt()
    en = platform.enable
    if en and h.enable:
        proc.stdin.write(en.command + "\n")
        buf = ""
        while not re.search(en.password_prompt, buf.replace("\r", "").rsplit("\n", 1)[-1]):
            buf += await proc.stdout.read(65536)
        proc.stdin.write(h.enable.value + "\n")
        await until_prompt()
    for cmd in [*platform.setup, *platform.commands]:
        proc.stdin.write(cmd + "\n")
        await until_prompt()
    proc.stdin.write("exit\n")
    return True


async def bare_sweep(hosts: list[inventory_mod.Host], concurrency: int) -> int:
    sem = asyncio.Semaphore(concurrency)
    handshakes = asyncio.Semaphore(CrawlOptions().ssh_handshakes)

    async def one(h: inventory_mod.Host) -> bool:
        try:
            plat = profiles.get(h.profile).platform
            assert plat is not None
            return await bare_one(h, plat, sem, handshakes)
        except (OSError, asyncssh.Error):
            return False

    return sum(await asyncio.gather(*(one(h) for h in hosts)))


def netmiko_sweep(hosts: list[inventory_mod.Host], workers: int) -> int:
    def one(h: inventory_mod.Host) -> bool:
        platform = profiles.get(h.profile).platform
        assert platform is not None
        try:
            netmiko_run(target(h), NETMIKO_TYPES[h.profile], list(platform.commands), 30)
            return True
        except Exception:
            return False

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, hosts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sbcs", type=int, default=200)
    ap.add_argument("--profile", default="cisco_cube")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--net", type=int, default=44)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "fleet",
            "lab",
            "serve",
            "--phones",
            "0",
            "--out",
            tmp,
            "--no-faults",
            "--net",
            str(args.net),
            "--sbcs",
            str(args.sbcs - 3),
            "--sbc-profile",
            args.profile,
        ]
        lab = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert lab.stdout is not None
            line = lab.stdout.readline()
            if not line.startswith("serving"):
                raise SystemExit(f"lab did not start: {line}")
            hosts = [
                h for h in inventory_mod.load(Path(tmp, "inventory.yaml")).hosts if h.role == "sbc"
            ]
            n = len(hosts)
            print(
                f"{n} lab SBCs ({args.profile}); fleet concurrency {args.concurrency}, "
                f"bare asyncssh concurrency {args.concurrency}, netmiko {args.workers} threads"
            )
            rows = {}
            t, c = time.perf_counter(), time.process_time()
            got = asyncio.run(crawl(hosts, {}, CrawlOptions(concurrency=args.concurrency)))
            ok = sum(1 for f in got if f.collected is not None)
            rows["fleet (asyncssh + platform data + parse)"] = (
                time.perf_counter() - t,
                time.process_time() - c,
                ok,
            )
            t, c = time.perf_counter(), time.process_time()
            ok = asyncio.run(bare_sweep(hosts, args.concurrency))
            rows["bare asyncssh (lower bound)"] = (
                time.perf_counter() - t,
                time.process_time() - c,
                ok,
            )
            t, c = time.perf_counter(), time.process_time()
            ok = netmiko_sweep(hosts, args.workers)
            rows[f"netmiko, {args.workers} threads (Nornir-style)"] = (
                time.perf_counter() - t,
                time.process_time() - c,
                ok,
            )
            bare = rows["bare asyncssh (lower bound)"][0]
            for name, (wall, cpu, ok) in rows.items():
                print(
                    f"{name:<44} {n / wall:8.1f} devices/s  {cpu / n * 1000:7.1f} ms CPU/dev"
                    f"  {ok}/{n} ok  time vs bare {wall / bare:5.2f}x"
                )
        finally:
            lab.terminate()
            lab.wait(30)


if __name__ == "__main__":
    main()
