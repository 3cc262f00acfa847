"""The HTML report from real sweeps of a running lab: self-contained, the right numbers, a table
per site, every emergency finding with its evidence, drift and trend, escaping; then opened in
headless Chromium at phone and desktop width, as the people it is for will open it."""

from __future__ import annotations

import copy
import html as htmlmod
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from markupsafe import escape

from fleet import app
from fleet.lab.rollout import apply_update
from fleet.model import Finding, Snapshot
from fleet.report import charts, context
from fleet.report import html as report_html
from fleet.store import Store
from tests.conftest import run_fleet, running_lab

CHROMIUM = "chromium"
PHONE_W, DESKTOP_W = 412, 1280


@dataclass
class Swept:
    ctx: context.ReportContext
    doc: str
    path: Path
    snap: Snapshot
    lost: list[str]  # phones that lost 112 in the last sweep: proven in the two before it
    db: Path


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """Three sweeps of a lab of its own (this one is changed between sweeps, which the shared
    session lab must not be): a firmware update in between, one phone losing 112."""
    folder = tmp_path_factory.mktemp("html-lab")
    db = folder / "s.db"
    lost: list[str] = []
    with running_lab(folder, 18, net_from=140) as lab:
        for n in range(3):
            if n:
                lost += apply_update(lab.fleet, 2, 1 if n == 2 else 0).lost_112
            p = run_fleet(
                "sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)
            )
            assert p.returncode in (0, 1), p.stderr
    with Store(db) as st:
        sid = st.resolve(None)
        snap = st.load(sid)
        assert st.previous(before=sid) is not None
        ctx = app.context_for(st, snap)  # as `fleet report --format html` builds it
    doc = report_html.render(ctx)
    path = folder / "report.html"
    path.write_text(doc, encoding="utf-8")
    assert len(lost) == 1
    return Swept(ctx, doc, path, snap, lost, db)


def _esc(text: str) -> str:
    return str(escape(text))


def _count(doc: str, name: str) -> int:
    m = re.search(rf'id="count-{name}" data-value="(\d+)"', doc)
    assert m, f"count {name} missing"
    return int(m.group(1))


def test_self_contained(swept: Swept) -> None:
    doc = swept.doc
    assert doc.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport"' in doc
    assert "<link" not in doc.lower() and "<script" not in doc.lower()
    assert "@import" not in doc and "url(" not in doc
    refs = re.findall(r'\b(?:src|href|xlink:href)\s*=\s*"([^"]*)"', doc)
    assert refs and all(r.startswith("#") for r in refs), [r for r in refs if r[:1] != "#"]
    assert "<style>" in doc and "@media print" in doc


def test_every_link_in_the_page_leads_somewhere(swept: Swept) -> None:
    ids = set(re.findall(r'\bid="([^"]+)"', swept.doc))
    links = re.findall(r'href="#([^"]+)"', swept.doc)
    assert len(links) > len(swept.snap.results)
    assert not [x for x in links if x not in ids]


def test_numbers_match_the_snapshot(swept: Swept) -> None:
    results = swept.snap.results

    def bad(r):
        return any(f.rule.startswith("emergency.") for f in r.findings)

    expected = {
        "devices": len(results),
        "audited": sum(r.status == "audited" for r in results),
        "proven": sum(r.role == "phone" and r.status == "audited" and not bad(r) for r in results),
        "failing": sum(bad(r) for r in results),
        "not-audited": sum(r.status != "audited" for r in results),
        # the card breaks "not audited" down: each reason calls for different work
        "unreachable": sum(r.status == "unreachable" for r in results),
        "auth-failed": sum(r.status == "auth-failed" for r in results),
        "error": sum(r.status == "error" for r in results),
    }
    # The lab's seeded faults: a phone and an SBC down, one phone refusing the password, one
    # answering HTTP 500 are not audited; several phones cannot reach 999/112.
    assert (expected["unreachable"], expected["auth-failed"], expected["error"]) == (2, 1, 1)
    assert expected["failing"] >= 8
    for name, n in expected.items():
        assert _count(swept.doc, name) == n, name
    assert swept.ctx.verdict.startswith("EMERGENCY")
    assert 'class="verdict verdict-bad"' in swept.doc
    assert _esc(swept.ctx.verdict) in swept.doc


