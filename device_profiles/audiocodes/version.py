"""Mediant CLI ``show system version``: the board and software version, for drift and rollout.

Netshot's AudioCodes Mediant driver runs ``show system version`` (in Basic mode) and reads its
``;Board:`` and ``;Software Version:`` lines (netfishers-onl/Netshot, driver
AudioCodesMediant.js, snapshot()), the same header lines an ini file carries (parse.py reads
those with the same expressions). The other lines of the output are not read.
"""

from __future__ import annotations

from device_profiles.audiocodes.parse import INI_IDENTITY
from fleet.model import Finding


def parse_show_system_version(text: str) -> tuple[dict[str, str], list[Finding]]:
    """The identity (model, firmware), or a notice saying the firmware is unknown."""
    identity = {k: m.group(1) for k, rx in INI_IDENTITY.items() if (m := rx.search(text))}
    if "firmware" in identity:
        return identity, []
    return identity, [
        Finding(
            "coverage.uncertain",
            "low",
            "firmware",
            "`show system version` printed no ';Software Version:' line: this SBC's firmware "
            "is unknown, so a firmware change cannot show in drift or rollout checks",
            expected=";Software Version: <version>",
            actual="not found",
        )
    ]
