"""Lab Oracle ESBC: `show running-config` built from samples/lon-esbc-1.txt, and the ACLI as an
operator (and netmiko) meets it: User mode "NAME> ", `enable` with the Superuser password to
"NAME# ", `cli more disabled`, the more prompt until then, `exit`."""

from __future__ import annotations

import ipaddress
import re
from functools import cache, partial
from pathlib import Path

from fleet.lab.registry import SbcDemoFault, SbcSimulator
from fleet.lab.spec import LabSbc, LabSbcDevice

ADMIN_USER = "user"  # the ACLI User-mode login; Superuser is reached with `enable`
EMERGENCY_TRUNK = "SAG:EMERGENCY-CARRIER"
NORMAL_TRUNK = "SAG:CARRIER-A"
SAMPLE = Path(__file__).parent / "samples" / "lon-esbc-1.txt"
MORE = "----More----"  # UNCONFIRMED: the ACLI's exact more-prompt text

FAULTS = {
    "no-emergency": "no local-policy for the emergency numbers: they fall to the * catch-all "
    "policy and leave on the normal carrier trunk",
    "catchall-112": "the 112 local-policy is gone: 112 falls to the * catch-all policy",
    "wrong-realm-999": "the 999 local-policy's source-realm is CARRIER, a realm the phones do "
    "not arrive in: 999 from the phones falls to the * catch-all policy",
}
# Faults that break caller location, not routing (FAULTS are routing faults: the profile
# tests check each one misroutes a number); render reads spec.fault for both.
LOCATION_FAULTS = {
    "no-elin-gateway": "the ELIN_Gateway option is gone from spl-config: the box no longer "
    "turns the ELINs an emergency call carries into its calling number",
}
# Faults that leave the route as the box picks it but hide where it goes or whether the box
# lets it through (README "Emergency priority, LRT"): fleet reports them unproven
# (coverage.uncertain on the SBC, an unproven emergency.path on the phones), never a
# misroute; kept out of FAULTS for the same reason as LOCATION_FAULTS.
COVERAGE_FAULTS = {
    "lrt-999": "the 999 local-policy's next hop becomes the local route table lrt:E911 (its "
    "routes in e911-psap.xml.gz on the box): where 999 goes is not in the configuration",
    "no-priority-calls": "the phones' sip-interface gets options disallow-priority-calls: the "
    "box answers priority calls from the phones with 380",
}
LRT_TABLE = "E911"
# session-router > local-routing-config, printed as the Oracle configuration guide's example
# and a public capture print it (README [L1], [C5])
LRT_CONFIG = (
    "local-routing-config\n"
    + "        name".ljust(48)
    + LRT_TABLE
    + "\n"
    + "        file-name".ljust(48)
    + "e911-psap.xml.gz"
)
# system > spl-config > spl-options (README "Caller location"): the ELIN gateway option the lab
# box carries, printed as an added option is printed in Oracle's spl-config examples
SPL_CONFIG = "spl-config\n" + "        spl-options".ljust(48) + "+ELIN_Gateway"
FAULT_EXPECT = {
    "no-emergency": [("emergency.sbc_route", "999"), ("emergency.sbc_route", "112")],
    "catchall-112": [("emergency.sbc_route", "112")],
    "wrong-realm-999": [("emergency.sbc_route", "999")],
}

_TO_ADDRESS = re.compile(r"(?m)^(\s+to-address\s+)(\S.*?)\s*$")
_PRIORITY = re.compile(r"(?m)^(\s+policy-priority\s+)emergency$")


@cache
def _sample_blocks() -> tuple[list[str], str]:
    text = SAMPLE.read_text()
    body, _, tail = text.rpartition("\ntask done")
    blocks: list[str] = []
    for line in body.split("\n"):
        if line and not line[0].isspace():
            blocks.append(line)
        else:
            blocks[-1] += "\n" + line
    return blocks, "task done" + tail


def _phones_prefix(networks: list[str]) -> str:
    nets = [ipaddress.ip_network(n, strict=False) for n in networks] or [
        ipaddress.ip_network("10.20.0.0/16")
    ]
    # realm-config takes one addr-prefix: the smallest network holding every phone network.
    net = nets[0]
    while not all(n.network_address in net and n.prefixlen >= net.prefixlen for n in nets):
        net = net.supernet()
    return str(net)


def _to_address(block: str) -> str | None:
    m = _TO_ADDRESS.search(block)
    return m[2] if m else None


def _with_address(number: str, m: re.Match[str]) -> str:
    return m[1] + number


STRIP_MANIPULATION = "STRIP-OUTSIDE-9"
EMERGENCY_AGENT = "999-gw.carrier.example.net"


