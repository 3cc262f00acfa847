"""The Avaya settings-script language of ``46xxsettings.txt`` and its sibling files.

One command a line (sources in README.md, "File format"):

- ``SET NAME VALUE`` sets a parameter; a value in double quotes loses them (``SET X ""`` is
  empty); ``SET NAME`` alone sets it empty.
- ``IF $VAR SEQ value GOTO LABEL`` jumps when the variable equals ``value`` (string compare);
  ``GOTO LABEL`` jumps always. A label is a line ``# LABEL``; any other ``#`` line is a comment.
- ``GET file`` makes the phone fetch ``file`` from the same server and run it (``$VAR`` in
  the name is replaced: ``GET $MACADDR.cfg`` is the per-phone file).
- Anything else is not a command: the phone skips it (reported ``config.malformed``).

The phone runs the script top to bottom for its own model (``$MODEL4``), signalling protocol
(``$SIG_IN_USE``) and MAC; a later ``SET`` of a name wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from fleet.errors import ConfigFileError
from fleet.model import Finding

SET = re.compile(r"^SET\s+([A-Za-z0-9_-]+)(?:\s+(.*?))?\s*$", re.IGNORECASE)
IF = re.compile(r"^IF\s+\$([A-Za-z0-9_]+)\s+(\S+)\s+(\S+)\s+GOTO\s+(\S+)\s*$", re.IGNORECASE)
GOTO = re.compile(r"^GOTO\s+(\S+)\s*$", re.IGNORECASE)
GET = re.compile(r"^GET\s+(\S+)\s*$", re.IGNORECASE)
LABEL = re.compile(r"^#\s?([A-Za-z0-9_]+)\s*$")
# A trailing "   ## note" after a command: deployed files carry them on working lines (README.md,
# "File format"); whether the phone strips them is UNCONFIRMED, fleet does.
TRAILING = re.compile(r"\s+##.*$")
VAR = re.compile(r"\$([A-Za-z0-9_]+)")
MAX_STEPS = 50_000  # commands executed over all files: a GOTO loop is an error, not a hang
MAX_DEPTH = 8  # nested GETs


@dataclass(frozen=True, slots=True)
class Command:
    line: int
    kind: str  # set | if | goto | get
    args: tuple[str, ...]


@dataclass(slots=True)
class Program:
    name: str
    commands: list[Command]
    labels: dict[str, int]  # label -> index of the next command
    malformed: list[int]  # line numbers the phone skips


@dataclass(slots=True)
class Run:
    """One execution of a script for one set of variables."""

    variables: dict[str, str]
    read_sibling: Callable[[str], str | None]
    params: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notices: list[Finding] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # variables an executed IF or GET read
    steps: int = 0


def unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def _command(n: int, line: str) -> Command | None:
    if m := SET.match(line):
        return Command(n, "set", (m.group(1).upper(), unquote(m.group(2) or "")))
    if m := IF.match(line):
        return Command(n, "if", (m.group(1).upper(), m.group(2).upper(), m.group(3), m.group(4)))
    if m := GOTO.match(line):
        return Command(n, "goto", (m.group(1),))
    if m := GET.match(line):
        return Command(n, "get", (m.group(1),))
    return None


def compile_text(name: str, text: str) -> Program:
    """The file's commands and labels; lines that are neither are collected, not fatal."""
    prog = Program(name, [], {}, [])
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            if m := LABEL.match(line):
                prog.labels.setdefault(m.group(1), len(prog.commands))
            continue
        cmd = _command(n, TRAILING.sub("", line))
        if cmd is None:
            prog.malformed.append(n)
        else:
            prog.commands.append(cmd)
    return prog


def _malformed(name: str, n: int) -> Finding:
    return Finding(
        "config.malformed",
        "medium",
        f"{name}:{n}",
        f"{name} line {n} is not a SET, IF, GOTO or GET command: the phone skips it",
        evidence=[f"{name}:{n}"],
    )


