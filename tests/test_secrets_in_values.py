"""Secrets inside values and inside Python's own error text never reach the store or a
report: a SIP URI with a password, a ValueError that quotes a configuration value."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from fleet import profiles
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.report import json_report
from fleet.store import Store
from tests.conftest import ROOT

SAMPLE = ROOT / "device_profiles/yealink/samples/digitmap/001565c0ffee.cfg"
GOLDEN = ROOT / "inventory/golden-uk.yaml"


def test_a_sip_uri_password_is_redacted_everywhere(tmp_path: Path) -> None:
    f = tmp_path / "001565c0ffee.cfg"
    f.write_text(
        SAMPLE.read_text().replace(
            "account.1.sip_server.1.address = 10.20.0.10",
            "account.1.sip_server.1.address = sip:3105:hunter2@10.20.0.10",
        )
    )
    snap = audit([f], golden_mod.load(GOLDEN))
    with Store(tmp_path / "s.db") as st:
        st.save(snap)
    stored = (tmp_path / "s.db").read_bytes()
    report = json_report.render(snap)
    state = json.dumps(snap.results[0].state.to_dict() if snap.results[0].state else {})
    for where in (stored.decode("latin-1"), report, state):
        assert "hunter2" not in where


def test_python_error_text_quoting_a_value_is_not_shown(tmp_path, monkeypatch) -> None:
    def to_state(_c):  # a profile bug: int() of a configuration value
        return int("hunter2")

    reg = profiles.registry()
    monkeypatch.setitem(reg, "yealink", replace(reg["yealink"], to_state=to_state))
    snap = audit([SAMPLE], golden_mod.load(GOLDEN))
    [r] = snap.results
    assert r.status == "error" and "ValueError" in (r.error or "")
    assert "hunter2" not in (r.error or "") and "invalid literal" not in (r.error or "")
