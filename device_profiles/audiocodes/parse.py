"""AudioCodes Mediant SBC: its configuration, both ways the box hands it out, -> Collected.

* The ``.ini`` file (Web "Configuration File" / REST ``/api/v1/files/ini``): ``[SIP Params]``
  style sections of ``NAME = value`` lines, and tables as ``[ Table ]`` ...
  ``FORMAT Index = Col, Col;`` ... ``Table N = v, v;`` ... ``[ \\Table ]``. Firmware 7.0 prefixes
  every column with the table name (``FORMAT IP2IPRouting_Index = IP2IPRouting_RouteName``);
  7.2 and later do not. Both are read.
* ``show running-config`` (CLI 7.x): ``configure <section>`` blocks holding table rows
  (``sbc routing ip2ip-routing 3`` ... ``activate`` / ``exit``) and settings blocks
  (``sbc settings``), parsed with the TextFSM template beside this file.

Raw params keep the vendor's names: ``IP2IPRouting/3/DestUsernamePrefix`` and
``SBCPREEMPTIONMODE`` from an ini file, ``voip/sbc routing ip2ip-routing/3/dst-user-name-prefix``
and ``voip/sbc settings/sbc-preemption-mode`` from the CLI. :func:`tables` maps both onto the
ini table and column names, which is all routing needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import cli_parse
from fleet.errors import ConfigFileError
from fleet.model import Collected, Finding

TEMPLATE = Path(__file__).parent / "templates" / "show_running_config.textfsm"

_INI_SECTION = re.compile(r"^\[\s*(\\?)\s*([^\]]*?)\s*\]\s*$")
_INI_FORMAT = re.compile(r"^FORMAT\s+(\S+)\s*=\s*(.*?);?\s*$", re.I)
_INI_ROW = re.compile(r"^(\S+)\s+(\d+)\s*=\s*(.*?);?\s*$")
_INI_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_INI_SCALAR = re.compile(r"^([A-Za-z_][\w.\-]*)\s*=\s*(.*?)\s*$")
INI_IDENTITY = {
    "model": re.compile(r"^;\s*Board:\s*(.+?)\s*$", re.M),
    "firmware": re.compile(r"^;\s*Software Version:\s*(.+?)\s*$", re.M),
}

# CLI table path (section/table) -> ini table, and CLI key -> ini column, for what routing and
# the SBC's own addresses are computed from (AudioCodes User's Manual 7.2 parameter tables list
# each parameter's CLI name beside its [Table_Column] ini name).
CLI_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "network/interface network-if": (
        "InterfaceTable",
        {
            "application-type": "ApplicationTypes",
            "ip-address": "IPAddress",
            "prefix-length": "PrefixLength",
            "gateway": "Gateway",
            "name": "InterfaceName",
        },
    ),
    "voip/sip-interface": (
        "SIPInterface",
        {
            "interface-name": "InterfaceName",
            "network-interface": "NetworkInterface",
            "application-type": "ApplicationType",
            "udp-port": "UDPPort",
            "tcp-port": "TCPPort",
            "tls-port": "TLSPort",
            "srd-name": "SRDName",
        },
    ),
    "voip/proxy-set": (
        "ProxySet",
        {
            "proxy-name": "ProxyName",
            "sbcipv4-sip-int-name": "SBCIPv4SIPInterfaceName",
        },
    ),
    "voip/proxy-ip": (
        "ProxyIp",
        {
            "proxy-set-id": "ProxySetId",
            "proxy-address": "IpAddress",
            "transport-type": "TransportType",
        },
    ),
    "voip/ip-group": (
        "IPGroup",
        {
            "type": "Type",
            "name": "Name",
            "proxy-set-name": "ProxySetName",
            "classify-by-proxy-set": "ClassifyByProxySet",
            "inbound-mesg-manipulation-set": "InboundManSet",
            "outbound-mesg-manipulation-set": "OutboundManSet",
        },
    ),
    "voip/sbc classification": (
        "Classification",
        {
            "classification-name": "ClassificationName",
            "message-condition-name": "MessageConditionName",
            "src-sip-interface-name": "SrcSIPInterfaceName",
            "src-address": "SrcAddress",
            "src-user-name-prefix": "SrcUsernamePrefix",
            "dst-user-name-prefix": "DestUsernamePrefix",
            "action-type": "ActionType",
            "src-ip-group-name": "SrcIPGroupName",
        },
    ),
    "voip/sbc routing condition-table": (
        "ConditionTable",
        {
            "name": "Name",
            "condition": "Condition",
        },
    ),
    "voip/sbc routing ip2ip-routing": (
        "IP2IPRouting",
        {
            "route-name": "RouteName",
            "routing-policy-name": "RoutingPolicyName",
            "src-ip-group-name": "SrcIPGroupName",
            "src-user-name-prefix": "SrcUsernamePrefix",
            "src-host": "SrcHost",
            "dst-user-name-prefix": "DestUsernamePrefix",
            "dst-host": "DestHost",
            "request-type": "RequestType",
            "message-condition-name": "MessageConditionName",
            "trigger": "Trigger",
            "dst-type": "DestType",
            "dst-ip-group-name": "DestIPGroupName",
            "dst-sip-interface-name": "DestSIPInterfaceName",
            "dst-address": "DestAddress",
            "dst-port": "DestPort",
            "alt-route-options": "AltRouteOptions",
            "modified-dest-user-name": "ModifiedDestUserName",
            "internal-action": "InternalAction",
        },
    ),
    "voip/sbc manipulation ip-outbound-manipulation": (
        "IPOutboundManipulation",
        {
            "manipulation-name": "ManipulationName",
            "src-ip-group-name": "SrcIPGroupName",
            "dst-ip-group-name": "DestIPGroupName",
            "dst-user-name-prefix": "DestUsernamePrefix",
            "manipulated-uri": "ManipulatedURI",
            "remove-from-left": "RemoveFromLeft",
            "remove-from-right": "RemoveFromRight",
            "leave-from-right": "LeaveFromRight",
            "prefix-to-add": "Prefix2Add",
            "suffix-to-add": "Suffix2Add",
        },
    ),
    "voip/message message-manipulations": (
        "MessageManipulations",
        {
            "manipulation-name": "ManipulationName",
            "manipulation-set-id": "ManSetID",
            "message-type": "MessageType",
            "condition": "Condition",
            "action-subject": "ActionSubject",
            "action-type": "ActionType",
            "action-value": "ActionValue",
            "row-role": "RowRole",
        },
    ),
}
# CLI settings blocks -> ini scalar parameters, each as the manual prints it beside its ini
# name ("configure voip > sbc settings > sbc-preemption-mode [SBCPreemptionMode]"): techdocs
# SBC 7.4/7.6 "SBC Supplementary Services" for the sbc settings four; Mediant 1000 Gateway &
# E-SBC User's Manual ch. 68 "Configuration Parameters Reference" (easymanua.ls p.1294) for
# emerg-nbs and emerg-calls-regrt-t-out. Only cited keywords are read (README "Caller
# location": which were looked for and not found, e.g. the E9-1-1 ones).
CLI_SCALARS: dict[str, str] = {
    "voip/sbc settings/sbc-preemption-mode": "SBCPreemptionMode",
    "voip/sbc settings/sbc-emerg-condition": "SBCEmergencyCondition",
    "voip/sbc settings/sbc-emerg-rtp-diffserv": "SBCEmergencyRTPDiffServ",
    "voip/sbc settings/sbc-emerg-sig-diffserv": "SBCEmergencySignalingDiffServ",
    "voip/sip-definition settings/emerg-nbs": "EmergencyNumbers",
    "voip/sip-definition settings/emerg-calls-regrt-t-out": "EmergencyRegretTimeout",
}
# CLI keywords for the enumerations routing reads, as the ini file's numbers.
CLI_ENUMS: dict[str, dict[str, str]] = {
    "DestType": {
        "ip-group": "0",
        "dest-address": "1",
        "request-uri": "2",
        "enum": "3",
        "hunt-group": "4",
        "dial-plan": "5",
        "ldap": "6",
        "gateway": "8",
        "routing-server": "9",
        "all-users": "10",
        "ip-group-set": "11",
        "dst-tag": "12",
        "internal": "13",
    },
    "RequestType": {
        "all": "0",
        "invite": "1",
        "register": "2",
        "subscribe": "3",
        "invite-and-register": "4",
        "invite-and-subscribe": "5",
        "options": "6",
    },
    "AltRouteOptions": {
        "route-row": "0",
        "alt-route-ignore-inputs": "1",
        "alt-route-consider-inputs": "2",
        "group-member-ignore-inputs": "3",
        "group-member-consider-inputs": "4",
    },
    # IP2IPRouting_Trigger [0] Any .. [5] Broken Connection (Mediant 2600 User's Manual p.374);
    # the CLI keywords are UNCONFIRMED (read as written when they differ).
    "Trigger": {
        "any": "0",
        "3xx": "1",
        "refer": "2",
        "3xx-or-refer": "3",
        "initial-only": "4",
        "broken-connection": "5",
    },
    "Type": {"server": "0", "user": "1", "gateway": "2"},
    "ClassifyByProxySet": {"disable": "0", "enable": "1"},
    "ActionType": {
        "deny": "0",
        "allow": "1",
        "add": "0",
        "remove": "1",
        "modify": "2",
        "add-prefix": "3",
        "add-suffix": "4",
        "remove-suffix": "5",
        "remove-prefix": "6",
        "normalize": "7",
    },
    "ApplicationType": {"gw": "0", "sas": "1", "sbc": "2"},
    "ManipulatedURI": {"source": "0", "destination": "1"},
    "SBCPreemptionMode": {"disable": "0", "enable": "1"},
}


def is_cli(text: str) -> bool:
    return bool(re.search(r"^configure (voip|network|system)\s*$", text, re.M))


def is_ini(text: str) -> bool:
    return bool(re.search(r"^\[\s*(IP2IPRouting|IPGroup|SIPInterface|ProxySet)\s*\]", text, re.M))


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def split_row(text: str) -> list[str]:
    """``"a, b", 0, 'c';`` -> ``['a, b', '0', 'c']``: commas inside quotes belong to the value."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            cur.append(ch)
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch == ",":
            out.append(unquote("".join(cur)))
            cur = []
        else:
            cur.append(ch)
    out.append(unquote("".join(cur)))
    return out


