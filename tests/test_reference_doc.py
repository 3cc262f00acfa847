"""docs/reference.md stays true: every command and option fleet has is in it, and every one
it names exists (the typer app walked, as `fleet --help` builds it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from fleet.cli import app
from tests.conftest import ROOT

REFERENCE = Path(ROOT) / "docs" / "reference.md"
HEADING = re.compile(r"^### `fleet ([a-z][a-z -]*)`$")
SHARED = re.compile(r"^### (.+) options$")
BULLET_OPTION = re.compile(r"^- `(--[a-z0-9-]+)")


@dataclass
class Section:
    name: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def options(self) -> list[str]:
        """The options the section lists, one bullet each."""
        return [m.group(1) for line in self.lines if (m := BULLET_OPTION.match(line))]


def sections() -> tuple[dict[str, Section], dict[str, Section]]:
    """The reference's command sections and its shared-option sections, by name."""
    commands: dict[str, Section] = {}
    shared: dict[str, Section] = {}
    current: Section | None = None
    for line in REFERENCE.read_text().splitlines():
        if m := HEADING.match(line):
            current = commands.setdefault(m.group(1), Section(m.group(1)))
        elif m := SHARED.match(line):
            current = shared.setdefault(m.group(1).lower(), Section(m.group(1)))
        elif line.startswith("#"):
            current = None
        elif current is not None:
            current.lines.append(line)
    return commands, shared


def commands() -> dict[str, Any]:
    """Every command of the app (sub-apps walked), by its name as typed."""
    found: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(typer.main.get_command(app), [])
    return found


def _options(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.param_type_name == "option"]


def _long(p: Any) -> str:
    return next(o for o in p.opts if o.startswith("--"))


def _panel(p: Any) -> str | None:
    panel = getattr(p, "rich_help_panel", None)
    return panel.lower() if panel else None


def test_the_reference_finds_sections_at_all() -> None:
    doc, shared = sections()
    assert len(doc) >= 15 and {"email", "metrics and staleness"} <= set(shared)
    assert sum(len(s.options()) for s in doc.values()) >= 80


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_and_option_is_in_the_reference(name: str) -> None:
    doc, shared = sections()
    assert name in doc, f"`fleet {name}` has no section in docs/reference.md"
    section, cmd = doc[name], commands()[name]
    for p in cmd.params:
        if p.param_type_name == "argument":
            shown = p.metavar or p.name.upper()
            assert shown in section.text, f"fleet {name}: argument {shown} not in its section"
    listed = set(section.options())
    for p in _options(cmd):
        opt, panel = _long(p), _panel(p)
        if panel in shared:
            assert opt in shared[panel].options(), f"{opt} not under '{panel} options'"
            assert f"#{panel.replace(' ', '-')}-options" in section.text, (
                f"fleet {name} takes the {panel} options but its section does not link them"
            )
        else:
            assert opt in listed, f"fleet {name} {opt} is not in its section"


def test_every_command_and_option_the_reference_names_exists() -> None:
    doc, shared = sections()
    known = commands()
    assert not set(doc) - set(known), "sections for commands fleet does not have"
    taken_by_panel: dict[str, set[str]] = {}
    for name, section in doc.items():
        cmd = known[name]
        names = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for opt in section.options():
            assert opt in names, f"the reference lists {opt} under fleet {name}: no such option"
        for p in _options(cmd):
            if (panel := _panel(p)) is not None:
                taken_by_panel.setdefault(panel, set()).add(_long(p))
    for panel, section in shared.items():
        for opt in section.options():
            assert opt in taken_by_panel.get(panel, set()), f"{opt} ({panel}): no such option"
    # the summary table and the prose name commands by their full spelling
    for m in re.finditer(r"`fleet ([a-z]+(?: [a-z]+)?)", REFERENCE.read_text()):
        words = m.group(1).split()
        assert " ".join(words) in known or words[0] in known, f"fleet {m.group(1)}?"


def test_the_readme_points_at_the_reference_not_at_a_missing_spec() -> None:
    readme = (Path(ROOT) / "README.md").read_text()
    assert "docs/reference.md" in readme and "docs/report-demo.png" in readme
    assert "SPEC.md" not in readme
    for link in re.findall(r"\]\(([^)#]+)", REFERENCE.read_text()):
        assert (REFERENCE.parent / link).exists(), f"reference links {link}: not there"
