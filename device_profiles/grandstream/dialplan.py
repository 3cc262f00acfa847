"""Grandstream GXP/GRP dial plans (syntax ``grandstream``; ``P290`` account 1, ``P459``
account 2), a front end on fleet's dial-plan automaton. Semantics, with sources:
docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

from fleet.dialplan.automaton import DIGITS, Atom, Automaton, Charset
from fleet.dialplan.dialect import Dialect, Log, names
from fleet.dialplan.outcome import Outcome
from fleet.errors import DialPlanError

DEFAULT_TIMEOUT = 4.0  # P85 "No Key Entry Timeout", default 4 s (config template, HT70x guide)
T_WAIT = 3.0  # "Flag T ... the phone will wait for 3 seconds before dialing out" (GRP2600 guide)
MAX_PLAN = 1024
ANY_CHAR = frozenset(string.digits + string.ascii_letters)
KEYS = frozenset(string.digits + "*#ABCDabcd")  # "Accepted Digits" in the guides
DIAL_KEYS = {"1": "#", "2": "*"}  # P72: 0 disabled, 1 pound, 2 star
MAX_NAMES = 5
SETS = Charset(escapes=True, bad_range="bad range [{lo}-{hi}]", empty="empty [ ]")


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    atoms: tuple[Atom, ...]  # "c+" is c then c repeated: one or more
    emit: tuple[bool, ...]  # per atom: False for the keyed side of a <a=b> rewrite
    insert: tuple[str, ...]  # per atom: sent before the key it takes (a rewrite's b side)
    tail: str = ""  # a rewrite at the very end: appended to what is sent
    block: bool = False
    wait_t: bool = False

    def sent(self, path: tuple[int, ...], keys: str) -> str:
        out = [
            self.insert[a] + (k if self.emit[a] else "") for k, a in zip(keys, path, strict=True)
        ]
        return "".join(out) + self.tail


def _split(body: str) -> list[str]:
    """Split on every unescaped ``|``: no element of the syntax may hold one, so an unclosed
    ``[`` or ``<`` spoils only its own entry."""
    parts, cur, i = [], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            cur.append(body[i : i + 2])
            i += 2
            continue
        if body[i] == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(body[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _closing(text: str, start: int, close: str) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == close:
            return i
        i += 1
    raise DialPlanError(f"{text[start - 1]!r} without {close!r}")


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


@dataclass(slots=True)
class _Reader:
    text: str
    problems: list[str]
    atoms: list[Atom] = field(default_factory=list)
    emit: list[bool] = field(default_factory=list)
    insert: list[str] = field(default_factory=list)
    pending: str = ""  # inserted text waiting for the next key
    repeatable: bool = False

    def add(self, chars: frozenset[str], emit: bool = True, insert: str = "") -> None:
        self.atoms.append(Atom(chars))
        self.emit.append(emit)
        self.insert.append(self.pending + insert)
        self.pending = ""
        self.repeatable = True

    def read(self, body: str) -> int:
        """Reads the element at the start of ``body``; returns how many characters it took."""
        ch = body[0]
        if ch == "\\":
            if len(body) < 2:
                raise DialPlanError("a trailing \\ escapes nothing")
            self.add(frozenset(body[1]))
            return 2
        if ch in "xX":
            self.add(DIGITS if ch == "x" else ANY_CHAR)
        elif ch == "[":
            end = _closing(body, 1, "]")
            self.add(SETS.parse(body[1:end]))
            return end + 1
        elif ch == "<":
            return self.rewrite(body)
        elif ch in "+.":
            if not self.repeatable:
                raise DialPlanError(f"{ch!r} repeats nothing")
            self.atoms.append(Atom(self.atoms[-1].chars, repeat=True, lazy=True))
            self.emit.append(self.emit[-1])
            self.insert.append("")
            self.repeatable = False
        elif ch in "^T]>":
            raise DialPlanError(f"unexpected {ch!r}")
        elif ch != ",":  # "," is second dial tone: heard, neither matched nor sent
            if ch not in KEYS:
                self.problems.append(
                    f"entry {self.text!r}: unescaped {ch!r} (write \\{ch}); read literally"
                )
            self.add(frozenset(ch))
        return 1

    def rewrite(self, body: str) -> int:
        end = _closing(body, 1, ">")
        left, eq, right = body[1:end].partition("=")
        if not eq:
            raise DialPlanError(f"rewrite <{left}> has no '='")
        if any(c in "x[]X" for c in left.replace("\\x", "")):
            raise DialPlanError(f"rewrite <{left}={right}> replaces a pattern, not digits")
        keyed = _unescape(left)
        if keyed:
            self.add(frozenset(keyed[0]), emit=False, insert=_unescape(right))
            for c in keyed[1:]:
                self.add(frozenset(c), emit=False)
        else:
            self.pending += _unescape(right)
        return end + 1


def parse_entry(raw: str, problems: list[str]) -> Entry | None:
    text = "".join(raw.split())
    if not text:
        return None
    block = text.startswith("^")
    body = text[1:] if block else text
    wait_t = body.endswith("T") and not body.endswith("\\T")
    if wait_t:
        body = body[:-1]
    reader = _Reader(text, problems)
    i = 0
    while i < len(body):
        i += reader.read(body[i:])
    if not reader.atoms:
        raise DialPlanError("matches no digits")
    return Entry(
        text,
        tuple(reader.atoms),
        tuple(reader.emit),
        tuple(reader.insert),
        reader.pending,
        block,
        wait_t,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]
    timeout: float
    prefix: str
    dial_key: str | None
    nfa: Automaton


def _body(text: str, problems: list[str]) -> str:
    body = text.strip()
    if len(text) > MAX_PLAN:
        problems.append(f"plan is {len(text)} characters; the phone takes at most {MAX_PLAN}")
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    else:
        problems.append("plan is not enclosed in { }")
        body = body.strip("{}")
    if "{" in body or "}" in body:
        problems.append("stray { or } inside the plan; ignored")
        body = body.replace("{", "").replace("}", "")
    return body


def _option_timeout(options: dict[str, str], problems: list[str]) -> float:
    raw = options.get("P85", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"P85 = {raw!r} is not a number of seconds; default {DEFAULT_TIMEOUT:g}")
        return DEFAULT_TIMEOUT
    if not 1 <= value <= 15:
        problems.append(f"P85 = {raw} is outside 1-15 s")
    return value


def compile_plan(text: str, opts: dict[str, str]) -> Plan:
    problems: list[str] = []
    entries: list[Entry] = []
    parts = _split(_body(text, problems))
    for raw in parts:
        try:
            entry = parse_entry(raw, problems)
        except DialPlanError as e:
            problems.append(f"entry {raw.strip()!r} ignored: {e}")
            continue
        if entry is None:
            if len(parts) > 1:
                problems.append("empty entry between '|'")
            continue
        entries.append(entry)
    if not entries:
        problems.append("the plan has no usable entry: no number passes it")
    timeout = _option_timeout(opts, problems)
    return Plan(
        entries=tuple(entries),
        problems=tuple(problems),
        timeout=timeout,
        prefix=opts.get("P66", "").strip(),
        dial_key=DIAL_KEYS.get(opts.get("P72", "1").strip()),
        nfa=Automaton([e.atoms for e in entries]),
    )


def _names(plan: Plan, which: tuple[int, ...]) -> str:
    return names([plan.entries[k].text for k in which], MAX_NAMES, more=", …", none="none")


def _sent(plan: Plan, k: int, keyed: str) -> str:
    path = plan.nfa.trace(k, keyed)
    assert path is not None  # the NFA said complete
    return plan.entries[k].sent(path, keyed)


def _decide(
    plan: Plan, digits: str, keyed: str, state: int, delay: float | None, why: str, log: Log
) -> Outcome:
    """The number as keyed so far goes; ``delay`` None: at once, not on a timer."""
    done = plan.nfa.info(state)[0]
    # A ^ entry that would send nothing (``^<9=>``) has never blocked: kept as the phone
    # model always read it (docs/dialplan.md, open questions).
    blocked = [k for k in done if plan.entries[k].block and _sent(plan, k, keyed)]
    if blocked:
        e = plan.entries[blocked[0]]
        log(lambda: f"{why}: {keyed} is excluded by ^ entry {e.text}: blocked")
        return log.done("block", matched=e.text)
    dials = [k for k in done if not plan.entries[k].block]
    if not dials:
        log(lambda: f"{why}: {keyed} completes no entry: the phone does not dial it")
        return log.done("no-match")
    e = plan.entries[dials[0]]
    sent = plan.prefix + _sent(plan, dials[0], keyed)
    extra = f" (Dial Plan Prefix P66 {plan.prefix!r})" if plan.prefix else ""
    log(lambda: f"{why}: {keyed} completes {e.text}: dials {sent}{extra}")
    return log.done("dial", sent, e.text, delay=delay or 0.0, timed=delay is not None)


def run(plan: Plan, digits: str, log: Log) -> Outcome:
    nfa, state = plan.nfa, plan.nfa.start
    for k, ch in enumerate(digits):
        if plan.dial_key and ch == plan.dial_key and k:
            return _decide(
                plan, digits, digits[:k], state, None, f"{ch} is the dial key (P72)", log
            )
        keyed = digits[: k + 1]
        state = nfa.step(state, ch)
        complete, growing, _ = nfa.info(state)
        log(
            lambda c, g, keyed: (
                f"{keyed}: complete {_names(plan, c)}; could grow {_names(plan, g)}"
            ),
            complete,
            growing,
            keyed,
        )
        if not complete and not growing:
            log(
                lambda keyed: f"{keyed}: no entry can match any more: the phone does not dial it",
                keyed,
            )
            return log.done("no-match")
        if complete and not growing and not any(plan.entries[i].wait_t for i in complete):
            rest = digits[k + 1 :]
            why = "nothing can extend it, dialled at once"
            if rest:
                why += f" ({rest} keyed after that is not part of the number)"
            return _decide(plan, digits, keyed, state, None, why, log)
    if not digits:
        log("no digits keyed")
        return log.done("wait")
    if nfa.info(state)[1]:
        timer, why = plan.timeout, f"no key for {plan.timeout:g} s (No Key Entry Timeout P85)"
    else:
        timer, why = T_WAIT, f"T entry waits {T_WAIT:g} s"
    return _decide(plan, digits, digits, state, timer, why, log)


DIALECT = Dialect(
    name="grandstream",
    compile=compile_plan,
    run=run,
    option_names=("P85", "P66", "P72"),
    vectors=Path(__file__).with_name("dialplan_vectors.yaml"),
)
