"""Regulatory policy packs: data files shipped in ``fleet/check/policies/``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

FOLDER = Path(__file__).with_name("policies")


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    title: str
    numbers: tuple[str, ...]
    prefixes: tuple[str, ...]
    location_required: bool
    citation: str
    rules: tuple[dict, ...] = field(default_factory=tuple)
    # every site must have someone told when an emergency number is dialled (Kari's Law
    # on-site notification): fleet.check.notification
    notification_required: bool = False


def names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


@cache
def load(name: str) -> Pack:
    d = yaml.safe_load((FOLDER / f"{name}.yaml").read_text(encoding="utf-8"))
    return Pack(
        name=d["pack"],
        title=d["title"],
        numbers=tuple(str(n) for n in d["numbers"]),
        prefixes=tuple(str(p) for p in d.get("prefixes", [])),
        location_required=bool(d.get("location_required", False)),
        citation=d["citation"],
        rules=tuple(d.get("requirements", [])),
        notification_required=bool(d.get("notification_required", False)),
    )
