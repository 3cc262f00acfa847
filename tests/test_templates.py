"""TextFSM templates are data: each has raw captures with their expected records beside it
(samples/templates/<template>/<case>.raw + <case>.parsed.json), as ntc-templates does; a
template without a capture fails."""

from __future__ import annotations

import json

import pytest

from fleet import cli_parse, profiles

TEMPLATES = [
    (prof.name, t)
    for prof in profiles.registry().values()
    if prof.folder is not None
    for t in sorted((prof.folder / "templates").glob("*.textfsm"))
]


@pytest.mark.parametrize(
    ("name", "template"), TEMPLATES, ids=[f"{n}/{t.stem}" for n, t in TEMPLATES]
)
def test_template_parses_its_captures(name, template):
    folder = template.parent.parent / "samples" / "templates" / template.stem
    raws = sorted(folder.glob("*.raw"))
    assert raws, f"{name}: template {template.name} has no capture in {folder}"
    for raw in raws:
        expected = raw.with_suffix(".parsed.json")
        assert expected.is_file(), f"{raw} has no expected parse {expected.name}"
        got = cli_parse.parse(template, raw.read_text())
        assert got == json.loads(expected.read_text()), raw.name
