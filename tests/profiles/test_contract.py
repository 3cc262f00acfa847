"""The phone profile contract (docs/profiles.md), checked over the profile registry so a new
vendor's folder is held to it without a test file of its own.

Each sample's expected parse is tests/test_samples.py's; here, the rest of what a folder owes:
- it declares what the engine needs (interfaces, a dial-plan syntax fleet evaluates, samples,
  malformed cases), and its ``detect`` claims its own samples and no other profile's files;
- each ``samples/malformed/<case>.<ext>`` raises ConfigFileError naming the file and the line
  of ``<case>.error.json`` (``{"line": N, "says": "part of the message"}``);
- no secret value of a sample reaches an error message, a notice, the redacted state or the
  report, when the sample is audited the way `fleet audit` reads it.
What a vendor does beyond the contract stays in its own tests/profiles/test_<vendor>.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet import dialplan, profiles
from fleet.audit import audit
from fleet.check import golden as golden_mod
from fleet.errors import ConfigFileError
from fleet.profiles import Profile
from fleet.report import render

PHONES = [p for p in profiles.registry().values() if p.role == "phone"]


def _samples_dir(prof: Profile) -> Path:
    assert prof.folder is not None
    return prof.folder / "samples"


def _cases(prof: Profile, suffix: str) -> list[Path]:
    """The files ``<case>.*`` beside each ``<case><suffix>`` under the profile's samples."""
    out = []
    for marker in sorted(_samples_dir(prof).rglob(f"*{suffix}")):
        stem = marker.name.removesuffix(suffix)
        found = [p for p in marker.parent.iterdir() if p.stem == stem and p != marker]
        assert len(found) == 1, f"{marker}: needs exactly one file named {stem}.*"
        out.append(found[0])
    return out


def _samples(prof: Profile) -> list[Path]:
    return [p for p in _cases(prof, ".expected.json") if "malformed" not in p.parts]


def _malformed(prof: Profile) -> list[Path]:
    return _cases(prof, ".error.json")


def _every_file(prof: Profile) -> list[Path]:
    """Every file a profile's folder holds as a device's, siblings and captures included."""
    return [p for p in sorted(_samples_dir(prof).rglob("*")) if p.is_file() and p.suffix != ".json"]


def _reader(folder: Path) -> Callable[[str], str | None]:
    def read_sibling(name: str) -> str | None:
        p = folder / name
        return p.read_text() if p.is_file() else None

    return read_sibling


def _secrets(prof: Profile, sample: Path) -> set[str]:
    """Values of the sample's secret parameters. A value some other parameter holds as well
    (``device.prov.password.set = 1``) cannot be told apart in text, so it is not looked for."""
    assert prof.parse_files is not None
    params = prof.parse_files(sample.name, sample.read_text(), _reader(sample.parent)).params
    plain = {v for k, v in params.items() if not prof.is_secret(k)}
    return {v for k, v in params.items() if v and prof.is_secret(k) and v not in plain}


def _all_secrets(prof: Profile) -> set[str]:
    return set().union(*(_secrets(prof, s) for s in _samples(prof)))


def _params(cases: Callable[[Profile], list[Path]]) -> list[object]:
    return [
        pytest.param(prof, path, id=f"{prof.name}/{path.relative_to(_samples_dir(prof))}")
        for prof in PHONES
        for path in cases(prof)
    ]


@pytest.mark.parametrize("prof", PHONES, ids=lambda p: p.name)
def test_profile_declares_what_the_contract_needs(prof: Profile) -> None:
    assert prof.folder is not None and prof.folder.name == prof.name
    assert (prof.folder / "README.md").is_file()
    assert prof.transport == "http" and prof.default_scheme in ("http", "https")
    assert prof.fetch is not None and prof.parse_files is not None and prof.to_state is not None
    assert prof.dialplan_syntax is not None and dialplan.engine_for(prof.dialplan_syntax)
    assert _samples(prof), f"{prof.name}: no samples/<case>.* with <case>.expected.json"
    assert _malformed(prof), f"{prof.name}: no samples/malformed/<case>.* with <case>.error.json"
    # the secret checks below must have something to look for
    assert _all_secrets(prof), f"{prof.name}: no sample holds a secret parameter"


@pytest.mark.parametrize("prof", PHONES, ids=lambda p: p.name)
def test_detect_claims_its_own_samples_and_no_other_profiles_file(prof: Profile) -> None:
    missed = [s.name for s in _samples(prof) if not prof.detect(s.read_text())]
    assert missed == [], f"{prof.name} does not recognise its own samples"
    others = [o for o in profiles.registry().values() if o is not prof and o.folder]
    files = [p for o in others for p in _every_file(o)]
    assert len(files) > 20  # every other folder's samples, siblings and CLI captures
    claimed = [p.name for p in files if prof.detect(p.read_text())]
    assert claimed == [], f"{prof.name} claims other profiles' files"


@pytest.mark.parametrize(("prof", "case"), _params(_malformed))
def test_malformed_file_is_an_error_naming_file_and_line(prof: Profile, case: Path) -> None:
    want = json.loads(case.with_name(case.stem + ".error.json").read_text())
    text = case.read_text()
    secrets = _all_secrets(prof)
    assert any(s in text for s in secrets), f"{case.name}: holds none of the samples' secrets"
    assert prof.parse_files is not None
    with pytest.raises(ConfigFileError) as info:
        prof.parse_files(case.name, text, _reader(case.parent))
    err = info.value
    assert (err.file, err.line) == (case.name, want["line"])
    assert str(err).startswith(f"{case.name}:{want['line']}: ")
    assert want["says"] in str(err)
    assert not [s for s in secrets if s in str(err)]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> golden_mod.Golden:
    path = tmp_path_factory.mktemp("golden") / "golden.yaml"
    path.write_text("fleet_golden: 1\nname: contract\npolicy: [uk, us]\n")
    return golden_mod.load(path)


@pytest.mark.parametrize(("prof", "sample"), _params(_samples))
def test_no_secret_in_any_message_or_the_redacted_state(
    prof: Profile, sample: Path, golden: golden_mod.Golden
) -> None:
    secrets = _secrets(prof, sample)
    assert prof.parse_files is not None
    collected = prof.parse_files(sample.name, sample.read_text(), _reader(sample.parent))
    # the engine masks secrets in params, not in what a profile writes into a notice
    told = [
        " ".join([n.subject, n.message, *n.evidence, n.actual or ""]) for n in collected.notices
    ]
    assert not [s for s in secrets for t in told if s in t]
    snap = audit([sample], golden)
    [res] = snap.results
    assert res.status == "audited" and res.state is not None, res.error
    shown = [
        json.dumps(res.state.to_dict()),
        render(snap, "json"),
        render(snap, "table", color=False),
        render(snap, "junit"),
    ]
    assert not [s for s in secrets for t in shown if s in t]
