"""The report email as mail clients get it: sent by `fleet report --email` to a real SMTP
server (aiosmtpd on loopback), its HTML part parsed for what Outlook desktop and Gmail do not
render (a <style> block, flex or grid, CSS variables, SVG), then laid out in headless Chromium
at 600 px, the width mail clients give a message; the full report rides along zipped."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import html as htmlmod
import io
import json
import re
import socket
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from fleet.report import email as report_email
from tests.conftest import run_fleet
from tests.test_report_html import _browse, _png

MAIL_W = 600
# the body's parts, each of which must land inside the 600 px column with some height
BOXES = ["counts", "full-report", "sites", "causes", "failing", "not-audited"]
URL = "https://noc.example.com/fleet/latest.html"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield inbox, f"127.0.0.1:{port}"
    ctl.stop()


@pytest.fixture(scope="module")
def store(lab, tmp_path_factory):
    """Two sweeps of the session lab: a trend and a previous snapshot to compare with."""
    _, inv, golden = lab
    db = tmp_path_factory.mktemp("mail") / "s.db"
    for _ in range(2):
        p = run_fleet("sweep", str(inv), "--golden", str(golden), "--store", str(db))
        assert p.returncode == 1, p.stderr
    return db


@dataclass
class Mail:
    msg: email.message.EmailMessage
    raw: bytes
    html: str
    text: str
    report: dict = field(default_factory=dict)


def _send(store: Path, smtp, *extra: str) -> Mail:
    inbox, server = smtp
    before = len(inbox.messages)
    p = run_fleet(
        "report", "--store", str(store), "--email", "ops@example.com", "--smtp", server, *extra
    )
    assert p.returncode == 1, p.stderr
    assert len(inbox.messages) == before + 1, p.stderr
    msg = inbox.messages[-1]
    report = json.loads(run_fleet("report", "--store", str(store), "--format", "json").stdout)
    return Mail(
        msg,
        inbox.raw[-1],
        msg.get_body(("html",)).get_content(),
        msg.get_body(("plain",)).get_content(),
        report,
    )


@pytest.fixture(scope="module")
def mail(store, smtp) -> Mail:
    return _send(store, smtp, "--report-url", URL)


class Audit(HTMLParser):
    """Every tag and attribute of the body, for the constructs mail clients drop."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _audit(doc: str) -> Audit:
    a = Audit()
    a.feed(doc)
    a.close()
    return a


def _failing(report: dict) -> list[dict]:
    return [
        d
        for d in report["devices"]
        if any(f["rule"].startswith("emergency.") for f in d["findings"])
    ]


def test_body_uses_only_what_mail_clients_render(mail: Mail) -> None:
    a = _audit(mail.html)
    assert "table" in a.tags and "td" in a.tags
    for tag in ("style", "svg", "script", "link", "iframe", "form", "img"):
        assert tag not in a.tags, f"<{tag}> in the mail body"
    assert not [x for x in a.attrs if x[1] == "class"], "classes do nothing without a <style>"
    styles = [v for _, k, v in a.attrs if k == "style"]
    assert len(styles) > 50, "the body is styled inline"
    for v in styles:
        css = v.replace(" ", "").lower()
        assert "var(" not in css, v
        assert not re.search(r"display:(inline-)?(flex|grid)", css), v
        assert "position:" not in css and "float:" not in css, v
        assert "url(" not in css and "@" not in css, v
    # nothing fetched: the only link is the full report's URL
    hrefs = [v for _, k, v in a.attrs if k in ("href", "src", "background")]
    assert hrefs == [URL]
    # the layout is tables, each role=presentation so screen readers read it as text
    roles = [v for t, k, v in a.attrs if t == "table" and k == "role"]
    assert len(roles) == a.tags.count("table") and set(roles) == {"presentation"}


def test_body_says_what_the_engineer_needs(mail: Mail) -> None:
    subject = " ".join(mail.msg["Subject"].split())
    text = " ".join(" ".join(_audit(mail.html).text).split())
    assert subject in text and subject in " ".join(mail.text.split())
    summary = mail.report["summary"]
    failing = _failing(mail.report)
    assert len(failing) == summary["failing"] >= 1
    # the worst failing devices in full, each with where to find it; the rest counted
    shown = re.findall(r'<td data-device="([^"]*)"[^>]*>(.*?)</td></tr>', mail.html, re.S)
    assert len(shown) == min(len(failing), report_email.DEVICE_LIMIT)
    by_id = {d["id"]: d for d in failing}
    for dev, cell in shown:
        d, cell = by_id[htmlmod.unescape(dev)], htmlmod.unescape(cell)
        assert d["id"] in mail.text
        if d.get("address"):
            assert d["address"] in cell, "the engineer cannot find the phone"
        for f in d["findings"]:
            if f["rule"].startswith("emergency."):
                assert f["message"] in cell, f["message"]
    if len(failing) > len(shown):
        more = len(failing) - len(shown)
        assert f"and {more} more device{'s' if more != 1 else ''} in the full report" in text
    # not audited, broken down by why
    assert (
        f"Not audited: {summary['unreachable']} unreachable, {summary['auth_failed']} auth "
        f"failed, {summary['errors']} error." in text
    )
    for d in mail.report["devices"]:
        if d["status"] != "audited":
            assert d["id"] in text and d["status"] in text
    # each site: paths proven now, and when the others were last proven
    for site in {d["site"] for d in mail.report["devices"]}:
        here = [d for d in mail.report["devices"] if d["site"] == site]
        phones = [d for d in here if d["role"] == "phone"]
        assert re.search(rf"\d+ of {len(phones)} phone emergency paths? proven now", text), site
    assert "never proven:" in text and "all emergency paths" not in text


