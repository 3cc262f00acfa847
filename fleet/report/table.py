"""The terminal report: a verdict line, a device table, then every finding, worst first."""

from __future__ import annotations

import io
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleet.model import SEVERITY_RANK, Snapshot
from fleet.report.context import verdict
from fleet.report.json_report import _ordered

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUS_STYLE = {
    "audited": "green",
    "unreachable": "red",
    "auth-failed": "red",
    "error": "red",
    "unrecognised": "red",
}


def stderr_console() -> Console:
    return Console(stderr=True)


def render(snap: Snapshot, *, color: bool | None = None) -> str:
    buf = io.StringIO()
    tty = sys.stdout.isatty() if color is None else color
    console = Console(
        file=buf,
        force_terminal=tty,
        no_color=not tty,
        width=140 if not tty else None,
        highlight=False,
    )
    s = snap.summary()
    console.print(_verdict(snap))
    table = Table(show_lines=False, header_style="bold")
    for col in ("device", "site", "profile", "model", "firmware", "status", "findings"):
        table.add_column(col, overflow="fold")
    for r in _ordered(snap.results):
        st = r.state
        worst = min((f.severity for f in r.findings), key=SEVERITY_RANK.__getitem__, default=None)
        counts = ", ".join(
            f"{n} {sev}" for sev in STYLE if (n := sum(1 for f in r.findings if f.severity == sev))
        )
        table.add_row(
            r.id,
            r.site or "",
            r.profile,
            (st.model if st else "") or "",
            (st.firmware if st else "") or "",
            Text(r.status, style=STATUS_STYLE.get(r.status, "red")),
            Text(counts or "ok", style=STYLE.get(worst or "", "green")),
        )
    console.print(table)
    findings = [(r, f) for r in snap.results for f in r.findings]
    findings.sort(key=lambda rf: (*rf[1].sort_key()[:2], rf[0].id, *rf[1].sort_key()[2:]))
    if findings:
        console.print(Text("Findings, worst first", style="bold"))
    for r, f in findings:
        line = Text()
        line.append(f"{f.severity:<8} ", style=STYLE[f.severity])
        line.append(f"{r.id}  ", style="bold")
        line.append(f"{f.rule} [{f.subject}]  ")
        line.append(f.message)
        console.print(line)
        for ev in f.evidence:
            console.print(Text(f"           evidence: {ev}", style="dim"))
    console.print(
        f"{s['devices']} devices, {s['audited']} audited, {s['unreachable']} unreachable, "
        f"{s['auth_failed']} auth-failed, {s['errors']} errors; findings: "
        + ", ".join(f"{n} {k}" for k, n in s["findings"].items())
        + (f"; snapshot {snap.id}" if snap.id else "")
    )
    return buf.getvalue()


def _verdict(snap: Snapshot) -> Text:
    text, ok = verdict(snap)  # the same words as the email subject and the HTML report
    style = "bold green" if ok else "bold red" if text.startswith("EMERGENCY") else "bold yellow"
    return Text(text, style=style)
