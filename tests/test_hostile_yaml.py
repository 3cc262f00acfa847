"""Hostile inventories and goldens are refused in bounded time, naming the file, never a
traceback: alias bombs, deep nesting, endless or binary files; YAML merge keys are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet import yamlsrc
from fleet.errors import InputError
from tests.conftest import run_fleet

LAUGHS = (
    "a: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (LAUGHS + "hosts: *i\n", "alias bomb"),
        ("hosts: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
        ("hosts:\n  h: {address: 1.2.3.4, profile: polycom}\n  x: \0\n", "binary"),
    ],
    ids=["billion-laughs", "deep-nesting", "binary"],
)
def test_hostile_yaml_is_refused_naming_the_file(tmp_path: Path, text: str, says: str) -> None:
    f = tmp_path / "inv.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        yamlsrc.load(f)
    assert says in str(e.value) and str(f) in str(e.value)


def test_validate_refuses_endless_and_bomb_files_with_exit_2(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS + "hosts: *i\n")
    for target in (str(bomb), "/dev/zero"):
        proc = run_fleet("validate", target, timeout=30)
        assert proc.returncode == 2, proc.stderr
        assert target in proc.stderr and "Traceback" not in proc.stderr


def test_merge_keys_are_read_and_own_keys_win(tmp_path: Path) -> None:
    f = tmp_path / "inv.yaml"
    f.write_text(
        "base: &base {site: lon, role: phone}\n"
        "other: &other {site: man, tags: [x]}\n"
        "g: {<<: [*base, *other], role: sbc}\n"
    )
    data = yamlsrc.load(f).data
    assert data["g"] == {"site": "lon", "tags": ["x"], "role": "sbc"}


def test_an_address_with_a_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    f = tmp_path / "inv.yaml"
    f.write_text(
        "hosts:\n  h1: {address: 'https://admin:s3cretpw@10.0.0.5', profile: polycom,"
        " credentials: {username: a}}\n"
    )
    proc = run_fleet("validate", str(f))
    assert proc.returncode == 2 and "hosts.h1.address" in proc.stderr
    assert "s3cretpw" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("timeout: -5", "timeout"),
        ("timeout: 0", "timeout"),
        ("ssh: {known_hosts: /etc/passwd}", "is not a known_hosts file"),
        ("tls: {ca: /etc/hostname}", "no PEM certificate"),
    ],
    ids=["negative-timeout", "zero-timeout", "known-hosts-not-one", "ca-not-one"],
)
def test_bad_host_options_are_refused_up_front(tmp_path: Path, extra: str, says: str) -> None:
    from fleet import inventory

    f = tmp_path / "inv.yaml"
    f.write_text(
        "hosts:\n  h1:\n    address: 10.0.0.5\n    profile: polycom\n"
        f"    credentials: {{username: a}}\n    {extra}\n"
    )
    with pytest.raises(InputError) as e:
        inventory.load(f)
    assert says in str(e.value) and f"{f}:" in str(e.value)


def test_a_bad_csv_timeout_names_its_row(tmp_path: Path) -> None:
    from fleet import inventory

    f = tmp_path / "hosts.csv"
    f.write_text("id,address,profile,username,timeout\nph1,10.0.0.1,polycom,a,-1\n")
    with pytest.raises(InputError) as e:
        inventory.load(f)
    assert "timeout" in str(e.value) and "ph1" in str(e.value)


def test_a_golden_without_fleet_golden_is_named_as_a_golden(tmp_path: Path) -> None:
    f = tmp_path / "g.yaml"
    f.write_text("name: acme\npolicy: [uk]\n")
    proc = run_fleet("validate", str(f))
    assert proc.returncode == 2 and "fleet_golden" in proc.stderr
    assert "unknown key" not in proc.stderr


def test_an_inventory_written_with_anchors_and_merge_keys_loads(tmp_path: Path) -> None:
    from fleet import inventory

    f = tmp_path / "inv.yaml"
    f.write_text(
        "x-phone: &phone {profile: polycom, site: lon, tags: [floor1]}\n"
        "groups:\n  vip: {<<: *phone, tags: [vip]}\n"
        "hosts:\n"
        "  a: {<<: *phone, address: 10.0.0.1}\n"
        "  b: {<<: *phone, address: 10.0.0.2, site: man}\n"
        "  c: {address: 10.0.0.3, groups: [vip]}\n"
    )
    a, b, c = inventory.load(f).hosts
    assert (a.profile, a.site, a.tags) == ("polycom", "lon", ["floor1"])
    assert b.site == "man"  # the host's own key wins over the merged one
    assert (c.profile, c.tags) == ("polycom", ["vip"])


def test_plaintext_passwords_opted_in_are_named_on_stderr_by_validate(tmp_path: Path) -> None:
    f = tmp_path / "inv.yaml"
    f.write_text(
        "allow_plaintext_passwords: true\n"
        "hosts:\n  h1: {address: 10.0.0.5, profile: polycom, credentials: {password: s3cr3t-pw}}\n"
    )
    proc = run_fleet("validate", str(f))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {f}:3: hosts.h1.credentials.password: a plaintext password" in proc.stderr
    assert "s3cr3t-pw" not in proc.stderr + proc.stdout
    f.write_text(f.read_text().replace("allow_plaintext_passwords: true\n", ""))
    refused = run_fleet("validate", str(f))
    assert refused.returncode == 2 and "a plaintext password" in refused.stderr
    assert "s3cr3t-pw" not in refused.stderr
