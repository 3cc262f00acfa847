"""Report formats: one module per output format."""

from __future__ import annotations

from fleet.model import Snapshot

FORMATS = ("table", "json", "junit", "html", "csv")  # html and csv: see fleet.app.render


def render(
    snap: Snapshot,
    fmt: str,
    *,
    color: bool | None = None,
    fail_on: str = "high",
    show_all: bool = False,
) -> str:
    """``show_all``: the table lists every device (else the ok ones are one count)."""
    if fmt == "junit":
        from fleet.report.junit import render as j

        return j(snap, fail_on)
    if fmt == "json":
        from fleet.report.json_report import render as r

        return r(snap)
    from fleet.report.table import render as t

    return t(snap, color=color, show_all=show_all)