def test_every_site_has_a_table_of_its_devices(swept: Swept) -> None:
    doc = swept.doc
    sites = {r.site for r in swept.snap.results}
    assert sites == {"lon", "man", "edi"}
    for site in sites:
        start = doc.index(f'data-site="{site}"')
        section = doc[start : doc.index("</section>", start)]
        assert "<table" in section and '<th scope="col">Device</th>' in section
        for r in swept.snap.results:
            if r.site == site:
                assert f'id="{report_html.anchor(r.id)}"' in section, r.id


def test_emergency_findings_first_with_their_evidence(swept: Swept) -> None:
    doc = swept.doc
    assert swept.ctx.emergency
    start, end = doc.index('id="emergency"'), doc.index('id="drift"')
    assert start < end < doc.index('id="sites"')
    section = doc[start:end]
    for r, f in swept.ctx.emergency:
        assert f'data-rule="{f.rule}" data-device="{r.id}"' in section
        assert _esc(f.message) in section
        for ev in f.evidence:
            assert _esc(ev) in section, ev
    # A phone routed to a faulty SBC: the phone → SBC → trunk chain is all there.
    path = [f for _, f in swept.ctx.emergency if f.rule == "emergency.path" and len(f.evidence) > 2]
    assert path, "no emergency.path finding with a phone → SBC → trunk chain"


def _articles(section: str) -> dict[str, str]:
    """device id -> its block of findings, from each device's <article>."""
    found = re.findall(
        r'<article class="device-findings" id="[^"]*" data-device="([^"]*)">(.*?)</article>',
        section,
        re.S,
    )
    ids = [htmlmod.unescape(d) for d, _ in found]
    assert len(ids) == len(set(ids)), "a device's findings are split over several blocks"
    return {htmlmod.unescape(d): body for d, body in found}


def test_emergency_findings_by_root_cause_then_by_device(swept: Swept) -> None:
    doc = swept.doc
    section = doc[doc.index('id="emergency"') : doc.index('id="drift"')]
    # root causes first: one line each, naming the devices it affects
    causes_at, devices_at = (
        section.index('id="emergency-causes"'),
        section.index('id="h-by-device"'),
    )
    assert causes_at < devices_at
    causes_html = section[causes_at:devices_at]
    lines = re.findall(r'<li class="cause" data-cause="([^"]*)".*?</li>', causes_html, re.S)
    emergency_causes = [c for c in swept.ctx.causes if c.rule.startswith("emergency.")]
    failing = {r.id for r, _ in swept.ctx.emergency}
    assert len(lines) == len(emergency_causes) >= 1
    for c in emergency_causes:
        line = causes_html[causes_html.index(f'data-cause="{_esc(c.key)}"') :]
        line = line[: line.index("</li>")]
        assert _esc(c.summary) in line
        for d in c.devices[:12]:
            # a failing device leads to its findings below; an SBC that only explains
            # others, to its row (every link's target: test_every_link_in_the_page_...)
            target = report_html.finding_anchor(d) if d in failing else ""
            assert f'href="#{target}' in line and f">{_esc(d)}</a>" in line, (c.key, d)
    # then one block per failing device holding every emergency finding it has
    blocks = _articles(section[devices_at:])
    by_id = {r.id: r for r, _ in swept.ctx.emergency}
    assert set(blocks) == failing
    for dev, r in by_id.items():
        want = [f for f in r.findings if f.rule.startswith("emergency.")]
        got = re.findall(r'<div class="finding[^"]*" data-rule="([^"]*)"', blocks[dev])
        assert got == [f.rule for f in want], dev
        if r.address:
            assert _esc(r.address) in blocks[dev], "the engineer cannot find the phone"
    # the worst device comes first
    order = list(blocks)
    assert order[0] == swept.ctx.emergency[0][0].id


def test_drift_and_trend(swept: Swept) -> None:
    ctx, doc = swept.ctx, swept.doc
    assert ctx.drift, "the update between sweeps must show as drift"
    section = doc[doc.index('id="drift"') : doc.index('id="not-audited"')]
    for g in ctx.drift:
        assert str(report_html.code_spans(g.line())) in section
    assert "Emergency-relevant" in section
    assert len(ctx.trend) == 3
    assert doc.count("<svg") == 2
    assert 'aria-labelledby="chart-trend-over-the-last-snapshots-title' in doc
    assert "Compliance by site</title>" in doc


