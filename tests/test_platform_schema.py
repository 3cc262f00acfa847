"""Every platform.yaml under device_profiles/ passes the schema, and a bad one is reported
with its file, line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fleet import profiles
from fleet.collect import ssh
from fleet.errors import ConfigFileError
from fleet.platform import Enable, Platform, load_platform
from tests.conftest import ROOT

PLATFORMS = sorted((ROOT / "device_profiles").glob("*/platform.yaml"))


def test_the_sbc_profiles_have_platform_files() -> None:
    assert {p.parent.name for p in PLATFORMS} >= {"audiocodes", "cisco_cube", "acme_packet"}


@pytest.mark.parametrize("path", PLATFORMS, ids=lambda p: p.parent.name)
def test_every_platform_file_passes_the_schema(path: Path) -> None:
    plat = load_platform(path)
    assert plat.commands and all(c.strip() for c in plat.commands)
    assert isinstance(plat.enable, Enable | None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plat.prompt = "x"  # type: ignore[misc]
    # the registry's copy (still a dict until profiles load it through the schema) agrees
    prof = profiles.get(path.parent.name)
    assert prof.platform == plat


def test_the_old_import_path_is_the_same_class() -> None:
    assert ssh.Platform is Platform


def test_from_dict_passes_a_platform_through() -> None:
    plat = Platform(prompt="> $", commands=("show",))
    assert Platform.from_dict(plat) is plat


def _bad(tmp_path: Path, text: str) -> ConfigFileError:
    f = tmp_path / "platform.yaml"
    f.write_text(text)
    with pytest.raises(ConfigFileError) as e:
        load_platform(f)
    assert e.value.file == str(f)
    return e.value


def test_a_bad_regular_expression_names_file_line_and_field(tmp_path: Path) -> None:
    err = _bad(tmp_path, "prompt: '>$'\ncommands: [show run]\nmore: '--(More'\n")
    assert (err.line, err.field) == (3, "more")
    assert "not a regular expression" in err.reason
    assert str(err).startswith(f"{tmp_path / 'platform.yaml'}:3: more: ")


def test_an_enable_prompt_is_checked_too(tmp_path: Path) -> None:
    err = _bad(
        tmp_path,
        "prompt: '>$'\ncommands: [show run]\nenable:\n  password_prompt: 'Password:'\n"
        "  prompt: '[#'\n",
    )
    assert (err.line, err.field) == (5, "enable.prompt")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    err = _bad(tmp_path, "prompt: '>$'\nsetup: [terminal length 0]\n")
    assert err.field == "commands" and err.reason == "required field is missing"
    err = _bad(tmp_path, "prompt: '>$'\ncommands: [x]\nenable: {prompt: '#$'}\n")
    assert err.field == "enable.password_prompt"


def test_an_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    err = _bad(tmp_path, "prompt: '>$'\ncommands: [x]\npager: '--More--'\n")
    assert (err.line, err.field) == (3, "pager")
    assert "unknown key" in err.reason and "more" in err.reason
    err = _bad(
        tmp_path, "prompt: '>$'\ncommands: [x]\nenable: {cmd: en, prompt: a, password_prompt: b}\n"
    )
    assert err.field == "enable.cmd" and "password_prompt" in err.reason


def test_wrong_types_and_empty_commands_are_refused(tmp_path: Path) -> None:
    assert _bad(tmp_path, "prompt: '>$'\ncommands: []\n").field == "commands"
    assert _bad(tmp_path, "prompt: '>$'\ncommands: [42]\n").field == "commands[0]"
    assert _bad(tmp_path, "prompt: '>$'\ncommands: show run\n").field == "commands"
    assert _bad(tmp_path, "- prompt\n").line is None


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    assert _bad(tmp_path, "prompt: '>$'\ncommands: [x\n").line is not None
