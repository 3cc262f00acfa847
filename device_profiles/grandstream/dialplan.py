"""Grandstream GXP/GRP dial plans (syntax ``grandstream``; ``P290`` account 1, ``P459``
account 2), a front end on fleet's dial-plan automaton. Semantics, with sources:
docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from fleet.dialplan.automaton import Automaton
from fleet.dialplan.dialect import Dialect, Log, names, number, read_entries
from fleet.dialplan.outcome import Outcome
from fleet.dialplan.reader import Charset, Reader, send
from fleet.errors import DialPlanError

DEFAULT_TIMEOUT = 4.0  # P85 "No Key Entry Timeout", default 4 s (config template, HT70x guide)
T_WAIT = 3.0  # "Flag T ... the phone will wait for 3 seconds before dialing out" (GRP2600 guide)
MAX_PLAN = 1024
ANY_CHAR = frozenset(string.digits + string.ascii_letters)
KEYS = frozenset(string.digits + "*#ABCDabcd")  # "Accepted Digits" in the guides
DIAL_KEYS = {"1": "#", "2": "*"}  # P72: 0 disabled, 1 pound, 2 star
SETS = Charset(escapes=True, bad_range="bad range [{lo}-{hi}]", empty="empty [ ]")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class Entry(Reader):
    """One entry: "c+" (or "c.") is c then c repeated, one or more; ``<a=b>`` is a segment,
    its keys ``a`` sent as ``b``; a character the guides do not list is read literally."""

    keys, sets = KEYS, SETS
    nothing, more, lazy, again = "{c!r} repeats nothing", True, True, False

    def __init__(self, text: str, problems: list[str]) -> None:
        super().__init__(text)
        self.problems = problems
        self.block = text.startswith("^")
        body = text[1:] if self.block else text
        self.wait_t = body.endswith("T") and not body.endswith("\\T")

    def sent(self, path: tuple[int, ...], keys: str) -> str:
        return send(path, keys, self.segment, self.replace)

    def closing(self, i: int, close: str) -> int:
        start = i
        while i < self.end:
            if self.text[i] == close:
                return i
            i += 2 if self.text[i] == "\\" else 1
        raise DialPlanError(f"{self.text[start - 1]!r} without {close!r}")

    def other(self, c: str, i: int) -> int:
        if c == "\\":
            if i >= self.end:
                raise DialPlanError("a trailing \\ escapes nothing")
            self.add(frozenset(self.text[i]))
            return i + 1
        if c == "<":
            return self.rewritten(i)
        if c == "+":
            self.repeat(c)
        elif c in "^T]>":
            raise DialPlanError(f"unexpected {c!r}")
        elif c != ",":  # "," is second dial tone: heard, neither matched nor sent
            if c != "X":
                self.problems.append(
                    f"entry {self.text!r}: unescaped {c!r} (write \\{c}); read literally"
                )
            self.add(ANY_CHAR if c == "X" else frozenset(c))
        return i

    def rewritten(self, i: int) -> int:
        end = self.closing(i, ">")
        left, eq, right = self.text[i:end].partition("=")
        if not eq:
            raise DialPlanError(f"rewrite <{left}> has no '='")
        if any(c in "x[]X" for c in left.replace("\\x", "")):
            raise DialPlanError(f"rewrite <{left}={right}> replaces a pattern, not digits")
        self.rewrite(_unescape(right))
        for c in _unescape(left):
            self.add(frozenset(c))
        self.rewrite(None)
        return end + 1


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


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def parse_entry(raw: str, problems: list[str]) -> Entry | None:
    if not (text := "".join(raw.split())):
        return None
    e = Entry(text, problems)
    e.read(int(e.block), len(text) - e.wait_t)
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
    parts = [raw.strip() for raw in _split(_body(text, problems))]

    def entry(raw: str, _: int) -> Entry | None:
        if (got := parse_entry(raw, problems)) is None and len(parts) > 1:
            problems.append("empty entry between '|'")
        return got

    entries = read_entries(parts, entry, problems, "entry {text!r} ignored: {why}")
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
    nfa, state, es = plan.nfa, plan.nfa.start, plan.entries
    for k, ch in enumerate(digits):
        if plan.dial_key and ch == plan.dial_key and k:
            return _decide(plan, digits[:k], state, None, f"{ch} is the dial key (P72)", log)
        keyed = digits[: k + 1]
        state = nfa.step(state, ch)
        done, growing, _ = nfa.info(state)
        if log.loud:
            log(f"{keyed}: complete {names(es, done)}; could grow {names(es, growing)}")
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
