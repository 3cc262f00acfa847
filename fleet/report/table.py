"""The terminal report: the verdict, the devices that need attention (the rest as a count),
the root causes worst first with their findings and evidence, then the counts.

Laid out for the width it is given: a table when every column fits whole, else one stacked
block per device, so a device id, a firmware or an address is never split across lines.
Long lines wrap at spaces (a dial plan longer than a line at its ``|``), indented under
their bullet.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from fleet.model import SEVERITY_RANK, DeviceResult, Finding, Snapshot
from fleet.report.causes import Cause, group
from fleet.report.context import plural, verdict
from fleet.report.json_report import _ordered, device_mac

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUS_STYLE = {
    "audited": "green",
    "unreachable": "red",
    "auth-failed": "red",
    "error": "red",
    "unrecognised": "red",
}
COLUMNS = ("device", "site", "profile", "model", "firmware", "address", "mac", "status", "findings")
NAMED = 8  # devices named on a cause's line before "+N more" (all with --all)


def stderr_console() -> Console:
    return Console(stderr=True)


def render(
    snap: Snapshot, *, color: bool | None = None, show_all: bool = False, width: int | None = None
) -> str:
    """The report as text; ``width`` (columns) defaults to the terminal's, else $COLUMNS,
    else 160 when written to a file or pipe."""
    buf = io.StringIO()
    tty = sys.stdout.isatty() if color is None else color
    if width is None and not tty and not os.environ.get("COLUMNS", "").isdigit():
        width = 160
    console = Console(file=buf, force_terminal=tty, no_color=not tty, width=width, highlight=False)
    out = _Out(console)
    text, style = _verdict(snap)
    out.para(Text(""), text, 2, style)
    _devices(out, snap.results, show_all)
    _causes(out, group(snap.results), show_all)
    out.para(Text(""), _counts(snap), 2)
    return buf.getvalue()


class _Out:
    """Lines already wrapped to the console's width, printed as they are."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.width = max(console.width, 40)

    def line(self, text: Text) -> None:
        self.console.print(text, no_wrap=True, overflow="ignore", crop=False)

    def para(self, head: Text, body: str, indent: int, style: str = "") -> None:
        """``head`` then ``body`` wrapped; continuation lines start ``indent`` columns in."""
        lines = wrap(body, self.width, len(head.plain), indent)
        first = head.copy()
        first.append(lines[0] if lines else "", style=style)
        self.line(first)
        for ln in lines[1:]:
            self.line(Text(" " * indent + ln, style=style))