def _param(indent: int, name: str, value: str = "") -> str:
    return f"{' ' * indent}{name:<40}{value}".rstrip()


def _strip_manipulation(numbers: list[str], realm_manip: str) -> str:
    """The emergency gateway's out-manipulation: an HMR on the Request-URI user turning
    9+N into N ("find-replace-all" with a pattern-rule and a `$1` back reference, as the
    chi-esbc-2 sample's STRIP9; ACLI Reference `sip-manipulation > header-rules >
    sip-element-rules` [D8]), then the realm's own rule set (`sip-manip`, HMR Guide [D9]),
    which a session agent's out-manipulationid would otherwise replace."""
    pattern = f"^9({'|'.join(numbers)})$"
    return "\n".join(
        [
            "sip-manipulation",
            _param(8, "name", STRIP_MANIPULATION),
            _param(8, "description", '"9 + emergency number dialled as an outside line"'),
            _param(8, "split-headers"),
            _param(8, "join-headers"),
            _param(8, "header-rule"),
            _param(16, "name", "stripNine"),
            _param(16, "header-name", "request-uri"),
            _param(16, "action", "manipulate"),
            _param(16, "comparison-type", "case-sensitive"),
            _param(16, "msg-type", "request"),
            _param(16, "methods", "INVITE"),
            _param(16, "match-value"),
            _param(16, "new-value"),
            _param(16, "element-rule"),
            _param(24, "name", "strip"),
            _param(24, "parameter-name"),
            _param(24, "type", "uri-user"),
            _param(24, "action", "find-replace-all"),
            _param(24, "match-val-type", "any"),
            _param(24, "comparison-type", "pattern-rule"),
            _param(24, "match-value", pattern),
            _param(24, "new-value", "$1"),
            _param(8, "header-rule"),
            _param(16, "name", "realmRules"),
            _param(16, "header-name", "request-uri"),
            _param(16, "action", "sip-manip"),
            _param(16, "comparison-type", "case-sensitive"),
            _param(16, "msg-type", "request"),
            _param(16, "methods", "INVITE"),
            _param(16, "match-value"),
            _param(16, "new-value", realm_manip),
        ]
    )


_OUT_MANIP = re.compile(r"(?m)^(\s+out-manipulationid)[ \t]*$")


def _with_strip_outside_line(blocks: list[str], numbers: list[str]) -> list[str]:
    """``blocks`` with the emergency session agent stripping an outside-line 9 from the
    emergency numbers it is sent (nothing when there are none)."""
    numbers = [n for n in dict.fromkeys(numbers) if n.isdigit()]
    if not numbers:
        return blocks
    out: list[str] = []
    for b in blocks:
        if b.startswith("session-agent") and re.search(
            rf"(?m)^\s+hostname\s+{EMERGENCY_AGENT}$", b
        ):
            b = _OUT_MANIP.sub(lambda m: _param(8, "out-manipulationid", STRIP_MANIPULATION), b)
        out.append(b)
        if b.startswith("sip-manipulation") and re.search(r"(?m)^\s+name\s+CARRIER-OUT$", b):
            out.append(_strip_manipulation(numbers, "CARRIER-OUT"))
    return out


def render(spec: LabSbc) -> str:
    blocks, tail = _sample_blocks()
    template = next(b for b in blocks if b.startswith("local-policy") and _to_address(b) == "999")
    emergency_old = [
        b
        for b in blocks
        if b.startswith("local-policy") and "policy-priority                         emergency" in b
    ]
    rest = _with_strip_outside_line(
        [b for b in blocks if b not in emergency_old], spec.emergency_numbers
    )
    emergency: list[str] = []
    for number in spec.emergency_numbers:
        if spec.fault == "no-emergency" or (spec.fault == "catchall-112" and number == "112"):
            continue
        b = _TO_ADDRESS.sub(partial(_with_address, number), template)
        b = b.replace('"UK emergency 999"', f'"Emergency {number}"')
        if spec.fault == "wrong-realm-999" and number == "999":
            b = re.sub(r"(?m)^(\s+source-realm\s+)PHONES$", r"\1CARRIER", b)
        emergency.append(b)
    if spec.fault != "no-emergency":
        # 9+N from a phone that cannot strip an outside-line 9 (an Avaya J100): its own
        # emergency policy, whatever else the fault removed ("Routing Calls by Matching
        # Digits": 9112 would otherwise fall to `*`, 9999 match the 999 policy as a prefix).
        for number in dict.fromkeys(spec.emergency_numbers):
            # policy-priority none: the SBC's emergency numbers stay spec.emergency_numbers
            # (its emergency.sbc_route check does not take the prefixed forms).
            b = _TO_ADDRESS.sub(partial(_with_address, f"9{number}"), template)
            b = b.replace('"UK emergency 999"', f'"Emergency 9{number}"')
            emergency.append(_PRIORITY.sub(r"\1none", b))
    if spec.fault != "no-elin-gateway":
        rest.append(SPL_CONFIG)
    emergency, rest = _coverage_fault(spec.fault, emergency, rest)
    text = "\n".join(emergency + rest) + "\n" + tail
    return (
        text.replace("10.20.0.0/16", _phones_prefix(spec.phone_networks))
        .replace("10.20.0.2", spec.address)
        .replace("lon-sbc-1", spec.hostname)
    )


