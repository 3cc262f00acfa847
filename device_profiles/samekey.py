"""A cache key for a parsed SBC's ``SbcState.data``: that very dict, not an equal one (hashing
its contents would cost what a cache saves). A cache holding the key keeps the dict alive,
so its id stays its own while cached; nothing changes ``data`` once parsed, and a copy with
changed data is another key (each SBC routing module types its data once per state)."""

from __future__ import annotations

from typing import Any


class Same:
    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __hash__(self) -> int:
        return id(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.data is self.data
