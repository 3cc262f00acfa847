"""`fleet timeline` reconstructs, from real stored sweeps of the lab, the windows in which an
emergency number was broken: 14 daily sweeps (the clock is the store's: each snapshot's times
are set to 02:00Z of its day), 112 lost at one site for three days, one phone unreachable for a
day inside the outage, and a firmware update the day it broke."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli import app
from fleet.lab import registry
from tests.conftest import running_lab

DAYS = 14
BROKEN = (5, 6, 7)  # days on which the man phones lack 112
DOWN_DAY = 6  # one man phone is unreachable that day
FIRMWARE = "9.9.9-broken"


def day(n: int) -> str:
    return f"2026-10-{n:02d}T02:00:00Z"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("timeline")
    db = folder / "fleet.db"
    runner = CliRunner()
    with running_lab(folder, 6, faults=False, profile_names=("polycom", "cisco_mpp")) as lab:
        man = [p for p in lab.fleet.phones if p.site == "man"]
        assert len(man) == 2
        normal = {p.id: (list(p.emergency_numbers), p.firmware) for p in man}
        for n in range(1, DAYS + 1):
            for p in man:
                numbers, firmware = normal[p.id]
                p.emergency_numbers = [x for x in numbers if x != "112"] if n in BROKEN else numbers
                p.firmware = FIRMWARE if n >= BROKEN[0] else firmware
                p.fault = "http503" if (n == DOWN_DAY and p is man[0]) else None
                # the phone reboots into what its spec now says (the lab renders at start)
                lab.fleet.devices[p.id].config = registry.phone(p.profile).render(p)
            got = runner.invoke(
                app,
                ["sweep", str(lab.inventory), "--golden", str(lab.golden), "--store", str(db)],
            )
            assert got.exit_code in (0, 1), got.output
            with sqlite3.connect(db) as con:
                con.execute(
                    "UPDATE snapshots SET started_at=?, finished_at=? WHERE id=(SELECT max(id)"
                    " FROM snapshots)",
                    (day(n).replace("02:00:00", "01:59:00"), day(n)),
                )
        return db, sorted(p.id for p in man)


def timeline(db: Path, *args: str) -> tuple[int, str]:
    got = CliRunner().invoke(app, ["timeline", "--store", str(db), *args])
    return got.exit_code, got.output


def test_the_site_window_is_bounded_by_evidence_on_both_sides(store) -> None:
    db, man = store
    code, out = timeline(db, "--format", "json", "--number", "112")
    assert code == 0, out  # fixed by the newest snapshot: no window open
    t = json.loads(out)
    assert t["snapshots"] == DAYS and t["numbers"] == ["112"]
    (site,) = t["sites"]
    assert site["site"] == "man" and site["devices"] == man
    assert site["last_proven"]["at"] == day(BROKEN[0] - 1)
    assert site["first_failed"]["at"] == day(BROKEN[0])
    assert site["last_failed"]["at"] == day(BROKEN[-1])
    assert site["fixed"]["at"] == day(BROKEN[-1] + 1)
    assert site["at_least_s"] == 2 * 86400 and site["at_most_s"] == 4 * 86400
    assert any(FIRMWARE in f for f in site["firmware"])


def test_a_day_without_evidence_is_a_gap_not_a_proof(store) -> None:
    db, man = store
    t = json.loads(timeline(db, "--format", "json", "--number", "112")[1])
    down = {w["devices"][0]: w for w in t["devices"]}
    # the phone that was down on day 6 still failed on days 5 and 7: one window, one gap
    gaps = [g for w in t["devices"] for g in w["gaps"]]
    assert [g["at"] for g in gaps] == [day(DOWN_DAY)]
    assert gaps[0]["why"].startswith("not audited (")
    assert set(down) == set(man)
    (site,) = t["sites"]
    assert [g["at"] for g in site["gaps"]] == [day(DOWN_DAY)]
    assert site["gaps"][0]["why"].startswith("1 of 2:")


def test_999_never_broke_and_other_sites_have_no_window(store) -> None:
    db, _ = store
    t = json.loads(timeline(db, "--format", "json")[1])
    assert t["numbers"] == ["999", "112"]  # the policy's order
    assert {(w["site"], w["number"]) for w in t["sites"]} == {("man", "112")}


def test_an_open_window_exits_1_and_says_so(store) -> None:
    db, _ = store
    # read only up to the middle of the outage: still broken at the newest snapshot read
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, finished_at FROM snapshots ORDER BY id").fetchall()
    keep = tmp_copy = db.with_name("partial.db")
    con = sqlite3.connect(db)
    con.execute(f"VACUUM INTO '{tmp_copy}'")
    con.close()
    with sqlite3.connect(keep) as c:
        c.execute("DELETE FROM snapshots WHERE finished_at > ?", (day(BROKEN[1]),))
    assert len(rows) == DAYS
    code, out = timeline(keep, "--number", "112")
    assert code == 1
    assert "OPEN" in out and "still broken at the newest snapshot" in out
    assert f"first failed {day(BROKEN[0])}" in out


def test_table_csv_and_html_say_the_same(store) -> None:
    db, man = store
    code, text = timeline(db, "--number", "112", "--site", "man")
    assert code == 0
    assert (
        f"112 (also as 9112) unavailable from 2 devices at man: last proven {day(BROKEN[0] - 1)}"
        in text
    )
    assert "broken for between 2 d and 4 d" in text
    rows = list(csv.DictReader(io.StringIO(timeline(db, "--format", "csv", "--number", "112")[1])))
    assert [r["scope"] for r in rows] == ["site", "device", "device"]
    assert rows[0]["fixed"] == day(BROKEN[-1] + 1) and rows[0]["open"] == "no"
    html = timeline(db, "--format", "html", "--number", "112")[1]
    assert "<table>" in html and day(BROKEN[0]) in html and all(m in html for m in man)


def test_site_and_since_narrow_it(store) -> None:
    db, _ = store
    t = json.loads(timeline(db, "--format", "json", "--site", "lon")[1])
    assert t["sites"] == [] and t["snapshots"] == DAYS
    t = json.loads(timeline(db, "--format", "json", "--since", day(BROKEN[-1] + 1)[:10])[1])
    assert t["sites"] == [] and t["snapshots"] == DAYS - BROKEN[-1]
    code, out = timeline(db, "--since", "soon")
    assert code == 2 and "--since" in out


def _gauges(db: Path) -> dict[tuple[str, str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    from fleet.report import emergency_metrics
    from fleet.store import Store

    with Store.open(db, write=False, must_exist=True) as st:
        text = emergency_metrics.render(st.evidence())
    return {
        (s.name, s.labels["site"], s.labels["number"]): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_the_alerting_gauges_say_when_each_site_and_number_was_last_proven(store) -> None:
    import calendar
    import time

    db, _ = store
    g = _gauges(db)
    epoch = lambda iso: calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
    assert g[("fleet_emergency_last_proven_timestamp_seconds", "man", "112")] == epoch(day(DAYS))
    assert g[("fleet_emergency_broken_devices", "man", "112")] == 0
    # in the middle of the outage: last proven the day before it began, 1 failing, 1 silent
    partial = db.with_name("mid.db")
    con = sqlite3.connect(db)
    con.execute(f"VACUUM INTO '{partial}'")
    con.close()
    with sqlite3.connect(partial) as c:
        c.execute("DELETE FROM snapshots WHERE finished_at > ?", (day(DOWN_DAY),))
    g = _gauges(partial)
    assert g[("fleet_emergency_last_proven_timestamp_seconds", "man", "112")] == epoch(
        day(BROKEN[0] - 1)
    )
    assert g[("fleet_emergency_broken_devices", "man", "112")] == 1
    assert g[("fleet_emergency_unproven_devices", "man", "112")] == 1
    assert g[("fleet_emergency_last_proven_timestamp_seconds", "man", "999")] == epoch(
        day(DOWN_DAY - 1)
    )  # one device silent on day 6: not proven at every device that day
    assert g[("fleet_emergency_broken_devices", "lon", "999")] == 0


def test_the_html_report_shows_last_proven_and_the_open_window_per_site_and_number(
    store, tmp_path
) -> None:
    db, _ = store
    partial = tmp_path / "mid.db"
    con = sqlite3.connect(db)
    con.execute(f"VACUUM INTO '{partial}'")
    con.close()
    with sqlite3.connect(partial) as c:
        c.execute("DELETE FROM snapshots WHERE finished_at > ?", (day(DOWN_DAY),))
    out = tmp_path / "r.html"
    got = CliRunner().invoke(
        app, ["report", "--store", str(partial), "--format", "html", "--output", str(out)]
    )
    assert got.exit_code in (0, 1), got.output
    page = out.read_text()
    row = re.search(r'<tr data-number-site="man" data-number="112".*?</tr>', page, re.S)
    assert row, "no man/112 row"
    assert f"broken on 2 devices since {day(BROKEN[0])}" in row.group(0)
    assert f"last proven {day(BROKEN[0] - 1)}" in row.group(0)
    lon = re.search(r'<tr data-number-site="lon" data-number="999".*?</tr>', page, re.S)
    assert lon and day(DOWN_DAY) in lon.group(0) and "none" in lon.group(0)


def test_a_stretch_with_no_snapshot_is_shown_as_a_gap(store, tmp_path) -> None:
    db, _ = store
    holes = tmp_path / "holes.db"
    con = sqlite3.connect(db)
    con.execute(f"VACUUM INTO '{holes}'")
    con.close()
    with sqlite3.connect(holes) as c:  # the sweep of day 6 never ran
        c.execute("DELETE FROM snapshots WHERE finished_at = ?", (day(DOWN_DAY),))
    code, out = timeline(holes, "--number", "112", "--format", "json")
    assert code == 0, out
    (site,) = json.loads(out)["sites"]
    assert [g["why"] for g in site["gaps"]] == [
        f"2 of 2: no snapshot until {day(DOWN_DAY + 1)} (2 d)"
    ]
    _, text = timeline(holes, "--number", "112")
    assert f"gap: from {day(DOWN_DAY - 1)}: 2 of 2: no snapshot until {day(DOWN_DAY + 1)}" in text


def test_fleet_report_ends_with_each_site_and_numbers_history(store, tmp_path) -> None:
    db, _ = store
    partial = tmp_path / "mid.db"
    con = sqlite3.connect(db)
    con.execute(f"VACUUM INTO '{partial}'")
    con.close()
    with sqlite3.connect(partial) as c:
        c.execute("DELETE FROM snapshots WHERE finished_at > ?", (day(DOWN_DAY),))
    got = CliRunner().invoke(app, ["report", "--store", str(partial)], env={"COLUMNS": "200"})
    assert got.exit_code == 1, got.output
    assert (
        f"  man 112: broken on 2 devices since {day(BROKEN[0])} (last proven {day(BROKEN[0] - 1)})"
        in got.output
    )
    assert f"  lon 999: last proven {day(DOWN_DAY)}" in got.output