def test_full_report_zipped_and_linked(mail: Mail) -> None:
    (att,) = list(mail.msg.iter_attachments())
    assert att.get_content_type() == "application/zip"
    data = att.get_content()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert sorted(n.rsplit(".", 1)[1] for n in names) == ["csv", "html", "json"]
        files = {n.rsplit(".", 1)[1]: z.read(n).decode() for n in names}
        raw_size = sum(i.file_size for i in z.infolist())
    assert json.loads(files["json"])["summary"] == mail.report["summary"]
    assert files["html"].lstrip().lower().startswith("<!doctype html")
    assert mail.msg["Subject"].split("—")[0].strip() in files["html"]
    assert len(data) < raw_size / 4, (len(data), raw_size)
    assert att.get_filename() in " ".join(mail.text.split())
    assert URL in mail.text and f'href="{URL}"' in mail.html
    assert mail.msg["Auto-Submitted"] == "auto-generated"  # no vacation replies to fleet


def test_attach_none_links_only(store, smtp) -> None:
    m = _send(store, smtp, "--email-attach", "none", "--report-url", URL)
    assert list(m.msg.iter_attachments()) == []
    assert URL in m.text and "attached" not in m.text.lower()
    assert len(m.raw) < 64 * 1024


def test_bad_attach_or_url_is_an_input_error(store, smtp) -> None:
    _, server = smtp
    for flag, value in (("--email-attach", "tar"), ("--report-url", "javascript:alert(1)")):
        p = run_fleet(
            "report", "--store", str(store), "--email", "a@b.c", "--smtp", server, flag, value
        )
        assert p.returncode == 2 and flag in p.stderr and "Traceback" not in p.stderr, p.stderr


def _frame(doc: str, folder: Path, height: int) -> Path:
    """The body in a 600 px iframe (srcdoc: same origin, so the probe can measure it): the
    probe records the page's scroll width and where the verdict landed."""
    probe = (
        "<script>document.getElementById('f').addEventListener('load', function () {"
        " var d = this.contentDocument, e = d.documentElement, v = d.getElementById('verdict');"
        " var r = v.getBoundingClientRect(), s = getComputedStyle(v);"
        " document.body.setAttribute('data-probe', [e.scrollWidth, e.clientWidth,"
        " Math.round(r.left), Math.round(r.right), Math.round(r.height), s.visibility,"
        " s.color, v.textContent.trim().length].join('|'));"
        " document.body.setAttribute('data-boxes', BOXES.map(function (id) {"
        "  var x = d.getElementById(id); if (!x) return id + ':missing';"
        "  var b = x.getBoundingClientRect();"
        "  return [id, Math.round(b.left), Math.round(b.right), Math.round(b.height)].join(':');"
        " }).join(' ')); });</script>"
    ).replace("BOXES", json.dumps(BOXES))
    page = folder / "mail.html"
    page.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="f" style="width:{MAIL_W}px;height:{height}px;border:0" '
        f'srcdoc="{htmlmod.escape(doc, quote=True)}"></iframe>{probe}</body></html>',
        encoding="utf-8",
    )
    return page


def test_fits_600_px_in_chromium(mail: Mail, tmp_path: Path) -> None:
    page = _frame(mail.html, tmp_path, 1800)
    dom = _browse(page.as_uri(), tmp_path / "p", f"--window-size={MAIL_W},1800", "--dump-dom")
    m = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert m, "the probe did not run"
    scroll, client, left, right, height, visibility, colour, length = m.group(1).split("|")
    assert int(scroll) <= int(client) <= MAIL_W, f"the mail is {scroll}px wide at {MAIL_W}px"
    assert 0 <= int(left) < int(right) <= MAIL_W and int(height) > 20, m.group(1)
    assert visibility == "visible" and colour == "rgb(255, 255, 255)"
    assert int(length) == len(" ".join(mail.msg["Subject"].split()))
    boxes = re.search(r'data-boxes="([^"]*)"', dom.stdout)
    assert boxes, "the probe did not measure the parts"
    for box in boxes.group(1).split():
        name, *edges = box.split(":")
        assert edges != ["missing"], f"no #{name} in the mail"
        left, right, height = map(int, edges)
        assert 0 <= left < right <= MAIL_W and height > 10, box
    shot = tmp_path / "email-600.png"
    _browse(page.as_uri(), tmp_path / "q", f"--window-size={MAIL_W},1800", f"--screenshot={shot}")
    assert shot.is_file()
    width, h, colours = _png(shot)
    assert (width, h) == (MAIL_W, 1800) and colours > 20, "the screenshot looks blank"


