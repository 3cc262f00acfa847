"""Cisco SPA / MPP dial plans (syntax ``cisco``), a front end on fleet's dial-plan automaton:
evaluated digit by digit the way the phone collects them, the most specific complete entry
deciding. Semantics, with sources: docs/dialplan.md, "How each phone reads its plan"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fleet.dialplan.automaton import DIGITS, Automaton
from fleet.dialplan.dialect import Dialect, Log, names, number, read_entries
from fleet.dialplan.outcome import Outcome
from fleet.dialplan.reader import Charset, Reader, send
from fleet.errors import DialPlanError

SHORT = "Interdigit_Short_Timer"
LONG = "Interdigit_Long_Timer"
DEFAULT_SHORT_S = 3.0  # Interdigit_Short_Timer default (SPA/MPP admin guides)
DEFAULT_LONG_S = 10.0  # Interdigit_Long_Timer default
BARE_TIMER_S = 5.0  # "if no number is entered after S/L/P, the default timer of 5 seconds"
KEYS = frozenset("0123456789*#")
SETS = Charset(
    allowed=KEYS,
    x="xX",
    spaces=True,
    bad_char="{c!r} is not a key in [{body}]",
    empty="empty '[ ]' set",
)
PAUSE = frozenset[str]()  # no key passes a pause; only waiting does
_MASTER = re.compile(r"\s*([LSls])\s*:\s*(\d*(?:\.\d+)?)\s*,")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class Entry(Reader):
    """One sequence read left to right; a ``<dialled:sent>`` is a segment sent as its digits,
    its dialled side read with the sequence's own elements."""

    keys, x, sets, again = KEYS, "xX", SETS, False
    unclosed, nothing = "'[' is never closed", "'.' has no element to repeat"

    def __init__(self, text: str, index: int) -> None:
        super().__init__(text)
        self.index = index
        self.pauses: dict[int, float] = {}  # atom position -> Pn seconds
        self.longs: list[tuple[int, float]] = []  # (position, Ln)
        self.tones: list[int] = []  # positions of ',' (outside dial tone)
        self.notes: list[str] = []
        self.short: float | None = None  # last Sn in the sequence
        self.barred = False
        self.route: str | None = None  # the gateway of the last <..:..@gw>
        self.sub = self.timer_mid = False

    def element(self, c: str, i: int) -> int:
        if c.isspace():
            return i
        if self.barred:
            raise DialPlanError("'!' must end the sequence")
        if self.timer_mid and (c in KEYS or c in "xX[<"):
            self.notes.append(
                f"entry {self.text!r}: a timer inside it is followed by more keys (a missing '|'?)"
            )
            self.timer_mid = False
        return super().element(c, i)

    def other(self, c: str, i: int) -> int:
        if c == "<":
            return self.rewritten(i)
        if c == "!":
            self.barred = True
            return i
        if c == ",":
            self.tones.append(len(self.atoms))
        elif c in "SsLlPp" and not self.sub:
            i = self.timer(c, i)
        elif c in ">()":
            raise DialPlanError("'>' without '<'" if c == ">" else f"stray {c!r}")
        else:
            super().other(c, i)
        self.can_repeat = False
        return i

    def rewritten(self, i: int) -> int:
        s = self.text
        if self.sub:
            raise DialPlanError("'<' inside '< >'")
        if (close := s.find(">", i)) < 0:
            raise DialPlanError("'<' is never closed with '>'")
        if (colon := s.find(":", i, close)) < 0:
            raise DialPlanError(
                f"'{s[i - 1 : close + 1]}' has no ':' between dialled and sent digits"
            )
        digits, at, where = "".join(s[colon + 1 : close].split()).partition("@")
        if at:
            self.route = where.split(";")[0] or None
        self.rewrite(digits)
        self.sub, self.can_repeat = True, False
        self.read(i, colon)
        if self.barred:
            raise DialPlanError("'!' must end the sequence")
        self.rewrite(None)
        self.sub, self.can_repeat = False, False
        return close + 1

    def timer(self, c: str, i: int) -> int:
        if self.text[i : i + 1] == ":":
            raise DialPlanError(f"master override '{c}:' inside the parentheses")
        m = _NUMBER.match(self.text, i)
        value = float(m.group()) if m else BARE_TIMER_S
        if (kind := c.upper()) == "S":
            self.short = value
        elif kind == "L":
            self.longs.append((len(self.atoms), value))
        else:
            self.pauses[len(self.atoms)] = value
            self.add(PAUSE, silent=True)
        # A timer after keys and before more keys is legal but is how a lost '|' reads.
        self.timer_mid = kind != "P" and bool(self.atoms)
        return m.end() if m else i


