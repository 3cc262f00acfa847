"""AudioCodes Mediant SBC (firmware 7.x): the ``.ini`` configuration file and the CLI's
``show running-config`` (parse.py), read into the same tables and a DeviceState (model.py);
routing as the SBC applies it (routing.py)."""

from __future__ import annotations

import re

from device_profiles.audiocodes import model, parse, routing
from fleet.profiles import Profile

PROFILE = Profile(
    name="audiocodes",
    vendor="AudioCodes",
    role="sbc",
    transport="ssh",
    default_scheme="ssh",
    default_username="Admin",
    detect=parse.detect,
    parse_files=parse.parse_files,
    parse_cli=parse.parse_cli,
    to_state=model.to_state,
    route=routing.route,
    # ini: WebUsers Password/PwNonce, IPGroup PasswordAsClient/PasswordAsServer, Account
    # Password, LdapConfPassword, SNMP community strings; CLI: the same as keyword names.
    secret_keys=re.compile(
        r"(?i)(password|pwnonce|community|ldapconfpassword|shared-?secret|pre-?shared|"
        r"private-?key|/key$)"
    ),
)
