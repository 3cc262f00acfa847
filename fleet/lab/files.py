"""The files a running lab hands its user: inventory.yaml (every device, secrets by reference),
golden.yaml (the lab's UK emergency policy), the secret files and the SBCs' known_hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from fleet.lab import registry
from fleet.lab import sbc as labsbc

if TYPE_CHECKING:
    from fleet.lab.fleet import LabFleet


def inventory_dict(
    fleet: LabFleet,
    secret_file: str = "lab-admin.secret",
    enable_file: str = "lab-enable.secret",
    known_hosts: str = "lab_known_hosts",
) -> dict:
    groups: dict[str, dict] = {}
    hosts: dict[str, dict] = {}
    for spec in fleet.phones:
        sim = registry.phone(spec.profile)
        g = f"{spec.profile}-phones"
        groups.setdefault(
            g,
            {
                "role": "phone",
                "profile": spec.profile,
                "credentials": {
                    "username": sim.admin_user,
                    "password": "${file:" + secret_file + "}",
                },
            },
        )
        host: dict = {
            "address": f"{spec.scheme}://{spec.address}:{spec.port}",
            "site": spec.site,
            "groups": [g],
        }
        # What an inventory knows of each phone (a profile's fetch may need it: an Avaya
        # file server's per-phone file is named by the MAC).
        if spec.mac:
            host["mac"] = spec.mac
        if spec.model:
            host["model"] = spec.model
        if spec.scheme == "https":
            # Phones carry self-signed certificates; the lab's is made at start-up.
            host["tls"] = {"verify": False}
        hosts[spec.id] = host
    for sbc in fleet.sbcs:
        g = f"{sbc.profile}-sbcs"
        groups.setdefault(
            g,
            {
                "role": "sbc",
                "profile": sbc.profile,
                "credentials": {
                    "username": sbc.admin_user,
                    "password": "${file:" + secret_file + "}",
                    "enable": "${file:" + enable_file + "}",
                },
                # host keys are checked: the lab writes the keys it made at start-up
                "ssh": {"known_hosts": known_hosts},
            },
        )
        hosts[sbc.id] = {
            "address": f"ssh://{sbc.address}:{sbc.port}",
            "site": sbc.site,
            "groups": [g],
        }
    return {"groups": groups, "hosts": hosts}


def golden_dict(fleet: LabFleet) -> dict:
    routes = sorted({s.address for s in fleet.sbcs}) or [f"127.{fleet.net}.255.1"]
    trunks = sorted({registry.sbc(s.profile).emergency_trunk for s in fleet.sbcs})
    emergency: dict = {
        "numbers": ["999", "112"],
        "max_dial_delay_s": 0,
        "phone_route": routes,
        "prefixes": ["9"],
    }
    if trunks:
        emergency["sbc_trunks"] = trunks
    return {
        "fleet_golden": 1,
        "name": "lab-uk-desk-phones",
        "policy": ["uk"],
        "emergency": emergency,
        "rules": [
            {
                "id": "outbound-proxy",
                "scope": {"role": "phone"},
                "key": "sip.outbound_proxy",
                "matches": rf"^127\.{fleet.net}\.255\.\d+(:5060)?$",
                "severity": "high",
            },
            {
                "id": "provisioning-server",
                "scope": {"role": "phone"},
                "key": "provisioning.server",
                "present": True,
                "severity": "low",
            },
        ],
    }


def write_files(fleet: LabFleet, folder: Path) -> tuple[Path, Path]:
    """Write inventory.yaml, golden.yaml, the secret files and (once the SBCs run) their
    known_hosts into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("lab-admin.secret", fleet.admin_password),
        ("lab-enable.secret", fleet.enable_password),
    ):
        secret = folder / name
        secret.write_text(value + "\n")
        secret.chmod(0o600)
    write_known_hosts(fleet, folder)
    inv = folder / "inventory.yaml"
    inv.write_text(
        "# Written by `fleet lab serve`: the simulated fleet on loopback.\n"
        + yaml.safe_dump(inventory_dict(fleet), sort_keys=False)
    )
    golden = folder / "golden.yaml"
    golden.write_text(yaml.safe_dump(golden_dict(fleet), sort_keys=False))
    return inv, golden


def write_known_hosts(fleet: LabFleet, folder: Path) -> Path:
    """The SBCs' host keys, as an OpenSSH known_hosts file."""
    keys = fleet.sbc_host_keys()
    path = folder / "lab_known_hosts"
    path.write_text("".join(labsbc.known_hosts_line(s, keys[s.id]) + "\n" for s in fleet.sbcs))
    return path