def _entry(text: str, index: int, problems: list[str]) -> Entry:
    e = Entry(text, index)
    e.read()
    if not e.atoms and len(e.replace) == 1:
        e.notes.append(f"entry {index + 1} is empty")
    problems.extend(e.notes)
    return e


@dataclass(slots=True, eq=False)
class Plan:
    entries: tuple[Entry, ...]
    short: float
    long: float
    problems: tuple[str, ...]
    nfa: Automaton
    longs: dict[int, float] = field(default_factory=dict)  # memo: state -> long timer
    sets: dict[int, tuple[list[Entry], list[Entry]]] = field(default_factory=dict)  # memo


def _leading(raw: str) -> float:
    if m := _NUMBER.match(raw):
        return float(m.group())
    raise ValueError(raw)


def _body(text: str, problems: list[str]) -> tuple[str, dict[str, float]]:
    """The sequences between the parentheses, and the master S: / L: overrides before them."""
    masters, pos = {}, 0
    while m := _MASTER.match(text, pos):
        masters[m.group(1).upper()] = float(m.group(2)) if m.group(2) else BARE_TIMER_S
        pos = m.end()
    body = text[pos:].strip()
    if not body:
        problems.append("the dial plan is empty: no number can be dialled")
    elif body[0] != "(":
        problems.append("the dial plan does not start with '(': read as if it did")
    else:
        body = body[1:]
    if body and (close := body.rfind(")")) < 0:
        problems.append("the dial plan's '(' is never closed: read to the end")
    elif body:
        if body[close + 1 :].strip():
            problems.append(f"text after the closing ')' is ignored: {body[close + 1 :]!r}")
        body = body[:close]
    return body, masters


def compile_plan(text: str, opts: dict[str, str]) -> Plan:
    problems: list[str] = []
    bad = "{key}={raw!r} is not a number of seconds; default {default:g} s used"
    short = number(opts, SHORT, DEFAULT_SHORT_S, problems, bad, parse=_leading)
    long = number(opts, LONG, DEFAULT_LONG_S, problems, bad, parse=_leading)
    body, masters = _body(text, problems)
    entries: list[Entry] = []
    texts = [raw.strip() for raw in body.split("|")] if body.strip() else []
    dropped = "entry {text!r} is ignored: {why}"
    read_entries(texts, lambda t, _: _entry(t, len(entries), problems), problems, dropped, entries)
    nfa = Automaton([e.atoms for e in entries])
    return Plan(
        tuple(entries), masters.get("S", short), masters.get("L", long), tuple(problems), nfa
    )


@dataclass(slots=True, frozen=True)
class _Match:
    entry: Entry
    score: tuple[int, int, int, int, int]  # the most specific: more literal keys, narrower sets
    sent: str
    route: str | None


def _match(plan: Plan, entry: Entry, dialled: str) -> _Match | None:
    if (path := plan.nfa.trace(entry.index, dialled)) is None:
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
    score = (literal, narrow, wide, -repeated, -entry.index)
    return _Match(entry, score, send(path, dialled, entry.segment, entry.replace), entry.route)


def _best(plan: Plan, entries: list[Entry], dialled: str) -> _Match | None:
    best = None
    for e in entries:
        if (m := _match(plan, e, dialled)) is not None and (best is None or m.score > best.score):
            best = m
    return best


def _short_timer(plan: Plan, m: _Match | None) -> float:
    return m.entry.short if m is not None and m.entry.short is not None else plan.short


def _long_timer(plan: Plan, state: int) -> float:
    # One timer runs for all incomplete candidates; the longest wins so that one entry's L0
    # cannot cut another short (the manuals do not say which applies).
    if (got := plan.longs.get(state)) is not None:
        return got
    best: float | None = None
    for k in plan.nfa.info(state)[1]:
        here = plan.nfa.local(state, k)
        here = (here & ~(1 << len(plan.entries[k].atoms))).bit_length() - 1
        value = plan.long
        for pos, v in plan.entries[k].longs:
            value = v if pos <= here else value
        best = value if best is None else max(best, value)
    plan.longs[state] = got = plan.long if best is None else best
    return got


def _sets(plan: Plan, state: int) -> tuple[list[Entry], list[Entry]]:
    """(complete, could take more) entries of a state, memoised with the plan's steps."""
    if (got := plan.sets.get(state)) is None:
        done, open_, _ = plan.nfa.info(state)
        got = ([plan.entries[k] for k in done], [plan.entries[k] for k in open_])
        plan.sets[state] = got
    return got


