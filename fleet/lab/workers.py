"""`fleet demo --workers N`: the demo's sweep run through N local `fleet worker` collectors on
a redis-server started for it (Debian's ``redis-server`` must be installed), so the same report
comes out of the distributed path as out of the single process. Also a RabbitMQ node of its
own (:func:`rabbitmq_server`) for the tests and the bench of ``amqp://`` brokers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe

from fleet.errors import InputError

SITES = ("lon", "man", "edi")
# Debian's server script runs as its caller; /usr/sbin/rabbitmq-server is a wrapper that
# switches to the rabbitmq user and its /var/lib/rabbitmq, which a test's node must not touch
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"  # AMQP 0-9-1's protocol header


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


def rabbitmq_exe() -> str | None:
    """Debian's ``rabbitmq-server`` script (or one on PATH that is not Debian's wrapper)."""
    if os.access(RABBITMQ_SERVER, os.X_OK):
        return RABBITMQ_SERVER
    exe = shutil.which("rabbitmq-server")
    return None if exe is None or exe == "/usr/sbin/rabbitmq-server" else exe


def _amqp_answers(port: int) -> bool:
    """Whether an AMQP broker listens on ``port``: it answers the protocol header with its
    Connection.Start method frame (frame type 1), sent only once the node has booted."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(AMQP_HEADER)
            return s.recv(1) == b"\x01"
    except OSError:
        return False


@dataclass
class RabbitMQ:
    """A running RabbitMQ node: its URL (user and password), its server process, and the
    environment its ``rabbitmqctl`` needs (the node's name, epmd port and cookie)."""

    url: str
    proc: subprocess.Popen[bytes]
    node: str
    env: dict[str, str]
    folder: Path

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl ARGS`` against this node."""
        exe = Path(RABBITMQ_SERVER).with_name("rabbitmqctl")
        return subprocess.run(
            [str(exe), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def _rabbitmq_files(folder: Path, port: int) -> tuple[dict[str, str], str]:
    """The node's configuration, all of it under ``folder``: the environment and the
    password of its one user."""
    password = token_urlsafe(12)
    conf = folder / "rabbitmq.conf"
    conf.write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "default_user = fleet\n"
        f"default_pass = {password}\n"
        "log.console = false\n"
        "log.file.level = warning\n",
        encoding="utf-8",
    )
    (folder / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    (folder / "rabbitmq-env.conf").write_text("", encoding="utf-8")  # not /etc/rabbitmq's
    env = {
        **os.environ,
        "HOME": str(folder),  # the Erlang cookie is written there
        "RABBITMQ_NODENAME": f"fleet{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(_free_port()),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(conf),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(_free_port()),
    }
    return env, password


def _stop(proc: subprocess.Popen[bytes], wait: float) -> None:
    """SIGTERM, then SIGKILL to its process group (the script, the Erlang VM and its port
    programs) if it has not gone within ``wait`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.contextmanager
def rabbitmq_server(folder: Path, start_timeout: float = 60.0) -> Iterator[RabbitMQ]:
    """A RabbitMQ node of its own on a free loopback port, for the length of the block:
    its data, logs, configuration, Erlang cookie and an epmd of its own on a free port, all
    under ``folder`` (no systemd, nothing of the machine's own node touched)."""
    exe = rabbitmq_exe()
    if exe is None:
        raise InputError(
            "an amqp:// broker here needs RabbitMQ: apt-get install rabbitmq-server",
            field="--broker",
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env, password = _rabbitmq_files(folder, port)
    # our own epmd in the foreground, so it stops with the node (one the VM started itself
    # would daemonise and outlive it)
    epmd = subprocess.Popen(
        ["epmd", "-port", env["ERL_EPMD_PORT"], "-address", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [exe], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not _amqp_answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "server.log").read_text(errors="replace")[-400:]
                raise InputError(f"RabbitMQ did not start: {tail}", field="--broker")
            time.sleep(0.2)
        node = env["RABBITMQ_NODENAME"]
        yield RabbitMQ(f"amqp://fleet:{password}@127.0.0.1:{port}//", proc, node, env, folder)
    finally:
        _stop(proc, 30)
        log.close()
        _stop(epmd, 5)


@contextlib.contextmanager
def local_broker(folder: Path) -> Iterator[str]:
    """The URL of a :func:`redis_server` for the length of the block."""
    with redis_server(folder) as (url, _proc):
        yield url


@contextlib.contextmanager
def collectors(
    count: int, broker: str, secrets: Path, sites: tuple[str, ...] = SITES
) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` `fleet worker` processes, each taking every site's queue (the block gets
    the processes: the bench reads their CPU time)."""
    procs: list[subprocess.Popen[str]] = []
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
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
