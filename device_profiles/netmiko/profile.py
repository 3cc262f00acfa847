"""Any device netmiko knows (`transport: netmiko`, a `device_type`, the `commands` to run):
each command's output becomes one raw parameter, named by the command, for `raw:` rules."""

from __future__ import annotations

import re

from fleet.model import Collected, DeviceState
from fleet.profiles import Profile


def to_state(c: Collected) -> DeviceState:
    return DeviceState(
        vendor="netmiko",
        profile="netmiko",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        raw=dict(c.params),
    )


def parse_cli(outputs: dict[str, str]) -> Collected:
    return Collected(params=dict(outputs), sources=list(outputs))


PROFILE = Profile(
    name="netmiko",
    vendor="netmiko",
    role="other",
    transport="netmiko",
    default_scheme="ssh",
    parse_cli=parse_cli,
    to_state=to_state,
    # Configuration text is one value per command: secrets inside it are masked by
    # fleet.redact's line rules, not by key.
    secret_keys=re.compile(r"(?!x)x"),
)