def _decide(
    plan: Plan, digits: str, dialled: str, complete: list[Entry], log: Log, delay: float, why: str
) -> Outcome:
    m = _best(plan, complete, dialled)
    assert m is not None  # the NFA said complete, so a path exists
    e = m.entry
    if len(complete) > 1:
        log(lambda: f"{len(complete)} complete ({names(complete)}): {e.text!r} most specific")
    if e.barred:
        log(lambda: f"{why}: {e.text!r} bars {dialled!r} ('!'): rejected")
        return log.done("block", matched=e.text)
    for pos in e.tones:
        log(lambda pos: f"  (',' in {e.text!r}: outside dial tone after element {pos})", pos)
    log(lambda: f"{why}: {e.text!r} sends {m.sent!r}" + (f" to {m.route}" if m.route else ""))
    if len(dialled) < len(digits):
        log(lambda: f"keys {digits[len(dialled) :]!r} come after the call was placed: ignored")
    return log.done("dial", sent=m.sent, matched=e.text, route=m.route, delay=delay)


def _reject(log: Log, why: str) -> Outcome:
    log(why)
    return log.done("no-match")


def _after_key(plan: Plan, state: int, digits: str, dialled: str, log: Log) -> Outcome | None:
    """The decision the phone takes the moment a key is in, if any (else the timer runs)."""
    complete, alive = _sets(plan, state)
    head = f"key {dialled[-1]!r} ({dialled})" if log.loud else ""
    if not complete and not alive:
        return _reject(log, f"{head}: no entry can match: rejected (reorder)")
    if complete and not alive:
        log(lambda: f"{head}: complete {names(complete)}; no entry could take more")
        return _decide(plan, digits, dialled, complete, log, 0.0, "at once")
    t = _short_timer(plan, _best(plan, complete, dialled)) if complete else _long_timer(plan, state)
    if log.loud:
        timer = f"{'short' if complete else 'long'} timer {t:g} s"
        log(f"{head}: complete {names(complete)}; could go on {names(alive)}: {timer}")
    if t == 0 and complete:
        return _decide(plan, digits, dialled, complete, log, 0.0, "S0: at once")
    return _reject(log, "long timer 0 s expired: rejected (reorder)") if t == 0 else None


def _timers(plan: Plan, state: int, digits: str, log: Log) -> Outcome:
    """The user waits and presses nothing: the running timer (or a pause Pn) decides."""
    complete, alive = _sets(plan, state)
    m = _best(plan, complete, digits) if complete else None
    timer = _short_timer(plan, m) if m else _long_timer(plan, state)
    # Entries waiting on a pause Pn complete once the user has waited n seconds.
    paused = []
    for k in plan.nfa.info(state)[1]:
        e, mask = plan.entries[k], plan.nfa.local(state, k)
        for i, seconds in e.pauses.items():
            if mask >> i & 1 and all(a.repeat for a in e.atoms[i + 1 :]):
                paused.append((seconds, e.index, e))
    paused.sort(key=lambda t: t[:2])
    if paused and paused[0][0] < timer:
        t, _, entry = paused[0]
        return _decide(plan, digits, digits, [*complete, entry], log, t, f"pause {t:g} s done")
    if complete:
        why = f"short timer {timer:g} s expires"
        return _decide(plan, digits, digits, complete, log, timer, why)
    if not alive:
        return _reject(log, "no entry in the plan: rejected (reorder)")
    return _reject(
        log, f"long timer {timer:g} s expires with no complete entry: rejected (reorder)"
    )


def run(plan: Plan, digits: str, log: Log) -> Outcome:
    log(lambda: f"plan: {len(plan.entries)} entries; timers S {plan.short:g} s, L {plan.long:g} s")
    for p in plan.problems:
        log(f"problem: {p}")
    nfa, state = plan.nfa, plan.nfa.start
    complete, alive = _sets(plan, state)
    # A hot line: an entry complete with nothing dialled may fire before any key.
    if complete and (not alive or _short_timer(plan, _best(plan, complete, "")) == 0):
        log(lambda: f"off hook: complete {names(complete)} with no key pressed")
        return _decide(plan, digits, "", complete, log, 0.0, "hot line")
    for k, key in enumerate(digits):
        nxt = nfa.step(state, key)
        if key == "#" and not nxt:
            if complete := _sets(plan, state)[0]:
                return _decide(plan, digits, digits[:k], complete, log, 0.0, "'#' sends")
            return _reject(log, "'#' with no complete entry: rejected (reorder)")
        state = nxt
        if (done := _after_key(plan, state, digits, digits[: k + 1], log)) is not None:
            return done
    return _timers(plan, state, digits, log)


DIALECT = Dialect("cisco", compile_plan, run, (SHORT, LONG))
