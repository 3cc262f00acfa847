"""Every vendor folder has the parts docs/profiles.md names, so that a vendor is one folder."""

from __future__ import annotations

import ast

import pytest

from fleet import dialplan, profiles
from fleet.lab import registry as lab_registry

FOLDERS = [p for p in profiles.registry().values() if p.name != "netmiko"]


@pytest.mark.parametrize("prof", FOLDERS, ids=[p.name for p in FOLDERS])
def test_folder_has_its_parts(prof: profiles.Profile) -> None:
    assert prof.folder is not None and prof.folder.name == prof.name
    for part in ("__init__.py", "profile.py", "README.md"):
        assert (prof.folder / part).is_file(), part
    assert any((prof.folder / "samples").rglob("*.expected.json")), "no sample with its parse"
    if prof.dialplan_syntax:
        assert prof.dialplan_syntax in dialplan.syntaxes(), prof.dialplan_syntax


SBCS = [p for p in FOLDERS if p.role == "sbc"]


@pytest.mark.parametrize("prof", SBCS, ids=[p.name for p in SBCS])
def test_sbc_folder_has_parse_model_routing_and_a_declaration(prof: profiles.Profile) -> None:
    assert prof.folder is not None
    for part in ("parse.py", "model.py", "routing.py", "platform.yaml"):
        assert (prof.folder / part).is_file(), part
    tree = ast.parse((prof.folder / "profile.py").read_text())
    functions = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert functions == [], f"profile.py is the declaration only; found {functions}"
    assert prof.route is not None and prof.platform is not None


def test_every_simulator_in_a_folder_is_registered() -> None:
    assert lab_registry.broken() == {}
    with_simulator = {p.name for p in FOLDERS if p.folder and (p.folder / "simulator.py").exists()}
    assert with_simulator == set(lab_registry.simulators())
