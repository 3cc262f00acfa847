"""Cisco SPA / MPP dial plans (syntax ``cisco``), a front end on fleet's dial-plan automaton:
evaluated digit by digit the way the phone collects them, the most specific complete entry
deciding. Semantics, with sources: docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fleet.dialplan.automaton import DIGITS, Atom, Automaton, Charset, span
from fleet.dialplan.dialect import Dialect, Log, names
from fleet.dialplan.outcome import Outcome
from fleet.errors import DialPlanError

SHORT = "Interdigit_Short_Timer"
LONG = "Interdigit_Long_Timer"
DEFAULT_SHORT_S = 3.0  # Interdigit_Short_Timer default (SPA/MPP admin guides)
DEFAULT_LONG_S = 10.0  # Interdigit_Long_Timer default
BARE_TIMER_S = 5.0  # "if no number is entered after S/L/P, the default timer of 5 seconds"
KEYS = frozenset("0123456789*#")
MAX_LISTED = 4  # candidates named per step before "+n more"
SETS = Charset(
    allowed=KEYS, x="xX", bad_char="{c!r} is not a key in [{body}]", empty="empty '[ ]' set"
)
PAUSE = frozenset[str]()  # no key passes a pause; only waiting does

_MASTER = re.compile(r"\s*([LSls])\s*:\s*(\d*(?:\.\d+)?)\s*,")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_END_SUB = "\x00"  # where a <dialed:sent>'s dialled side ends, once spliced into the text


@dataclass(slots=True, frozen=True)
class Entry:
    text: str
    index: int
    atoms: tuple[Atom, ...]
    pauses: dict[int, float]  # atom position -> Pn seconds
    barred: bool
    short: float | None  # last Sn in the sequence
    longs: tuple[tuple[int, float], ...]  # (position, Ln)
    tones: tuple[int, ...]  # positions of ',' (outside dial tone)
    subs: tuple[tuple[int, int, str], ...]  # atoms a..b-1 are replaced by the text
    notes: tuple[str, ...]


@dataclass(slots=True)
class _Reader:
    """One sequence read left to right; the dialled side of ``<a:b>`` is spliced in place."""

    text: str
    s: str = ""
    i: int = 0
    atoms: list[Atom] = field(default_factory=list)
    pauses: dict[int, float] = field(default_factory=dict)
    subs: list[list] = field(default_factory=list)  # [first atom, end atom, replacement]
    longs: list[tuple[int, float]] = field(default_factory=list)
    tones: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    short: float | None = None
    barred: bool = False
    can_repeat: bool = False
    timer_mid: bool = False
    in_sub: int = -1

    def read(self, index: int) -> Entry:
        self.s = self.text
        if _END_SUB in self.text:
            raise DialPlanError("control character in the sequence")
        while self.i < len(self.s):
            c = self.s[self.i]
            if c.isspace():
                self.i += 1
                continue
            if self.barred:
                raise DialPlanError("'!' must end the sequence")
            if self.timer_mid and (c in KEYS or c in "xX[<"):
                self.notes.append(
                    f"entry {self.text!r}: a timer inside it is followed by more keys "
                    "(a missing '|'?)"
                )
                self.timer_mid = False
            self.element(c)
        if not self.atoms and not self.subs:
            self.notes.append(f"entry {index + 1} is empty")
        return Entry(
            self.text,
            index,
            tuple(self.atoms),
            self.pauses,
            self.barred,
            self.short,
            tuple(self.longs),
            tuple(self.tones),
            tuple((a, b, r) for a, b, r in self.subs),
            tuple(self.notes),
        )

    def element(self, c: str) -> None:
        if c in KEYS or c in "xX":
            self.key(DIGITS if c in "xX" else frozenset(c), self.i + 1)
        elif c == "[":
            end = self.s.find("]", self.i)
            if end < 0:
                raise DialPlanError("'[' is never closed")
            self.key(SETS.parse("".join(self.s[self.i + 1 : end].split())), end + 1)
        elif c == ".":
            if not self.can_repeat:
                raise DialPlanError("'.' has no element to repeat")
            self.atoms[-1] = Atom(self.atoms[-1].chars, repeat=True)
            self.mark(self.i + 1)
        elif c == "<":
            self.open_sub()
        elif c == _END_SUB:
            self.subs[self.in_sub][1] = len(self.atoms)
            self.in_sub = -1
            self.mark(self.i + 1)
        elif c == ",":
            self.tones.append(len(self.atoms))
            self.mark(self.i + 1)
        elif c == "!":
            self.barred = True
            self.i += 1
        elif c in "SsLlPp" and self.in_sub < 0:
            self.timer(c.upper())
        else:
            raise DialPlanError(_unreadable(c))

    def key(self, keys: frozenset[str], after: int) -> None:
        self.atoms.append(Atom(keys))
        self.can_repeat = True
        self.i = after

    def mark(self, after: int) -> None:
        self.can_repeat = False
        self.i = after

    def open_sub(self) -> None:
        s, i = self.s, self.i
        if self.in_sub >= 0:
            raise DialPlanError("'<' inside '< >'")
        close = s.find(">", i)
        if close < 0:
            raise DialPlanError("'<' is never closed with '>'")
        colon = s.find(":", i, close)
        if colon < 0:
            raise DialPlanError(f"'{s[i : close + 1]}' has no ':' between dialled and sent digits")
        self.subs.append([len(self.atoms), len(self.atoms), "".join(s[colon + 1 : close].split())])
        self.in_sub = len(self.subs) - 1
        # The dialled side uses the same element syntax as the sequence itself.
        self.s = s[:i] + s[i + 1 : colon] + _END_SUB + s[close + 1 :]
        self.can_repeat = False

    def timer(self, kind: str) -> None:
        if self.s[self.i + 1 : self.i + 2] == ":":
            raise DialPlanError(f"master override '{self.s[self.i]}:' inside the parentheses")
        m = _NUMBER.match(self.s, self.i + 1)
        value = float(m.group()) if m else BARE_TIMER_S
        if kind == "S":
            self.short = value
        elif kind == "L":
            self.longs.append((len(self.atoms), value))
        else:
            self.pauses[len(self.atoms)] = value
            self.atoms.append(Atom(PAUSE, silent=True))
        # A timer after keys and before more keys is legal but is how a lost '|' reads.
        self.timer_mid = kind != "P" and bool(self.atoms)
        self.mark(m.end() if m else self.i + 1)


def _unreadable(c: str) -> str:
    if c == ">":
        return "'>' without '<'"
    if c in "()":
        return f"stray {c!r}"
    return f"{c!r} is not dial-plan syntax"


@dataclass(slots=True, eq=False)
class Plan:
    entries: tuple[Entry, ...]
    short: float
    long: float
    problems: tuple[str, ...]
    nfa: Automaton
    longs: dict[int, float] = field(default_factory=dict)  # memo: state -> long timer
    sets: dict[int, tuple[list[Entry], list[Entry]]] = field(default_factory=dict)  # memo


def _seconds(options: dict[str, str], key: str, default: float, problems: list[str]) -> float:
    raw = options.get(key, "").strip()
    if not raw:
        return default
    m = _NUMBER.match(raw)
    if not m:
        problems.append(f"{key}={raw!r} is not a number of seconds; default {default:g} s used")
        return default
    return float(m.group())


def _body(text: str, problems: list[str]) -> tuple[str, float | None, float | None]:
    """The sequences between the parentheses, and the master S: / L: overrides before them."""
    short = long = None
    pos = 0
    while m := _MASTER.match(text, pos):
        value = float(m.group(2)) if m.group(2) else BARE_TIMER_S
        if m.group(1).upper() == "S":
            short = value
        else:
            long = value
        pos = m.end()
    body = text[pos:].strip()
    if not body:
        problems.append("the dial plan is empty: no number can be dialled")
    elif body[0] != "(":
        problems.append("the dial plan does not start with '(': read as if it did")
    else:
        body = body[1:]
    if body:
        close = body.rfind(")")
        if close < 0:
            problems.append("the dial plan's '(' is never closed: read to the end")
        else:
            if body[close + 1 :].strip():
                problems.append(f"text after the closing ')' is ignored: {body[close + 1 :]!r}")
            body = body[:close]
    return body, short, long


def compile_plan(text: str, opts: dict[str, str]) -> Plan:
    problems: list[str] = []
    short = _seconds(opts, SHORT, DEFAULT_SHORT_S, problems)
    long = _seconds(opts, LONG, DEFAULT_LONG_S, problems)
    body, master_short, master_long = _body(text, problems)
    entries: list[Entry] = []
    for raw in body.split("|") if body.strip() else []:
        try:
            entry = _Reader(raw.strip()).read(len(entries))
        except DialPlanError as e:
            problems.append(f"entry {raw.strip()!r} is ignored: {e}")
            continue
        problems.extend(entry.notes)
        entries.append(entry)
    return Plan(
        tuple(entries),
        short if master_short is None else master_short,
        long if master_long is None else master_long,
        tuple(problems),
        Automaton([e.atoms for e in entries]),
    )


# ---------------------------------------------------------------- matching


@dataclass(slots=True, frozen=True)
class _Match:
    entry: Entry
    score: tuple[int, int, int, int]
    sent: str
    route: str | None


def _match(plan: Plan, entry: Entry, dialled: str) -> _Match | None:
    path = plan.nfa.trace(entry.index, dialled)
    if path is None:
        return None
    literal = narrow = wide = repeated = 0
    for atom in path:
        a = entry.atoms[atom]
        if a.repeat:
            repeated += 1
        elif len(a.chars) == 1:
            literal += 1
        elif a.chars >= DIGITS:
            wide += 1
        else:
            narrow += 1
    # Rewrites: a dialled part is replaced by its text; an empty one is inserted in place.
    sent, cursor, route = [], 0, None
    for lo, hi, repl in entry.subs:
        start, end = span(path, lo, hi)
        digits, at, where = repl.partition("@")
        if at:
            route = where.split(";")[0] or None
        sent += [dialled[cursor:start], digits]
        cursor = max(cursor, end)
    sent.append(dialled[cursor:])
    return _Match(entry, (literal, narrow, wide, -repeated), "".join(sent), route)


def _best(plan: Plan, entries: list[Entry], dialled: str) -> _Match | None:
    best: _Match | None = None
    for e in entries:
        got = _match(plan, e, dialled)
        if got is not None and (
            best is None or (got.score, -e.index) > (best.score, -best.entry.index)
        ):
            best = got
    return best


def _short_timer(plan: Plan, m: _Match | None) -> float:
    return m.entry.short if m is not None and m.entry.short is not None else plan.short


def _long_timer(plan: Plan, state: int) -> float:
    # One timer runs for all incomplete candidates; the longest wins so that one entry's L0
    # cannot cut another short (the manuals do not say which applies).
    got = plan.longs.get(state)
    if got is not None:
        return got
    best: float | None = None
    for k in plan.nfa.info(state)[1]:
        e = plan.entries[k]
        here = plan.nfa.local(state, k).bit_length() - 1
        if here == len(e.atoms):
            here = (plan.nfa.local(state, k) & ~(1 << here)).bit_length() - 1
        value = plan.long
        for pos, v in e.longs:
            if pos <= here:
                value = v
        best = value if best is None else max(best, value)
    plan.longs[state] = got = plan.long if best is None else best
    return got


def _sets(plan: Plan, state: int) -> tuple[list[Entry], list[Entry]]:
    """(complete, could take more) entries of a state, memoised with the plan's steps."""
    got = plan.sets.get(state)
    if got is None:
        done, open_, _ = plan.nfa.info(state)
        got = ([plan.entries[k] for k in done], [plan.entries[k] for k in open_])
        plan.sets[state] = got
    return got


