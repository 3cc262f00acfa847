"""One writing run per store at a time: an advisory lock on ``<store>.lock``, so cron or a
systemd timer firing while the last run is still going does not collide with it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet.errors import StoreBusy, StoreError


@contextmanager
def held(store: Path, wait_s: float) -> Iterator[None]:
    path = Path(str(store) + ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:  # a read-only filesystem, a folder that is not ours
        raise StoreError(f"{store}: cannot take its lock {path.name}: {e.strerror}") from e
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"{store}: another fleet run is still working on this store "
                        f"({_holder(fd)}waited {wait_s:g} s; see --store-wait)"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _holder(fd: int) -> str:
    """ "pid N; " of the run holding the lock, as it wrote it, or nothing. The lock is the
    kernel's (flock): a run killed with -9 holds it no longer, whatever the file says."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""
    return f"pid {text}; " if text.isdigit() else ""
