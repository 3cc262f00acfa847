"""Grandstream GXP/GRP dial plans (``P290`` account 1, ``P459`` account 2).

Syntax, from the GXP/GRP administration guides' "Dial Plan" section (README of
device_profiles/grandstream, "Dial plan", has the sources): the plan sits in ``{ }``, entries
are separated by ``|``; ``x`` is any digit, ``X`` any character, ``[3-5]``/``[147]`` a set,
``+`` (or ``.``) repeats the element before it one or more times, ``^`` in front of an entry
excludes (blocks) what it matches, ``<2=011>`` replaces the keyed ``2`` with ``011``,
``<=1617>`` prepends, ``<9=>`` removes, ``,`` plays a second dial tone, a trailing ``T`` makes
the phone wait 3 s before dialling, ``\\`` escapes the next character.

When the call goes: a keyed number that completes an entry which nothing in the plan could
extend dials at once; while any entry could still grow, the phone keeps collecting digits
until the No Key Entry Timeout (``P85``, default 4 s) runs out, then checks the number it has.
An excluded number is blocked; a number that completes no entry is not dialled.

Options come keyed by the account-1 names whatever the account: ``P85`` No Key Entry Timeout,
``P66`` Dial Plan Prefix (added to every number the phone sends), ``P72`` Use as Dial Key.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

DEFAULT_TIMEOUT = 4.0  # P85 "No Key Entry Timeout", default 4 s (config template, HT70x guide)
T_WAIT = 3.0  # "Flag T ... the phone will wait for 3 seconds before dialing out" (GRP2600 guide)
MAX_PLAN = 1024
DIGITS = frozenset(string.digits)
ANY_CHAR = frozenset(string.digits + string.ascii_letters)
KEYS = frozenset(string.digits + "*#ABCDabcd")  # "Accepted Digits" in the guides
DIAL_KEYS = {"1": "#", "2": "*"}  # P72: 0 disabled, 1 pound, 2 star
MAX_NAMES = 5


@dataclass(frozen=True, slots=True)
class _Tok:
    chars: frozenset[str]
    repeat: bool = False
    emit: bool = True  # False for the keyed side of a <a=b> rewrite: it is not sent
    insert: str = ""  # sent before the first character of this token (a rewrite's b side)


@dataclass(frozen=True, slots=True)
class _Entry:
    text: str
    tokens: tuple[_Tok, ...]
    tail: str = ""  # a rewrite at the very end: appended to what is sent
    block: bool = False
    wait_t: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    entries: tuple[_Entry, ...]
    problems: tuple[str, ...]
    timeout: float
    prefix: str
    dial_key: str | None


class _Bad(Exception):
    """An entry the phone cannot read; it is left out of the plan."""


# --- compiling --------------------------------------------------------------------------------


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
    raise _Bad(f"{text[start - 1]!r} without {close!r}")


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def _charset(inner: str) -> frozenset[str]:
    chars: set[str] = set()
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner):
            chars.add(inner[i + 1])
            i += 2
        elif ch == "x":
            chars |= DIGITS
            i += 1
        elif i + 2 < len(inner) and inner[i + 1] == "-":
            lo, hi = ch, inner[i + 2]
            if not (lo.isdigit() and hi.isdigit() and lo <= hi):
                raise _Bad(f"bad range [{lo}-{hi}]")
            chars |= {str(d) for d in range(int(lo), int(hi) + 1)}
            i += 3
        else:
            chars.add(ch)
            i += 1
    if not chars:
        raise _Bad("empty [ ]")
    return frozenset(chars)


def _entry(raw: str, problems: list[str]) -> _Entry | None:
    text = "".join(raw.split())
    if not text:
        return None
    block = text.startswith("^")
    body = text[1:] if block else text
    wait_t = body.endswith("T") and not body.endswith("\\T")
    if wait_t:
        body = body[:-1]
    tokens: list[_Tok] = []
    pending = ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                raise _Bad("a trailing \\ escapes nothing")
            tokens.append(_Tok(frozenset(body[i + 1]), insert=pending))
            pending, i = "", i + 2
        elif ch in "xX":
            tokens.append(_Tok(DIGITS if ch == "x" else ANY_CHAR, insert=pending))
            pending, i = "", i + 1
        elif ch == "[":
            end = _closing(body, i + 1, "]")
            tokens.append(_Tok(_charset(body[i + 1 : end]), insert=pending))
            pending, i = "", end + 1
        elif ch == "<":
            end = _closing(body, i + 1, ">")
            left, eq, right = body[i + 1 : end].partition("=")
            if not eq:
                raise _Bad(f"rewrite <{left}> has no '='")
            if any(c in "x[]X" for c in left.replace("\\x", "")):
                raise _Bad(f"rewrite <{left}={right}> replaces a pattern, not digits")
            keyed = _unescape(left)
            if keyed:
                tokens.append(
                    _Tok(frozenset(keyed[0]), emit=False, insert=pending + _unescape(right))
                )
                tokens.extend(_Tok(frozenset(c), emit=False) for c in keyed[1:])
                pending = ""
            else:
                pending += _unescape(right)
            i = end + 1
        elif ch in "+.":
            if not tokens or tokens[-1].repeat:
                raise _Bad(f"{ch!r} repeats nothing")
            last = tokens[-1]
            tokens[-1] = _Tok(last.chars, True, last.emit, last.insert)
            i += 1
        elif ch == ",":
            i += 1  # second dial tone: changes what the user hears, not what is matched or sent
        elif ch in "^T]>":
            raise _Bad(f"unexpected {ch!r}")
        else:
            if ch not in KEYS:
                problems.append(f"entry {text!r}: unescaped {ch!r} (write \\{ch}); read literally")
            tokens.append(_Tok(frozenset(ch), insert=pending))
            pending, i = "", i + 1
    if not tokens:
        raise _Bad("matches no digits")
    return _Entry(text, tuple(tokens), pending, block, wait_t)


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


@lru_cache(maxsize=512)
def _compile(text: str, options: tuple[tuple[str, str], ...]) -> _Plan:
    opts = dict(options)
    problems: list[str] = []
    entries: list[_Entry] = []
    parts = _split(_body(text, problems))
    for raw in parts:
        try:
            entry = _entry(raw, problems)
        except _Bad as e:
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
    return _Plan(
        entries=tuple(entries),
        problems=tuple(problems),
        timeout=timeout,
        prefix=opts.get("P66", "").strip(),
        dial_key=DIAL_KEYS.get(opts.get("P72", "1").strip()),
    )


# --- simulating -------------------------------------------------------------------------------

_States = dict[int, str]  # token position reached -> what is sent so far


def _advance(entry: _Entry, states: _States, ch: str) -> _States:
    out: _States = {}
    toks = entry.tokens
    for pos, sent in states.items():
        if pos < len(toks) and ch in toks[pos].chars:
            t = toks[pos]
            out.setdefault(pos + 1, sent + t.insert + (ch if t.emit else ""))
        if pos > 0 and toks[pos - 1].repeat and ch in toks[pos - 1].chars:
            out.setdefault(pos, sent + (ch if toks[pos - 1].emit else ""))
    return out


def _full(entry: _Entry, states: _States) -> str | None:
    end = len(entry.tokens)
    return states[end] + entry.tail if end in states else None


def _can_grow(entry: _Entry, states: _States) -> bool:
    end = len(entry.tokens)
    return any(pos < end or entry.tokens[-1].repeat for pos in states)


def _names(entries: list[_Entry]) -> str:
    names = [e.text for e in entries[:MAX_NAMES]]
    return ", ".join(names) + (", …" if len(entries) > MAX_NAMES else "") if names else "none"


@dataclass(slots=True)
class _Run:
    plan: _Plan
    digits: str
    steps: list[str]

    def outcome(self, outcome: str, **kw: object) -> Outcome:
        return Outcome(
            self.digits, outcome, steps=tuple(self.steps), problems=self.plan.problems, **kw
        )

    def decide(
        self, keyed: str, states: list[_States], delay: float, timed_out: bool, why: str
    ) -> Outcome:
        entries = self.plan.entries
        blocked = [e for e, s in zip(entries, states, strict=True) if e.block and _full(e, s)]
        if blocked:
            self.steps.append(f"{why}: {keyed} is excluded by ^ entry {blocked[0].text}: blocked")
            return self.outcome("block", matched=blocked[0].text)
        for e, s in zip(entries, states, strict=True):
            sent = _full(e, s)
            if sent is not None and not e.block:
                sent = self.plan.prefix + sent
                extra = f" (Dial Plan Prefix P66 {self.plan.prefix!r})" if self.plan.prefix else ""
                self.steps.append(f"{why}: {keyed} completes {e.text}: dials {sent}{extra}")
                return self.outcome(
                    "dial",
                    after_timeout=timed_out,
                    delay_s=delay,
                    sent=sent,
                    matched=e.text,
                )
        self.steps.append(f"{why}: {keyed} completes no entry: the phone does not dial it")
        return self.outcome("no-match")


def _evaluate(plan: _Plan, digits: str) -> Outcome:
    run = _Run(plan, digits, [])
    entries = plan.entries
    states: list[_States] = [{0: ""} for _ in entries]
    keyed = ""
    for ch in digits:
        if plan.dial_key and ch == plan.dial_key and keyed:
            return run.decide(keyed, states, 0.0, False, f"{ch} is the dial key (P72)")
        keyed += ch
        states = [_advance(e, s, ch) for e, s in zip(entries, states, strict=True)]
        complete = [e for e, s in zip(entries, states, strict=True) if _full(e, s) is not None]
        growing = [e for e, s in zip(entries, states, strict=True) if _can_grow(e, s)]
        run.steps.append(f"{keyed}: complete {_names(complete)}; could grow {_names(growing)}")
        if not complete and not growing:
            run.steps.append(f"{keyed}: no entry can match any more: the phone does not dial it")
            return run.outcome("no-match")
        if complete and not growing and not any(e.wait_t for e in complete):
            rest = digits[len(keyed) :]
            why = "nothing can extend it, dialled at once"
            if rest:
                why += f" ({rest} keyed after that is not part of the number)"
            return run.decide(keyed, states, 0.0, False, why)
    if not keyed:
        run.steps.append("no digits keyed")
        return run.outcome("wait")
    growing = [e for e, s in zip(entries, states, strict=True) if _can_grow(e, s)]
    if growing:
        timer, why = plan.timeout, f"no key for {plan.timeout:g} s (No Key Entry Timeout P85)"
    else:
        timer, why = T_WAIT, f"T entry waits {T_WAIT:g} s"
    return run.decide(keyed, states, timer, True, why)


@lru_cache(maxsize=8192)
def _cached(text: str, options: tuple[tuple[str, str], ...], digits: str) -> Outcome:
    return _evaluate(_compile(text, options), digits)


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    """What a Grandstream phone does when ``digits`` are keyed and nothing more is pressed."""
    return _cached(plan.text, tuple(sorted(plan.options.items())), digits)