def test_escaping(swept: Swept) -> None:
    snap = copy.deepcopy(swept.snap)
    r = snap.results[0]
    r.id = "lon-<b>evil</b>"
    r.findings.insert(
        0,
        Finding(
            "emergency.dial",
            "critical",
            "999",
            "<script>alert(1)</script> & more",
            evidence=['dialplan = <img src="http://x/y.png">'],
        ),
    )
    doc = report_html.render(context.build(snap))
    assert "<script>alert" not in doc and "<img" not in doc and "<b>evil" not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in doc
    assert "&lt;img src=&#34;http://x/y.png&#34;&gt;" in doc
    assert "lon-&lt;b&gt;evil&lt;/b&gt;" in doc


def test_verdict_tones_and_stale_sites(swept: Swept) -> None:
    healthy = copy.deepcopy(swept.snap)
    healthy.results = [r for r in healthy.results if r.status == "audited" and not r.findings]
    doc = report_html.render(context.build(healthy))
    assert 'verdict verdict-good"' in doc and "emergency paths verified" in doc

    unaudited = copy.deepcopy(swept.snap)
    unaudited.results = [
        r for r in unaudited.results if not any(f.rule.startswith("emergency.") for f in r.findings)
    ]
    doc = report_html.render(context.build(unaudited))
    assert 'verdict verdict-warn"' in doc and "not audited" in doc

    nothing = copy.deepcopy(swept.snap)
    nothing.results = [r for r in nothing.results if r.status != "audited"]
    doc = report_html.render(context.build(nothing))
    assert "every audited device" not in doc and "No device was audited" in doc

    assert report_html.unverified_for("2026-01-01T00:00:00Z", "2026-01-03T05:00:00Z") == (
        "2 days 5 h"
    )


def _site(doc: str, site: str) -> str:
    start = doc.index(f'data-site="{site}"')
    return doc[start : doc.index("<table", start)]


def test_last_proven_per_path_and_site_from_the_store(swept: Swept) -> None:
    """The bug: "all emergency paths at edi were last proven never" while most of edi was
    proven in the same report. Each site says how many paths are proven now; each path not
    proven says when the store last saw it proven, or that it never was."""
    doc, snap = swept.doc, swept.snap
    assert "were last proven" not in doc and "all emergency paths at" not in doc
    with Store(swept.db) as st:
        history = st.snapshots()
    second = history[-2]["finished_at"]  # the sweep before the update took 112 away
    (lost,) = swept.lost
    mixed = 0  # sites where some paths are proven and some not: the case the bug got wrong
    for site in {r.site for r in snap.results}:
        here = [r for r in snap.results if r.site == site]
        proven = [r for r in here if r.role == "phone" and context.proven_now(r)]
        phones = [r for r in here if r.role == "phone"]
        block = _site(doc, site)
        assert f"<strong>{len(proven)} of {len(phones)}</strong> phone emergency paths" in block
        mixed += 0 < len(proven) < len(phones)
        named = re.findall(r'<li data-proof="([^"]*)"><strong>[^<]*</strong>: (.*?)</li>', block)
        shown = {
            htmlmod.unescape(d): label
            for label, ds in named
            for d in re.findall(r">([^<]+)</a>", ds)
        }
        assert set(shown) == {r.id for r in here if not context.proven_now(r)}, site
        for dev, label in shown.items():
            if dev == lost:  # proven by the first two sweeps, broken by the third
                assert label.startswith(f"last proven {report_html.when(second)}"), label
            else:  # the lab's seeded faults were there from the first sweep
                assert label == "never proven", (dev, label)
    assert mixed >= 1


def test_last_proven_of_an_older_snapshot_ignores_later_sweeps(swept: Swept) -> None:
    with Store(swept.db) as st:
        ids = [h["id"] for h in st.snapshots()]
        now, first = st.last_proven(), st.last_proven_until(ids[0])
        (lost,) = swept.lost
        assert now[lost] == st.snapshots()[1]["finished_at"]
        assert first[lost] == st.snapshots()[0]["finished_at"]
        assert all(first[d] <= now[d] for d in first) and set(first) == set(now)


def test_not_audited_card_breaks_down_why(swept: Swept) -> None:
    doc = swept.doc
    card = doc[doc.index("<dt>Not audited</dt>") :]
    card = card[: card.index("</div>")]
    assert "Unreachable</dt>" not in doc
    for status, label in report_html.NOT_AUDITED:
        n = sum(r.status == status for r in swept.snap.results)
        assert f'id="count-{status}" data-value="{n}">{n} {label}</span>' in card