def wrap(text: str, width: int, first: int, indent: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, the first starting at column
    ``first``, the rest at ``indent``. Breaks at spaces only; a word longer than a whole line
    (a dial plan) breaks after a ``|`` or ``,``, and only as a last resort anywhere."""
    room = max(width - indent, 10)
    pieces: list[tuple[str, bool]] = []  # (piece, glued to the one before)
    for word in text.split():
        for i, part in enumerate(_pieces(word, room)):
            pieces.append((part, i > 0))
    lines: list[str] = []
    cur, col = "", first
    for part, glued in pieces:
        sep = "" if glued or not cur else " "
        if not cur and not lines and first > indent and first + len(part) > width:
            lines.append("")  # the head fills the first line: the text starts below it
            col = indent
        if cur and col + len(sep) + len(part) > width:
            lines.append(cur)
            cur, col = part, indent + len(part)
            continue
        cur += sep + part
        col += len(sep) + len(part)
    if cur or not lines:
        lines.append(cur)
    return lines


def _pieces(word: str, room: int) -> list[str]:
    if len(word) <= room:
        return [word]
    out, cur = [], ""
    for ch in word:
        cur += ch
        if ch in "|," or len(cur) >= room:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _device_ok(r: DeviceResult) -> bool:
    return r.status == "audited" and not r.findings


def _devices(out: _Out, results: Sequence[DeviceResult], show_all: bool) -> None:
    ordered = _ordered(list(results))
    shown = ordered if show_all else [r for r in ordered if not _device_ok(r)]
    hidden = len(ordered) - len(shown)
    if shown:
        rows = [_row(r) for r in shown]
        table = _table(rows, out.console)
        if table is not None:
            out.console.print(table)
        else:
            _stacked(out, rows)
    if hidden:
        # with no SBC in the run, fleet checks a phone's calls as far as its server only
        proven = (
            "every emergency path proven"
            if any(r.role == "sbc" for r in results)
            else "no finding (no SBC in this run: checked as far as each phone's server)"
        )
        out.para(
            Text(""), f"{plural(hidden, 'device')} ok: {proven} (--all lists them)", 2, "green"
        )


def _row(r: DeviceResult) -> dict[str, Text]:
    st = r.state
    worst = min((f.severity for f in r.findings), key=SEVERITY_RANK.__getitem__, default=None)
    counts = ", ".join(
        f"{n} {sev}" for sev in STYLE if (n := sum(1 for f in r.findings if f.severity == sev))
    )
    return {
        "device": Text(r.id, style="bold"),
        "site": Text(r.site or ""),
        "profile": Text(r.profile),
        "model": Text((st.model if st else "") or ""),
        "firmware": Text((st.firmware if st else "") or ""),
        "address": Text(where(r.address)),
        # `fleet audit`: the device is a file
        "address label": Text("file" if r.files and "://" not in (r.address or "") else "address"),
        "mac": Text(mac_text(device_mac(r))),
        "status": Text(r.status, style=STATUS_STYLE.get(r.status, "red")),
        "findings": Text(counts or "ok", style=STYLE.get(worst or "", "green")),
    }


def _table(rows: list[dict[str, Text]], console: Console) -> Table | None:
    """The device table, or None when its columns do not fit the console whole (a column
    that would have to wrap splits an id or a firmware mid-token)."""
    cols = [c for c in COLUMNS if any(row[c].plain for row in rows) or c in ("device", "status")]
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        header_style="bold",
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for c in cols:
        table.add_column(c, no_wrap=True)
    for row in rows:
        table.add_row(*(row[c] for c in cols))
    need = Measurement.get(console, console.options.update_width(10_000), table).maximum
    return table if need <= console.width else None


def _stacked(out: _Out, rows: list[dict[str, Text]]) -> None:
    """One block per device: id, site, status, findings under a header; then what
    identifies it (profile, model, firmware, address, MAC), indented below."""
    wide = min(max(len("device"), *(len(row["device"].plain) for row in rows)), out.width // 2)
    has_site = any(row["site"].plain for row in rows)
    site = max(len("site"), *(len(row["site"].plain) for row in rows)) if has_site else 0
    status = max(len("status"), *(len(row["status"].plain) for row in rows))

    def line(device: Text, where: str, state: Text, found: Text) -> Text:
        t = Text()
        t.append_text(device)
        t.append(" " * (wide - len(device.plain) + 2))
        if has_site:
            t.append(where.ljust(site) + "  ")
        t.append_text(state)
        t.append(" " * (status - len(state.plain) + 2))
        t.append_text(found)
        return t

    header = line(Text("device"), "site", Text("status"), Text("findings"))
    header.stylize("bold")
    out.line(header)
    for row in rows:
        out.line(line(row["device"], row["site"].plain, row["status"], row["findings"]))
        items = [row["profile"].plain]
        items += [row["model"].plain] if row["model"].plain else []
        for label in ("firmware", "address", "mac"):
            if row[label].plain:
                name = row["address label"].plain if label == "address" else label
                items.append(f"{name} {row[label].plain}")
        for ln in _pack(items, out.width, 4):
            out.line(Text("    " + ln, style="dim"))


def _pack(items: list[str], width: int, indent: int) -> list[str]:
    """Whole items, two spaces apart, in lines of ``width`` columns after ``indent``."""
    lines: list[str] = []
    cur = ""
    for item in items:
        if cur and indent + len(cur) + 2 + len(item) > width:
            lines.append(cur)
            cur = item
        else:
            cur = f"{cur}  {item}" if cur else item
    if cur:
        lines.append(cur)
    return lines


def _causes(out: _Out, causes: list[Cause], show_all: bool) -> None:
    if not causes:
        return
    out.line(Text(""))
    out.line(Text(f"{plural(len(causes), 'root cause')}, worst first", style="bold"))
    for c in causes:
        head = Text()
        head.append(f"{c.severity:<8} ", style=STYLE[c.severity])
        who = c.devices[0] if len(c.devices) == 1 else plural(len(c.devices), "device")
        head.append(who, style="bold")
        if c.numbers:
            head.append(f"  [{', '.join(c.numbers)}]")
        head.append("  ")
        out.para(head, readable(c.summary), 9)
        if len(c.devices) > 1:
            out.para(Text("         devices: "), _names(c.devices, show_all), 18, "dim")
        for f, devices in _details(c):
            _finding(out, f, devices, show_all, c)


def _names(devices: Sequence[str], show_all: bool) -> str:
    if show_all or len(devices) <= NAMED:
        return ", ".join(devices)
    return ", ".join(devices[:NAMED]) + f" (+{len(devices) - NAMED} more)"


def _details(c: Cause) -> list[tuple[Finding, list[str]]]:
    """The cause's findings, the same finding on several devices once with their names."""
    seen: dict[tuple[str, str, str], tuple[Finding, list[str]]] = {}
    for device, f in c.findings:
        k = (f.rule, f.subject, f.message)
        if k in seen:
            seen[k][1].append(device)
        else:
            seen[k] = (f, [device])
    return list(seen.values())


def _finding(out: _Out, f: Finding, devices: list[str], show_all: bool, c: Cause) -> None:
    """One finding under its cause: the device (unless the cause has one), the rule, the
    message (unless the cause's line already says it), the evidence."""
    head = Text("         - ")
    head.append(f"{f.severity} ", style=STYLE[f.severity])
    if len(c.devices) > 1:
        head.append(f"{devices[0] if len(devices) == 1 else plural(len(devices), 'device')}  ")
    head.append(f"{f.rule} [{f.subject}]", style="bold")
    if f.message == c.summary:
        out.line(head)
    else:
        head.append("  ")
        out.para(head, readable(f.message), 13)
    if len(devices) > 1:
        out.para(Text("             on: "), _names(devices, show_all), 17, "dim")
    for ev in f.evidence:
        out.para(Text("             > ", style="dim"), readable(ev), 15, "dim")


def readable(text: str) -> str:
    """Evidence and messages as a person reads them: a JSON object or list in the text (a
    device's API answer, a structured parameter) as ``key: value`` pairs, not braces and
    quotes. Anything that is not JSON (a Grandstream ``{ x+ | ... }`` dial plan) stays."""
    if "{" not in text and "[" not in text:
        return text
    out, i = [], 0
    decoder = json.JSONDecoder()
    while i < len(text):
        ch = text[i]
        if ch in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                value, end = None, i
            # quoted strings make it JSON; a digit map's "[2]" or "[0-9]" never has them
            if end > i and isinstance(value, (dict, list)) and value and '"' in text[i:end]:
                out.append(_plain(value, top=True))
                i = end
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _plain(v: object, top: bool = False) -> str:
    if isinstance(v, dict):
        inner = "; ".join(f"{k}: {_plain(x)}" for k, x in v.items()) or "(empty)"
        return inner if top else f"({inner})"
    if isinstance(v, list):
        return ", ".join(_plain(x) for x in v) or "(none)"
    if v is None:
        return "none"
    return str(v)


def where(address: str | None) -> str:
    """The address to find the device at: host[:port] of a URL, else as the inventory has it."""
    if not address:
        return ""
    if "://" in address:
        return urlsplit(address).netloc.rpartition("@")[2] or address
    return address


def mac_text(mac: str | None) -> str:
    if not mac:
        return ""
    hexes = "".join(ch for ch in mac.lower() if ch in "0123456789abcdef")
    if len(hexes) != 12:
        return mac
    return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))


def _counts(snap: Snapshot) -> str:
    s = snap.summary()
    found = ", ".join(f"{n} {k}" for k, n in s["findings"].items() if n) or "no findings"
    return (
        f"{plural(s['devices'], 'device')}: {s['audited']} audited, {s['unreachable']} "
        f"unreachable, {s['auth_failed']} auth-failed, {plural(s['errors'], 'error')}; "
        f"findings: {found}" + (f"; snapshot {snap.id}" if snap.id else "")
    )


def _verdict(snap: Snapshot) -> tuple[str, str]:
    text, ok = verdict(snap)  # the same words as the email subject and the HTML report
    return text, "bold green" if ok else "bold red" if text.startswith(
        "EMERGENCY"
    ) else "bold yellow"
