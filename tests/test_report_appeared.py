"""The HTML report's drift section lists devices that appeared or vanished since the previous
snapshot of the same scope: a phone that dropped out of the inventory is no longer swept, so
its emergency calling is no longer verified, and the report must say so."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from fleet.cli import app
from tests.conftest import running_lab


def test_a_vanished_and_an_appeared_device_are_named(tmp_path) -> None:
    with running_lab(tmp_path, 4, faults=False, profile_names=("polycom", "cisco_mpp")) as lab:
        db = tmp_path / "f.db"
        doc = yaml.safe_load(lab.inventory.read_text())
        first, second = list(doc["hosts"])[:2]
        gone = doc["hosts"].pop(first)
        lab.inventory.write_text(yaml.safe_dump(doc))
        args = ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)]
        assert CliRunner().invoke(app, args).exit_code in (0, 1)
        doc["hosts"][first] = gone  # back in the inventory...
        del doc["hosts"][second]  # ...and another one taken out
        lab.inventory.write_text(yaml.safe_dump(doc))
        assert CliRunner().invoke(app, args).exit_code in (0, 1)
    out = tmp_path / "r.html"
    got = CliRunner().invoke(
        app, ["report", "--store", str(db), "--format", "html", "--output", str(out)]
    )
    assert got.exit_code in (0, 1), got.output
    page = out.read_text()
    assert f"1 device appeared</strong> since #1: {first}" in page
    assert f"1 device vanished</strong> since #1 (no longer swept, so unverified): {second}" in page
