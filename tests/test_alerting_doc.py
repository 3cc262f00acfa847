"""The alert rules in docs/alerting.md load, and name only metrics fleet writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from fleet.cli import app
from tests.conftest import ROOT

DOC = ROOT / "docs" / "alerting.md"


def _rules() -> dict:
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/alerting.md has no yaml block"
    return yaml.safe_load(block.group(1))


def _written_metrics(tmp_path: Path) -> set[str]:
    """The metric families a real run writes with --metrics."""
    prom = tmp_path / "fleet.prom"
    got = CliRunner().invoke(
        app,
        [
            "audit",
            str(ROOT / "device_profiles" / "polycom" / "samples"),
            "--golden",
            str(ROOT / "inventory" / "golden-uk.yaml"),
            "--store",
            str(tmp_path / "fleet.db"),
            "--metrics",
            str(prom),
        ],
    )
    assert got.exit_code in (0, 1), got.output
    return {fam.name for fam in text_string_to_metric_families(prom.read_text())}


def test_the_rules_have_the_shape_prometheus_loads() -> None:
    doc = _rules()
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert len(rules) >= 3
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["alert"] and r["expr"] and r["labels"]["severity"]


def test_every_metric_a_rule_names_is_one_fleet_writes(tmp_path: Path) -> None:
    written = _written_metrics(tmp_path)
    for g in _rules()["groups"]:
        for r in g["rules"]:
            names = set(re.findall(r"\b(fleet_[a-z_]+)", r["expr"]))
            assert names, r["expr"]
            assert names <= written, (r["alert"], names - written)


def test_promtool_loads_the_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make test` installs it (.ci/ensure-packages)")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(_rules()))
    got = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
