"""Poly UC Software digit maps: RFC 3435 §2.1.5 syntax with Poly's ``T`` timers and ``R..R..R``.

How the phone reads a plan (sources in device_profiles/polycom/README.md, "Dial plan"):

- Entries are separated by ``|``. Inside one: ``0-9 * # +`` literals, ``x`` any digit 0-9,
  ``[..]`` a set with ``a-b`` ranges, ``.`` zero or more of the preceding construct, ``T`` the
  timer expiring, ``,`` second dial tone (ignored for matching), ``S`` (SIP, a no-op here) and
  ``H`` (H.323: only a VVX 1500 completes such an entry, every other phone waits for Send).
  Poly's letters are case-sensitive: ``X`` or ``t`` are not ``x`` or ``T``.
- ``R<left>R<right>R`` replaces the digits matched by ``left`` with the literal ``right``
  (only ``*#+0-9``). An entry whose R count is not a multiple of three, or with anything else
  the phone cannot read, "is not included in the digit plan": it is ignored, and reported.
- After every digit the phone applies the whole dial string to every entry (RFC 3435 §2.1.5):
  one entry matching completely sends at once even while a longer entry could still match
  (the "shortest possible match"); no entry able to match any more is an impossible match
  (``dialplan.impossibleMatchHandling``: 0 send the digits so far, 1 reorder, 2 wait for Send);
  otherwise it waits for the next digit.
- When the user stops, an entry whose next construct is ``T`` completes when its timer runs
  out: entry i's value in the ``|`` list ``dialplan.digitmap.timeOut`` (3 s where the list is
  short). Without such an entry the phone waits for Send: Poly documents no inter-digit timer
  that sends a partial number.
- ``dialplan.removeEndOfDial`` (default 1) strips a trailing ``#`` from what is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

TIMEOUT = "dialplan.digitmap.timeOut"
IMPOSSIBLE = "dialplan.impossibleMatchHandling"
REMOVE_END = "dialplan.removeEndOfDial"
OPTION_NAMES = (TIMEOUT, IMPOSSIBLE, REMOVE_END)

DEFAULT_TIMEOUT = 3.0  # s, for every entry the timeOut list does not reach (admin guide)
DEFAULT_IMPOSSIBLE = "0"
DEFAULT_REMOVE_END = "1"

DIGITS = frozenset("0123456789")
LITERALS = frozenset("0123456789*#+")
TIMER = "timer"  # the event fed to the entries when a T runs out; no key produces it
_SHOWN = 6  # candidate entries named in one --explain line


@dataclass(frozen=True, slots=True)
class _Elem:
    chars: frozenset[str] | None  # None: the timer T
    repeat: bool  # followed by "."
    segment: int


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int  # position in the plan, which picks its timeOut value
    text: str  # as written
    size: int  # number of elements: the accepting NFA state
    # table[symbol][i]: the states reached from state i on symbol (closure applied)
    table: dict[str, tuple[int, ...]]
    start: int  # closure of state 0
    rewrite: re.Pattern[str]  # one group per segment, to rebuild what is sent
    replace: tuple[str | None, ...]  # per segment: the R replacement, None keeps the digits
    timeout: float
    h323: bool  # "H": only a VVX 1500 completes it

    @property
    def full(self) -> int:
        return 1 << self.size

    def step(self, states: int, symbol: str) -> int:
        row = self.table.get(symbol)
        if row is None:
            return 0
        out = 0
        i = 0
        while states:
            if states & 1:
                out |= row[i]
            states >>= 1
            i += 1
        return out

    def complete(self, states: int) -> bool:
        return not self.h323 and bool(states & self.full)

    def send(self, digits: str) -> str:
        m = self.rewrite.fullmatch(digits)
        if m is None:  # a T between digits never holds for digits keyed without pause
            return digits
        return "".join(
            m.group(k + 1) if repl is None else repl for k, repl in enumerate(self.replace)
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    has_map: bool
    entries: tuple[_Entry, ...]
    impossible: str
    remove_end: bool
    problems: tuple[str, ...]


class _Invalid(ValueError):
    pass


def _parse_set(text: str, i: int) -> tuple[frozenset[str], int]:
    """``[..]`` starting at text[i] == "["; returns the set and the index after "]"."""
    end = text.find("]", i + 1)
    if end < 0:
        raise _Invalid("'[' without ']'")
    body = text[i + 1 : end]
    chars: set[str] = set()
    j = 0
    while j < len(body):
        c = body[j]
        if j + 2 < len(body) and body[j + 1] == "-":
            lo, hi = c, body[j + 2]
            if lo not in DIGITS or hi not in DIGITS or lo > hi:
                raise _Invalid(f"bad range '{lo}-{hi}' in [{body}]")
            chars.update(str(d) for d in range(int(lo), int(hi) + 1))
            j += 3
        elif c == "x":
            chars.update(DIGITS)
            j += 1
        elif c in LITERALS:
            chars.add(c)
            j += 1
        else:
            raise _Invalid(f"'{c}' in [{body}]")
    if not chars:
        raise _Invalid("empty []")
    return frozenset(chars), end + 1


def _parse_entry(text: str) -> tuple[list[_Elem], list[str | None], bool, list[str]]:
    """Elements, per-segment replacements, the H flag, and notes on what was tolerated."""
    if text.count("R") % 3:
        raise _Invalid(
            f"{text.count('R')} R's: not whole R..R..R triplets, so the phone drops the entry"
        )
    elems: list[_Elem] = []
    replace: list[str | None] = [None]
    notes: list[str] = []
    part = 0  # 0 outside a triplet, 1 its left part, 2 its replacement
    right = ""
    h323 = False
    i = 0
    while i < len(text):
        c = text[i]
        seg = len(replace) - 1
        if c == "R":
            if part == 0:
                replace.append("")  # a left part: its own segment, replacement set below
                part = 1
            elif part == 1:
                part, right = 2, ""
            else:
                replace[-1] = right
                replace.append(None)
                part = 0
            i += 1
            continue
        if part == 2:
            if c not in LITERALS:
                raise _Invalid(f"'{c}' between the 2nd and 3rd R (only *#+0-9 allowed)")
            right += c
            i += 1
            continue
        if c in LITERALS:
            elems.append(_Elem(frozenset(c), False, seg))
        elif c == "x":
            elems.append(_Elem(DIGITS, False, seg))
        elif c == "[":
            chars, i = _parse_set(text, i)
            elems.append(_Elem(chars, False, seg))
            continue
        elif c == "T":
            if part == 1:
                raise _Invalid("T in the left part of R..R..R: the digit map will not work")
            elems.append(_Elem(None, False, seg))
        elif c == ".":
            if not elems:
                raise _Invalid("'.' with no construct before it")
            last = elems[-1]
            elems[-1] = _Elem(last.chars, True, last.segment)
        elif c == "," or c == "S":
            pass  # second dial tone / SIP protocol letter: nothing to match
        elif c == "H":
            h323 = True
        elif c.isspace():
            notes.append(
                "white space inside the entry (ignored here; how Poly reads it is undocumented)"
            )
        elif c in "Xt":
            raise _Invalid(f"'{c}': Poly's digit-map letters are case-sensitive (x, T)")
        else:
            raise _Invalid(f"'{c}' is not a digit-map character")
        i += 1
    if not elems and all(r is None for r in replace):
        raise _Invalid("nothing to match")
    return elems, replace, h323, notes


def _compile_entry(index: int, text: str, timeout: float) -> tuple[_Entry, list[str]]:
    elems, replace, h323, notes = _parse_entry(text)
    n = len(elems)

    def closure(i: int) -> int:
        mask = 1 << i
        while i < n and elems[i].repeat:  # "." allows zero occurrences: skip ahead
            i += 1
            mask |= 1 << i
        return mask

    symbols = {*LITERALS, TIMER}
    table: dict[str, tuple[int, ...]] = {}
    for sym in symbols:
        row = []
        for i in range(n + 1):
            out = 0
            if i < n:
                e = elems[i]
                hit = (
                    (e.chars is None) if sym == TIMER else (e.chars is not None and sym in e.chars)
                )
                if hit:
                    out = closure(i) if e.repeat else closure(i + 1)
            row.append(out)
        table[sym] = tuple(row)
    groups = []
    for seg in range(len(replace)):
        body = "".join(
            "[" + "".join(re.escape(c) for c in sorted(e.chars)) + "]" + ("*" if e.repeat else "")
            for e in elems
            if e.segment == seg and e.chars is not None
        )
        groups.append(f"({body})")
    entry = _Entry(
        index=index,
        text=text,
        size=n,
        table=table,
        start=closure(0),
        rewrite=re.compile("".join(groups)),
        replace=tuple(replace),
        timeout=timeout,
        h323=h323,
    )
    return entry, notes


def _timeouts(raw: str, problems: list[str]) -> list[float]:
    out: list[float] = []
    for k, v in enumerate(raw.split("|") if raw.strip() else []):
        try:
            t = float(v.strip())
            if t < 0:
                raise ValueError
        except ValueError:
            problems.append(
                f"{TIMEOUT} value {k + 1} {v.strip()!r} is not a number of seconds; "
                f"{DEFAULT_TIMEOUT:g} s assumed"
            )
            t = DEFAULT_TIMEOUT
        out.append(t)
    return out


@lru_cache(maxsize=512)
def _compile(text: str, options: tuple[tuple[str, str], ...]) -> _Plan:
    opts = dict(options)
    problems: list[str] = []
    impossible = opts.get(IMPOSSIBLE, DEFAULT_IMPOSSIBLE).strip() or DEFAULT_IMPOSSIBLE
    if impossible not in ("0", "1", "2"):
        problems.append(f"{IMPOSSIBLE}={impossible!r} is not 0, 1 or 2; 0 assumed")
        impossible = DEFAULT_IMPOSSIBLE
    remove_end = opts.get(REMOVE_END, DEFAULT_REMOVE_END).strip() or DEFAULT_REMOVE_END
    if remove_end not in ("0", "1"):
        problems.append(f"{REMOVE_END}={remove_end!r} is not 0 or 1; 1 assumed")
        remove_end = DEFAULT_REMOVE_END
    body = text.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]  # RFC 3435 writes a list of strings in parentheses
    if not body:
        return _Plan(False, (), impossible, remove_end == "1", tuple(problems))
    timeouts = _timeouts(opts.get(TIMEOUT, ""), problems)
    entries: list[_Entry] = []
    for index, raw in enumerate(body.split("|")):
        entry_text = raw.strip()
        if not entry_text:
            continue
        t = timeouts[index] if index < len(timeouts) else DEFAULT_TIMEOUT
        try:
            entry, notes = _compile_entry(index, entry_text, t)
        except _Invalid as e:
            problems.append(f"entry {index + 1} {entry_text!r} is ignored: {e}")
            continue
        problems += [f"entry {index + 1} {entry_text!r}: {n}" for n in dict.fromkeys(notes)]
        entries.append(entry)
    if not entries:
        problems.append("no valid entry: every digit is an impossible match")
    return _Plan(True, tuple(entries), impossible, remove_end == "1", tuple(problems))


def _names(entries: list[_Entry]) -> str:
    shown = ", ".join(e.text for e in entries[:_SHOWN])
    more = len(entries) - _SHOWN
    return shown + (f" (+{more} more)" if more > 0 else "")


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    """What a Poly phone does when ``digits`` are keyed off-hook and nothing else is pressed."""
    options = tuple(sorted((k, str(v)) for k, v in plan.options.items() if k in OPTION_NAMES))
    compiled = _compile(plan.text, options)
    return _run(compiled, digits)


def _outcome(
    p: _Plan,
    digits: str,
    outcome: str,
    steps: list[str],
    sent: str | None = None,
    matched: str | None = None,
    after_timeout: bool = False,
    delay_s: float = 0.0,
) -> Outcome:
    if sent is not None and p.remove_end and sent.endswith("#"):
        steps.append(f"removeEndOfDial=1: trailing # stripped from {sent!r}")
        sent = sent[:-1]
    return Outcome(
        digits, outcome, after_timeout, delay_s, sent, None, matched, tuple(steps), p.problems
    )


def _run(p: _Plan, digits: str) -> Outcome:
    steps: list[str] = [f"problem: {x}" for x in p.problems]
    if not p.has_map:
        steps.append("no digit map: the phone waits for Send")
        return _outcome(p, digits, "wait", steps)
    alive = [(e, e.start) for e in p.entries]
    for k, d in enumerate(digits, 1):
        dialled = digits[:k]
        alive = [(e, s2) for e, s in alive if (s2 := e.step(s, d))]
        done = [e for e, s in alive if e.complete(s)]
        if done:
            e = done[0]
            sent = e.send(dialled)
            longer = [o for o, s in alive if o is not e and not o.complete(s)]
            why = f"; shortest match wins over {_names(longer)}" if longer else ""
            tie = (
                f"; also complete: {_names(done[1:])} (first in the plan wins)"
                if len(done) > 1
                else ""
            )
            rest = (
                f"; {digits[k:]!r} keyed after it is not part of the call"
                if k < len(digits)
                else ""
            )
            steps.append(
                f"{dialled!r}: {e.text!r} matches completely -> sends {sent!r} at once"
                f"{why}{tie}{rest}"
            )
            return _outcome(p, digits, "dial", steps, sent=sent, matched=e.text)
        if not alive:
            steps.append(f"{dialled!r}: no entry can match (impossible match)")
            if p.impossible == "0":
                steps.append(f"impossibleMatchHandling=0: {dialled!r} is sent at once")
                return _outcome(p, digits, "dial", steps, sent=dialled)
            if p.impossible == "1":
                steps.append("impossibleMatchHandling=1: reorder tone")
                return _outcome(p, digits, "no-match", steps)
            steps.append("impossibleMatchHandling=2: digits accumulate until Send is pressed")
            return _outcome(p, digits, "wait", steps)
        steps.append(f"{dialled!r}: partial {_names([e for e, _ in alive])}")
    if not digits:
        steps.append("nothing keyed")
        return _outcome(p, digits, "wait", steps)
    timed = [e for e, s in alive if e.complete(e.step(s, TIMER))]
    if timed:
        e = min(timed, key=lambda x: (x.timeout, x.index))
        sent = e.send(digits)
        steps.append(
            f"the user stops: {e.text!r} completes when its T runs out "
            f"({e.timeout:g} s, timeOut value {e.index + 1}) -> sends {sent!r}"
        )
        return _outcome(
            p,
            digits,
            "dial",
            steps,
            sent=sent,
            matched=e.text,
            after_timeout=True,
            delay_s=e.timeout,
        )
    h323 = [e for e, s in alive if e.h323 and s & e.full]
    if h323:
        steps.append(f"{_names(h323)} ends in H: only a VVX 1500 places it; others wait for Send")
    steps.append(
        "the user stops: no entry completes without more digits and no T applies; "
        "the phone waits for more digits or Send"
    )
    return _outcome(p, digits, "wait", steps)
