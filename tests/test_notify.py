"""Reports that reach people: email through a real SMTP server (aiosmtpd on loopback),
Prometheus metrics parsed back, CSV, coverage.stale, and the run lock for scheduled runs."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import socket
import zipfile

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from prometheus_client.parser import text_string_to_metric_families

from fleet import lock
from tests.conftest import run_fleet

SMTP_PASSWORD = "smtp-Pw-7781"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"fleet" and auth_data.password == SMTP_PASSWORD.encode()
        if ok:
            inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    port = _free_port()
    ctl = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    ctl.start()
    yield inbox, f"127.0.0.1:{port}"
    ctl.stop()


@pytest.fixture(scope="module")
def store(lab, tmp_path_factory):
    _, inv, golden = lab
    db = tmp_path_factory.mktemp("notify") / "s.db"
    first = run_fleet("sweep", str(inv), "--golden", str(golden), "--store", str(db))
    assert first.returncode == 1, first.stderr
    return db


def test_report_by_email_with_both_parts_and_attachments(lab, store, smtp, tmp_path):
    fleet, _, _ = lab
    inbox, server = smtp
    before = len(inbox.messages)
    proc = run_fleet(
        "report",
        "--store",
        str(store),
        "--email",
        "ops@example.com",
        "--smtp",
        server,
        "--smtp-user",
        "fleet",
        "--smtp-password-ref",
        "${env:FLEET_SMTP_PW}",
        env={"FLEET_SMTP_PW": SMTP_PASSWORD},
    )
    assert proc.returncode == 1, proc.stderr  # the report's findings still set the exit code
    assert len(inbox.messages) == before + 1 and inbox.logins[-1] == "fleet"
    msg = inbox.messages[-1]
    report = json.loads(run_fleet("report", "--store", str(store), "--format", "json").stdout)
    failing = {
        d["id"]
        for d in report["devices"]
        if any(f["rule"].startswith("emergency.") for f in d["findings"])
    }
    subject = " ".join(msg["Subject"].split())  # header folding may double a space
    assert subject.startswith(f"EMERGENCY: {len(failing)} ")
    for site in {d["site"] for d in report["devices"] if d["id"] in failing}:
        assert site in subject
    assert msg["To"] == "ops@example.com"
    body = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert subject in " ".join(body.split()) and "<html" in html.lower()
    for device in failing:
        assert device in body and device in html
    # the full report rides along as one zip: HTML, JSON, CSV (tests/test_email_render.py)
    (attachment,) = list(msg.iter_attachments())
    with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as z:
        files = {n.rsplit(".", 1)[1]: z.read(n).decode() for n in z.namelist()}
    assert json.loads(files["json"])["summary"] == report["summary"]
    rows = list(csv.DictReader(io.StringIO(files["csv"])))
    assert {r["device"] for r in rows} == {d["id"] for d in report["devices"]}
    raw = inbox.raw[-1]
    for secret in [SMTP_PASSWORD, fleet.admin_password, *(p.sip_password for p in fleet.phones)]:
        assert secret.encode() not in raw


def test_only_on_change(lab, store, smtp):
    _, inv, golden = lab
    inbox, server = smtp
    args = ["--email", "noc@example.com", "--smtp", server, "--only-on-change"]
    first = run_fleet("report", "--store", str(store), *args)
    n = len(inbox.messages)
    again = run_fleet("report", "--store", str(store), *args)
    assert len(inbox.messages) == n and "no email sent" in again.stderr
    assert first.returncode == again.returncode == 1
    # a scheduled sweep whose findings differ (a subset of the fleet) does send
    changed = run_fleet(
        "sweep",
        str(inv),
        "--golden",
        str(golden),
        "--store",
        str(store),
        "--select",
        "site=lon",
        "--report-email",
        "noc@example.com",
        "--smtp",
        server,
        "--only-on-change",
    )
    assert len(inbox.messages) == n + 1, changed.stderr
    assert "sweeping" not in changed.stderr  # no progress output without a terminal


def test_metrics_parse_back(store, tmp_path):
    out = tmp_path / "fleet.prom"
    proc = run_fleet("report", "--store", str(store), "--metrics", str(out), "--format", "json")
    report = json.loads(proc.stdout)
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    devices = {s.labels["site"]: s.value for s in families["fleet_devices"].samples}
    assert sum(devices.values()) == report["summary"]["devices"]
    audited = sum(s.value for s in families["fleet_devices_audited"].samples)
    assert audited == report["summary"]["audited"]
    why: dict = {}
    for s in families["fleet_devices_not_audited"].samples:
        why[s.labels["status"]] = why.get(s.labels["status"], 0) + s.value
    summary = report["summary"]
    assert why == {
        "unreachable": summary["unreachable"],
        "auth-failed": summary["auth_failed"],
        "error": summary["errors"],
    }
    assert sum(why.values()) >= 1  # the lab seeds devices that cannot be audited
    failures = {
        (s.labels["site"], s.labels["rule"]): s.value
        for s in families["fleet_emergency_failures"].samples
    }
    want: dict = {}
    for d in report["devices"]:
        for rule in {f["rule"] for f in d["findings"] if f["rule"].startswith("emergency.")}:
            want[(d["site"], rule)] = want.get((d["site"], rule), 0) + 1
    assert failures == want
    assert families["fleet_last_sweep_timestamp_seconds"].samples[0].value > 1.7e9
    assert "fleet_sweep_duration_seconds" in families


def test_csv_for_spreadsheets(store):
    proc = run_fleet("report", "--store", str(store), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    report = json.loads(run_fleet("report", "--store", str(store), "--format", "json").stdout)
    assert len(rows) == sum(max(1, len(d["findings"])) for d in report["devices"])
    assert {"device", "site", "severity", "rule", "subject", "message"} <= set(rows[0])


def test_stale_paths_are_findings(store):
    proc = run_fleet("report", "--store", str(store), "--max-age", "24h", "--format", "json")
    report = json.loads(proc.stdout)
    for d in report["devices"]:
        proven = d["status"] == "audited" and not any(
            f["rule"].startswith("emergency.") for f in d["findings"]
        )
        stale = [f for f in d["findings"] if f["rule"] == "coverage.stale"]
        assert bool(stale) == (not proven), d["id"]


def test_overlapping_runs_do_not_collide(lab, store):
    _, inv, golden = lab
    with lock.held(store, 0):
        proc = run_fleet(
            "sweep", str(inv), "--golden", str(golden), "--store", str(store), "--store-wait", "1"
        )
    assert proc.returncode == 2
    assert "another fleet run is still working on this store" in proc.stderr


def test_html_report_from_the_command_line(store, tmp_path):
    out = tmp_path / "report.html"
    proc = run_fleet("report", "--store", str(store), "--format", "html", "--output", str(out))
    assert proc.returncode == 1, proc.stderr
    html = out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "EMERGENCY:" in html and "<script src" not in html and "stylesheet" not in html