# A malformed line may be "SNMPReadOnlyCommunityString_0 'community'" without its "=": an
# error quoting it would carry the secret into the store, the report and the email.
_NOT_QUOTED = "the line is not quoted: it may hold a password or community string"


def _bad_row_name(name: str, n: int, row: str, table: str) -> Finding:
    # "If there is a syntax error in the parameter name, the value is ignored" (User's
    # Manual, "General ini File Formatting Rules"); a row written as "!NATTranslation 0 = ..."
    # (tlothering/AudioCodes_SBC_on_Azure) is skipped.
    return Finding(
        "config.malformed",
        "medium",
        f"{name}:{n}",
        f"{name} line {n}: row name {row[:40]!r} in [ {table} ] is "
        "not a valid ini name; the device ignores the line",
    )


def _table_row(
    name: str, n: int, table: str, m: re.Match[str], columns: dict[str, list[str]]
) -> dict[str, str]:
    """One ``Table N = v, v;`` row as ``Table/N/Column`` params."""
    if m.group(1) != table:
        raise ConfigFileError(f"row of {m.group(1)} inside [ {table} ]", file=name, line=n)
    fmt = columns.get(table)
    if fmt is None:
        raise ConfigFileError(f"[ {table} ] row before its FORMAT line", file=name, line=n)
    values = split_row(m.group(3))
    if len(values) != len(fmt):
        raise ConfigFileError(
            f"{table} {m.group(2)} has {len(values)} values for {len(fmt)} FORMAT columns",
            file=name,
            line=n,
        )
    return {f"{table}/{m.group(2)}/{col}": val for col, val in zip(fmt, values, strict=True)}


