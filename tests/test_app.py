"""The application layer: every run finishes the same way (drift, staleness, save, emit,
publish); store writes outside a sweep take the lock too; the shared CLI options are declared
once and shown in their own panels; the engine draws no progress bar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet import app, commands, dialplan
from fleet import cli as cli_mod
from fleet.errors import InputError, StoreBusy
from fleet.model import RouteDecision
from fleet.report import text
from fleet.report.email import EmailOptions
from fleet.store import Store
from tests.conftest import ROOT, run_fleet
from tests.test_store import snap


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    with Store(path) as st:
        for tag in ("a", "b", "c"):
            st.save(snap(tag))
    return path


def test_finish_saves_once_and_notes_it(db, capsys):
    app.STORED.clear()
    s = snap("new")
    with Store.open(db, write=True) as st:
        code = app.finish(st, s, app.Output("json"), app.Publish(), drift_kind="sweep")
        assert s.id == app.STORED[-1] == st.resolve("new")
    assert code == 1  # the snapshot holds a critical finding
    assert json.loads(capsys.readouterr().out)["snapshot"]["id"] == s.id
    assert f"snapshot {s.id} was stored before this failed" in app.stored_note()
    assert commands.STORED is app.STORED  # the old name still works


def test_a_report_saves_nothing(db, capsys):
    app.STORED.clear()
    code = commands.report_cmd(None, store=db, fmt="json", output=None, fail_on="critical")
    assert code == 1 and app.STORED == []
    with Store(db) as st:
        assert [s["tag"] for s in st.snapshots()] == ["a", "b", "c"]
    assert app.interrupted_note() == "nothing of this run was stored"


def test_report_reads_without_the_lock_but_an_email_waits_for_it(db, capsys):
    pub = app.Publish(email=EmailOptions(["noc@example.org"], "127.0.0.1:9"))
    with Store.open(db, write=True, wait=0):
        assert commands.report_cmd(None, store=db, fmt="json", output=None, fail_on="info") == 1
        with pytest.raises(StoreBusy, match="another fleet run is still working"):
            commands.report_cmd(
                None, store=db, fmt="json", output=None, fail_on="info", pub=pub, store_wait=0
            )


def test_prune_takes_the_lock_and_refuses_a_missing_store(db, tmp_path):
    with Store.open(db, write=True, wait=0):
        proc = run_fleet("store", "prune", "--keep", "1", "--store", str(db), "--store-wait", "0")
    assert proc.returncode == 2, proc.stderr
    assert "another fleet run is still working on this store" in proc.stderr
    with Store(db) as st:
        assert len(st.snapshots()) == 3
    assert commands.store_prune(db, 1) == 0
    typo = tmp_path / "typo.db"
    with pytest.raises(InputError, match="no such store"):
        commands.store_prune(typo, 1)
    assert not typo.exists() and not Path(str(typo) + ".lock").exists()


def test_the_shared_options_are_one_typed_object_each():
    flags = cli_mod.EmailFlags(email=["a@example.org"], smtp="mail:587", starttls=True)
    pub = cli_mod.PublishFlags(max_age="2h").publish(flags)
    assert isinstance(pub.email, EmailOptions) and pub.email.host_port() == ("mail", 587)
    assert pub.max_age_s == 7200 and pub.metrics is None
    assert cli_mod.PublishFlags().publish(cli_mod.EmailFlags()) == app.Publish()
    with pytest.raises(InputError) as e:
        cli_mod.EmailFlags(smtp_password_ref="hunter2").options()
    assert e.value.field == "--smtp-password-ref"


@pytest.mark.parametrize("command", ["sweep", "audit", "report"])
def test_the_shared_options_have_their_own_panels(command):
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", command, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    for name in (
        "--email",
        "--report-email",
        "--smtp",
        "--starttls",
        "--smtp-user",
        "--smtp-password-ref",
        "--email-from",
        "--only-on-change",
        "--metrics",
        "--max-age",
        "--store-wait",
    ):
        assert name in proc.stdout, name
    assert "─ Email ─" in proc.stdout and "─ Metrics and staleness ─" in proc.stdout


def test_the_syntax_choices_come_from_the_dialplan_registry():
    listed = dialplan.syntaxes() if hasattr(dialplan, "syntaxes") else dialplan.SYNTAXES
    assert [s.value for s in cli_mod.Syntax] == list(listed)


def test_the_engine_draws_no_progress_bar():
    code = (
        "import sys, fleet.pipeline; "
        "print(sorted(m for m in sys.modules if m.startswith('fleet.report')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.strip() == "[]"


def test_text_lines():
    res = dialplan.Outcome("9112", "dial", after_timeout=True, delay_s=4, sent="112", matched="9x.")
    assert text.outcome_lines("9112", res, as_json=False, explain=False) == [
        f"{'9112':<14} dial 112 after 4 s   [9x.]"
    ]
    d = RouteDecision("112", None, "routed", route="r1", sent="112", trunk="pstn", steps=["s"])
    assert text.route_lines("112", d, as_json=False, explain=True) == [
        f"{'112':<12} r1 → pstn as 112",
        "    s",
    ]
    assert "steps" not in json.loads(text.route_lines("112", d, as_json=True, explain=False)[0])
    line = text.snapshot_lines(
        [
            {
                "id": 3,
                "finished_at": "t",
                "kind": "sweep",
                "tag": None,
                "summary": {"devices": 2, "findings": {"critical": 1, "high": 0}},
            }
        ]
    )
    assert line == [f"{3:>5}  t  sweep  {'-':<16} {2:>6} devices  1 critical, 0 high"]