def _coverage_fault(
    fault: str | None, emergency: list[str], rest: list[str]
) -> tuple[list[str], list[str]]:
    """The COVERAGE_FAULTS, applied to the rendered element blocks."""
    if fault == "lrt-999":
        hop = re.compile(r"(?m)^(\s+next-hop\s+)" + re.escape(EMERGENCY_TRUNK) + "$")
        emergency = [
            hop.sub(r"\g<1>lrt:" + LRT_TABLE, b) if _to_address(b) == "999" else b
            for b in emergency
        ]
        rest = [*rest, LRT_CONFIG]
    elif fault == "no-priority-calls":
        phones = re.compile(r"(?m)^(\s+realm-id\s+PHONES)$")
        option = "\n" + "        options".ljust(48) + "disallow-priority-calls"
        rest = [
            phones.sub(lambda m: m[1] + option, b) if b.startswith("sip-interface") else b
            for b in rest
        ]
    return emergency, rest


# The lab box's platform and release; a test (or the rollout) sets spec.extra["firmware"].
MODEL = "Acme Packet 3900"
FIRMWARE = "SCZ8.4.0 Patch 3 (Build 188)"


def show_version(spec: LabSbc) -> str:
    """`show version` in the layout version.py reads (first line UNCONFIRMED, see there)."""
    firmware = spec.extra.get("firmware", FIRMWARE)
    return f"{MODEL} {firmware}\nBuild Date=01/15/21\n"


def _words_match(typed: list[str], command: tuple[str, ...]) -> bool:
    # ACLI accepts any unambiguous abbreviation of each keyword ("sh run").
    return len(typed) == len(command) and all(
        c == "*" or c.startswith(t.lower()) for t, c in zip(typed, command, strict=True)
    )


class Cli:
    """One ACLI session (fleet.lab.sshd.CliSession)."""

    more = MORE

    def __init__(self, dev: LabSbcDevice) -> None:
        self.dev = dev
        self.superuser = False
        self.paging = True
        self.secret_input = False
        self.closed = False
        self._tries = 0

    def banner(self) -> str:
        return ""

    def prompt(self) -> str:
        if self.secret_input:
            return "Password: "
        return f"{self.dev.spec.hostname}{'#' if self.superuser else '>'} "

    def handle(self, line: str) -> str:
        if self.secret_input:
            return self._enable_password(line)
        words = line.split()
        if not words:
            return ""
        if _words_match(words, ("enable",)):
            if not self.superuser:
                self.secret_input, self._tries = True, 0
            return ""
        if _words_match(words, ("exit",)):
            if self.superuser:
                self.superuser = False
            else:
                self.closed = True
            return ""
        if _words_match(words, ("cli", "more", "disabled")):
            self.paging = False
            return ""
        if _words_match(words, ("cli", "more", "enabled")):
            self.paging = True
            return ""
        if _words_match(words, ("cli", "terminal-height", "*")) and words[2].isdigit():
            self.paging = words[2] != "0"
            return ""
        if _words_match(words, ("show", "version")):
            return show_version(self.dev.spec)
        if _words_match(words, ("show", "running-config")):
            if not self.superuser:  # UNCONFIRMED: configuration display needs Superuser mode
                return "% command not found\n"
            return self.dev.config.rstrip("\n") + "\n"
        return "% command not found\n"

    def _enable_password(self, line: str) -> str:
        if line == self.dev.spec.enable_password:
            self.secret_input, self.superuser = False, True
            return ""
        self._tries += 1
        if self._tries >= 3:
            self.secret_input = False
            return "% Bad passwords\n"
        return ""


SIMULATOR = SbcSimulator(
    profile="acme_packet",
    admin_user=ADMIN_USER,
    emergency_trunk=EMERGENCY_TRUNK,
    normal_trunk=NORMAL_TRUNK,
    render=render,
    cli=Cli,
    faults=FAULTS,
    fault_expect=FAULT_EXPECT,
    demo_faults=(SbcDemoFault("no-emergency", behind="cisco_mpp"),),
    order=30,
)
