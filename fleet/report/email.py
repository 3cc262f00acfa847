"""The report by email: plain text and HTML alternatives, the full report (HTML, JSON, CSV)
attached as one zip and/or linked, the verdict as the subject, sent with the standard
library's SMTP client.

The HTML part is not the report page: mail clients render a small subset of HTML (Outlook
desktop uses Word's engine, Gmail drops <style> blocks), so it is its own template of tables
and inline styles (templates/email.html.j2), capped at ``LIMIT`` items a list; the rest is in
the attachment. Zipped, because the HTML, JSON and CSV of 300 phones are ~400 KB as they are
and a tenth of that deflated; zip, not gzip, because every desktop opens it without tools.
"""

from __future__ import annotations

import hashlib
import io
import smtplib
import ssl
import time
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from fleet.errors import EmailError, InputError
from fleet.model import DeviceResult, Snapshot
from fleet.report import csv_report, json_report
from fleet.report.charts import TONES
from fleet.report.context import ReportContext

ATTACH = ("zip", "none")  # --email-attach: the full report zipped, or nothing (link it)
LIMIT = 20  # items a list in the mail body; the attachment and the full report have them all
# failing devices shown with every finding and its evidence (~3 KB each): Gmail clips an HTML
# part past 102 KB, and the first devices are the worst
DEVICE_LIMIT = 10
_SEV_BG = {
    "critical": "#b3261e",
    "high": "#b4420b",
    "medium": "#7a5d00",
    "low": "#1f5f99",
    "info": "#555555",
}


@dataclass(slots=True)
class EmailOptions:
    to: list[str]
    smtp: str  # host:port
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # resolved from a secret reference
    sender: str = "fleet@localhost"
    only_on_change: bool = False
    report_url: str | None = None  # where the full report is published, linked from the body
    attach: str = "zip"  # one of ATTACH

    def __post_init__(self) -> None:
        if self.attach not in ATTACH:
            raise InputError(
                f"expected one of {', '.join(ATTACH)}, got {self.attach!r}", field="--email-attach"
            )
        if self.report_url is not None and not self.report_url.startswith(("https://", "http://")):
            raise InputError(
                f"expected an http(s):// URL, got {self.report_url!r}", field="--report-url"
            )

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.smtp.rpartition(":")
        if not sep or not port.isdigit():
            raise InputError(f"expected HOST:PORT, got {self.smtp!r}", field="--smtp")
        return host.strip("[]"), int(port)


def fingerprint(snap: Snapshot) -> str:
    """What the findings are, independent of when: unchanged findings, unchanged hash."""
    items = sorted(
        (r.id, r.status, f.rule, f.subject, f.severity) for r in snap.results for f in r.findings
    )
    return hashlib.sha256(repr(items).encode()).hexdigest()


def text_body(ctx: ReportContext, opts: EmailOptions | None = None) -> str:
    from fleet.report.html import by_device, is_emergency, proof_lines

    s = ctx.snapshot
    by = ", ".join(f"{n} {st}" for st, n in sorted(ctx.not_audited_by.items()))
    out = [
        ctx.verdict,
        "",
        f"{ctx.devices} devices, {ctx.audited} audited, {ctx.proven} of {ctx.phones} "
        f"phones' emergency paths proven, {ctx.failing} failing, {ctx.unreachable} not "
        f"audited{f' ({by})' if by else ''}. Snapshot {s.id} ({s.kind}, {s.finished_at}), "
        f"golden {s.golden}.",
    ]
    out += _where(ctx, opts)
    out += ["", "Per site:"]
    for row in ctx.sites:
        out.append(
            f"  {row.site}: {row.proven} of {row.phones} phone emergency paths proven now; "
            f"{_n(row.devices, 'device')}, {row.failing} failing, {row.unreachable} not audited"
        )
        for line in proof_lines(row, ctx.generated_at, ctx.proof_history, LIMIT):
            more = f" and {line.more} more" if line.more else ""
            out.append(f"    {line.label}: {', '.join(r.id for r in line.devices)}{more}")
    causes = [c for c in ctx.causes if is_emergency(c)]
    if causes:
        out += ["", "Emergency findings by root cause:"]
        for c in causes[:LIMIT]:
            names = ", ".join(c.devices[:8]) + (
                f" and {len(c.devices) - 8} more" * (len(c.devices) > 8)
            )
            out.append(f"  [{c.severity}] {c.summary} ({_n(len(c.devices), 'device')}: {names})")
        out += _more(len(causes), "cause")
        devices = by_device(ctx.emergency)
        out += ["", "Failing devices:"]
        for r, fs in devices[:DEVICE_LIMIT]:
            out.append(f"  {r.id} ({r.site or '-'}, {r.role}, {_address(r)})")
            for f in fs:
                out.append(f"    [{f.severity}] {f.rule} {f.subject}: {f.message}")
                out += [f"        {e}" for e in f.evidence]
        out += _more(len(devices), "device", DEVICE_LIMIT)
    if ctx.not_audited:
        out += ["", "Not audited:"]
        out += [
            f"  {r.id} ({r.site or '-'}, {_address(r)}): {r.status}: {r.error or ''}"
            for r in ctx.not_audited[:LIMIT]
        ]
        out += _more(len(ctx.not_audited), "device")
    if ctx.drift:
        out += ["", "Changed since the previous snapshot:"]
        out += [f"  {g.line()}" for g in ctx.drift[:LIMIT]]
        out += _more(len(ctx.drift), "change")
    return "\n".join(out) + "\n"


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _address(r: DeviceResult) -> str:
    return json_report.address(r.address) or "no address"


