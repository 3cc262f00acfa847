"""Cisco SPA / MPP dial plans, evaluated digit by digit the way the phone collects them.

Semantics (sources in device_profiles/cisco_mpp/README.md, "Dial plan"):

- ``( seq | seq ... )``, optionally preceded by the master overrides ``L:n,`` / ``S:n,``.
  White space is ignored except that it ends a timer value (``S4 8xxx``).
- Elements: keys ``0-9 * #``; ``x`` one digit 0-9; ``[2-9*]`` sets and ranges; ``.`` repeats
  the preceding element zero or more times; ``<dialed:sent>`` rewrites (``<9:>`` strips,
  ``<:1>`` inserts, ``<:@gw0>`` routes to a gateway); ``,`` plays outside dial tone (no effect on
  matching); ``!`` bars the sequence; ``Sn`` / ``Ln`` override the short / long inter-digit timer
  for that sequence; ``Pn`` requires a pause of n s (hot and warm lines).
- Matching: each sequence is a candidate while it can still match. No candidate left: rejected
  (reorder) at once. Candidates complete but none could take more digits: decided at once.
  Some complete and some could go on: the short timer runs (``S0`` = at once). None complete:
  the long timer runs, and when it expires the MPP rejects the number (reorder).
- Several complete candidates: the most specific one decides (more single-key elements, then
  narrower sets, then fewer repeated digits, then the earlier entry). The manuals only show it
  through their examples (``9, 1 900 xxxxxxx !`` after ``9, 1 [2-9] xxxxxxxxx`` still bars
  1-900 numbers, so it is not first-match); a barred winner blocks the call.
- A malformed sequence (unbalanced ``[``/``<``, a stray ``(``, an unknown character, a ``.``
  with nothing to repeat) is reported in ``problems`` and ignored; the rest of the plan works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

DEFAULT_SHORT_S = 3.0  # Interdigit_Short_Timer default (SPA/MPP admin guides)
DEFAULT_LONG_S = 10.0  # Interdigit_Long_Timer default
BARE_TIMER_S = 5.0  # "if no number is entered after S/L/P, the default timer of 5 seconds"
DIGITS = frozenset("0123456789")
KEYS = frozenset("0123456789*#")
MAX_MOVES = 50_000  # cached transitions per compiled plan
MAX_LISTED = 4  # candidates named per step before "+n more"

_MASTER = re.compile(r"\s*([LSls])\s*:\s*(\d*(?:\.\d+)?)\s*,")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


_State = tuple[frozenset[int], ...]  # candidate positions, one set per entry


class _Bad(ValueError):
    """A sequence the phone cannot read: reported, and the sequence ignored."""


@dataclass(slots=True)
class _Atom:
    keys: frozenset[str] | None  # None: a pause (Pn)
    rep: bool = False
    pause: float = 0.0


@dataclass(slots=True, frozen=True)
class _Entry:
    text: str
    index: int
    atoms: tuple[_Atom, ...]
    closure: tuple[frozenset[int], ...]  # epsilon closure of each position (0..n)
    barred: bool
    short: float | None  # last Sn in the sequence
    longs: tuple[tuple[int, float], ...]  # (position, Ln)
    tones: tuple[int, ...]  # positions of ',' (outside dial tone)
    regex: re.Pattern[str]
    atom_groups: tuple[int, ...]  # regex group of each atom (-1 for pauses)
    subs: tuple[tuple[int, str], ...]  # (regex group, replacement text) per <dialed:sent>
    n: int  # number of elements: position n means complete


@dataclass(slots=True, frozen=True)
class _Info:
    """What a state means for the phone: complete and still-extendable entries, long timer."""

    complete: list[_Entry]
    alive: list[_Entry]
    long: float


@dataclass(slots=True)
class _Plan:
    entries: tuple[_Entry, ...]
    short: float
    long: float
    problems: tuple[str, ...]
    start: _State
    moves: dict[tuple[_State, str], _State] = field(default_factory=dict)
    info: dict[_State, _Info] = field(default_factory=dict)


# ---------------------------------------------------------------- parsing


def _parse_set(s: str, i: int) -> tuple[frozenset[str], int]:
    end = s.find("]", i)
    if end < 0:
        raise _Bad("'[' is never closed")
    body = "".join(s[i + 1 : end].split())
    if not body:
        raise _Bad("empty '[ ]' set")
    keys: set[str] = set()
    j = 0
    while j < len(body):
        c = body[j]
        if j + 2 < len(body) and body[j + 1] == "-":
            lo, hi = c, body[j + 2]
            if not (lo.isdigit() and hi.isdigit()) or lo > hi:
                raise _Bad(f"bad range '{lo}-{hi}' in [{body}]")
            keys.update(str(d) for d in range(int(lo), int(hi) + 1))
            j += 3
            continue
        if c in "xX":
            keys.update(DIGITS)
        elif c in KEYS:
            keys.add(c)
        else:
            raise _Bad(f"{c!r} is not a key in [{body}]")
        j += 1
    return frozenset(keys), end + 1


def _timer_value(s: str, i: int) -> tuple[float, int]:
    m = _NUMBER.match(s, i)
    if not m:
        return BARE_TIMER_S, i
    return float(m.group()), m.end()


def _parse_entry(raw: str, index: int) -> tuple[_Entry, list[str]]:
    text = raw.strip()
    notes: list[str] = []
    atoms: list[_Atom] = []
    subs: list[list] = []  # [start atom, end atom, replacement]
    longs: list[tuple[int, float]] = []
    tones: list[int] = []
    short: float | None = None
    barred = False
    can_repeat = False
    timer_mid = False
    if "\x00" in text:
        raise _Bad("control character in the sequence")
    i, s = 0, text
    in_sub = -1
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if barred:
            raise _Bad("'!' must end the sequence")
        if timer_mid and (c in KEYS or c in "xX[<"):
            notes.append(
                f"entry {text!r}: a timer inside it is followed by more keys (a missing '|'?)"
            )
            timer_mid = False
        if c in KEYS or c in "xX":
            atoms.append(_Atom(DIGITS if c in "xX" else frozenset(c)))
            can_repeat = True
            i += 1
        elif c == "[":
            keys, i = _parse_set(s, i)
            atoms.append(_Atom(keys))
            can_repeat = True
        elif c == ".":
            if not can_repeat:
                raise _Bad("'.' has no element to repeat")
            atoms[-1].rep = True
            can_repeat = False
            i += 1
        elif c == "<":
            if in_sub >= 0:
                raise _Bad("'<' inside '< >'")
            close = s.find(">", i)
            if close < 0:
                raise _Bad("'<' is never closed with '>'")
            colon = s.find(":", i, close)
            if colon < 0:
                raise _Bad(f"'{s[i : close + 1]}' has no ':' between dialled and sent digits")
            subs.append([len(atoms), len(atoms), "".join(s[colon + 1 : close].split())])
            in_sub = len(subs) - 1
            inner = s[i + 1 : colon]
            # The dialled side uses the same element syntax as the sequence itself.
            s = s[:i] + inner + "\x00" + s[close + 1 :]
            can_repeat = False
        elif c == "\x00":
            subs[in_sub][1] = len(atoms)
            in_sub = -1
            can_repeat = False
            i += 1
        elif c == ">":
            raise _Bad("'>' without '<'")
        elif c == ",":
            tones.append(len(atoms))
            can_repeat = False
            i += 1
        elif c == "!":
            barred = True
            i += 1
        elif c in "SsLlPp" and in_sub < 0:
            if s[i + 1 : i + 2] == ":":
                raise _Bad(f"master override '{c}:' inside the parentheses")
            value, i = _timer_value(s, i + 1)
            kind = c.upper()
            if kind == "S":
                short = value
            elif kind == "L":
                longs.append((len(atoms), value))
            else:
                atoms.append(_Atom(None, pause=value))
            # A timer after keys and before more keys is legal but is how a lost '|' reads.
            timer_mid = kind != "P" and bool(atoms)
            can_repeat = False
        elif c in "()":
            raise _Bad(f"stray {c!r}")
        else:
            raise _Bad(f"{c!r} is not dial-plan syntax")
    if not atoms and not subs:
        notes.append(f"entry {index + 1} is empty")
    regex, groups, sub_groups = _regex(atoms, [(a, b) for a, b, _ in subs])
    closure = _closures(atoms)
    entry = _Entry(
        text=text,
        index=index,
        atoms=tuple(atoms),
        closure=closure,
        barred=barred,
        short=short,
        longs=tuple(longs),
        tones=tuple(tones),
        regex=regex,
        atom_groups=groups,
        subs=tuple((g, sub[2]) for g, sub in zip(sub_groups, subs, strict=True)),
        n=len(atoms),
    )
    return entry, notes


def _regex(
    atoms: list[_Atom], spans: list[tuple[int, int]]
) -> tuple[re.Pattern[str], tuple[int, ...], list[int]]:
    """A regex whose groups tell which element took which keys (for rewrites and ranking).

    Each element is a group; each <dialed:sent> wraps its elements in a group, and one with
    nothing dialled (<:1>, <:@gw0>) is an empty group marking where its text is inserted.
    """
    parts: list[str] = []
    groups: list[int] = []
    sub_groups = [0] * len(spans)
    group = 0
    for i in range(len(atoms) + 1):
        for a, b in spans:
            if b == i and a < b:
                parts.append(")")
        for k, (a, b) in enumerate(spans):
            if a == i:
                group += 1
                sub_groups[k] = group
                parts.append("()" if a == b else "(")
        if i == len(atoms):
            break
        atom = atoms[i]
        if atom.keys is None:
            groups.append(-1)
            continue
        group += 1
        groups.append(group)
        cls = "".join(re.escape(k) for k in sorted(atom.keys))
        parts.append(f"([{cls}]{'*' if atom.rep else ''})")
    return re.compile("".join(parts)), tuple(groups), sub_groups


def _closures(atoms: list[_Atom]) -> tuple[frozenset[int], ...]:
    n = len(atoms)
    out: list[frozenset[int]] = [frozenset()] * (n + 1)
    out[n] = frozenset({n})
    for i in range(n - 1, -1, -1):
        a = atoms[i]
        out[i] = frozenset({i}) | out[i + 1] if a.rep else frozenset({i})
    return tuple(out)


def _seconds(options: dict[str, str], key: str, default: float, problems: list[str]) -> float:
    raw = options.get(key, "").strip()
    if not raw:
        return default
    m = _NUMBER.match(raw)
    if not m:
        problems.append(f"{key}={raw!r} is not a number of seconds; default {default:g} s used")
        return default
    return float(m.group())


@lru_cache(maxsize=256)
def _compile(text: str, options: tuple[tuple[str, str], ...]) -> _Plan:
    opts = dict(options)
    problems: list[str] = []
    short = _seconds(opts, "Interdigit_Short_Timer", DEFAULT_SHORT_S, problems)
    long = _seconds(opts, "Interdigit_Long_Timer", DEFAULT_LONG_S, problems)
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
    entries: list[_Entry] = []
    for raw in body.split("|") if body.strip() else []:
        index = len(entries)
        try:
            entry, notes = _parse_entry(raw, index)
        except _Bad as e:
            problems.append(f"entry {raw.strip()!r} is ignored: {e}")
            continue
        problems.extend(notes)
        entries.append(entry)
    start = tuple(e.closure[0] for e in entries)
    return _Plan(tuple(entries), short, long, tuple(problems), start)


# ---------------------------------------------------------------- matching


def _step(plan: _Plan, state: _State, key: str) -> _State:
    cached = plan.moves.get((state, key))
    if cached is not None:
        return cached
    out: list[frozenset[int]] = []
    for entry, positions in zip(plan.entries, state, strict=True):
        nxt: set[int] = set()
        for i in positions:
            if i == entry.n:
                continue
            a = entry.atoms[i]
            if a.keys is not None and key in a.keys:
                nxt |= entry.closure[i] if a.rep else entry.closure[i + 1]
        out.append(frozenset(nxt))
    result = tuple(out)
    if len(plan.moves) > MAX_MOVES:  # arbitrary input cannot grow a shared plan without bound
        plan.moves.clear()
    plan.moves[(state, key)] = result
    return result


def _info(plan: _Plan, state: _State) -> _Info:
    got = plan.info.get(state)
    if got is None:
        complete: list[_Entry] = []
        alive: list[_Entry] = []
        for e, p in zip(plan.entries, state, strict=True):
            if not p:
                continue
            if e.n in p:
                complete.append(e)
            if len(p) > 1 or e.n not in p:
                alive.append(e)
        got = _Info(complete, alive, _long_timer(plan, state))
        if len(plan.info) > MAX_MOVES:
            plan.info.clear()
        plan.info[state] = got
    return got


def _complete(plan: _Plan, state: _State) -> list[_Entry]:
    return _info(plan, state).complete


def _alive(plan: _Plan, state: _State) -> list[_Entry]:
    return _info(plan, state).alive


def _takes(plan: _Plan, state: _State, key: str) -> bool:
    for e, p in zip(plan.entries, state, strict=True):
        for i in p:
            if i < e.n and (keys := e.atoms[i].keys) is not None and key in keys:
                return True
    return False


@dataclass(slots=True, frozen=True)
class _Match:
    entry: _Entry
    score: tuple[int, int, int, int]
    sent: str
    route: str | None


def _match(entry: _Entry, dialled: str) -> _Match | None:
    m = entry.regex.fullmatch(dialled)
    if m is None:
        return None
    literal = narrow = wide = repeated = 0
    for a, g in zip(entry.atoms, entry.atom_groups, strict=True):
        if g < 0 or a.keys is None:
            continue
        took = m.end(g) - m.start(g)
        if a.rep:
            repeated += took
        elif len(a.keys) == 1:
            literal += took
        elif a.keys >= DIGITS:
            wide += took
        else:
            narrow += took
    # Rewrites: a dialled part is replaced by its text; an empty one is inserted in place.
    edits: list[tuple[int, int, str]] = []
    route = None
    for g, repl in entry.subs:
        start, end = m.span(g)
        digits, at, where = repl.partition("@")
        if at:
            route = where.split(";")[0] or None
        edits.append((start, end, digits))
    sent = []
    cursor = 0
    for start, end, text in sorted(edits, key=lambda t: (t[0], t[1])):
        sent.append(dialled[cursor:start])
        sent.append(text)
        cursor = max(cursor, end)
    sent.append(dialled[cursor:])
    return _Match(entry, (literal, narrow, wide, -repeated), "".join(sent), route)


def _best(entries: list[_Entry], dialled: str) -> _Match | None:
    best: _Match | None = None
    for e in entries:
        got = _match(e, dialled)
        if got is None:
            continue
        if best is None or (got.score, -e.index) > (best.score, -best.entry.index):
            best = got
    return best


def _short_timer(plan: _Plan, m: _Match) -> float:
    return m.entry.short if m.entry.short is not None else plan.short


def _long_timer(plan: _Plan, state: _State) -> float:
    # One timer runs for all incomplete candidates; the longest wins so that one entry's L0
    # cannot cut another short (the manuals do not say which applies).
    best: float | None = None
    for e, p in zip(plan.entries, state, strict=True):
        alive = [i for i in p if i < e.n]
        if not alive:
            continue
        here = max(alive)
        value = plan.long
        for pos, v in e.longs:
            if pos <= here:
                value = v
        best = value if best is None else max(best, value)
    return plan.long if best is None else best


def _names(entries: list[_Entry]) -> str:
    shown = ", ".join(e.text for e in entries[:MAX_LISTED])
    more = len(entries) - MAX_LISTED
    return shown + (f" (+{more} more)" if more > 0 else "") if entries else "none"


def _decide(
    plan: _Plan,
    digits: str,
    dialled: str,
    complete: list[_Entry],
    steps: list[str],
    delay: float,
    why: str,
) -> Outcome:
    m = _best(complete, dialled)
    if m is None:  # pragma: no cover - the NFA said complete, the regex must agree
        steps.append(f"{why}: no entry matches {dialled!r}: rejected (reorder)")
        return Outcome(digits, "no-match", steps=tuple(steps), problems=plan.problems)
    if len(complete) > 1:
        steps.append(
            f"{len(complete)} entries complete ({_names(complete)}): the most specific, "
            f"{m.entry.text!r}, decides"
        )
    if m.entry.barred:
        steps.append(f"{why}: {m.entry.text!r} bars {dialled!r} ('!'): rejected")
        return Outcome(
            digits, "block", matched=m.entry.text, steps=tuple(steps), problems=plan.problems
        )
    for pos in m.entry.tones:
        steps.append(f"  (',' in {m.entry.text!r}: outside dial tone after element {pos})")
    where = f" to {m.route}" if m.route else ""
    steps.append(f"{why}: {m.entry.text!r} sends {m.sent!r}{where}")
    if len(dialled) < len(digits):
        steps.append(f"keys {digits[len(dialled) :]!r} come after the call was placed: ignored")
    return Outcome(
        digits,
        "dial",
        after_timeout=delay > 0,
        delay_s=delay,
        sent=m.sent,
        route=m.route,
        matched=m.entry.text,
        steps=tuple(steps),
        problems=plan.problems,
    )


def _reject(plan: _Plan, digits: str, steps: list[str], why: str) -> Outcome:
    steps.append(why)
    return Outcome(digits, "no-match", steps=tuple(steps), problems=plan.problems)


def _pause_done(plan: _Plan, state: _State) -> list[tuple[float, _Entry]]:
    """Entries waiting on a pause Pn that complete once the user has waited n seconds."""
    out = []
    for e, p in zip(plan.entries, state, strict=True):
        for i in p:
            if i < e.n and e.atoms[i].keys is None and e.n in e.closure[i + 1]:
                out.append((e.atoms[i].pause, e))
    return sorted(out, key=lambda t: (t[0], t[1].index))


def _after_key(
    plan: _Plan, state: _State, digits: str, dialled: str, head: str, steps: list[str]
) -> Outcome | None:
    """The decision the phone takes the moment a key is in, if any (else the timer runs)."""
    complete, alive = _complete(plan, state), _alive(plan, state)
    if not complete and not alive:
        return _reject(plan, digits, steps, f"{head}: no entry can match: rejected (reorder)")
    if complete and not alive:
        steps.append(f"{head}: complete {_names(complete)}; no entry could take more")
        return _decide(plan, digits, dialled, complete, steps, 0.0, "at once")
    if complete:
        m = _best(complete, dialled)
        t = _short_timer(plan, m) if m else plan.short
        steps.append(
            f"{head}: complete {_names(complete)}; could go on {_names(alive)}: short timer {t:g} s"
        )
        if t == 0:
            return _decide(plan, digits, dialled, complete, steps, 0.0, "S0: at once")
        return None
    t = _info(plan, state).long
    steps.append(f"{head}: none complete; could go on {_names(alive)}: long timer {t:g} s")
    if t == 0:
        return _reject(plan, digits, steps, "long timer 0 s expired: rejected (reorder)")
    return None


@lru_cache(maxsize=8192)
def _run(text: str, options: tuple[tuple[str, str], ...], digits: str) -> Outcome:
    plan = _compile(text, options)
    steps = [
        f"plan: {len(plan.entries)} entries; short timer {plan.short:g} s, "
        f"long timer {plan.long:g} s"
    ]
    steps.extend(f"problem: {p}" for p in plan.problems)
    state = plan.start
    # Off hook, before any key: a hot line (an entry complete with nothing dialled) may fire.
    complete, alive = _complete(plan, state), _alive(plan, state)
    if complete:
        m = _best(complete, "")
        if not alive or (m is not None and _short_timer(plan, m) == 0):
            steps.append(f"off hook: complete {_names(complete)} with no key pressed")
            return _decide(plan, digits, "", complete, steps, 0.0, "hot line")
    for k, key in enumerate(digits):
        if key == "#" and not _takes(plan, state, key):
            complete = _complete(plan, state)
            if complete:
                return _decide(plan, digits, digits[:k], complete, steps, 0.0, "'#' sends")
            return _reject(plan, digits, steps, "'#' with no complete entry: rejected (reorder)")
        state = _step(plan, state, key)
        dialled = digits[: k + 1]
        done = _after_key(plan, state, digits, dialled, f"key {key!r} ({dialled})", steps)
        if done is not None:
            return done
    # The user waits and presses nothing: the running timer (or a pause Pn) decides.
    complete = _complete(plan, state)
    m = _best(complete, digits) if complete else None
    timer = _short_timer(plan, m) if m else _info(plan, state).long
    paused = _pause_done(plan, state)
    if paused and paused[0][0] < timer:
        t, entry = paused[0]
        return _decide(plan, digits, digits, [*complete, entry], steps, t, f"pause {t:g} s done")
    if complete:
        return _decide(
            plan, digits, digits, complete, steps, timer, f"short timer {timer:g} s expires"
        )
    if not _alive(plan, state):
        return _reject(plan, digits, steps, "no entry in the plan: rejected (reorder)")
    return _reject(
        plan,
        digits,
        steps,
        f"long timer {timer:g} s expires with no complete entry: rejected (reorder)",
    )


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    """What a Cisco SPA/MPP phone does when ``digits`` are keyed without pausing, then nothing."""
    return _run(plan.text, tuple(sorted(plan.options.items())), digits)
