"""Grandstream GXP/GRP dial plans (syntax ``grandstream``; ``P290`` account 1, ``P459``
account 2), a front end on fleet's dial-plan automaton. Semantics, with sources:
docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from fleet.dialplan.automaton import DIGITS, Atom, Automaton, Charset
from fleet.dialplan.dialect import Dialect, Log, names, number
from fleet.dialplan.outcome import Outcome
from fleet.errors import DialPlanError

DEFAULT_TIMEOUT = 4.0  # P85 "No Key Entry Timeout", default 4 s (config template, HT70x guide)
T_WAIT = 3.0  # "Flag T ... the phone will wait for 3 seconds before dialing out" (GRP2600 guide)
MAX_PLAN = 1024
ANY_CHAR = frozenset(string.digits + string.ascii_letters)
KEYS = frozenset(string.digits + "*#ABCDabcd")  # "Accepted Digits" in the guides
DIAL_KEYS = {"1": "#", "2": "*"}  # P72: 0 disabled, 1 pound, 2 star
SETS = Charset(escapes=True, bad_range="bad range [{lo}-{hi}]", empty="empty [ ]")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


@dataclass(slots=True, eq=False)
class Entry:
    text: str
    atoms: list[Atom] = field(default_factory=list)  # "c+" is c then c repeated: one or more
    emit: list[bool] = field(default_factory=list)  # per atom: False for a <a=b>'s keyed side
    insert: list[str] = field(default_factory=list)  # per atom: sent before the key it takes
    tail: str = ""  # inserted text waiting for the next key; at the end, appended
    block: bool = False
    wait_t: bool = False
    repeatable: bool = False

    def sent(self, path: tuple[int, ...], keys: str) -> str:
        out = [
            self.insert[a] + (k if self.emit[a] else "") for k, a in zip(keys, path, strict=True)
        ]
        return "".join(out) + self.tail

    def add(self, chars: frozenset[str], emit: bool = True, insert: str = "") -> None:
        self.atoms.append(Atom(chars))
        self.emit.append(emit)
        self.insert.append(self.tail + insert)
        self.tail, self.repeatable = "", True


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
        if text[i] == close:
            return i
        i += 2 if text[i] == "\\" else 1
    raise DialPlanError(f"{text[start - 1]!r} without {close!r}")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def _read(e: Entry, body: str, problems: list[str]) -> int:
    """Reads the element at the start of ``body`` into ``e``; how many characters it took."""
    ch = body[0]
    if ch == "\\":
        if len(body) < 2:
            raise DialPlanError("a trailing \\ escapes nothing")
        e.add(frozenset(body[1]))
        return 2
    if ch == "[":
        end = _closing(body, 1, "]")
        e.add(SETS.parse(body[1:end]))
        return end + 1
    if ch == "<":
        return _rewrite(e, body)
    if ch in "+.":
        if not e.repeatable:
            raise DialPlanError(f"{ch!r} repeats nothing")
        e.atoms.append(Atom(e.atoms[-1].chars, repeat=True, lazy=True))
        e.emit.append(e.emit[-1])
        e.insert.append("")
        e.repeatable = False
    elif ch in "^T]>":
        raise DialPlanError(f"unexpected {ch!r}")
    elif ch != ",":  # "," is second dial tone: heard, neither matched nor sent
        if ch not in KEYS and ch not in "xX":
            problems.append(f"entry {e.text!r}: unescaped {ch!r} (write \\{ch}); read literally")
        e.add(DIGITS if ch == "x" else ANY_CHAR if ch == "X" else frozenset(ch))
    return 1


def _rewrite(e: Entry, body: str) -> int:
    end = _closing(body, 1, ">")
    left, eq, right = body[1:end].partition("=")
    if not eq:
        raise DialPlanError(f"rewrite <{left}> has no '='")
    if any(c in "x[]X" for c in left.replace("\\x", "")):
        raise DialPlanError(f"rewrite <{left}={right}> replaces a pattern, not digits")
    if keyed := _unescape(left):
        e.add(frozenset(keyed[0]), emit=False, insert=_unescape(right))
        for c in keyed[1:]:
            e.add(frozenset(c), emit=False)
    else:
        e.tail += _unescape(right)
    return end + 1


def parse_entry(raw: str, problems: list[str]) -> Entry | None:
    if not (text := "".join(raw.split())):
        return None
    e = Entry(text, block=text.startswith("^"))
    body = text[1:] if e.block else text
    e.wait_t = body.endswith("T") and not body.endswith("\\T")
    body = body[:-1] if e.wait_t else body
    i = 0
    while i < len(body):
        i += _read(e, body[i:], problems)
    if not e.atoms:
        raise DialPlanError("matches no digits")
    return e


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
        if entry is not None:
            entries.append(entry)
        elif len(parts) > 1:
            problems.append("empty entry between '|'")
    if not entries:
        problems.append("the plan has no usable entry: no number passes it")
    bad = "{key} = {raw!r} is not a number of seconds; default {default:g}"
    timeout = number(
        opts, "P85", DEFAULT_TIMEOUT, problems, bad, "{key} = {raw} is outside 1-15 s!", 1, 15
    )
    dial_key = DIAL_KEYS.get(opts.get("P72", "1").strip())
    nfa = Automaton([e.atoms for e in entries])
    return Plan(
        tuple(entries), tuple(problems), timeout, opts.get("P66", "").strip(), dial_key, nfa
    )


def _names(plan: Plan, which: tuple[int, ...]) -> str:
    return names([plan.entries[k].text for k in which])


def _sent(plan: Plan, k: int, keyed: str) -> str:
    return plan.entries[k].sent(plan.nfa.trace(k, keyed) or (), keyed)


def _decide(plan: Plan, keyed: str, state: int, delay: float | None, why: str, log: Log) -> Outcome:
    """The number as keyed so far goes; ``delay`` None: at once, not on a timer."""
    done = plan.nfa.info(state)[0]
    # A ^ entry that would send nothing (``^<9=>``) has never blocked: kept as the phone
    # model always read it (docs/dialplan.md, open questions).
    if blocked := [k for k in done if plan.entries[k].block and _sent(plan, k, keyed)]:
        e = plan.entries[blocked[0]]
        log(lambda: f"{why}: {keyed} is excluded by ^ entry {e.text}: blocked")
        return log.done("block", matched=e.text)
    if not (dials := [k for k in done if not plan.entries[k].block]):
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
            return _decide(plan, digits[:k], state, None, f"{ch} is the dial key (P72)", log)
        keyed = digits[: k + 1]
        state = nfa.step(state, ch)
        done, growing, _ = nfa.info(state)
        if log.loud:
            log(f"{keyed}: complete {_names(plan, done)}; could grow {_names(plan, growing)}")
        if not done and not growing:
            log(lambda keyed: f"{keyed}: no entry can match any more: not dialled", keyed)
            return log.done("no-match")
        if done and not growing and not any(plan.entries[i].wait_t for i in done):
            rest = f" ({digits[k + 1 :]} keyed after that is not part of the number)"
            why = "nothing can extend it, dialled at once" + (rest if digits[k + 1 :] else "")
            return _decide(plan, keyed, state, None, why, log)
    if not digits:
        log("no digits keyed")
        return log.done("wait")
    if nfa.info(state)[1]:
        timer, why = plan.timeout, f"no key for {plan.timeout:g} s (No Key Entry Timeout P85)"
    else:
        timer, why = T_WAIT, f"T entry waits {T_WAIT:g} s"
    return _decide(plan, digits, state, timer, why, log)


DIALECT = Dialect("grandstream", compile_plan, run, ("P85", "P66", "P72"))
