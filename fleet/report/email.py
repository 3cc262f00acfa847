"""The report by email: plain text and HTML alternatives, the JSON and CSV attached, the
verdict as the subject, sent with the standard library's SMTP client."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from fleet.errors import EmailError, InputError
from fleet.model import Snapshot
from fleet.report import csv_report, json_report
from fleet.report.context import ReportContext


@dataclass(slots=True)
class EmailOptions:
    to: list[str]
    smtp: str  # host:port
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # resolved from a secret reference
    sender: str = "fleet@localhost"
    only_on_change: bool = False

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


def text_body(ctx: ReportContext) -> str:
    s = ctx.snapshot
    out = [
        ctx.verdict,
        "",
        f"{ctx.devices} devices, {ctx.audited} audited, {ctx.proven} of {ctx.phones} "
        f"phones' emergency paths proven, {ctx.failing} failing, {ctx.unreachable} not "
        f"audited. Snapshot {s.id} ({s.kind}, {s.finished_at}), golden {s.golden}.",
        "",
    ]
    out.append("Per site:")
    for row in ctx.sites:
        stale = f", all paths last proven {row.last_proven}" if row.last_proven else ""
        out.append(
            f"  {row.site}: {row.devices} devices, {row.audited} audited, "
            f"{row.failing} failing, {row.unreachable} not audited{stale}"
        )
    if ctx.emergency:
        out += ["", "Emergency findings:"]
        for r, f in ctx.emergency:
            out.append(f"  [{f.severity}] {r.id} ({r.site}) {f.rule} {f.subject}: {f.message}")
            out += [f"      {e}" for e in f.evidence]
    if ctx.not_audited:
        out += ["", "Not audited:"]
        out += [f"  {r.id} ({r.site}): {r.status}: {r.error or ''}" for r in ctx.not_audited]
    if ctx.drift:
        out += ["", "Changed since the previous snapshot:"]
        out += [f"  {g.line()}" for g in ctx.drift[:40]]
        if len(ctx.drift) > 40:
            out.append(f"  ... and {len(ctx.drift) - 40} more (see the attached JSON)")
    return "\n".join(out) + "\n"


def build(ctx: ReportContext, opts: EmailOptions, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = ctx.verdict
    msg["From"] = opts.sender
    msg["To"] = ", ".join(opts.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="fleet.invalid")
    msg.set_content(text_body(ctx))
    msg.add_alternative(html, subtype="html")
    stamp = ctx.snapshot.finished_at.replace(":", "").replace("-", "")
    msg.add_attachment(
        json_report.render(ctx.snapshot).encode(),
        maintype="application",
        subtype="json",
        filename=f"fleet-{stamp}.json",
    )
    msg.add_attachment(
        csv_report.render(ctx.snapshot).encode(),
        maintype="text",
        subtype="csv",
        filename=f"fleet-{stamp}.csv",
    )
    return msg


def send(msg: EmailMessage, opts: EmailOptions, timeout: float = 30.0) -> None:
    host, port = opts.host_port()
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if opts.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if opts.user:
                smtp.login(opts.user, opts.password or "")
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        raise EmailError(f"SMTP {host}:{port} refused the login for {opts.user!r}") from e
    except (smtplib.SMTPException, OSError) as e:
        raise EmailError(f"SMTP {host}:{port}: {type(e).__name__}: {e}") from e