@dataclass(slots=True)
class _Ini:
    """The ini reader's state as it goes down the file."""

    name: str
    notices: list[Finding] | None
    params: dict[str, str] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    table: str | None = None

    def table_line(self, n: int, line: str, table: str) -> None:
        if m := _INI_FORMAT.match(line):
            cols = [c.strip() for c in m.group(2).split(",")]
            self.columns[table] = [_strip_prefix(table, c) for c in cols]
        elif (m := _INI_ROW.match(line)) and not _INI_NAME.match(m.group(1)):
            if self.notices is not None:
                self.notices.append(_bad_row_name(self.name, n, m.group(1), table))
        elif m:
            self.params.update(_table_row(self.name, n, table, m, self.columns))
        else:
            raise ConfigFileError(
                f"unexpected line in [ {table} ]: not a FORMAT line nor a 'Table N = values;' "
                f"row ({_NOT_QUOTED})",
                file=self.name,
                line=n,
            )

    def line(self, n: int, line: str) -> None:
        if m := _INI_SECTION.match(line):
            closing, title = m.group(1), m.group(2)
            is_params = title.lower().endswith("params")
            self.table = None if closing or is_params else title
        elif self.table is not None:
            self.table_line(n, line, self.table)
        elif m := _INI_SCALAR.match(line):
            self.params[m.group(1)] = _scalar(m.group(2))
        else:
            raise ConfigFileError(
                f"not an ini line: not 'Name = value', a [ section ] nor a table row "
                f"({_NOT_QUOTED})",
                file=self.name,
                line=n,
            )


