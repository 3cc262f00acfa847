"""ACLI ``show version``: the platform and the software release, for drift and rollout checks.

oxidized's acmepacket model runs ``show version`` and ``show running-config`` on Acme Packet
3k/4k/6k (ytti/oxidized lib/oxidized/model/acmepacket.rb). The line read here names the
platform and the release the way NOC's AcmePacket.NetNet profile reads the sysDescr of the
same boxes (nocproject/noc sa/profiles/AcmePacket/NetNet/get_version.py: ``Acme Packet
<platform> <release>``, e.g. "Acme Packet 4600 SCZ8.4.0 Patch 3 (Build 188)"). Oracle's own
guide shows the command's answer starting "ACME PACKET 460..." (see _LINE); the rest of that
line is UNCONFIRMED (no full capture was found): any other output is a notice that the
firmware is unknown, never a guess.
"""

from __future__ import annotations

import re

from fleet.model import Finding

# Release names: SCZ/ECZ (C-series on Acme Packet hardware and VMs), SCX/SCY (older), with or
# without the dash, in the cases Oracle's documents write them (S-CZ8.4.0, E-CZ7.4.0, S-Cz9.2.0).
_RELEASE = r"(?i:[a-z]-?c[a-z]\d+\.\d+\.\d+)\S*"
# Oracle's Maintenance and Troubleshooting Guide (S-CZ8.1.0, "Viewing System Information",
# "Software Release Current Version") shows `ACMESYSTEM# show version` answered by a line
# starting "ACME PACKET 460...": the vendor words are read in any case.
_LINE = re.compile(
    rf"^\s*(?P<model>(?i:acme\s+packet|oracle)\s+.+?)\s+(?P<release>{_RELEASE}.*?)\s*$", re.M
)


def parse_show_version(text: str) -> tuple[dict[str, str], list[Finding]]:
    """The identity ``show version`` reports (model, firmware), or a notice saying it is
    unknown."""
    m = _LINE.search(text[:20_000])
    if m is None:
        return {}, [
            Finding(
                "coverage.uncertain",
                "low",
                "firmware",
                "`show version` printed no 'Acme Packet <platform> <release>' line fleet "
                "reads: this SBC's model and firmware are unknown, so a firmware change "
                "cannot show in drift or rollout checks",
                expected="Acme Packet <platform> <release>",
                actual="not found",
            )
        ]
    return {"model": " ".join(m["model"].split()), "firmware": " ".join(m["release"].split())}, []
