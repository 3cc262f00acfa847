"""Cisco Unified Border Element (IOS / IOS XE): ``show running-config`` and ``show version``
(parse.py), the dial-peers and translations as a DeviceState (model.py), and calls routed as
IOS routes them (routing.py)."""

from __future__ import annotations

import re

from device_profiles.cisco_cube import model, parse, routing
from fleet.profiles import Profile

PROFILE = Profile(
    name="cisco_cube",
    vendor="Cisco",
    role="sbc",
    transport="ssh",
    default_scheme="ssh",
    default_username="admin",
    detect=parse.detect,
    parse_files=parse.parse_files,
    parse_cli=parse.parse_cli,
    to_state=model.to_state,
    route=routing.route,
    includes=parse.includes,
    # enable secret/password, username ... secret/password, sip-ua authentication and
    # credentials passwords; type 7 "encryption" is reversible, type 5/8/9 are crackable.
    secret_keys=re.compile(
        r"(?i)(^enable (secret|password)$|^username \S+: (secret|password)$"
        r"|^sip-ua: (authentication|credentials) password$|key-string|: key \d)"
    ),
)