def _context(store: Path, last: dict[str, str] | None = None, grow: int = 0):
    """The stored snapshot's report context; ``grow`` copies of each failing device (new
    ids) make a big incident out of the lab's few."""
    from fleet import app
    from fleet.report import context
    from fleet.store import Store

    with Store(store) as st:
        snap = st.load(st.resolve(None))
        ctx = app.context_for(st, snap)
    if not (last or grow):
        return ctx
    bad = [r for r in snap.results if any(f.rule.startswith("emergency.") for f in r.findings)]
    for n in range(grow):
        for r in bad:
            snap.results.append(dataclasses.replace(r, id=f"{r.id}-x{n}"))
    return context.build(snap, ctx.previous, None, None, device_last_proven=last or {})


def test_a_path_proven_before_says_when(store) -> None:
    ctx = _context(store)
    site = next(s for s in ctx.sites if s.not_proven)
    dev = site.not_proven[0][0]
    ctx = _context(store, {dev.id: "2026-11-28T22:06:00Z"})
    opts = report_email.EmailOptions(["a@b.c"], "127.0.0.1:25")
    line = "last proven 2026-11-28 22:06 UTC"
    text = report_email.text_body(ctx, opts)
    assert re.search(rf"    {line} \([^)]* ago\): {re.escape(dev.id)}\n", text), text
    body = " ".join(" ".join(_audit(report_email.html_body(ctx, opts)).text).split())
    assert f"{line} (" in body and dev.id in body
    others = [r.id for r, _ in site.not_proven[1:]]
    if others:
        assert re.search(rf"never proven: {re.escape(others[0])}", text)


def test_a_big_incident_stays_a_short_mail(store) -> None:
    ctx = _context(store, {}, grow=10)
    limit = report_email.DEVICE_LIMIT
    failing = {r.id for r, _ in ctx.emergency}
    assert len(failing) > 3 * report_email.LIMIT
    opts = report_email.EmailOptions(["a@b.c"], "127.0.0.1:25")
    body = report_email.html_body(ctx, opts)
    text = " ".join(" ".join(_audit(body).text).split())
    assert f"and {len(failing) - limit} more devices in the full report" in text
    assert len(re.findall(r'<td data-device="', body)) == limit
    plain = report_email.text_body(ctx, opts)
    assert f"... and {len(failing) - limit} more devices in the full report" in plain
    # Gmail clips an HTML part past 102 KB: the verdict and the worst devices must survive
    assert len(body.encode()) < 80_000 and len(plain.encode()) < 40_000


def test_a_password_in_an_address_never_reaches_the_mail(store) -> None:
    from fleet.report import context
    from fleet.report import html as report_html

    ctx = _context(store)
    snap = ctx.snapshot
    secret = "Adm1n-Pw-4471"
    for r in snap.results:
        if r.status != "audited" or any(f.rule.startswith("emergency.") for f in r.findings):
            r.address = f"https://admin:{secret}@{r.id}.example.net:8443/"
    ctx = context.build(snap, ctx.previous, None, None, device_last_proven={})
    opts = report_email.EmailOptions(["a@b.c"], "127.0.0.1:25", attach="zip")
    msg = report_email.build(ctx, opts, report_html.render(ctx))
    (att,) = list(msg.iter_attachments())
    with zipfile.ZipFile(io.BytesIO(att.get_content())) as z:
        inside = b"".join(z.read(n) for n in z.namelist())
    body = msg.get_body(("html",)).get_content() + msg.get_body(("plain",)).get_content()
    assert secret not in body and secret.encode() not in inside
    assert "example.net:8443" in body  # the address itself is still there to find the phone


def test_healthy_and_nothing_audited_mails(store) -> None:
    from fleet.report import context

    snap = _context(store).snapshot
    opts = report_email.EmailOptions(["a@b.c"], "127.0.0.1:25")
    healthy = dataclasses.replace(
        snap, results=[r for r in snap.results if r.status == "audited" and not r.findings]
    )
    ctx = context.build(healthy, None, None, None, device_last_proven={})
    body = " ".join(" ".join(_audit(report_email.html_body(ctx, opts)).text).split())
    assert ctx.ok and ctx.verdict in body and "Failing devices" not in body
    assert "never proven" not in body and "Not audited" in body  # the card, at 0
    down = dataclasses.replace(snap, results=[r for r in snap.results if r.status != "audited"])
    ctx = context.build(down, None, None, None, device_last_proven={})
    body = " ".join(" ".join(_audit(report_email.html_body(ctx, opts)).text).split())
    assert not ctx.ok and ctx.verdict in body
    for r in down.results:
        assert r.id in body
