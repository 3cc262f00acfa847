"""Golden ``firmware: {deny: {MODEL: [VERSION-GLOB, ...]}}``: firmware known to break emergency
calling on a model, checked on every sweep, audit and assessment. A device running one is an
``emergency.firmware`` finding (critical; an emergency finding, so it cannot be waived).

Models and versions are matched as shell globs, case-insensitively for the model (vendors and
inventories write "VVX 450", "vvx450"...: spaces and dashes are ignored in the model).
"""

from __future__ import annotations

import fnmatch
import re

from pydantic import BaseModel, ConfigDict

from fleet.model import DeviceState, Finding


class FirmwareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deny: dict[str, list[str]] = {}


def _model_key(model: str) -> str:
    return re.sub(r"[\s_-]+", "", model).lower()


def check(state: DeviceState, deny: dict[str, list[str]]) -> list[Finding]:
    if not deny or not state.firmware:
        return []
    model = _model_key(state.model or "")
    for pattern, versions in deny.items():
        if not fnmatch.fnmatchcase(model, _model_key(pattern)):
            continue
        for v in versions:
            if fnmatch.fnmatchcase(state.firmware, v):
                return [
                    Finding(
                        "emergency.firmware",
                        "critical",
                        state.firmware,
                        f"{state.model or 'this model'} runs firmware {state.firmware}, listed "
                        f"in the golden as breaking emergency calling on {pattern} ({v})",
                        expected=f"firmware other than {v} on {pattern}",
                        actual=state.firmware,
                    )
                ]
    return []
