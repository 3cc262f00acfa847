"""Inventories: merging, CSV, secret references, selection, and errors that name file,
line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet import inventory
from fleet.errors import InventoryError


def write(tmp_path: Path, text: str, name: str = "inv.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """\
defaults:
  credentials: {username: admin, password: "${env:FLEET_TEST_PW}"}
groups:
  lon-phones: {site: lon, role: phone, profile: yealink, tags: [floor1]}
hosts:
  lon-ph-001:
    address: 10.20.0.11
    groups: [lon-phones]
  lon-ph-002:
    address: https://10.20.0.12:8443
    profile: cisco_mpp
    groups: [lon-phones]
    tls: {verify: false}
    credentials: {password: "${file:secret.txt}"}
"""


def test_layers_merge_and_secrets_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLEET_TEST_PW", "from-env")
    (tmp_path / "secret.txt").write_text("from-file\n")
    inv = inventory.load(write(tmp_path, GOOD))
    a, b = inv.hosts
    assert (a.site, a.role, a.profile, a.username) == ("lon", "phone", "yealink", "admin")
    assert a.password is not None and a.password.value == "from-env"
    assert a.base_url == "http://10.20.0.11:80" and a.tls.verify
    assert b.profile == "cisco_mpp" and b.base_url == "https://10.20.0.12:8443"
    assert b.password is not None and b.password.value == "from-file"
    assert not b.tls.verify
    assert "from-env" not in repr(a) and "from-file" not in repr(b)


def test_select_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FLEET_TEST_PW", "x")
    (tmp_path / "secret.txt").write_text("y")
    inv = inventory.load(write(tmp_path, GOOD))
    assert [h.id for h in inv.select(["profile=cisco_mpp"])] == ["lon-ph-002"]
    assert [h.id for h in inv.select(["site=lon,profile!=cisco*"])] == ["lon-ph-001"]
    assert [h.id for h in inv.select(["tag=floor1"])] == ["lon-ph-001", "lon-ph-002"]
    assert [h.id for h in inv.select(["id=*001", "id=*002"])] == ["lon-ph-001", "lon-ph-002"]
    assert inv.select(["site=man"]) == []
    with pytest.raises(InventoryError, match="--select"):
        inv.select(["colour=red"])


def test_csv_hosts(tmp_path: Path):
    p = write(
        tmp_path,
        "id,address,profile,site,groups,username,password\n"
        "ph1,10.0.0.1,polycom,lon,,Polycom,literal\n"
        "ph2,10.0.0.2:8080,yealink,man,,admin,literal\n",
        "hosts.csv",
    )
    inv = inventory.load(p)
    assert [(h.id, h.site, h.port) for h in inv.hosts] == [("ph1", "lon", 80), ("ph2", "man", 8080)]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycomm\n",
            4,
            "hosts.a.profile",
            "unknown profile 'polycomm'",
        ),
        (
            "hosts:\n  a:\n    adress: 1.2.3.4\n    profile: polycom\n",
            3,
            "hosts.a.adress",
            "unknown key",
        ),
        ("hosts:\n  a:\n    profile: polycom\n", 2, "hosts.a.address", "required field"),
        ("hosts:\n  a: {address: 1.2.3.4, profile: polycom\n", None, None, "malformed YAML"),
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n    credentials:\n"
            "      password: ${env:FLEET_SURELY_UNSET_VAR}\n",
            6,
            "hosts.a.credentials.password",
            "FLEET_SURELY_UNSET_VAR is not set",
        ),
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n    credentials:\n"
            "      password: ${file:/nonexistent/pw}\n",
            6,
            "hosts.a.credentials.password",
            "cannot read secret file",
        ),
        (
            "groups:\n  g: {role: fone}\nhosts:\n  a: {address: 1.2.3.4, profile: polycom}\n",
            2,
            "groups.g.role",
            "role must be one of",
        ),
        (
            "hosts:\n  a: {address: 1.2.3.4, profile: polycom, groups: [nope]}\n",
            2,
            "hosts.a.groups",
            "unknown group 'nope'",
        ),
        (
            "hosts:\n  a: {address: 1.2.3.4, profile: polycom}\n  a: {address: 1.2.3.5}\n",
            3,
            "hosts.a",
            "duplicate key",
        ),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path, text, line, field, message):
    p = write(tmp_path, text)
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    e = ei.value
    assert e.file == str(p)
    assert message in str(e)
    if line is not None:
        assert e.line == line, str(e)
    else:
        assert e.line is not None, str(e)
    if field is not None:
        assert e.field == field, str(e)


def test_profile_error_points_at_the_group_that_set_it(tmp_path):
    text = "groups:\n  g:\n    profile: snomm\nhosts:\n  a: {address: h, groups: [g]}\n"
    p = write(tmp_path, text)
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    assert (ei.value.line, ei.value.field) == (3, "groups.g.profile")


def test_mac_and_model_are_optional_and_normalised(tmp_path: Path):
    p = write(
        tmp_path,
        "hosts:\n"
        "  a: {address: 10.0.0.1, profile: avaya, mac: 'C8:1F:EA:9B:43:68', model: J179}\n"
        "  b: {address: 10.0.0.2, profile: avaya, mac: c8-1f-ea-9b-43-69}\n"
        "  c: {address: 10.0.0.3, profile: avaya, mac: c81f.ea9b.436a}\n"
        "  d: {address: 10.0.0.4, profile: polycom}\n",
    )
    got = [(h.mac, h.model) for h in inventory.load(p).hosts]
    assert got == [
        ("c81fea9b4368", "J179"),
        ("c81fea9b4369", None),
        ("c81fea9b436a", None),
        (None, None),
    ]


def test_csv_mac_and_model(tmp_path: Path):
    p = write(
        tmp_path,
        "id,address,profile,mac,model\n"
        "ph1,10.0.0.1,avaya,C8:1F:EA:9B:43:68,J139\n"
        "ph2,10.0.0.2,polycom,,\n",
        "hosts.csv",
    )
    got = [(h.mac, h.model) for h in inventory.load(p).hosts]
    assert got == [("c81fea9b4368", "J139"), (None, None)]
    bad = write(tmp_path, "id,address,profile,mac\nph1,10.0.0.1,avaya,c8:1f:ea\n", "bad.csv")
    with pytest.raises(InventoryError) as ei:
        inventory.load(bad)
    assert (ei.value.line, ei.value.field) == (2, "mac") and "12 hex digits" in str(ei.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [("c8:1f:ea:9b:43", "12 hex digits"), ("c81fea9b436g", "12 hex digits"), ("''", "empty")],
)
def test_a_bad_mac_or_model_names_its_line(tmp_path: Path, value: str, message: str):
    key = "model" if value == "''" else "mac"
    p = write(
        tmp_path, f"hosts:\n  a:\n    address: 10.0.0.1\n    profile: avaya\n    {key}: {value}\n"
    )
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    assert (ei.value.line, ei.value.field) == (5, f"hosts.a.{key}")
    assert message in str(ei.value)


def test_the_inventory_mac_and_model_reach_the_profiles_fetch(tmp_path: Path):
    import asyncio

    from fleet.collect.http import HttpTransport
    from fleet.collect.options import CrawlOptions
    from fleet.profiles import Profile

    seen = []

    async def fetch(host, wanted):
        seen.append((host.mac, host.model))
        raise RuntimeError("stop")

    p = write(
        tmp_path,
        "hosts:\n  a: {address: 10.0.0.1, profile: avaya, mac: C81FEA9B4368, model: J179}\n",
    )
    [host] = inventory.load(p).hosts
    prof = Profile(name="x", vendor="X", role="phone", transport="http", fetch=fetch)
    with pytest.raises(RuntimeError):
        asyncio.run(HttpTransport(CrawlOptions()).read(host, prof, []))
    assert seen == [("c81fea9b4368", "J179")]


def test_the_lab_inventory_carries_each_phones_mac_and_model(tmp_path: Path):
    from fleet.lab import fleet as labfleet

    lab = labfleet.build(12, net=90, sbcs=False)
    inv, _ = labfleet.write_files(lab, tmp_path)
    hosts = {h.id: h for h in inventory.load(inv).hosts}
    assert [(hosts[p.id].mac, hosts[p.id].model) for p in lab.phones] == [
        (p.mac, p.model) for p in lab.phones
    ]