def parse_ini(
    name: str, text: str, notices: list[Finding] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Params and identity (``;Board:`` / ``;Software Version:`` header comments). Lines the
    box ignores are appended to ``notices`` as ``config.malformed``."""
    ini = _Ini(name, notices)
    in_comment = False
    # "\n" ends a line as editors count them; the box writes a lone "\r" inside header
    # comments (Mediant SW 7.20A, tlothering/AudioCodes_SBC_on_Azure), which splitlines()
    # would count as a line too and shift every line number given in errors and notices.
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith(";"):
            in_comment = bool(line)
            continue
        if in_comment and raw[:1] in " \t":
            # The box's own header wraps a long comment onto an indented line without ';'
            # (Mediant SW on Azure: ";  ;Virtual Network:  <id>" then "\t  <id>",
            # tlothering/AudioCodes_SBC_on_Azure): still the comment.
            continue
        in_comment = False
        ini.line(n, line)
    identity = {k: m.group(1) for k, rx in INI_IDENTITY.items() if (m := rx.search(text))}
    return ini.params, identity


def _strip_prefix(table: str, column: str) -> str:
    # 7.0 writes "IP2IPRouting_RouteName"; 7.2+ "RouteName". "Index" is the row number.
    col = column.removeprefix(f"{table}_")
    return col


def _scalar(value: str) -> str:
    # EmergencyNumbers = '100','911','112' -> "100,911,112"; NAME = 'x' -> "x"
    if "," in value and value.lstrip().startswith("'"):
        return ",".join(split_row(value))
    return unquote(value)


# The block layout the TextFSM template reads (UNCONFIRMED, see README): inside a
# `configure <section>` block, one space before a table row or settings block, two before
# its `key value` lines and its `activate` / `exit`, one before the block's `exit`.
_CLI_LAYOUT = (
    re.compile(r"^configure\s+\S+\s*$"),
    re.compile(r"^ [a-z][\w-]*(?: [a-z][\w-]*)*(?: \d+(?:/\d+)?)?\s*$"),
    re.compile(r"^  [a-z][\w-]*(?:\s+.*)?$"),
    re.compile(r"^ ?exit\s*$"),
)


def check_cli_layout(name: str, text: str) -> None:
    """Fail closed on a capture whose blocks are laid out differently from what the template
    reads: a line the template would skip inside a ``configure`` block is an error naming the
    line, never a silently smaller configuration."""
    inside = False
    # line numbers as parse_ini counts them ("\n" ends a line)
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if re.match(r"^configure\s+\S+\s*$", line):
            inside = True
            continue
        if line.rstrip() == "exit" and inside:
            inside = False
            continue
        if not inside:
            continue
        if "\t" in line[: len(line) - len(line.lstrip())] or not any(
            rx.match(line) for rx in _CLI_LAYOUT[1:]
        ):
            raise ConfigFileError(
                "line not in the `show running-config` block layout fleet reads (one space "
                "before a table row, two before its settings; the layout is UNCONFIRMED "
                "against a real capture): the configuration cannot be read reliably",
                file=name,
                line=n,
            )


def read_cli(text: str) -> dict[str, str]:
    """`show running-config` as flat ``section/table[/N]/key`` params."""
    params: dict[str, str] = {}
    for rec in cli_parse.parse(TEMPLATE, text):
        path = f"{rec['SECTION']}/{rec['TABLE']}"
        key = f"{path}/{rec['INDEX']}/{rec['KEY']}" if rec["INDEX"] else f"{path}/{rec['KEY']}"
        params[key] = unquote(rec["VALUE"])
    return params


def _get(params: dict[str, str], name: str) -> str | None:
    low = name.lower()
    for k, v in params.items():
        if k.lower() == low:
            return v
    return None


def scalar(params: dict[str, str], name: str) -> str | None:
    """An ini scalar parameter (names are case-insensitive in ini files), or its CLI form."""
    v = _get(params, name)
    if v is not None:
        return v
    for cli_key, ini in CLI_SCALARS.items():
        if ini == name and cli_key in params:
            return CLI_ENUMS.get(ini, {}).get(params[cli_key].lower(), params[cli_key])
    return None


def tables(params: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every table as rows in index order, with ini column names (``_index`` holds the row
    number), whichever format the params came from."""
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    cli_by_path = {path: spec for path, spec in CLI_TABLES.items()}
    for key, value in params.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[1].isdigit():  # ini: Table/N/Column
            table, idx, col = parts[0], int(parts[1]), parts[2]
        elif len(parts) == 4 and parts[2].isdigit():  # cli: section/table/N/key
            spec = cli_by_path.get(f"{parts[0]}/{parts[1]}")
            if spec is None:
                continue
            table, idx = spec[0], int(parts[2])
            col = spec[1].get(parts[3], "")
            if not col:
                continue
            value = CLI_ENUMS.get(col, {}).get(value.lower(), value)
        else:
            continue
        row = rows.setdefault(table, {}).setdefault(idx, {"_index": idx})
        row[col] = value
    return {t: [r[i] for i in sorted(r)] for t, r in rows.items()}


def detect(text: str) -> bool:
    head = text[:200_000]
    if is_ini(head):
        return True
    return is_cli(head) and bool(
        re.search(r"^ (sbc routing ip2ip-routing|ip-group|sip-interface) \d+\s*$", head, re.M)
    )


SHOW_RUN = "show running-config"
SHOW_VERSION = "show system version"


def parse_cli(outputs: dict[str, str]) -> Collected:
    """``show running-config`` and ``show system version`` (model and firmware)."""
    from device_profiles.audiocodes.version import parse_show_system_version

    text = outputs.get(SHOW_RUN) or next(iter(outputs.values()), "")
    collected = parse_files(SHOW_RUN, text, lambda _n: None)
    if SHOW_VERSION in outputs:
        identity, notices = parse_show_system_version(outputs[SHOW_VERSION])
        collected.identity.update(identity)
        collected.notices += notices
    collected.sources = list(outputs)
    return collected


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    if is_ini(text):
        notices: list[Finding] = []
        params, identity = parse_ini(name, text, notices)
        return Collected(params=params, identity=identity, sources=[name], notices=notices)
    if is_cli(text):
        check_cli_layout(name, text)
        params = read_cli(text)
        if not params:
            raise ConfigFileError("no configuration lines found", file=name)
        return Collected(params=params, sources=[name])
    raise ConfigFileError(
        "neither an AudioCodes ini file nor `show running-config` output", file=name
    )