def _names(entries: list[Entry]) -> str:
    return names([e.text for e in entries], MAX_LISTED, none="none")


def _decide(
    plan: Plan,
    digits: str,
    dialled: str,
    complete: list[Entry],
    log: Log,
    delay: float,
    why: str,
) -> Outcome:
    m = _best(plan, complete, dialled)
    if m is None:  # pragma: no cover - the NFA said complete, so a path exists
        log(lambda: f"{why}: no entry matches {dialled!r}: rejected (reorder)")
        return log.done("no-match")
    e = m.entry
    if len(complete) > 1:
        log(
            lambda: (
                f"{len(complete)} entries complete ({_names(complete)}): the most specific, "
                f"{e.text!r}, decides"
            )
        )
    if e.barred:
        log(lambda: f"{why}: {e.text!r} bars {dialled!r} ('!'): rejected")
        return log.done("block", matched=e.text)
    for pos in e.tones:
        log(lambda pos: f"  (',' in {e.text!r}: outside dial tone after element {pos})", pos)
    log(lambda: f"{why}: {e.text!r} sends {m.sent!r}" + (f" to {m.route}" if m.route else ""))
    if len(dialled) < len(digits):
        log(lambda: f"keys {digits[len(dialled) :]!r} come after the call was placed: ignored")
    return log.done("dial", sent=m.sent, matched=e.text, route=m.route, delay=delay)


