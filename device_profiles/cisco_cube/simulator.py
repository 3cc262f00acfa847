"""The lab CUBE: an ISR4331 running IOS XE 17.6, its running-config built from
samples/cube-lon-hq.cfg, and its exec CLI as an operator (and netmiko's cisco_ios driver)
meets it over SSH: user mode ``host>``, ``enable`` with ``Password:``, ``host#``, paging with
``--More--`` until ``terminal length 0``, ``% Invalid input detected at '^' marker.``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from functools import cache
from pathlib import Path

from fleet.lab.registry import SbcDemoFault, SbcSimulator
from fleet.lab.spec import LabSbc, LabSbcDevice

ADMIN_USER = "admin"
EMERGENCY_TRUNK = "DP-EMERGENCY-SIP"  # description of the emergency dial-peers
NORMAL_TRUNK = "DP-CARRIER-SIP"  # description of the catch-all carrier dial-peer
MODEL = "ISR4331/K9"
FIRMWARE = "17.06.05"
IOS_LINE = (
    "Cisco IOS Software [Bengaluru], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
    "Version 17.6.5, RELEASE SOFTWARE (fc2)"
)
SAMPLE = Path(__file__).parent / "samples" / "cube-lon-hq.cfg"
PHONE_RULESET = "10"  # voice translation-rule applied to calls from the phones

FAULTS = {
    "rewrite-999": "a leftover `rule 1 /^999$/ /911/` in the phones' incoming translation "
    "rule turns 999 into 911, which only the carrier catch-all .T matches",
    "catchall-112": "no dial-peer for 112: it falls to the catch-all `destination-pattern .T` "
    "on the normal carrier trunk",
    "no-emergency": "no emergency dial-peers at all: 999 and 112 leave on the carrier catch-all",
}
# Faults that break caller location, not routing (FAULTS are routing faults: the profile
# tests check each one misroutes a number); render reads spec.fault for both.
LOCATION_FAULTS = {
    "no-erl-subnet": "the emergency response location lost its subnets: no phone is in an ERL, "
    "so emergency calls leave with no ELIN",
}
FAULT_EXPECT = {
    "rewrite-999": [("emergency.sbc_route", "999")],
    "catchall-112": [("emergency.sbc_route", "112")],
    "no-emergency": [("emergency.sbc_route", "999"), ("emergency.sbc_route", "112")],
}

_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_STD64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TYPE7 = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


@cache
def type9(password: str) -> str:
    """An IOS type 9 secret (scrypt N=16384 r=1 p=1, 14-char salt, Cisco's base64 alphabet),
    with a salt derived from the password so renders are reproducible."""
    salt = base64.b64encode(hashlib.sha256(b"salt" + password.encode()).digest()).decode()
    salt = salt.translate(str.maketrans(_STD64, _B64))[:14]
    raw = hashlib.scrypt(password.encode(), salt=salt.encode(), n=16384, r=1, p=1, dklen=32)
    digest = base64.b64encode(raw).decode().rstrip("=").translate(str.maketrans(_STD64, _B64))
    return f"9 $9${salt}${digest}"


def type7(password: str, seed: int = 8) -> str:
    """IOS type 7 (the reversible `service password-encryption` form)."""
    out = f"{seed:02d}"
    for i, ch in enumerate(password):
        out += f"{ord(ch) ^ ord(_TYPE7[(seed + i) % len(_TYPE7)]):02X}"
    return f"7 {out}"


def _blocks(text: str) -> list[list[str]]:
    """Top-level configuration blocks: a line at column 0 and the indented lines under it."""
    blocks: list[list[str]] = []
    for line in text.split("\n"):
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _mask(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return f"{net.network_address} {net.netmask}"


def _emergency_peer(tag: str, number: str) -> list[str]:
    return [
        f"dial-peer voice {tag} voip",
        f" description {EMERGENCY_TRUNK}",
        f" destination-pattern {number}",
        " session protocol sipv2",
        " session target ipv4:203.0.113.20:5060",
        " emergency response zone 1",
        " voice-class codec 1",
        " voice-class sip bind control source-interface GigabitEthernet0/0/1",
        " voice-class sip bind media source-interface GigabitEthernet0/0/1",
        " dtmf-relay rtp-nte",
        " no vad",
    ]


def render(spec: LabSbc) -> str:
    """What `show running-config` prints on this lab CUBE."""
    numbers = list(spec.emergency_numbers)
    if spec.fault == "no-emergency":
        routed: list[str] = []
    elif spec.fault == "catchall-112":
        routed = [n for n in numbers if n != "112"]
    else:
        routed = numbers
    body = SAMPLE.read_text().split("\n!\n", 1)[1]  # after the Building/Current preamble
    out: list[str] = []
    for block in _blocks(body):
        head = block[0]
        if head.startswith("ip route 10.20.0.0"):
            continue
        if head.startswith("dial-peer voice 999 ") or head.startswith("dial-peer voice 112 "):
            if out and out[-1] == "!":
                out.pop()
            continue
        if head == "dial-peer voice 200 voip":
            out.extend(_emergency_peers(routed))
        out.extend(_rewrite(block, spec))
    text = "\n".join(out)
    return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n!\n{text}"


def _emergency_peers(numbers: list[str]) -> list[str]:
    # Tags are the numbers themselves where IOS allows, clear of the sample's own peers.
    taken = {"100", "200", "300", "400", "401", "402", "500"}
    out: list[str] = []
    for i, n in enumerate(numbers):
        tag = n if n.isdigit() and n not in taken and int(n) < 2**31 else str(9000 + i)
        taken.add(tag)
        out.extend([*_emergency_peer(tag, n), "!"])
    return out


def _rewrite(block: list[str], spec: LabSbc) -> list[str]:
    """One sample block as this SBC carries it."""
    head = block[0]
    nets = [ipaddress.ip_network(n, strict=False) for n in spec.phone_networks]
    if head.startswith("hostname "):
        return [f"hostname {spec.hostname}"]
    if head.startswith("enable secret"):
        return [f"enable secret {type9(spec.enable_password)}"]
    if head.startswith("username admin"):
        return [f"username {spec.admin_user} privilege 15 secret {type9(spec.admin_password)}"]
    if head == "voice service voip":
        block = [ln for ln in block if not ln.startswith("  ipv4 10.20.")]
        at = block.index("  ipv4 203.0.113.20") + 1
        block[at:at] = [f"  ipv4 {_mask(n)}" for n in nets]
        return block
    if head == "interface GigabitEthernet0/0/0":
        return [
            f" ip address {spec.address} 255.255.255.255" if ln.startswith(" ip address") else ln
            for ln in block
        ]
    if head == f"voice translation-rule {PHONE_RULESET}":
        return _translation_rules(list(spec.emergency_numbers), spec.fault)
    if head == "voice emergency response location 1":
        lines = [" elin 1 02079460000", f" name {spec.site.upper()}-PHONES"]
        if spec.fault == "no-erl-subnet":
            return [head, *lines]
        return [head, *lines] + [f" subnet {i + 1} {_mask(n)}" for i, n in enumerate(nets[:2])]
    return block


def _translation_rules(numbers: list[str], fault: str | None) -> list[str]:
    """The phones' incoming translation rule (profile FROM-PHONES on inbound dial-peer 100):
    9+N -> N for each emergency number, so a phone that sends 9999 / 9112 as dialled (an
    Avaya J100 cannot strip the 9) reaches the 999 / 112 dial-peers and leaves as 999 / 112
    on the emergency session target. Incoming translation runs before outbound dial-peer
    matching (README [S1] "Translation-Profile Selection Preference", [S2] Cisco "Determine
    Voice Translation Rules", Document ID 61083): 9999 / 9112 dial-peers with an outgoing
    `rule /^9\\(...\\)$/ /\\1/` would never be matched here, the called number is already N."""
    rules = [f"voice translation-rule {PHONE_RULESET}"]
    if fault == "rewrite-999":
        rules.append(" rule 1 /^999$/ /911/")
    for i, n in enumerate(numbers):
        rules.append(f" rule {10 * (i + 1)} /^9\\({n}\\)$/ /\\1/")
    rules.append(f" rule {10 * (len(numbers) + 1)} /^9\\(0[1-9].*\\)$/ /\\1/")
    return rules


def show_version(hostname: str) -> str:
    # The IOS XE 17.6 layout (cisco.ios collection's `show version` example; ISR4331 lines
    # as IOS XE prints them).
    return f"""Cisco IOS XE Software, Version {FIRMWARE}
{IOS_LINE}
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2023 by Cisco Systems, Inc.
Compiled Wed 25-Jan-23 16:15 by mcpre


Cisco IOS-XE software, Copyright (c) 2005-2023 by cisco Systems, Inc.
All rights reserved.  Certain components of Cisco IOS-XE software are
licensed under the GNU General Public License ("GPL") Version 2.0.  The
software code licensed under GPL Version 2.0 is free software that comes
with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such
GPL code under the terms of GPL Version 2.0.  For more details, see the
documentation or "License Notice" file accompanying the IOS-XE software,
or the applicable URL provided on the flyer accompanying the IOS-XE
software.


ROM: 16.12(2r)

{hostname} uptime is 12 weeks, 3 days, 4 hours, 10 minutes
Uptime for this control processor is 12 weeks, 3 days, 4 hours, 12 minutes
System returned to ROM by PowerOn
System image file is "bootflash:isr4300-universalk9.17.06.05.SPA.bin"
Last reload reason: PowerOn



This product contains cryptographic features and is subject to United
States and local country laws governing import, export, transfer and
use. Delivery of Cisco cryptographic products does not imply
third-party authority to import, export, distribute or use encryption.
Importers, exporters, distributors and users are responsible for
compliance with U.S. and local country laws. By using this product you
agree to comply with applicable laws and regulations. If you are unable
to comply with U.S. and local laws, return this product immediately.

A summary of U.S. laws governing Cisco cryptographic products may be found at:
http://www.cisco.com/wwl/export/crypto/tool/stqrg.html

If you require further assistance please contact us by sending email to
export@cisco.com.



Technology Package License Information:

-----------------------------------------------------------------
Technology    Technology-package           Technology-package
              Current       Type           Next reboot
------------------------------------------------------------------
appxk9           None             None             None
uck9             uck9             Permanent        uck9
securityk9       None             None             None
ipbase           ipbasek9         Permanent        ipbasek9

The current throughput level is 100000 kbps


cisco {MODEL} (1RU) processor with 1795999K/6147K bytes of memory.
Processor board ID FDO21520TGH
Router operating mode: Autonomous
3 Gigabit Ethernet interfaces
32768K bytes of non-volatile configuration memory.
4194304K bytes of physical memory.
3207167K bytes of flash memory at bootflash:.

Configuration register is 0x2102

"""


# --- the exec CLI ------------------------------------------------------------------------

# Exec commands the lab knows, by keyword; IOS accepts any unique abbreviation.
_USER_COMMANDS = ("disable", "enable", "exit", "logout", "quit", "show", "terminal")
_SHOW = {"running-config": True, "version": False}  # keyword -> privileged only
_TERMINAL = ("length", "width")
INVALID = "% Invalid input detected at '^' marker."


def _pick(word: str, choices: tuple[str, ...] | list[str]) -> list[str]:
    w = word.lower()
    exact = [c for c in choices if c == w]
    return exact or [c for c in choices if c.startswith(w)]


class Cli:
    """One exec session on the lab CUBE (fleet.lab.sshd.CliSession)."""

    more = " --More-- "

    def __init__(self, dev: LabSbcDevice) -> None:
        self.dev = dev
        self.host = dev.spec.hostname
        self.closed = False
        self.paging = True  # `terminal length 24` until the session sets 0
        self.secret_input = False
        self.privileged = False
        self._tries = 0

    def banner(self) -> str:
        return "\n"

    def prompt(self) -> str:
        if self.secret_input:
            return "Password: "
        return f"{self.host}{'#' if self.privileged else '>'}"

    def _invalid(self, line: str, word_at: int) -> str:
        # IOS puts the caret under the first character it could not parse, counting the
        # prompt it echoed the command after.
        return " " * (len(self.prompt()) + word_at) + "^\n" + INVALID + "\n\n"

    def handle(self, line: str) -> str:
        if self.secret_input:
            return self._enable_password(line)
        words = [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]
        if not words:
            return ""
        at, first = words[0]
        cmd = _pick(first, _USER_COMMANDS)
        if len(cmd) > 1:
            return f'% Ambiguous command:  "{line.strip()}"\n'
        if not cmd:
            return self._invalid(line, at)
        rest = words[1:]
        match cmd[0]:
            case "enable":
                if rest:
                    return self._invalid(line, rest[0][0])
                if self.privileged:
                    return ""
                self.secret_input, self._tries = True, 0
                return ""
            case "disable":
                self.privileged = False
                return ""
            case "exit" | "logout" | "quit":
                self.closed = True
                return ""
            case "terminal":
                return self._terminal(line, rest)
            case _:
                return self._show(line, rest)

    def _enable_password(self, line: str) -> str:
        if line == self.dev.spec.enable_password:
            self.secret_input, self.privileged = False, True
            return ""
        self._tries += 1
        if self._tries >= 3:
            self.secret_input = False
            return "% Bad secrets\n\n"
        return ""

    def _terminal(self, line: str, rest: list[tuple[int, str]]) -> str:
        if not rest:
            return "% Incomplete command.\n\n"
        sub = _pick(rest[0][1], _TERMINAL)
        if len(sub) != 1:
            return self._invalid(line, rest[0][0])
        if len(rest) < 2:
            return "% Incomplete command.\n\n"
        value = rest[1][1]
        if not value.isdigit() or int(value) > 512:
            return self._invalid(line, rest[1][0])
        if len(rest) > 2:
            return self._invalid(line, rest[2][0])
        if sub[0] == "length":
            self.paging = int(value) != 0
        return ""

    def _show(self, line: str, rest: list[tuple[int, str]]) -> str:
        if not rest:
            return '% Type "show ?" for a list of subcommands\n\n'
        at, word = rest[0]
        allowed = [k for k, priv in _SHOW.items() if self.privileged or not priv]
        sub = _pick(word, allowed)
        if len(sub) != 1 or len(rest) > 1:
            return self._invalid(line, at if len(sub) != 1 else rest[1][0])
        if sub[0] == "version":
            return show_version(self.host)
        return self.dev.config.rstrip("\n") + "\n\n"


SIMULATOR = SbcSimulator(
    profile="cisco_cube",
    admin_user=ADMIN_USER,
    emergency_trunk=EMERGENCY_TRUNK,
    normal_trunk=NORMAL_TRUNK,
    render=render,
    cli=Cli,
    faults=FAULTS,
    fault_expect=FAULT_EXPECT,
    demo_faults=(SbcDemoFault("rewrite-999", behind="grandstream"),),
    order=20,
)