def _uncertain(subject: str, message: str, expected: str, actual: str) -> Finding:
    return Finding("coverage.uncertain", "high", subject, message, expected, actual)


def _substitute(run: Run, value: str) -> tuple[str, list[str]]:
    """``value`` with each ``$VAR`` replaced; the names fleet has no value for."""
    unknown: list[str] = []

    def one(m: re.Match[str]) -> str:
        key = m.group(1).upper()
        run.used.add(key)
        if run.variables.get(key):
            return run.variables[key]
        unknown.append(key)
        return m.group(0)

    return VAR.sub(one, value), unknown


def _if(run: Run, prog: Program, cmd: Command) -> str | None:
    """The label an IF jumps to, or None; an operator the docs do not show is reported."""
    var, op, value, label = cmd.args
    run.used.add(var)
    if op != "SEQ":
        run.notices.append(
            _uncertain(
                f"{prog.name}:{cmd.line}",
                f"{prog.name} line {cmd.line}: IF with operator {op}: Avaya's documentation "
                "found shows only SEQ; fleet did not take the jump",
                "IF $VAR SEQ value GOTO LABEL",
                op,
            )
        )
        return None
    return label if run.variables.get(var, "") == value else None


def _jump(prog: Program, cmd: Command, label: str) -> int:
    if label not in prog.labels:
        raise ConfigFileError(
            f"GOTO {label}: no '# {label}' line in the file, so which settings the phone "
            "applies next cannot be told",
            file=prog.name,
            line=cmd.line,
        )
    return prog.labels[label]


def _get(run: Run, prog: Program, cmd: Command, depth: int) -> None:
    target, unknown = _substitute(run, cmd.args[0])
    where = f"{prog.name}:{cmd.line}"
    if unknown:
        run.notices.append(
            _uncertain(
                target,
                f"{where}: GET {cmd.args[0]} names a file by ${', $'.join(unknown)}, which fleet "
                "does not know for this device: the settings the phone takes from it (a dial "
                "plan, emergency numbers, the SIP server) are not audited; audit that file too",
                f"{cmd.args[0]} with {', '.join(unknown)} known",
                "unknown",
            )
        )
        return
    body = run.read_sibling(target)
    if body is None:
        run.notices.append(
            _uncertain(
                target,
                f"{where}: GET {target}: that file is not beside it, so the settings the phone "
                "takes from it are not audited",
                f"{target} beside {prog.name}",
                "missing",
            )
        )
        return
    execute(run, compile_text(target, body), depth + 1)


def execute(run: Run, prog: Program, depth: int = 0) -> None:
    """Run ``prog`` as the phone does, into ``run``."""
    if depth > MAX_DEPTH:
        raise ConfigFileError(f"GET nested deeper than {MAX_DEPTH} files", file=prog.name)
    run.sources.append(prog.name)
    run.notices += [_malformed(prog.name, n) for n in prog.malformed]
    pc = 0
    while pc < len(prog.commands):
        cmd = prog.commands[pc]
        run.steps += 1
        if run.steps > MAX_STEPS:
            raise ConfigFileError("GOTO loop: the script never ends", file=prog.name, line=cmd.line)
        pc += 1
        if cmd.kind == "set":
            run.params[cmd.args[0]] = cmd.args[1]
        elif cmd.kind == "goto":
            pc = _jump(prog, cmd, cmd.args[0])
        elif cmd.kind == "if":
            label = _if(run, prog, cmd)
            if label is not None:
                pc = _jump(prog, cmd, label)
        else:
            _get(run, prog, cmd, depth)


def gets(text: str) -> list[str]:
    """The file names a script GETs literally (without ``$VAR``), in order."""
    out: list[str] = []
    for raw in text.splitlines():
        m = GET.match(raw.strip())
        if m and "$" not in m.group(1) and m.group(1) not in out:
            out.append(m.group(1))
    return out