def _reject(plan: Plan, digits: str, log: Log, why: str) -> Outcome:
    log(why)
    return log.done("no-match")


def _pause_done(plan: Plan, state: int) -> list[tuple[float, Entry]]:
    """Entries waiting on a pause Pn that complete once the user has waited n seconds."""
    out = []
    for k in plan.nfa.info(state)[1]:
        e = plan.entries[k]
        mask = plan.nfa.local(state, k)
        for i, seconds in e.pauses.items():
            if mask >> i & 1 and all(a.repeat for a in e.atoms[i + 1 :]):
                out.append((seconds, e))
    return sorted(out, key=lambda t: (t[0], t[1].index))


def _head(key: str, dialled: str) -> str:
    return f"key {key!r} ({dialled})"


def _after_key(
    plan: Plan, state: int, digits: str, dialled: str, key: str, log: Log
) -> Outcome | None:
    """The decision the phone takes the moment a key is in, if any (else the timer runs)."""
    complete, alive = _sets(plan, state)
    if not complete and not alive:
        log(lambda: f"{_head(key, dialled)}: no entry can match: rejected (reorder)")
        return log.done("no-match")
    if complete and not alive:
        log(lambda: f"{_head(key, dialled)}: complete {_names(complete)}; no entry could take more")
        return _decide(plan, digits, dialled, complete, log, 0.0, "at once")
    if complete:
        t = _short_timer(plan, _best(plan, complete, dialled))
        log(
            lambda: (
                f"{_head(key, dialled)}: complete {_names(complete)}; could go on {_names(alive)}: "
                f"short timer {t:g} s"
            )
        )
        if t == 0:
            return _decide(plan, digits, dialled, complete, log, 0.0, "S0: at once")
        return None
    t = _long_timer(plan, state)
    log(
        lambda: (
            f"{_head(key, dialled)}: none complete; could go on {_names(alive)}: long timer {t:g} s"
        )
    )
    if t == 0:
        return _reject(plan, digits, log, "long timer 0 s expired: rejected (reorder)")
    return None


