"""Big inventories load in memory flat per host (issue 14 §1) and still name file:line:
field: the YAML is built from libyaml's events (no node tree), hosts are validated one at a
time, and lines are read again from the text only when an error is reported. And what a
streamed sweep keeps per device holds each repeated string once."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from fleet import inventory, profiles, yamlsrc
from fleet.errors import InputError, InventoryError

CORPUS = Path(__file__).resolve().parent / "faults" / "bad_inputs"
EXAMPLES = Path(__file__).resolve().parent.parent / "inventory"


def big_inventory(folder: Path, hosts: int, bad: dict[int, str] | None = None) -> Path:
    """``hosts`` phones in the lab inventory's shape, four lines each; host ``i`` gets the
    extra line ``bad[i]`` (its line numbers are then known: see ``line_of_host``), or its
    groups line replaced when ``bad[i]`` is one."""
    (folder / "pw.secret").write_text("pw\n")
    out = [
        "x-phone: &phone",
        "  role: phone",
        "  credentials: {username: admin, password: '${file:pw.secret}'}",
        "groups:",
        "  poly: {<<: *phone, profile: polycom}",
        "  yea: {<<: *phone, profile: yealink}",
        "hosts:",
    ]
    for i in range(hosts):
        out += [
            f"  ph-{i:06d}:",
            f"    address: http://127.{10 + i // 65536}.{i // 256 % 256}.{i % 256}:8080",
            f"    site: site-{i % 8}",
        ]
        if bad and i in bad and bad[i].startswith("groups:"):
            out.append(f"    {bad[i]}")
            continue
        out.append(f"    groups: [{'poly' if i % 2 else 'yea'}]")
        if bad and i in bad:
            out.append(f"    {bad[i]}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(out) + "\n")
    return path


def line_of_host(i: int, bad: dict[int, str]) -> int:
    return 8 + 4 * i + sum(1 for b, line in bad.items() if b < i and "groups:" not in line)


def test_an_inventory_loads_peaking_under_3_kb_per_host(tmp_path: Path) -> None:
    """The node composer peaked near 10.7 KB per host; the event builder near 0.9 KB
    (``bench/inventory_load.py``). tracemalloc counts allocations, not pages, so the bound
    does not depend on the machine; 5,000 hosts, as tracemalloc slows the load fivefold."""
    path = big_inventory(tmp_path, 5_000)
    profiles.registry()  # its imports are the process's, not the load's
    tracemalloc.start()
    try:
        inv = inventory.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / 5_000 < 3_000, f"{peak / 5_000:.0f} bytes per host at the peak"
    assert len(inv.hosts) == 5_000
    last = inv.hosts[-1]
    assert (last.id, last.profile, last.role, last.site) == (
        "ph-004999",
        "polycom",
        "phone",
        "site-7",
    )
    assert last.password is not None and last.password.value == "pw"
    assert (last.hostname, last.port) == ("127.10.19.135", 8080)


def test_errors_deep_in_a_20000_host_inventory_name_file_line_and_field(tmp_path: Path) -> None:
    bad = {7_000: "timeout: -3", 15_000: "adress: 10.0.0.1", 19_998: "model: [x]"}
    path = big_inventory(tmp_path, 20_000, bad)
    with pytest.raises(InventoryError) as e:
        inventory.load(path)
    said = [str(e.value), *(str(m) for m in e.value.more)]
    want = {
        f"{path}:{line_of_host(7_000, bad) + 4}: hosts.ph-007000.timeout",
        f"{path}:{line_of_host(15_000, bad) + 4}: hosts.ph-015000.adress: unknown key",
        f"{path}:{line_of_host(19_998, bad) + 4}: hosts.ph-019998.model: expected text",
    }
    assert {s for s in said if any(s.startswith(w) for w in want)} == set(said)
    assert len(said) == 3


def test_a_problem_found_resolving_a_host_is_named_at_its_line(tmp_path: Path) -> None:
    bad = {12_345: "groups: [nope]"}
    path = big_inventory(tmp_path, 13_000, bad)
    with pytest.raises(InventoryError) as e:
        inventory.load(path)
    where = f"{path}:{line_of_host(12_345, bad) + 3}: hosts.ph-012345.groups"
    assert str(e.value) == f"{where}: unknown group 'nope'"


def _read(loader: str, text: str) -> tuple[str, object, dict[yamlsrc.Path_, int] | None]:
    yamlsrc.LOADER = loader
    try:
        doc = yamlsrc.loads(text, "f.yaml")
        return "ok", doc.data, dict(doc.lines)
    except InputError as e:
        # the two parsers word malformed YAML apart; both name the same line
        return "error", str(e).split(": malformed YAML")[0], None
    finally:
        yamlsrc.LOADER = "events"


HAND = {
    "merge-list": "a: &a {p: 1}\nb: &b {p: 2, q: [1, {r: 3}]}\nh:\n  s: 0\n  <<: [*a, *b]\n",
    "inline-merge": "h:\n  <<: {a: 1, b: {c: 2}}\n  a: 3\n",
    "seq-aliases": "a: &x [1, {y: 2}]\nb:\n  - *x\n  - c: *x\n",
    "nested-anchors": "a: &x {b: &y [1, {c: 2}], d: *y}\ne: *x\nf: {<<: *x, g: 1}\n",
    "scalars": "a: !!int 3\nb: 2020-01-01\nc: yes\nd: ~\ne: 0x1f\nf: '1'\ng: !!binary aGk=\n",
    "alias-key": "k: &k name\n*k : 2\n",
    "numeric-keys": "1: a\ntrue: b\nnull: c\n",
    "root-list": "- a\n- b: 1\n- [c]\n",
    "root-scalar": "hello\n",
    "empty-document": "---\n",
}


def _text(path: Path) -> bool:
    """Whether the file reaches the YAML reader at all (a binary one is refused before)."""
    try:
        yamlsrc.read_text(path)
    except InputError:
        return False
    return True


@pytest.mark.parametrize(
    "case",
    [
        # (deep nesting is refused by both: tests/test_hostile_yaml.py; the composer takes
        # seconds to unwind its recursion)
        *sorted(p.name for p in CORPUS.glob("*.yaml") if "deep" not in p.name and _text(p)),
        *sorted(f"../../../inventory/{p.name}" for p in EXAMPLES.glob("*.yaml")),
        *(f"hand:{k}" for k in HAND),
    ],
)
def test_the_event_builder_reads_documents_as_the_node_composer_did(case: str) -> None:
    """Same data, same line for every key path (aliases, merge keys, lists), same refusal
    at the same line: the composer before it is kept for the benches and compared here."""
    if case.startswith("hand:"):
        text = HAND[case.removeprefix("hand:")]
    else:
        text = yamlsrc.read_text(CORPUS / case)
    nodes, events = _read("nodes", text), _read("events", text)
    if "alias bomb" in str(nodes[1]) or "nested too deeply" in str(nodes[1]):
        # refused both ways; the builder names the alias (or the level) where it stops
        assert str(nodes[1]).split(": ", 1)[1] in str(events[1])
        return
    assert events == nodes


def test_a_csv_row_deep_in_a_big_file_is_named_by_its_line(tmp_path: Path) -> None:
    rows = [f"ph-{i:05d},10.1.{i // 256}.{i % 256},polycom,admin,phone" for i in range(12_000)]
    rows[11_000] += ",ten"  # a cell past the header's: refused on that row
    path = tmp_path / "hosts.csv"
    path.write_text("id,address,profile,username,role\n" + "\n".join(rows) + "\n")
    with pytest.raises(InventoryError) as e:
        inventory.load(path)
    assert str(e.value).startswith(f"{path}:11002: row: 6 cells")
    rows[11_000] = rows[11_000].replace(",phone,ten", ",telephone")
    path.write_text("id,address,profile,username,role\n" + "\n".join(rows) + "\n")
    with pytest.raises(InventoryError) as e:
        inventory.load(path)
    assert str(e.value).startswith(f"{path}:11002: ph-11000.role: role must be one of")
    path.write_text("id,address,profile,username,role\n" + "\n".join(rows[:11_000]) + "\n")
    assert len(inventory.load(path).hosts) == 11_000


def test_a_streamed_sweep_keeps_one_copy_of_each_repeated_string(tmp_path: Path) -> None:
    """What a streamed sweep keeps per device (for the fleet-level checks and the report)
    reads as the whole-fleet path's does, its repeated strings (a site's dial plan, its
    SBC's address, the sources named) held once for all the phones."""
    from fleet import app, commands
    from fleet.store import Store
    from tests.conftest import running_lab

    def sweep(lab: Any, db: Path, streamed: bool) -> Any:
        inputs = commands.load_inputs(lab.inventory, lab.golden, None)
        with Store.open(db, write=True) as st:
            snap = commands.run_sweep(inputs, 50, 10, None, store=st if streamed else None)
            app.settle(st, snap, drift_kind="sweep", max_age_s=None, save=True)
        return snap

    def kept(snap: Any) -> dict[str, Any]:
        out = {}
        for r in snap.results:
            state = r.state.to_dict() if r.state else None
            if state:
                state.pop("raw", None)
            out[r.id] = (r.status, state, sorted(repr(f) for f in r.findings))
        return out

    with running_lab(tmp_path / "lab", 24) as lab:
        whole = sweep(lab, tmp_path / "whole.db", streamed=False)
        streamed = sweep(lab, tmp_path / "streamed.db", streamed=True)
    assert kept(streamed) == kept(whole)
    plans: dict[str, list[str]] = {}
    for r in streamed.results:
        for ln in r.state.lines if r.state else []:
            if ln.dialplan is not None:
                plans.setdefault(ln.dialplan.text, []).append(ln.dialplan.text)
    repeated = [texts for texts in plans.values() if len(texts) > 1]
    assert repeated, "the lab's phones share no dial plan: nothing to check"
    assert all(all(t is texts[0] for t in texts) for texts in repeated)
