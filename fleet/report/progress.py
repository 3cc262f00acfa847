"""The sweep's progress bar on stderr, fed by the crawler's ``on_done`` callback; the
engine itself draws nothing (it runs under workers and benches too)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from fleet.report.table import stderr_console


@contextmanager
def bar(total: int, show: bool) -> Iterator[Callable[[Any], None] | None]:
    """A callback that advances the bar by one device, or None when nothing is shown. The bar
    goes away once ``total`` devices are done, before the rest of the run prints."""
    if not show or total == 0:
        yield None
        return
    p = Progress(
        "sweeping",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    task = p.add_task("sweep", total=total)
    done = 0

    def advance(_item: Any) -> None:
        nonlocal done
        done += 1
        p.advance(task)
        if done >= total:
            p.stop()

    p.start()
    try:
        yield advance
    finally:
        p.stop()
