"""The lab's AudioCodes Mediant SBC: `show running-config` built from samples/lon-sbc-1.txt,
and the CLI as fleet's run_cli and netmiko's ``audiocode_72`` driver meet it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from device_profiles.audiocodes import config
from fleet import cli_parse
from fleet.lab.registry import SbcDemoFault, SbcSimulator
from fleet.lab.spec import LabSbc, LabSbcDevice

ADMIN_USER = "Admin"
EMERGENCY_TRUNK = "IPG_Carrier_Emergency"
NORMAL_TRUNK = "IPG_Carrier_A"
PHONE_GROUP = "IPG_Phones"
BASIS = Path(__file__).parent / "samples" / "lon-sbc-1.txt"

FAULTS: dict[str, str] = {
    "catchall-112": "the 112 IP-to-IP Routing row was deleted: 112 falls to the '*' row to "
    f"{NORMAL_TRUNK}",
    "manipulation-999": "an inbound message manipulation on the phones' IP Group rewrites "
    "Request-URI user 999 to +44999, which no emergency row matches",
    "no-emergency": f"no emergency rows, condition or preemption: everything to {NORMAL_TRUNK}",
}
FAULT_EXPECT: dict[str, list[tuple[str, str]]] = {
    "catchall-112": [("emergency.sbc_route", "112")],
    "manipulation-999": [("emergency.sbc_route", "999")],
    "no-emergency": [("emergency.sbc_route", "999"), ("emergency.sbc_route", "112")],
}


@dataclass(slots=True)
class Block:
    """One table row or settings block of `show running-config`, in printed order."""

    section: str
    table: str
    index: str
    items: list[tuple[str, str]] = field(default_factory=list)

    def set(self, key: str, value: str) -> None:
        self.items = [(k, value if k == key else v) for k, v in self.items]
        if key not in [k for k, _ in self.items]:
            self.items.append((key, value))


@cache
def _basis() -> tuple[Block, ...]:
    blocks: list[Block] = []
    for rec in cli_parse.parse(config.TEMPLATE, BASIS.read_text()):
        b = blocks[-1] if blocks else None
        if b is None or (b.section, b.table, b.index) != (
            rec["SECTION"],
            rec["TABLE"],
            rec["INDEX"],
        ):
            b = Block(rec["SECTION"], rec["TABLE"], rec["INDEX"])
            blocks.append(b)
        b.items.append((rec["KEY"], rec["VALUE"]))
    return tuple(blocks)


def _emit(blocks: list[Block]) -> str:
    out: list[str] = []
    section = None
    for b in blocks:
        if b.section != section:
            if section is not None:
                out.append("exit")
            out.append(f"configure {b.section}")
            section = b.section
        out.append(f" {b.table} {b.index}" if b.index else f" {b.table}")
        out.extend(f"  {k} {v}" if v else f"  {k}" for k, v in b.items)
        out.extend(["  activate", " exit"])
    if section is not None:
        out.append("exit")
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return f'"{text}"'


def src_address(network: str) -> str:
    """A Classification 'Source IP Address' for a phone network: the octet wildcard form for
    /8, /16 and /24 networks ("10.10.*.*"), else the network in prefix notation."""
    net = ipaddress.ip_network(network, strict=False)
    if net.version == 4 and net.prefixlen in (8, 16, 24):
        octets = str(net.network_address).split(".")
        keep = net.prefixlen // 8
        return ".".join(octets[:keep] + ["*"] * (4 - keep))
    return str(net)


def _row(index: int, name: str, prefix: str, trunk: str, src: str = PHONE_GROUP) -> Block:
    b = Block("voip", "sbc routing ip2ip-routing", str(index))
    b.items = [("route-name", _q(name)), ("src-ip-group-name", _q(src))]
    if prefix != "*":
        b.items.append(("dst-user-name-prefix", _q(prefix)))
    b.items.append(("dst-ip-group-name", _q(trunk)))
    return b


def _outside_line_numbers(spec: LabSbc) -> list[str]:
    """The emergency numbers a phone in a "9 for an outside line" estate may send prefixed
    (9999, 9112: an Avaya J100's DIALPLAN cannot strip the 9, the SBC does). Every one of
    them, whatever the fault: catchall-112 deletes the 112 row only."""
    return list(dict.fromkeys(spec.emergency_numbers))


def _strip_outside_line(numbers: list[str]) -> list[Block]:
    """IP-to-IP Outbound Manipulation rows removing the outside-line 9 from the destination
    number of 9+N towards the emergency IP Group ("Configuring IP-to-IP Outbound
    Manipulations": Manipulated Item = Destination URI, Remove From Left = 1; Mediant 2600
    6.8 p.387 for the CLI names, Mediant 800 MSBR p.482). The first matching rule applies,
    so each prefixed number has its own row and nothing else matches one (``9112#``)."""
    rows: list[Block] = []
    for k, n in enumerate(numbers):
        b = Block("voip", "sbc manipulation ip-outbound-manipulation", str(k))
        b.items = [
            ("manipulation-name", _q(f"Strip outside line 9{n}")),
            ("src-ip-group-name", _q(PHONE_GROUP)),
            ("dst-ip-group-name", _q(EMERGENCY_TRUNK)),
            ("dst-user-name-prefix", _q(f"9{n}#")),
            ("manipulated-uri", "destination"),
            ("remove-from-left", "1"),
        ]
        rows.append(b)
    return rows


def _set_extra(b: Block, spec: LabSbc) -> None:
    """The emergency settings a test configures by their ini names in ``spec.extra``
    (``SBCEmergencyRTPDiffServ``...), printed under their cited CLI names in their block (the
    box prints only what differs from the default, so nothing when unset)."""
    for cli_key, ini in config.CLI_SCALARS.items():
        section, table, key = cli_key.split("/")
        if section == b.section and table == b.table and ini in spec.extra:
            b.set(key, spec.extra[ini])


def render(spec: LabSbc) -> str:
    """`show running-config` of the lab SBC ``spec``."""
    fault = spec.fault if spec.fault in FAULTS else None
    numbers = list(dict.fromkeys(spec.emergency_numbers))
    if fault == "catchall-112":
        numbers = [n for n in numbers if n != "112"]
    emergency = fault != "no-emergency"
    extra: list[Block] = []
    for k, net in enumerate(spec.phone_networks):
        c = Block("voip", "sbc classification", str(k))
        c.items = [
            ("classification-name", _q(f"Phones {k}" if k else "Phones")),
            ("src-sip-interface-name", _q("SIP_Phones")),
            ("src-address", _q(src_address(net))),
            ("action-type", "allow"),
            ("src-ip-group-name", _q(PHONE_GROUP)),
        ]
        extra.append(c)
    if fault == "manipulation-999":
        m = Block("voip", "message message-manipulations", "0")
        m.items = [
            ("manipulation-name", _q("E164 normalise")),
            ("manipulation-set-id", "1"),
            ("message-type", "invite.request"),
            ("condition", _q("header.request-uri.url.user=='999'")),
            ("action-subject", "header.request-uri.url.user"),
            ("action-type", "modify"),
            ("action-value", _q("'+44999'")),
        ]
        extra.append(m)
    routes = [
        Block(
            "voip",
            "sbc routing ip2ip-routing",
            "0",
            [
                ("route-name", _q("OPTIONS termination")),
                ("request-type", "options"),
                ("dst-type", "internal"),
                ("internal-action", _q("Reply(Response='200')")),
            ],
        )
    ]
    if emergency:
        for n in numbers:
            routes.append(_row(len(routes), f"Emergency {n}", f"{n}#", EMERGENCY_TRUNK))
        for n in _outside_line_numbers(spec):
            routes.append(_row(len(routes), f"Emergency 9{n}", f"9{n}#", EMERGENCY_TRUNK))
    routes.append(_row(len(routes), "Phones to Carrier A", "*", NORMAL_TRUNK))
    routes.append(_row(len(routes), "Carrier to Phones", "*", PHONE_GROUP, src=NORMAL_TRUNK))
    if emergency:
        routes.extend(_strip_outside_line(_outside_line_numbers(spec)))
    # The rows the spec decides replace the basis's own, where the basis prints them.
    generated = {"sbc classification": extra, "sbc routing ip2ip-routing": routes}
    blocks: list[Block] = []
    for proto in _basis():
        b = Block(proto.section, proto.table, proto.index, list(proto.items))
        if b.table in generated:
            blocks.extend(generated[b.table])
            generated[b.table] = []
            continue
        if b.table in ("sbc routing condition-table", "sbc settings") and not emergency:
            continue
        _edit(b, spec, fault)
        blocks.append(b)
    return _emit(blocks)


def _edit(b: Block, spec: LabSbc, fault: str | None) -> None:
    """A block of the basis as ``spec`` (and its fault) has it."""
    if b.table == "interface network-if" and b.index == "0":
        b.set("ip-address", spec.address)
    elif b.table == "sbc routing condition-table":
        b.set(
            "condition",
            _q(" OR ".join(f"header.to.url.user=='{n}'" for n in spec.emergency_numbers)),
        )
    elif b.table == "sip-definition settings":
        # EmergencyNumbers holds at most four numbers of at most four digits.
        short = [n for n in spec.emergency_numbers if len(n) <= 4][:4]
        b.set("emerg-nbs", _q(",".join(short)))
    elif (
        b.table == "ip-group"
        and fault == "manipulation-999"
        and ("name", _q(PHONE_GROUP)) in b.items
    ):
        b.set("inbound-mesg-manipulation-set", "1")
    if b.table in ("sip-definition settings", "sbc settings"):
        _set_extra(b, spec)


# The lab box's board and version; a test (or the rollout) sets spec.extra["firmware"].
BOARD = "Mediant VE SBC"
FIRMWARE = "7.40A.250.001"


def show_system_version(spec: LabSbc) -> str:
    """`show system version`: the ini header lines Netshot's driver reads (;Board:,
    ;Software Version:, ;Serial Number:), as samples/show-system-version.txt lays them out."""
    firmware = spec.extra.get("firmware", FIRMWARE)
    lines = [
        f";Board: {BOARD}",
        ";HW Board Type: 73  FK Board Type: 73",
        ";Serial Number: 0000000000000000",
        ";Slot Number: 1",
        f";Software Version: {firmware}",
        ";DSP Software Version: SOFTDSP => 0.00",
        f";Board IP Address: {spec.address}",
        ";Num of physical LAN ports: 2",
        ";Profile: NONE",
    ]
    return "\n".join(lines) + "\n"


class Cli:
    """The Mediant CLI: Basic mode '>', `enable` with its password to '#', `config system`
    > `cli-settings` > `window-height N|automatic` for paging, `show running-config`."""

    more = " --MORE-- "

    def __init__(self, dev: LabSbcDevice) -> None:
        self.dev = dev
        self.closed = False
        self.paging = True  # window-height automatic until the session sets 0
        self.secret_input = False
        self.enabled = False
        self.enable_tries = 0
        self.modes: list[str] = []  # config-system, cli-settings, config-voip, ...

    def banner(self) -> str:
        return "\n"  # no WelcomeMessage configured

    def prompt(self) -> str:
        if self.secret_input:
            return "Password: "
        host = self.dev.spec.hostname
        if self.modes:
            return f"{host}({self.modes[-1]})# "
        return f"{host}{'#' if self.enabled else '>'} "

    def handle(self, line: str) -> str:
        if self.secret_input:
            return self._enable_password(line)
        cmd = " ".join(line.split())
        if not cmd:
            return ""
        words = cmd.split(" ")
        if cmd in ("exit", "quit"):
            if self.modes:
                self.modes.pop()
            else:
                self.closed = True
            return ""
        if cmd == "enable":
            if not self.enabled:
                self.secret_input = True
            return ""
        if cmd == "disable" and not self.modes:
            self.enabled = False
            return ""
        if words[0] == "do" and self.modes:
            return self._show(" ".join(words[1:]))
        if words[0] == "show":
            return self._show(cmd)
        if not self.enabled:
            return "Invalid command\n"
        return self._configure(cmd, words)

    def _enable_password(self, line: str) -> str:
        if line == self.dev.spec.enable_password:
            self.secret_input, self.enabled = False, True
            return ""
        # UNCONFIRMED: asks again, three tries in all, as Cisco-like CLIs do
        self.enable_tries += 1
        if self.enable_tries >= 3:
            self.secret_input, self.enable_tries = False, 0
            return "Invalid password\n"
        return ""

    def _configure(self, cmd: str, words: list[str]) -> str:
        """The configuration modes, as far as the lab needs them: paging on or off."""
        if (
            not self.modes
            and len(words) == 2
            and words[0] in ("config", "configure")
            and words[1] in ("system", "voip", "network", "data", "troubleshoot")
        ):
            self.modes = [f"config-{words[1]}"]
            return ""
        if self.modes == ["config-system"] and cmd == "cli-settings":
            self.modes.append("cli-settings")
            return ""
        if (
            self.modes
            and self.modes[-1] == "cli-settings"
            and words[0] == "window-height"
            and len(words) == 2
            and (words[1] == "automatic" or words[1].isdigit())
        ):
            self.paging = words[1] != "0"
            return ""
        return "Invalid command\n"

    def _show(self, cmd: str) -> str:
        if cmd in ("show running-config", "show run") and self.enabled:
            return self.dev.config
        if cmd == "show system version":  # Basic mode is enough (Netshot's driver runs it there)
            return show_system_version(self.dev.spec)
        return "Invalid command\n"


SIMULATOR = SbcSimulator(
    profile="audiocodes",
    admin_user=ADMIN_USER,
    emergency_trunk=EMERGENCY_TRUNK,
    normal_trunk=NORMAL_TRUNK,
    render=render,
    cli=Cli,
    faults=FAULTS,
    fault_expect=FAULT_EXPECT,
    demo_faults=(
        SbcDemoFault("catchall-112", behind="snom"),
        SbcDemoFault("down", behind="yealink"),
    ),
    order=10,
)
