"""Oracle ESBC (Acme Packet) ACLI ``show running-config`` -> Collected.

The running configuration is a list of configuration elements (local-policy, realm-config,
session-agent, ...) with their parameters indented below them and sub-elements
(policy-attribute, sip-port, header-rule, element-rule) indented once more. Parameters are kept
flat under ``<element>[n].<sub-element>[m].<parameter>`` names, numbered in configuration order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet.cli_parse import parse
from fleet.errors import ConfigFileError
from fleet.model import Collected, Finding

TEMPLATES = Path(__file__).parent / "templates"
# ACLI configuration elements as `show running-config` prints them: the element name alone in
# column 0, its parameters indented below (ACLI Reference, "Working with Configuration
# Elements"; captures [C3]). A capture of one element (`show running-config local-policy`,
# `... session-agent`) holds only that element, so any of them identifies an ACLI capture.
ELEMENTS = (
    "access-control",
    "account-config",
    "enforcement-profile",
    "local-policy",
    "local-routing-config",
    "media-manager",
    "media-profile",
    "net-management-control",
    "network-interface",
    "phy-interface",
    "realm-config",
    "session-agent",
    "session-group",
    "session-translation",
    "sip-config",
    "sip-interface",
    "sip-manipulation",
    "steering-pool",
    "system-config",
    "translation-rules",
)
_ELEMENT_THEN_PARAM = re.compile(
    r"(?m)^(?:" + "|".join(re.escape(e) for e in ELEMENTS) + r")[ \t]*\r?\n"
    r"(?:[ \t]*\r?\n)*"  # blank lines
    r"(?: {1,8}|\t)[a-z][a-z0-9-]*(?:[ \t]{2,}\S.*)?[ \t]*\r?$"
)
# A value line of a list parameter: ACLI prints the first value beside the parameter name and
# every further value alone on the next lines, at the value column (rianrd1/ROTAS-SIP
# `VIVO/VIVO TRANSPORTE/SBC/CORE_ITX_VIVO_TRANSPORTE_VSI_1.sql`, session-group `dest`).
# Parameters sit at indent 8, 16 or 24; a line indented 32 or more is such a value.
CONTINUATION_INDENT = 32


def detect(text: str) -> bool:
    """An ACLI capture: at least one configuration element followed by its parameters."""
    return bool(_ELEMENT_THEN_PARAM.search(text[:200_000]))


def fold_lists(text: str) -> str:
    """Join list values printed on the lines below their parameter into one line
    (``to-address 911 933``), keeping the line count so line numbers stay right."""
    out: list[str] = []
    owner: int | None = None  # index in out of the parameter line the values belong to
    for line in text.replace("\r\n", "\n").split("\n"):
        body = line.expandtabs(8)
        stripped = body.strip()
        indent = len(body) - len(body.lstrip(" "))
        if stripped and indent >= CONTINUATION_INDENT and owner is not None:
            out[owner] = (
                out[owner].rstrip()
                + (" " if re.search(r"\S\s{2,}\S", out[owner].strip()) else " " * 8)
                + stripped
            )
            out.append("")
            continue
        if stripped and indent > 0:
            owner = len(out)
        elif stripped:
            owner = None
        out.append(line)
    return "\n".join(out)


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _put(params: dict[str, str], key: str, value: str) -> None:
    # A parameter printed twice in one element (dest, options) keeps every value.
    if key in params and params[key] and value:
        params[key] = f"{params[key]} {value}"
    else:
        params[key] = value


def _generic_params(text: str) -> dict[str, str]:
    """Every line, nested by indent: what golden raw: rules and redaction see."""
    rows = parse(TEMPLATES / "acme_packet_params.textfsm", text)
    lines = [(len(r["INDENT"].expandtabs(8)), r["NAME"], r["VALUE"]) for r in rows]
    params: dict[str, str] = {}
    counts: dict[str, int] = {}
    stack: list[tuple[int, str, dict[str, int]]] = []  # (indent, path, child counts)
    for n, (indent, name, value) in enumerate(lines):
        nxt = lines[n + 1][0] if n + 1 < len(lines) else -1
        if indent == 0:
            stack.clear()
            if value:  # "task done" and other non-element lines
                continue
            counts[name] = counts.get(name, 0) + 1
            stack.append((0, f"{name}[{counts[name]}]", {}))
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack:
            continue
        _parent_indent, parent, children = stack[-1]
        if not value and nxt > indent:  # a sub-element: deeper lines follow
            children[name] = children.get(name, 0) + 1
            stack.append((indent, f"{parent}.{name}[{children[name]}]", {}))
            continue
        _put(params, f"{parent}.{name}", unquote(value))
    return params


def _records(stem: str, text: str) -> list[dict[str, Any]]:
    return parse(TEMPLATES / f"acme_packet_{stem}.textfsm", text)


def _put_record(
    out: dict[str, str], path: str, rec: dict[str, Any], skip: tuple[str, ...] = ("KIND",)
) -> None:
    """One TextFSM record as ``<path>.<parameter>`` params (lists joined by spaces)."""
    for field, value in rec.items():
        if field in skip or value in ("", []):
            continue
        if isinstance(value, list):
            value = " ".join(value)
        out[f"{path}.{field.lower().replace('_', '-')}"] = unquote(value)


def _local_policies(text: str, out: dict[str, str]) -> None:
    i = j = 0
    for rec in _records("local_policy", text):
        if rec["KIND"] == "local-policy":
            i, j = i + 1, 0
            _put_record(out, f"local-policy[{i}]", rec)
        elif i:
            j += 1
            _put_record(out, f"local-policy[{i}].policy-attribute[{j}]", rec)


_FLAT_ELEMENTS = (
    ("session_agent", "session-agent"),
    ("session_group", "session-group"),
    ("realm_config", "realm-config"),
    ("system_config", "system-config"),
)
_PORT_FIELDS = ("ADDRESS", "PORT", "TRANSPORT_PROTOCOL", "ALLOW_ANONYMOUS")


def _sip_interfaces(text: str, out: dict[str, str]) -> None:
    # The template reads a sip-interface's sip-ports as parallel lists, one value per port.
    for n, rec in enumerate(_records("sip_interface", text), 1):
        _put_record(out, f"sip-interface[{n}]", rec, skip=_PORT_FIELDS)
        for p, address in enumerate(rec["ADDRESS"], 1):
            row = {"ADDRESS": address}
            for field in _PORT_FIELDS[1:]:
                if p <= len(rec[field]):
                    row[field] = rec[field][p - 1]
            _put_record(out, f"sip-interface[{n}].sip-port[{p}]", row)


def _sip_manipulations(text: str, out: dict[str, str]) -> None:
    m = h = e = 0
    for rec in _records("sip_manipulation", text):
        kind = rec["KIND"].rstrip("s")
        if kind == "sip-manipulation":
            m, h, e = m + 1, 0, 0
            _put_record(out, f"sip-manipulation[{m}]", rec)
        elif kind == "header-rule" and m:
            h, e = h + 1, 0
            _put_record(out, f"sip-manipulation[{m}].header-rule[{h}]", rec)
        elif kind == "element-rule" and m and h:
            e += 1
            _put_record(out, f"sip-manipulation[{m}].header-rule[{h}].element-rule[{e}]", rec)


def _element_params(text: str) -> dict[str, str]:
    """The routing elements as their TextFSM templates read them (authoritative fields)."""
    out: dict[str, str] = {}
    _local_policies(text, out)
    for stem, element in _FLAT_ELEMENTS:
        for n, rec in enumerate(_records(stem, text), 1):
            _put_record(out, f"{element}[{n}]", rec)
    _sip_interfaces(text, out)
    _sip_manipulations(text, out)
    return out


def parse_text(name: str, text: str) -> Collected:
    if not detect(text):
        raise ConfigFileError(
            "not an Oracle/Acme Packet ACLI running configuration (no configuration element "
            "such as local-policy, realm-config or session-agent followed by its parameters)",
            file=name,
        )
    text = fold_lists(text)
    params = _generic_params(text)
    params.update(_element_params(text))
    identity = {}
    if host := params.get("system-config[1].hostname"):
        identity["hostname"] = host
    _check_numbers(name, text, params)
    collected = Collected(params=params, identity=identity, sources=[name])
    collected.notices += _regex_notices(name, text, params)
    if not any(k.startswith("local-policy[") for k in params):
        collected.notices.append(
            Finding(
                "coverage.uncertain",
                "high",
                "local-policy",
                f"{name} holds no local-policy element (a partial capture such as `show "
                "running-config session-agent`?): fleet cannot tell where this SBC routes "
                "emergency calls",
                expected="local-policy elements (the full `show running-config`)",
                actual="none",
            )
        )
    return collected


def _line_of(text: str, key: str) -> int | None:
    """The line number of a flat parameter (element and sub-element counts followed)."""
    parts = re.findall(r"([\w-]+)\[(\d+)\]", key)
    param = key.rsplit(".", 1)[-1]
    lines = text.split("\n")
    n, end, parent_indent = 0, len(lines), -1

    def indent(line: str) -> int:
        body = line.expandtabs(8)
        return len(body) - len(body.lstrip(" "))

    for element, count in parts:
        seen = 0
        pat = re.compile(r"^\s*" + re.escape(element) + r"s?\s*$")
        while n < end:
            line = lines[n]
            if line.strip() and indent(line) <= parent_indent:
                return None
            if pat.match(line) and indent(line) > parent_indent:
                seen += 1
                if seen == int(count):
                    break
            n += 1
        if n >= end:
            return None
        parent_indent = indent(lines[n])
        n += 1
    pat = re.compile(r"^\s+" + re.escape(param) + r"(\s|$)")
    while n < end and not (lines[n].strip() and indent(lines[n]) <= parent_indent):
        if pat.match(lines[n]):
            return n + 1
        n += 1
    return None


# Parameters the routing reads as numbers; the ACLI accepts only whole numbers there (ACLI
# Reference, local-policy > policy-attributes > cost: 0-999999999), so anything else is a file
# fleet cannot route: an error naming the line, never Python's int() text quoting the value.
_NUMERIC = re.compile(r"\.policy-attribute\[\d+\]\.cost$")


def _check_numbers(name: str, text: str, params: dict[str, str]) -> None:
    for key, value in params.items():
        if _NUMERIC.search(key) and value.strip() and not value.strip().isdecimal():
            raise ConfigFileError(
                "not a whole number (ACLI: 0-999999999); fleet cannot order this "
                "local-policy's next hops",
                file=name,
                line=_line_of(text, key),
                field=key,
            )


def _regex_notices(name: str, text: str, params: dict[str, str]) -> list[Finding]:
    """An HMR pattern-rule that is not a regular expression fleet can compile: the rule is
    skipped by fleet, so the number it would rewrite is not known (never raises)."""
    out = []
    for key, value in params.items():
        if not key.endswith(".match-value") or ".element-rule[" not in key:
            continue
        if params.get(key[: -len("match-value")] + "comparison-type") != "pattern-rule":
            continue
        why = _regex_error(unquote(value))
        if why is None:
            continue
        line = _line_of(text, key)
        out.append(
            Finding(
                "config.malformed",
                "medium",
                key,
                f"{name}{f' line {line}' if line else ''}: {key} is not a regular expression "
                f"fleet can read ({why}); fleet skips this element-rule, so the number it "
                "would rewrite is unknown",
                expected="a valid pattern-rule regular expression",
                actual="not compilable",
                evidence=[f"{name}:{line}" if line else name],
            )
        )
    return out


def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as e:
        return str(getattr(e, "msg", None) or e)[:80]
    return None


def parse_files(name: str, text: str, read_sibling: Callable[[str], str | None]) -> Collected:
    return parse_text(name, text)


def parse_cli(outputs: dict[str, str]) -> Collected:
    """``show running-config`` and ``show version`` (model and firmware)."""
    from device_profiles.acme_packet.version import parse_show_version

    text = outputs.get("show running-config") or next(iter(outputs.values()), "")
    collected = parse_text("show running-config", text)
    if "show version" in outputs:
        identity, notices = parse_show_version(outputs["show version"])
        collected.identity.update(identity)
        collected.notices += notices
    collected.sources = list(outputs)
    return collected
