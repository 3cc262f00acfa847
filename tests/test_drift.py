"""`fleet diff` and `fleet rollout verify` on a small lab over real sockets and a real store:
diffs name their devices and list those that appeared or vanished, compare like with like
(a --select sweep is no "no changes" against a full one, and no dip in the trend), verify
fails only on what is worse than at the baseline, and neither writes a format it cannot."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from fleet import app, commands
from fleet.errors import InputError
from fleet.lab import registry, rollout
from fleet.lab.spec import LabPhone
from fleet.report.drift_report import DIFF_FORMATS, VERIFY_FORMATS
from fleet.store import Store
from tests.conftest import RunningLab, run_fleet, running_lab

NET_FROM = 200  # labs of this module from 127.200 on: clear of the others' usual nets


def _sweep(lab: RunningLab, db: Path, *, tag: str | None = None, select: list[str] | None = None):
    return commands.sweep(
        lab.inventory,
        lab.golden,
        store=db,
        fmt="json",
        output=None,
        fail_on="high",
        concurrency=50,
        timeout=10,
        select=select,
        tag=tag,
    )


def _diff(capsys, db: Path, *refs: str, fmt: str = "table", devices: bool = False) -> str:
    capsys.readouterr()
    old, new = [*refs, None, None][:2]
    assert commands.diff(old, new, store=db, fmt=fmt, output=None, devices=devices) == 0
    return capsys.readouterr().out


def _rerender(lab: RunningLab, spec: LabPhone) -> None:
    """The lab phone serves its spec as changed (as after a reboot)."""
    dev = lab.fleet.devices[spec.id]
    dev.config = registry.phone(spec.profile).render(spec)
    dev.sessions.clear()


@pytest.fixture
def lab(tmp_path: Path):
    with running_lab(tmp_path / "lab", 12, faults=False, net_from=NET_FROM) as lab:
        yield lab


def test_diff_names_the_devices_of_each_change_all_when_few_else_first_and_count(
    tmp_path: Path, capsys
) -> None:
    with running_lab(
        tmp_path / "lab", 12, faults=False, profile_names=["polycom"], net_from=NET_FROM
    ) as lab:
        _names_test(lab, tmp_path / "s.db", capsys)


def _names_test(lab: RunningLab, db: Path, capsys) -> None:
    _sweep(lab, db, tag="before")
    one = rollout.apply_update(lab.fleet, 1, 1)
    _sweep(lab, db)
    text = _diff(capsys, db)
    [device] = one.lost_112
    # the one device is named under the emergency change it had
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if "1 × " in ln and "emergency" in ln)
    assert lines[at + 1].strip() == device, text
    many = rollout.apply_update(lab.fleet, 8, 0)
    _sweep(lab, db)
    text = _diff(capsys, db)
    # the update's one parameter change, the same on all 8 phones: folded, 5 named, 3 more
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("8 × "))
    shown, more = lines[at + 1].strip().split(" and ")
    assert more == "3 more" and set(shown.split(", ")) < set(many.updated), lines[at : at + 2]
    full = _diff(capsys, db, devices=True)
    assert all(d in full for d in many.updated)
    # on an 80-column terminal: lines break between words, never inside a device name
    shown = _on_terminal(["diff", "--devices", "--store", str(db)], columns=80)
    assert max(len(ln) for ln in shown.splitlines()) <= 80, shown
    assert all(d in shown.split() or f"{d}," in shown.split() for d in many.updated), shown


def _on_terminal(args: list[str], columns: int) -> str:
    """`fleet ARGS` with its stdout on a pseudo-terminal ``columns`` wide, as a user sees it."""
    import os
    import pty
    import subprocess
    import sys

    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.Popen([sys.executable, "-m", "fleet", *args], stdout=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(60) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_diff_lists_devices_that_appeared_or_vanished(
    lab: RunningLab, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "s.db"
    _sweep(lab, db)
    inv = yaml.safe_load(lab.inventory.read_text())
    gone = sorted(h for h in inv["hosts"] if "sbc" not in h)[0]
    kept = dict(inv["hosts"])
    del inv["hosts"][gone]
    lab.inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    _sweep(lab, db)
    text = _diff(capsys, db)
    assert "Vanished — 1 device" in text and gone in text.split("Vanished")[1], text
    assert "no configuration changes" in text  # nothing else changed, and it says which
    inv["hosts"] = kept
    lab.inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    _sweep(lab, db)
    data = json.loads(_diff(capsys, db, fmt="json"))
    assert data["appeared"] == [gone] and data["vanished"] == [] and data["same_scope"]


def test_diff_and_trend_compare_like_with_like(lab: RunningLab, tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    _sweep(lab, db)  # 1: the whole inventory
    man = next(p for p in lab.fleet.phones if p.site == "man")
    was = man.firmware
    man.firmware = rollout.next_firmware(man.profile, was)  # updated while...
    _rerender(lab, man)
    _sweep(lab, db, select=["site=lon"])  # 2: ...one site is swept, not that one
    text = _diff(capsys, db)  # 2 has no earlier snapshot of its scope: it says so
    assert "the scopes differ" in text and "--select site=lon" in text, text
    assert "Only in the old snapshot" in text and "Vanished" not in text
    _sweep(lab, db)  # 3: the whole inventory again
    text = _diff(capsys, db)
    assert text.startswith("snapshot 1 ") and "→ snapshot 3 " in text, text
    assert "scopes differ" not in text
    assert man.id in text  # its firmware change, against the last sweep of the whole
    with Store.open(db, write=False) as st:
        drifted = [f for r in st.load(3).results if r.id == man.id for f in r.findings]
    assert any(f.rule == "drift.firmware" and f.expected == was for f in drifted)
    with Store.open(db, write=False) as st:
        third, second = st.load(3), st.load(2)
        ctx = app.context_for(st, third)
        assert [p.id for p in ctx.trend] == [1, 3]  # no dip from the one-site sweep
        assert ctx.previous is not None and ctx.previous.id == 1
        assert [p.id for p in app.context_for(st, second).trend] == [2]
    # and the HTML report's trend chart says the same
    capsys.readouterr()
    commands.report_cmd("3", store=db, fmt="html", output=None, fail_on="high")
    html = capsys.readouterr().out
    m = re.search(r"devices failing emergency: ([^\"<]*)", html)
    assert m and "#1 " in m.group(1) and "#3 " in m.group(1) and "#2 " not in m.group(1), m


def test_diff_csv_and_formats_it_cannot_write_are_refused(
    lab: RunningLab, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "s.db"
    _sweep(lab, db)
    done = rollout.apply_update(lab.fleet, 2, 1)
    _sweep(lab, db)
    rows = list(csv.DictReader(io.StringIO(_diff(capsys, db, fmt="csv"))))
    fw = {r["device"] for r in rows if r["key"] == "firmware" and r["layer"] == "normalised"}
    assert fw == set(done.updated)
    assert any(r["emergency"] == "yes" and r["device"] in done.lost_112 for r in rows)
    for fmt in ("html", "junit"):
        with pytest.raises(InputError, match="it writes table, json, csv"):
            commands.diff(None, None, store=db, fmt=fmt, output=None, devices=False)
    cli = run_fleet("diff", "--store", str(db), "--format", "html")
    assert cli.returncode == 2 and "'table', 'json', 'csv'" in _flat(cli.stderr), cli.stderr
    cli = run_fleet("rollout", "verify", "--baseline", "1", "--store", str(db), "--format", "html")
    assert cli.returncode == 2 and "'table', 'json', 'junit', 'csv'" in _flat(cli.stderr)


def _flat(text: str) -> str:
    """Click's message without the box and line breaks rich draws around it."""
    return " ".join(text.replace("│", " ").split())


