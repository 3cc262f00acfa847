"""`fleet demo --workers N`: the demo's sweep run through N local `fleet worker` collectors on
a redis-server started for it (Debian's ``redis-server`` must be installed), so the same report
comes out of the distributed path as out of the single process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from fleet.errors import InputError

SITES = ("lon", "man", "edi")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server on a free loopback port, nothing persisted, for the length of the
    block: its URL and its process (the tests stop it mid-sweep)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise InputError(
            "--workers needs redis-server as the demo's broker: apt-get install redis-server",
            field="--workers",
        )
    port = _free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            if _answers(port):
                break
            time.sleep(0.05)
        else:
            raise InputError("the demo's redis-server did not start", field="--workers")
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def local_broker(folder: Path) -> Iterator[str]:
    """The URL of a :func:`redis_server` for the length of the block."""
    with redis_server(folder) as (url, _proc):
        yield url


@contextlib.contextmanager
def collectors(
    count: int, broker: str, secrets: Path, sites: tuple[str, ...] = SITES
) -> Iterator[None]:
    """``count`` `fleet worker` processes, each taking every site's queue."""
    procs = []
    try:
        for _ in range(count):
            args = [sys.executable, "-m", "fleet", "worker", "--broker", broker]
            for s in sites:
                args += ["--queue", f"site:{s}"]
            proc = subprocess.Popen(
                [*args, "--secrets-base", str(secrets)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            procs.append(proc)
            assert proc.stdout is not None
            if "taking" not in proc.stdout.readline():
                raise InputError("a demo collector did not start", field="--workers")
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