def _off_hook(plan: Plan, digits: str, log: Log) -> Outcome | None:
    """A hot line: an entry complete with nothing dialled may fire before any key."""
    state = plan.nfa.start
    complete, alive = _sets(plan, state)
    if complete:
        m = _best(plan, complete, "")
        if not alive or (m is not None and _short_timer(plan, m) == 0):
            log(lambda: f"off hook: complete {_names(complete)} with no key pressed")
            return _decide(plan, digits, "", complete, log, 0.0, "hot line")
    return None


def _timers(plan: Plan, state: int, digits: str, log: Log) -> Outcome:
    """The user waits and presses nothing: the running timer (or a pause Pn) decides."""
    complete = _sets(plan, state)[0]
    m = _best(plan, complete, digits) if complete else None
    timer = _short_timer(plan, m) if m else _long_timer(plan, state)
    paused = _pause_done(plan, state)
    if paused and paused[0][0] < timer:
        t, entry = paused[0]
        return _decide(plan, digits, digits, [*complete, entry], log, t, f"pause {t:g} s done")
    if complete:
        return _decide(
            plan, digits, digits, complete, log, timer, f"short timer {timer:g} s expires"
        )
    if not _sets(plan, state)[1]:
        return _reject(plan, digits, log, "no entry in the plan: rejected (reorder)")
    return _reject(
        plan,
        digits,
        log,
        f"long timer {timer:g} s expires with no complete entry: rejected (reorder)",
    )


def run(plan: Plan, digits: str, log: Log) -> Outcome:
    log(
        lambda: (
            f"plan: {len(plan.entries)} entries; short timer {plan.short:g} s, "
            f"long timer {plan.long:g} s"
        )
    )
    for p in plan.problems:
        log(f"problem: {p}")
    hot = _off_hook(plan, digits, log)
    if hot is not None:
        return hot
    nfa, state = plan.nfa, plan.nfa.start
    for k, key in enumerate(digits):
        nxt = nfa.step(state, key)
        if key == "#" and not nxt:
            complete = _sets(plan, state)[0]
            if complete:
                return _decide(plan, digits, digits[:k], complete, log, 0.0, "'#' sends")
            return _reject(plan, digits, log, "'#' with no complete entry: rejected (reorder)")
        state = nxt
        done = _after_key(plan, state, digits, digits[: k + 1], key, log)
        if done is not None:
            return done
    return _timers(plan, state, digits, log)


DIALECT = Dialect(
    name="cisco",
    compile=compile_plan,
    run=run,
    option_names=(SHORT, LONG),
    vectors=Path(__file__).with_name("dialplan_vectors.yaml"),
)