def test_each_command_offers_only_the_formats_it_writes() -> None:
    """Every command with --format, walked in the CLI: its choices are what it produces."""
    import typer.main

    from fleet.cli import app as cli_app
    from fleet.report import FORMATS

    root = typer.main.get_command(cli_app)
    expected = {"diff": DIFF_FORMATS, "rollout verify": VERIFY_FORMATS}
    seen = {}

    def walk(cmd, path: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        for p in getattr(cmd, "params", []):
            if "--format" in getattr(p, "opts", []):
                seen[path] = _choices(p)

    walk(root, "")
    full = {"sweep", "audit", "report", "demo"}  # these finish through fleet.app: all formats
    assert seen.keys() >= full | expected.keys()
    for path in full:
        assert seen[path] == FORMATS, path
    for path, formats in expected.items():
        assert seen[path] == formats, path
    for path, choices in seen.items():  # commands of their own: never a format none writes
        assert set(choices) <= set(FORMATS), path


def test_report_writes_every_format_it_offers(lab: RunningLab, tmp_path: Path, capsys) -> None:
    from xml.etree import ElementTree as ET

    from fleet.report import FORMATS

    db = tmp_path / "s.db"
    _sweep(lab, db)
    outs = {}
    for fmt in FORMATS:
        capsys.readouterr()
        commands.report_cmd(None, store=db, fmt=fmt, output=None, fail_on="high")
        outs[fmt] = capsys.readouterr().out
    assert json.loads(outs["json"])["schema"] == "fleet.report/1"
    assert ET.fromstring(outs["junit"].encode()).tag == "testsuite"
    assert "<html" in outs["html"].lower()
    assert outs["csv"].startswith("device,site,")
    assert len({outs[f] for f in FORMATS}) == len(FORMATS)  # five different outputs


def _choices(param) -> tuple[str, ...]:
    """An option's choices, from click's Choice or (newer typer) the option's enum."""
    kind = getattr(param, "type", None)
    if kind is not None and hasattr(kind, "choices"):
        return tuple(kind.choices)
    return tuple(m.value for m in param.type_descriptor.annotation)


def _verify(capsys, db: Path, **kw) -> tuple[int, dict]:
    capsys.readouterr()
    rc = commands.rollout_verify(
        "before",
        None,
        None,
        select=None,
        store=db,
        fmt="json",
        output=None,
        concurrency=50,
        timeout=10,
        tag=None,
        **kw,
    )
    return rc, json.loads(capsys.readouterr().out)


def test_verify_fails_only_on_what_is_worse_than_at_the_baseline(tmp_path: Path, capsys) -> None:
    # a phone down and a phone without 112 at the baseline: both still so after the rollout
    # the down phone is not the first: other labs probe a net's first address to find it taken
    seed = ("lost-112", "down")
    with running_lab(tmp_path / "lab", 8, faults=False, seed=seed, net_from=NET_FROM) as lab:
        no112, down = lab.fleet.phones[0].id, lab.fleet.phones[1].id
        db = tmp_path / "s.db"
        _sweep(lab, db, tag="before")
        rc, v = _verify(capsys, db)
        assert rc == 0 and v["verdict"] == "pass", v
        assert down in v["unreachable_as_at_baseline"] and v["unverified"] == {}
        assert no112 in v["pre_existing"] and v["regressions"] == {}
        assert v["summary"]["pre_existing_findings"] >= 2
        assert v["summary"]["unreachable_as_at_baseline"] == 1
        rc, v = _verify(capsys, db, strict=True)  # today's behaviour, on request
        assert rc == 1 and down in v["unreachable_as_at_baseline"]
        # a change below --fail-on: counted, failing only when asked
        low = next(p for p in lab.fleet.phones[2:] if p.profile == "polycom")
        low.provisioning_server = ""
        _rerender(lab, low)
        rc, v = _verify(capsys, db)
        assert rc == 0 and low.id in v["new_below_fail_on"], v
        rc, v = _verify(capsys, db, fail_on="low")
        assert rc == 1 and set(v["regressions"]) == {low.id}
        # a phone that loses 112 now: a new regression, and only that phone fails
        lost = rollout.apply_update(lab.fleet, 1, 1).lost_112
        rc, v = _verify(capsys, db)
        assert rc == 1 and set(v["regressions"]) == set(lost)
        assert all("112" in f["subject"] for f in v["regressions"][lost[0]])
        assert no112 not in v["regressions"] and down not in v["unverified"]
        # the table says the same in words
        capsys.readouterr()
        commands.rollout_verify(
            "before", None, None, select=None, store=db, fmt="table", output=None,
            concurrency=50, timeout=10, tag=None,
        )  # fmt: skip
        text = capsys.readouterr().out
        assert "FAIL" in text.splitlines()[0] and "Unreachable, as at baseline — 1" in text
        assert "pre-existing" in text.splitlines()[1]
        # the diff of the same two sweeps says which device it could not compare
        text = _diff(capsys, db, "before")
        assert "Not compared — 1 device" in text and down in text.split("Not compared")[1]
