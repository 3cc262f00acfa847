"""Oracle Enterprise Session Border Controller (Acme Packet) over ACLI: `show running-config`
read into flat parameters (parse.py), the routing elements as a DeviceState (model.py), and
calls routed through local-policy as the box routes them (routing.py)."""

from __future__ import annotations

import re

from device_profiles.acme_packet import model, parse, routing
from fleet.profiles import Profile

PROFILE = Profile(
    name="acme_packet",
    vendor="Oracle",
    role="sbc",
    transport="ssh",
    default_scheme="ssh",
    default_username="user",
    detect=parse.detect,
    parse_files=parse.parse_files,
    parse_cli=parse.parse_cli,
    to_state=model.to_state,
    route=routing.route,
    # auth-attribute password, surrogate-agent password, RADIUS/TACACS secrets, SNMP community
    secret_keys=re.compile(r"(?i)(password|secret|community-name|passphrase|pre-shared)"),
)