def _more(n: int, what: str, limit: int = LIMIT) -> list[str]:
    more = n - limit
    return (
        [f"  ... and {more} more {what}{'s' * (more != 1)} in the full report"] if more > 0 else []
    )


def _where(ctx: ReportContext, opts: EmailOptions | None) -> list[str]:
    """Where the reader finds everything the body leaves out."""
    lines = []
    if opts is not None and opts.report_url:
        lines.append(f"Full report: {opts.report_url}")
    if opts is None or opts.attach == "zip":
        lines.append(f"Attached: {attachment_name(ctx)} (the full report as HTML, JSON and CSV).")
    return ["", *lines] if lines else []


def attachment_name(ctx: ReportContext) -> str:
    return f"fleet-{_stamp(ctx)}.zip"


def _stamp(ctx: ReportContext) -> str:
    return ctx.snapshot.finished_at.replace(":", "").replace("-", "")


def html_body(ctx: ReportContext, opts: EmailOptions) -> str:
    """The mail's HTML part: tables and inline styles only (see the module docstring)."""
    from fleet.report import html as report_html

    tone = report_html.verdict_tone(ctx)
    counts = [
        ("Devices", ctx.devices, "", "muted"),
        ("Audited", ctx.audited, "", "good" if ctx.audited == ctx.devices else "warn"),
        (
            "Paths proven",
            ctx.proven,
            f"of {ctx.phones:,} phones",
            "good" if ctx.proven == ctx.phones else "bad" if ctx.failing else "warn",
        ),
        ("Failing", ctx.failing, "", "bad" if ctx.failing else "good"),
        ("Not audited", ctx.unreachable, "", "warn" if ctx.unreachable else "good"),
    ]
    return (
        report_html.environment()
        .get_template("email.html.j2")
        .render(
            ctx=ctx,
            snap=ctx.snapshot,
            opts=opts,
            counts=counts,
            tones=TONES,
            sev_bg=_SEV_BG,
            tone_bg=TONES[tone],
            tone_fg="#1a1a1a" if tone == "warn" else "#ffffff",
            site_tone=report_html.site_tone,
            proof_lines=report_html.proof_lines,
            statuses=report_html.NOT_AUDITED,
            emergency_causes=[c for c in ctx.causes if report_html.is_emergency(c)],
            emergency_devices=report_html.by_device(ctx.emergency),
            attachment=attachment_name(ctx) if opts.attach == "zip" else None,
            limit=LIMIT,
            device_limit=DEVICE_LIMIT,
        )
    )


def bundle(ctx: ReportContext, report_html: str) -> bytes:
    """The full report as one zip: the HTML page, the JSON and the CSV, dated as the
    snapshot (so the same snapshot zips to the same bytes)."""
    stamp = _stamp(ctx)
    date = time.strptime(ctx.snapshot.finished_at, "%Y-%m-%dT%H:%M:%SZ")[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for ext, text in (
            ("html", report_html),
            ("json", json_report.render(ctx.snapshot)),
            ("csv", csv_report.render(ctx.snapshot)),
        ):
            info = zipfile.ZipInfo(f"fleet-{stamp}.{ext}", date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode(), compresslevel=9)
    return buf.getvalue()


def build(ctx: ReportContext, opts: EmailOptions, html: str) -> EmailMessage:
    """The message: ``html`` is the full report page, attached (zipped) unless
    ``opts.attach`` is "none"; the body itself is :func:`html_body`."""
    msg = EmailMessage()
    msg["Subject"] = ctx.verdict
    msg["From"] = opts.sender
    msg["To"] = ", ".join(opts.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="fleet.invalid")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg.set_content(text_body(ctx, opts))
    msg.add_alternative(html_body(ctx, opts), subtype="html")
    if opts.attach == "zip":
        msg.add_attachment(
            bundle(ctx, html),
            maintype="application",
            subtype="zip",
            filename=attachment_name(ctx),
        )
    return msg


def send(msg: EmailMessage, opts: EmailOptions, timeout: float = 30.0) -> None:
    host, port = opts.host_port()
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            try:
                if opts.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if opts.user:
                    smtp.login(opts.user, opts.password or "")
                smtp.send_message(msg)
            except KeyboardInterrupt:
                # stopped mid-send: drop the connection; the polite QUIT on the way out
                # would wait on a stalled server for the whole timeout
                smtp.close()
                raise
    except smtplib.SMTPAuthenticationError as e:
        raise EmailError(f"SMTP {host}:{port} refused the login for {opts.user!r}") from e
    except (smtplib.SMTPException, OSError) as e:
        raise EmailError(f"SMTP {host}:{port}: {type(e).__name__}: {e}") from e
