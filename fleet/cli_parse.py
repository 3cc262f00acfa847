"""TextFSM templates from profile folders, compiled once per process."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import textfsm


@cache
def _compiled(path: str) -> textfsm.TextFSM:
    with open(path, encoding="utf-8") as f:
        return textfsm.TextFSM(io.StringIO(f.read()))


def parse(template: str | Path, text: str) -> list[dict[str, Any]]:
    """Records of ``text`` under ``template``, as dicts keyed by the template's Values.

    The compiled template is shared; it is reset before each use (one event-loop thread
    uses it at a time)."""
    fsm = _compiled(str(template))
    fsm.Reset()
    rows = fsm.ParseText(text)
    return [dict(zip(fsm.header, row, strict=True)) for row in rows]
