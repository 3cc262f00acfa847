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
        "ph1,10.0.0.1,polycom,lon,,Polycom,${file:pw.txt}\n"
        "\n"
        "ph2,10.0.0.2:8080,yealink,man,,admin,${file:pw.txt}\n",
        "hosts.csv",
    )
    (tmp_path / "pw.txt").write_text("from-file\n")
    inv = inventory.load(p)
    assert [(h.id, h.site, h.port) for h in inv.hosts] == [("ph1", "lon", 80), ("ph2", "man", 8080)]
    assert inv.hosts[1].password is not None and inv.hosts[1].password.value == "from-file"
    # an error in a row names the row's own line (the blank line counted)
    p.write_text(p.read_text().replace("yealink", "yealinc"))
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    assert (ei.value.line, ei.value.field) == (4, "ph2.profile"), str(ei.value)


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
            "      password: ${file:nonexistent-pw}\n",
            6,
            "hosts.a.credentials.password",
            "cannot read secret file",
        ),
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n    credentials:\n"
            "      password: ${file:/etc/shadow}\n",
            6,
            "hosts.a.credentials.password",
            "outside the folders secrets are read from",
        ),
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n    credentials:\n"
            "      password: ${file:../../../../../../etc/passwd}\n",
            6,
            "hosts.a.credentials.password",
            "outside the folders secrets are read from",
        ),
        (
            "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n    credentials:\n"
            "      password: hunter2\n",
            6,
            "hosts.a.credentials.password",
            "a plaintext password",
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
    assert (ei.value.line, ei.value.field) == (2, "ph1.mac") and "12 hex digits" in str(ei.value)


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


def test_secret_files_are_read_only_from_allowed_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "pw").write_text("from-vault\n")
    inv_dir = tmp_path / "inv"
    inv_dir.mkdir()
    (inv_dir / "link").symlink_to(vault / "pw")  # a symlink out is judged by its target
    text = "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n"
    p = write(inv_dir, text + "    credentials: {password: '${file:link}'}\n")
    monkeypatch.delenv(inventory.SECRET_DIRS_ENV, raising=False)
    with pytest.raises(InventoryError, match="outside the folders"):
        inventory.load(p)
    monkeypatch.setenv(inventory.SECRET_DIRS_ENV, str(vault))
    [h] = inventory.load(p).hosts
    assert h.password is not None and h.password.value == "from-vault"


def test_plaintext_passwords_need_the_opt_in_and_are_named(tmp_path: Path) -> None:
    text = (
        "allow_plaintext_passwords: true\n"
        "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n"
        "    credentials: {password: hunter2}\n"
    )
    inv = inventory.load(write(tmp_path, text))
    assert inv.hosts[0].password is not None and inv.hosts[0].password.value == "hunter2"
    [warning] = inv.warnings
    assert "inv.yaml:6: hosts.a.credentials.password" in warning
    assert "plaintext" in warning and "hunter2" not in warning


def test_validate_checks_references_without_reading_them(tmp_path: Path) -> None:
    text = "hosts:\n  a:\n    address: 1.2.3.4\n    profile: polycom\n"
    p = write(tmp_path, text + "    credentials: {password: '${env:FLEET_SURELY_UNSET_VAR}'}\n")
    [h] = inventory.load(p, resolve_secrets=False).hosts
    assert h.password is not None and h.password.ref == "${env:FLEET_SURELY_UNSET_VAR}"
    p.write_text(text + "    credentials: {password: '${file:/etc/shadow}'}\n")
    with pytest.raises(InventoryError, match="outside the folders"):
        inventory.load(p, resolve_secrets=False)


def test_a_golden_given_as_the_inventory_says_so(tmp_path: Path) -> None:
    p = write(tmp_path, "fleet_golden: 1\nname: acme\npolicy: [uk]\n")
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    assert "looks like a golden" in str(ei.value) and "--golden" in str(ei.value)
    assert "unknown key" not in str(ei.value) and ei.value.line == 1


def test_pydantic_wording_never_reaches_the_user(tmp_path: Path) -> None:
    p = write(tmp_path, "hosts:\n  a: '1.2.3.4'\n")
    with pytest.raises(InventoryError) as ei:
        inventory.load(p)
    assert "expected a mapping" in str(ei.value) and "HostIn" not in str(ei.value)
    assert (ei.value.line, ei.value.field) == (2, "hosts.a")


def test_every_problem_of_a_file_is_listed_not_just_the_first(tmp_path: Path) -> None:
    shape = write(
        tmp_path,
        "hosts:\n"
        "  a: {address: 10.0.0.1, profile: polycom, timeout: -1}\n"
        "  b: {adress: 10.0.0.2, profile: polycom}\n",
    )
    with pytest.raises(InventoryError) as ei:
        inventory.load(shape)
    said = [(e.line, e.field) for e in [ei.value, *ei.value.more]]
    assert said == [(3, "hosts.b.adress"), (2, "hosts.a.timeout"), (3, "hosts.b.address")]
    hosts = write(
        tmp_path,
        "hosts:\n"
        "  a: {address: 10.0.0.1, profile: polycomm}\n"
        "  b: {address: 10.0.0.2, profile: polycom, credentials: {password: hunter2}}\n"
        "  c: {address: 10.0.0.3, profile: polycom, tls: {ca: no-such.pem}}\n",
        "hosts.yaml",
    )
    with pytest.raises(InventoryError) as ei:
        inventory.load(hosts)
    said = [(e.line, e.field) for e in [ei.value, *ei.value.more]]
    assert said == [
        (2, "hosts.a.profile"),
        (3, "hosts.b.credentials.password"),
        (4, "hosts.c.tls.ca"),
    ]
    assert all("hunter2" not in str(e) for e in [ei.value, *ei.value.more])
