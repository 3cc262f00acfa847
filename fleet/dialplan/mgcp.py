"""Poly UC Software digit maps (syntax ``mgcp``): RFC 3435 §2.1.5 with Poly's ``T`` timers and
``R..R..R``, a front end on the shared automaton; its entries are also Yealink's digit map.
How the phone reads a plan, with sources: docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleet.dialplan.automaton import Atom, Automaton
from fleet.dialplan.dialect import Dialect, Log, choice, names, read_entries, timer_list
from fleet.dialplan.outcome import Outcome
from fleet.dialplan.reader import Charset, Reader, send
from fleet.errors import DialPlanError
from fleet.model import DialPlan

TIMEOUT = "dialplan.digitmap.timeOut"
IMPOSSIBLE = "dialplan.impossibleMatchHandling"
REMOVE_END = "dialplan.removeEndOfDial"
OPTION_NAMES = (TIMEOUT, IMPOSSIBLE, REMOVE_END)
DEFAULT_TIMEOUT = 3.0  # s, for every entry the timeOut list does not reach (admin guide)
LITERALS = frozenset("0123456789*#+")
TIMER = "timer"  # the event fed to the entries when a T runs out; no key produces it
SETS = Charset(allowed=LITERALS)
WHITE = "white space inside the entry (ignored here; how Poly reads it is undocumented)"
IMPOSSIBLE_SAYS = {"0": "sent at once", "1": "reorder tone", "2": "wait for Send"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One parsed entry: its atoms, the R..R..R segment of each, each segment's replacement."""

    atoms: tuple[Atom, ...]
    segment: tuple[int, ...]  # per atom
    replace: tuple[str | None, ...]  # per segment: the R replacement, None keeps the digits
    h323: bool  # "H": only a VVX 1500 completes it
    notes: tuple[str, ...] = ()  # what was tolerated
    text: str = ""
    index: int = 0  # where it stands in the plan (which picks its timeOut)
    timeout: float = DEFAULT_TIMEOUT


def rewrite(nfa: Automaton, k: int, keys: str, entry: Entry) -> str:
    """What entry k sends for ``keys``: each segment's keys (from the match path), or its R
    replacement; an entry without R sends what was keyed, on any path."""
    if entry.replace == (None,) or (path := nfa.trace(k, keys)) is None:
        return keys  # (no path: a T between digits never holds for digits keyed without pause)
    return send(path, keys, entry.segment, entry.replace)


class _Reader(Reader):
    """RFC 3435's elements, Poly's ``T`` and ``R..R..R`` (its left part a segment)."""

    keys, sets = LITERALS, SETS

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.part, self.right = 0, ""  # part: 0 outside a triplet, 1 its left part, 2 its right

    def element(self, c: str, i: int) -> int:
        if c == "R":
            if self.part == 0:
                self.rewrite("")  # a left part: its own segment, replacement set at its end
            elif self.part == 2:
                self.replace[-1] = self.right
                self.rewrite(None)
            self.part, self.right = (self.part + 1) % 3, ""
        elif self.part == 2:
            if c not in LITERALS:
                raise DialPlanError(f"'{c}' between the 2nd and 3rd R (only *#+0-9 allowed)")
            self.right += c
        else:
            return Reader.element(self, c, i)
        return i

    def other(self, c: str, i: int) -> int:
        if c == "T":
            if self.part == 1:
                raise DialPlanError("T in the left part of R..R..R: the digit map will not work")
            self.add(frozenset((TIMER,)), silent=True)
        elif c in "Xt":
            raise DialPlanError(f"'{c}': Poly's digit-map letters are case-sensitive (x, T)")
        elif c not in ",SH" and not c.isspace():  # second dial tone, the protocol letters
            raise DialPlanError(f"'{c}' is not a digit-map character")
        return i


def parse_entry(text: str, index: int = 0, timeout: float = DEFAULT_TIMEOUT) -> Entry:
    """One entry of a Poly digit map; DialPlanError says why the phone drops it."""
    if text.count("R") % 3:
        raise DialPlanError(
            f"{text.count('R')} R's: not whole R..R..R triplets, so the phone drops the entry"
        )
    r = _Reader(text).read()
    if not r.atoms and all(x is None for x in r.replace):
        raise DialPlanError("nothing to match")
    notes = (WHITE,) if len(text.split()) > 1 else ()  # the plan strips each entry's ends
    return Entry(
        tuple(r.atoms), tuple(r.segment), tuple(r.replace), "H" in text, notes, text, index, timeout
    )


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    has_map: bool
    lines: tuple[Entry, ...]
    nfa: Automaton
    impossible: str
    remove_end: bool
    problems: tuple[str, ...]
    h323: frozenset[int] = frozenset()  # entries only a VVX 1500 completes

    def placed(self, done: tuple[int, ...]) -> tuple[int, ...]:
        """Of the complete entries, those this phone places (most plans have no H)."""
        return tuple(i for i in done if i not in self.h323) if self.h323 else done