def test_charts_are_plain_svg() -> None:
    svg = charts.bar_chart([("lon<1>", 0.9996, "bad"), ("man", 1.0, "good")], title="T")
    assert svg.startswith("<svg") and 'viewBox="0 0 ' in svg and "width=" not in svg[:120]
    assert "lon&lt;1&gt;" in svg and "99%" in svg and "100%" in svg and "<title" in svg
    assert charts.trend_chart(["#1"], [("a", [3], "bad")]).count("<circle") == 1
    many = charts.trend_chart([f"#{i}" for i in range(30)], [("a", list(range(30)), "bad")])
    assert many.count("<polyline") == 1 and many.count("<circle") == 30


# -- in a real browser ---------------------------------------------------------------------


def _chromium() -> str:
    exe = shutil.which(CHROMIUM) or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "chromium is not installed: the HTML report is checked in a headless browser "
            "(apt-get install chromium; .ci/run installs it)"
        )
    return exe


def _browse(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def _png(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct sampled byte values): enough to tell a page from a blank."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is no PNG"
    w, h = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w, h, len(set(raw[:: max(1, len(raw) // 20000)]))


def _phone_frame(doc: str, folder: Path, height: int, probe: bool = False) -> Path:
    """The report in a phone-wide iframe: headless Chromium will not make its window narrower
    than 500 px, so `--window-size=412,...` alone would lay the page out at 500 px and crop.
    srcdoc keeps the frame same-origin, so the probe can measure it."""
    script = (
        "<script>document.getElementById('f').addEventListener('load', function () {"
        " var d = this.contentDocument.documentElement;"
        " document.body.setAttribute('data-scroll-width', d.scrollWidth);"
        " document.body.setAttribute('data-client-width', d.clientWidth); });</script>"
        if probe
        else ""
    )
    page = folder / ("probe.html" if probe else "phone.html")
    page.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="f" style="width:{PHONE_W}px;height:{height}px;border:0" '
        f'srcdoc="{htmlmod.escape(doc, quote=True)}"></iframe>{script}</body></html>',
        encoding="utf-8",
    )
    return page


def test_in_headless_chromium(swept: Swept, tmp_path: Path) -> None:
    dom = _browse(
        swept.path.as_uri(), tmp_path / "p0", f"--window-size={DESKTOP_W},900", "--dump-dom"
    ).stdout
    for name, want in (
        ("devices", swept.ctx.devices),
        ("audited", swept.ctx.audited),
        ("proven", swept.ctx.proven),
        ("failing", swept.ctx.failing),
        ("not-audited", swept.ctx.unreachable),
        ("unreachable", swept.ctx.not_audited_by.get("unreachable", 0)),
        ("auth-failed", swept.ctx.not_audited_by.get("auth-failed", 0)),
    ):
        m = re.search(rf'id="count-{name}" data-value="(\d+)">([\d,]+)', dom)
        assert m, f"count {name} not in the rendered DOM"
        assert int(m.group(1)) == want and int(m.group(2).replace(",", "")) == want, name
    assert _esc(swept.ctx.verdict) in dom
    assert dom.count('class="site"') == len(swept.ctx.sites)

    # Nothing may force the whole page to scroll sideways on a phone.
    probe = _phone_frame(swept.doc, tmp_path, 900, probe=True)
    dom = _browse(probe.as_uri(), tmp_path / "p1", f"--window-size={PHONE_W},900", "--dump-dom")
    m = re.search(r'data-scroll-width="(\d+)" data-client-width="(\d+)"', dom.stdout)
    assert m, "the probe did not run"
    assert int(m.group(1)) <= int(m.group(2)), f"page {m.group(1)}px wide on a phone"

    for w, h, url in (
        (PHONE_W, 2400, _phone_frame(swept.doc, tmp_path, 2400).as_uri()),
        (DESKTOP_W, 2000, swept.path.as_uri()),
    ):
        shot = tmp_path / f"report-{w}.png"
        _browse(url, tmp_path / f"p{w}", f"--window-size={w},{h}", f"--screenshot={shot}")
        assert shot.is_file(), f"no screenshot at {w}px"
        width, height, colours = _png(shot)
        assert (width, height) == (w, h)
        assert colours > 20, f"the {w}px screenshot looks blank"