def compile_plan(text: str, opts: dict[str, str]) -> Plan:
    problems: list[str] = []
    impossible = choice(
        opts, IMPOSSIBLE, "0", "012", problems, "{key}={raw!r} is not 0, 1 or 2; 0 assumed"
    )
    ends = choice(opts, REMOVE_END, "1", "01", problems, "{key}={raw!r} is not 0 or 1; 1 assumed")
    remove_end = ends == "1"
    body = text.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]  # RFC 3435 writes a list of strings in parentheses
    if not body:
        return Plan(False, (), Automaton(()), impossible, remove_end, tuple(problems))
    bad = f"{TIMEOUT} value {{n}} {{raw!r}} is not a number of seconds; {{default:g}} s assumed"
    times = timer_list(opts.get(TIMEOUT, ""), DEFAULT_TIMEOUT, problems, bad, lo=0)

    def line(text: str, n: int) -> Entry | None:
        if not text:
            return None
        entry = parse_entry(text, n, times[n] if n < len(times) else DEFAULT_TIMEOUT)
        problems.extend(f"entry {n + 1} {text!r}: {note}" for note in entry.notes)
        return entry

    texts = [raw.strip() for raw in body.split("|")]
    lines = read_entries(texts, line, problems, "entry {n} {text!r} is ignored: {why}")
    if not lines:
        problems.append("no valid entry: every digit is an impossible match")
    nfa = Automaton([ln.atoms for ln in lines])
    h323 = frozenset(k for k, ln in enumerate(lines) if ln.h323)
    return Plan(True, tuple(lines), nfa, impossible, remove_end, tuple(problems), h323)


def _out(
    p: Plan,
    log: Log,
    outcome: str,
    sent: str | None = None,
    e: Entry | None = None,
    delay: float | None = None,
) -> Outcome:
    """``delay``: the T timer that placed the call (after_timeout even when it is 0 s)."""
    if sent is not None and p.remove_end and sent.endswith("#"):
        log(lambda: f"removeEndOfDial=1: trailing # stripped from {sent!r}")
        sent = sent[:-1]
    matched = None if e is None else e.text or None  # "": an entry no one wrote
    return log.done(outcome, sent, matched, delay=delay or 0.0, timed=delay is not None)


def _at_once(
    p: Plan, digits: str, k: int, done: tuple[int, ...], live: tuple[int, ...], log: Log
) -> Outcome:
    e = p.lines[done[0]]
    sent = rewrite(p.nfa, done[0], digits[:k], e)
    if log.loud:
        longer = [o for o in live if o not in done]
        why = f"; shortest match wins over {names(p.lines, longer)}" if longer else ""
        tie = (
            f"; also complete: {names(p.lines, done[1:])} (first in the plan wins)"
            if done[1:]
            else ""
        )
        rest = f"; {digits[k:]!r} keyed after it is not part of the call" if k < len(digits) else ""
        log(f"{digits[:k]!r}: {e.text!r} matches -> sends {sent!r} at once{why}{tie}{rest}")
    return _out(p, log, "dial", sent, e)


def run(p: Plan, digits: str, log: Log) -> Outcome:
    for x in p.problems:
        log(f"problem: {x}")
    if not p.has_map or not digits:
        log("no digit map: the phone waits for Send" if digits else "nothing keyed")
        return _out(p, log, "wait")
    nfa, lines = p.nfa, p.lines
    state = nfa.start
    for k, d in enumerate(digits, 1):
        state = nfa.step(state, d)
        done, _, live = nfa.info(state)
        if complete := p.placed(done):
            return _at_once(p, digits, k, complete, live, log)
        if not live:
            if log.loud:
                says = f"impossibleMatchHandling={p.impossible}: {IMPOSSIBLE_SAYS[p.impossible]}"
                log(f"{digits[:k]!r}: no entry can match (impossible match); {says}")
            outcome = {"0": "dial", "1": "no-match"}.get(p.impossible, "wait")
            return _out(p, log, outcome, digits[:k] if outcome == "dial" else None)
        log(lambda k, live: f"{digits[:k]!r}: partial {names(p.lines, live)}", k, live)
    if timed := p.placed(nfa.info(nfa.step(state, TIMER))[0]):
        k = min(timed, key=lambda i: (lines[i].timeout, i))
        e = lines[k]
        sent = rewrite(nfa, k, digits, e)
        if log.loud:
            log(f"the user stops: {e.text!r} completes when its T ({e.timeout:g} s) runs out")
        return _out(p, log, "dial", sent, e, delay=e.timeout)
    if h323 := [i for i in nfa.info(state)[0] if i in p.h323]:
        log(
            lambda: (
                f"{names(p.lines, h323)} ends in H: only a VVX 1500 places it; others wait for Send"
            )
        )
    log(
        "the user stops: no entry completes without more digits and no T applies; "
        "the phone waits for more digits or Send"
    )
    return _out(p, log, "wait")


DIALECT = Dialect(
    name="mgcp",
    compile=compile_plan,
    run=run,
    option_names=OPTION_NAMES,
    vectors=Path(__file__).resolve().parents[2] / "tests" / "dialplan" / "vectors" / "mgcp.yaml",
)


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    """What a Poly phone does when ``digits`` are keyed off-hook and nothing else is pressed."""
    return DIALECT.evaluate(plan, digits)
