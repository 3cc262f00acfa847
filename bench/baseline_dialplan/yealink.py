"""Yealink dial plans, evaluated the way a T4x/T5x phone reads them (syntax ``yealink``).

A Yealink line runs one of two mechanisms (admin guide, "Dial Plan"):

* **classic** (``dialplan.digitmap.enable = 0``): dial-now rules (``plan.text``, the rules
  joined by ``|``), replace rules, block-out numbers and the area code, each with its own
  pattern in Yealink's regex-like syntax (``x`` one character, ``.`` one or more characters,
  ``[1-5]``/``[2,5,8]`` one of a set, ``( )`` groups referenced as ``$n`` in a replacement);
* **digit map** (``dialplan.digitmap.enable = 1``): ``plan.text`` is an RFC 3435 style digit
  map with Yealink's extensions (``T``/``<Tn>`` timers, ``<a:b>`` and ``RaRbR`` rewrites, ``!``
  bars, ``,`` second dial tone, ``A``/``<An>`` account). The guide: "If you enable new dial
  plan mechanism, old dial plan will be ignored" - dial-now, replace, block-out and area code
  rules are then dead, which is the classic failure this engine exists to show.

Which options are read, their defaults and every interpretation the manuals leave open are in
device_profiles/yealink/README.md, "Dial plan". Pure: no I/O, compiled once per plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

# The admin guide's default dialplan.digitmap.string (a US plan: no 999, no 112).
DEFAULT_DIGITMAP = (
    "[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx|[2-9]xxxT|**x.T|+x.T|00x.T"
)
DIALNOW_DELAY = 1.0  # phone_setting.dialnow_delay: 0..14 s, default 1
INTER_DIGIT_TIME = 4.0  # phone_setting.inter_digit_time (live dialpad auto-dial), default 4
LONG_TIMER = 10.0  # dialplan.digitmap.interdigit_long_timer, default 10
SHORT_TIMER = 3.0  # dialplan.digitmap.interdigit_short_timer, default 3 ("T" alone)
NO_MATCH_ACTION = "0"  # dialplan.digitmap.no_match_action: 0 send now, 1 forbid, 2 accumulate

_DIGITS = frozenset("0123456789")
_Atom = tuple[frozenset[str] | None, bool]  # (accepted characters or None = any, repeats)


class _Nfa:
    """Matcher over a flat atom list; states are bitmasks, transitions memoised per plan, so
    a sweep of thousands of phones sharing a plan steps through dict look-ups."""

    __slots__ = ("_memo", "atoms", "n", "start")

    def __init__(self, atoms: tuple[_Atom, ...]) -> None:
        self.atoms = atoms
        self.n = len(atoms)
        self._memo: dict[tuple[int, str], int] = {}
        self.start = self._close(1)

    def _close(self, mask: int) -> int:
        for i, (_, star) in enumerate(self.atoms):
            if star and mask >> i & 1:
                mask |= 1 << (i + 1)
        return mask

    def step(self, mask: int, ch: str) -> int:
        key = (mask, ch)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        out = 0
        for i, (chars, star) in enumerate(self.atoms):
            if mask >> i & 1 and (chars is None or ch in chars):
                out |= 1 << (i if star else i + 1)
        out = self._close(out)
        if len(self._memo) < 4096:
            self._memo[key] = out
        return out

    def complete(self, mask: int) -> bool:
        return bool(mask >> self.n & 1)

    def extendable(self, mask: int) -> bool:
        return bool(mask & ((1 << self.n) - 1))


def _regex_class(chars: frozenset[str] | None) -> str:
    if chars is None:
        return "."
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def _parse_set(body: str, digit_map: bool) -> frozenset[str]:
    """The inside of ``[...]``: ranges ``a-b`` (digits only), commas as separators in classic
    rules, ``x`` for any digit in a digit map."""
    out: set[str] = set()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "," and not digit_map:
            i += 1
            continue
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = ch, body[i + 2]
            if not (lo.isdigit() and hi.isdigit()) or lo > hi:
                raise ValueError(f"bad range {lo}-{hi} in [{body}]")
            out.update(str(d) for d in range(int(lo), int(hi) + 1))
            i += 3
            continue
        if ch == "-":
            raise ValueError(f"bad range in [{body}]")
        if digit_map and ch == "x":
            out |= _DIGITS
        else:
            out.add(ch)
        i += 1
    if not out:
        raise ValueError("empty []")
    return frozenset(out)


# --- classic rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Classic:
    """One classic pattern (dial-now rule, replace prefix or block-out number)."""

    text: str
    regex: re.Pattern[str]
    groups: int
    nfa: _Nfa


def _classic(pattern: str) -> _Classic:
    """Compile a classic pattern; ValueError says why the phone cannot use it."""
    rx: list[str] = []
    atoms: list[_Atom] = []
    depth = groups = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "x":
            rx.append(".")
            atoms.append((None, False))
        elif ch == ".":  # "a placeholder or multiple placeholders": one or more characters
            rx.append(".+")
            atoms += [(None, False), (None, True)]
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError("unbalanced [")
            chars = _parse_set(pattern[i + 1 : end], digit_map=False)
            rx.append(_regex_class(chars))
            atoms.append((chars, False))
            i = end
        elif ch == "(":
            depth += 1
            groups += 1
            rx.append("(")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced )")
            rx.append(")")
        elif ch == "]":
            raise ValueError("unbalanced ]")
        else:
            rx.append(re.escape(ch))
            atoms.append((frozenset(ch), False))
        i += 1
    if depth:
        raise ValueError("unbalanced (")
    if not atoms:
        raise ValueError("matches nothing")
    return _Classic(pattern, re.compile("".join(rx), re.DOTALL), groups, _Nfa(tuple(atoms)))


_DOLLAR = re.compile(r"\$(\d)")


@dataclass(frozen=True, slots=True, eq=False)
class _Replace:
    index: str
    rule: _Classic
    replace: str

    def apply(self, number: str) -> str | None:
        m = self.rule.regex.fullmatch(number)
        if m is None:
            return None
        return _DOLLAR.sub(
            lambda d: (
                (m.group(int(d.group(1))) or "") if int(d.group(1)) <= self.rule.groups else ""
            ),
            self.replace,
        )


@dataclass(frozen=True, slots=True, eq=False)
class _ClassicPlan:
    rules: tuple[_Classic, ...]
    replaces: tuple[_Replace, ...]
    blocks: tuple[_Classic, ...]
    area: tuple[str, int, int] | None  # code, min_len, max_len
    dialnow_delay: float
    autodial: float | None  # live-dialpad timeout, None when off
    problems: tuple[str, ...]


def _indexed(options: dict[str, str], prefix: str) -> list[tuple[int, str, str]]:
    out = []
    for key, value in options.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit() and value.strip():
            out.append((int(key[len(prefix) :]), key[len(prefix) :], value.strip()))
    return sorted(out)


def _number(
    options: dict[str, str],
    key: str,
    default: float,
    problems: list[str],
    lo: float = 0.0,
    hi: float = 255.0,
) -> float:
    raw = options.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{key} = {raw!r} is not a number: default {default:g} used")
        return default
    if not lo <= value <= hi:
        problems.append(f"{key} = {raw} is outside {lo:g}..{hi:g}: default {default:g} used")
        return default
    return value


def _compile_classic(text: str, options: dict[str, str]) -> _ClassicPlan:
    problems: list[str] = []
    rules = []
    for raw in text.split("|"):
        rule = raw.strip()
        if not rule:
            continue
        try:
            rules.append(_classic(rule))
        except ValueError as e:
            problems.append(f"dial-now rule {rule!r} ignored: {e}")
    replaces = []
    for _, idx, prefix in _indexed(options, "dialplan.replace.prefix."):
        replace = options.get(f"dialplan.replace.replace.{idx}", "").strip()
        try:
            compiled = _classic(prefix)
        except ValueError as e:
            problems.append(f"replace rule {idx} {prefix!r} ignored: {e}")
            continue
        if not replace:
            problems.append(f"replace rule {idx} {prefix!r} ignored: no replacement")
            continue
        bad = [d for d in _DOLLAR.findall(replace) if int(d) > compiled.groups]
        if bad:
            problems.append(
                f"replace rule {idx}: {replace!r} names ${bad[0]} but {prefix!r} has "
                f"{compiled.groups} group(s): it is replaced by nothing"
            )
        replaces.append(_Replace(idx, compiled, replace))
    blocks = []
    for _, idx, number in _indexed(options, "dialplan.block_out.number."):
        try:
            blocks.append(_classic(number))
        except ValueError as e:
            problems.append(f"block-out number {idx} {number!r} ignored: {e}")
    area = None
    code = options.get("dialplan.area_code.code", "").strip()
    if code:
        lo = int(_number(options, "dialplan.area_code.min_len", 1, problems, 1, 15))
        hi = int(_number(options, "dialplan.area_code.max_len", 15, problems, 1, 15))
        area = (code, lo, hi)
    delay = _number(options, "phone_setting.dialnow_delay", DIALNOW_DELAY, problems, 0, 14)
    autodial = None
    if options.get("phone_setting.predial_autodial", "").strip() == "1":
        autodial = _number(
            options, "phone_setting.inter_digit_time", INTER_DIGIT_TIME, problems, 1, 14
        )
    return _ClassicPlan(
        tuple(rules), tuple(replaces), tuple(blocks), area, delay, autodial, tuple(problems)
    )


def _names(entries: Iterable[str], limit: int = 4) -> str:
    items = list(entries)
    shown = ", ".join(repr(e) for e in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _run_classic(plan: _ClassicPlan, digits: str) -> Outcome:
    steps: list[str] = []
    masks = [r.nfa.start for r in plan.rules]
    decided: tuple[str, _Classic] | None = None
    for k, ch in enumerate(digits, 1):
        prefix = digits[:k]
        masks = [r.nfa.step(m, ch) if m else 0 for r, m in zip(plan.rules, masks, strict=True)]
        done = [r for r, m in zip(plan.rules, masks, strict=True) if r.nfa.complete(m)]
        live = [r.text for r, m in zip(plan.rules, masks, strict=True) if r.nfa.extendable(m)]
        if done:
            first = done[0]
            if plan.dialnow_delay == 0:
                steps.append(f"{prefix}: dial-now rule {first.text!r} matches: placed at once")
                decided = (prefix, first)
                break
            later = "" if k == len(digits) else "; the next digit comes sooner and cancels it"
            steps.append(
                f"{prefix}: dial-now rule {first.text!r} matches: placed after "
                f"phone_setting.dialnow_delay = {plan.dialnow_delay:g} s{later}"
            )
            if k == len(digits):
                decided = (prefix, first)
        elif live:
            steps.append(f"{prefix}: no dial-now rule matches yet; could still: {_names(live)}")
        else:
            steps.append(f"{prefix}: no dial-now rule can match")
    if decided is not None:
        number, rule = decided
        return _place_classic(plan, digits, number, rule.text, plan.dialnow_delay, steps)
    blocked = _blocked(plan, digits)
    if blocked is not None:
        steps.append(
            f"no dial-now match; block-out number {blocked!r} matches {digits!r}: Send would "
            "only show Forbidden Number"
        )
        return Outcome(digits, "block", matched=blocked, steps=tuple(steps), problems=plan.problems)
    if plan.autodial is not None and digits:
        steps.append(
            f"no dial-now match: live dialpad (phone_setting.predial_autodial = 1) sends after "
            f"phone_setting.inter_digit_time = {plan.autodial:g} s"
        )
        return _place_classic(plan, digits, digits, None, plan.autodial, steps)
    steps.append("no dial-now match: the phone waits for Send or # (no auto-dial timer)")
    return Outcome(digits, "wait", steps=tuple(steps), problems=plan.problems)


def _blocked(plan: _ClassicPlan, number: str) -> str | None:
    return next((b.text for b in plan.blocks if b.regex.fullmatch(number)), None)


def _place_classic(
    plan: _ClassicPlan,
    digits: str,
    number: str,
    matched: str | None,
    delay: float,
    steps: list[str],
) -> Outcome:
    blocked = _blocked(plan, number)
    if blocked is not None:
        steps.append(f"block-out number {blocked!r} matches {number!r}: Forbidden Number")
        return Outcome(digits, "block", matched=blocked, steps=tuple(steps), problems=plan.problems)
    sent = number
    for rep in plan.replaces:
        out = rep.apply(number)
        if out is not None:
            steps.append(
                f"replace rule {rep.index} {rep.rule.text!r} -> {rep.replace!r}: "
                f"{number!r} sent as {out!r}"
            )
            sent = out
            break
    if plan.area is not None:
        code, lo, hi = plan.area
        if lo <= len(sent) <= hi:
            steps.append(f"area code {code!r} (length {lo}..{hi}) prefixed: {code + sent!r}")
            sent = code + sent
    if not sent:
        steps.append("the rewrite leaves nothing to send")
        return Outcome(
            digits, "no-match", matched=matched, steps=tuple(steps), problems=plan.problems
        )
    return Outcome(
        digits,
        "dial",
        after_timeout=delay > 0,
        delay_s=delay,
        sent=sent,
        matched=matched,
        steps=tuple(steps),
        problems=plan.problems,
    )


# --- digit map ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    text: str
    position: int
    nfa: _Nfa
    regex: re.Pattern[str]
    rewrites: tuple[str | None, ...]  # per regex group: literal replacement, None = keep
    timer: float | None  # seconds after the last digit before it completes; None = at once
    blocked: bool
    route: str | None

    def rewrite(self, number: str) -> str:
        m = self.regex.fullmatch(number)
        if m is None:  # cannot happen when the NFA completed; keep the number as keyed
            return number
        return "".join(m.group(i + 1) if r is None else r for i, r in enumerate(self.rewrites))


def _entry(text: str, position: int, short: float) -> _Entry:
    atoms: list[_Atom] = []
    segments: list[tuple[list[int], str | None]] = [([], None)]  # atom indexes per segment
    timer: float | None = None
    blocked = False
    route: str | None = None

    def add(chars: frozenset[str] | None, seg: list[int]) -> None:
        if timer is not None:
            raise ValueError("the timer must end the entry")
        seg.append(len(atoms))
        atoms.append((chars, False))

    def star(seg: list[int]) -> None:
        if not seg:
            raise ValueError("'.' follows nothing")
        chars, _ = atoms[seg[-1]]
        atoms[seg[-1]] = (chars, True)

    def pattern(body: str, seg: list[int]) -> None:
        j = 0
        while j < len(body):
            c = body[j]
            if c == "x":
                add(_DIGITS, seg)
            elif c == "[":
                end = body.find("]", j + 1)
                if end < 0:
                    raise ValueError("unbalanced [")
                add(_parse_set(body[j + 1 : end], digit_map=True), seg)
                j = end
            elif c == ".":
                star(seg)
            elif c == ",":  # second dial tone: no digit
                pass
            elif c in "0123456789*#+ABCD":
                add(frozenset(c), seg)
            else:
                raise ValueError(f"unexpected {c!r}")
            j += 1

    s = re.sub(r"\s+", "", text)
    if s.endswith("!"):
        blocked, s = True, s[:-1]
    if "!" in s:
        raise ValueError("'!' may only end an entry")
    i = 0
    while i < len(s):
        c = s[i]
        if c == "<":
            end = s.find(">", i + 1)
            if end < 0:
                raise ValueError("unbalanced <")
            body = s[i + 1 : end]
            if re.fullmatch(r"T\d{1,2}", body):
                timer = float(body[1:])
            elif re.fullmatch(r"A\d+", body):
                route = f"line {body[1:]}"
            elif ":" in body:
                dialled, _, inserted = body.partition(":")
                if not re.fullmatch(r"[0-9*#+]*", inserted):
                    raise ValueError(f"bad replacement {inserted!r}")
                seg: list[int] = []
                segments.append((seg, inserted))
                pattern(dialled, seg)
                segments.append(([], None))
            else:
                raise ValueError(f"unknown <{body}>")
            i = end
        elif c == "R":
            mid = s.find("R", i + 1)
            end = s.find("R", mid + 1) if mid >= 0 else -1
            if end < 0:
                raise ValueError("R needs the form RdialledRinsertedR")
            inserted = s[mid + 1 : end]
            if not re.fullmatch(r"[0-9*#+]*", inserted):
                raise ValueError(f"bad replacement {inserted!r}")
            seg = []
            segments.append((seg, inserted))
            pattern(s[i + 1 : mid], seg)
            segments.append(([], None))
            i = end
        elif c == "T":
            if timer is not None:
                raise ValueError("two timers")
            timer = short
        elif c == "A":
            route = "default line"
        elif c == "]":
            raise ValueError("unbalanced ]")
        elif c == ">":
            raise ValueError("unbalanced >")
        elif c == "[":
            end = s.find("]", i + 1)
            if end < 0:
                raise ValueError("unbalanced [")
            pattern(s[i : end + 1], segments[-1][0])
            i = end
        else:
            pattern(c, segments[-1][0])
        i += 1
    if not atoms:
        raise ValueError("matches nothing")
    rx, rewrites = [], []
    for idx, rep in segments:
        if not idx and rep is None:
            continue
        body = "".join(_regex_class(atoms[a][0]) + ("*" if atoms[a][1] else "") for a in idx)
        rx.append(f"({body})")
        rewrites.append(rep)
    return _Entry(
        text,
        position,
        _Nfa(tuple(atoms)),
        re.compile("".join(rx), re.DOTALL),
        tuple(rewrites),
        timer,
        blocked,
        route,
    )


@dataclass(frozen=True, slots=True, eq=False)
class _DigitMapPlan:
    entries: tuple[_Entry, ...]
    long_timer: float
    no_match: str
    problems: tuple[str, ...]
    note: str


def _digitmap_option(options: dict[str, str], name: str) -> tuple[str, str]:
    """(key, value) of a digit-map option; the account's own value takes precedence."""
    for key, value in sorted(options.items()):
        if re.fullmatch(rf"account\.\d+\.dialplan\.digitmap\.{name}", key) and value.strip():
            return key, value.strip()
    key = f"dialplan.digitmap.{name}"
    return key, options.get(key, "").strip()


def _compile_digitmap(text: str, options: dict[str, str]) -> _DigitMapPlan:
    problems: list[str] = []
    note = ""
    if not text.strip():
        text = DEFAULT_DIGITMAP
        note = f"no digit map string: the documented default {DEFAULT_DIGITMAP!r} applies"
    key, raw = _digitmap_option(options, "interdigit_short_timer")
    shorts: list[float] = []
    for part in raw.split("|") if raw else []:
        try:
            shorts.append(float(part))
        except ValueError:
            problems.append(f"{key}: {part!r} is not a number: {SHORT_TIMER:g} s used")
            shorts.append(SHORT_TIMER)
    key, raw = _digitmap_option(options, "interdigit_long_timer")
    long_timer = _number({key: raw}, key, LONG_TIMER, problems)
    key, no_match = _digitmap_option(options, "no_match_action")
    if no_match not in ("0", "1", "2"):
        if no_match:
            problems.append(f"{key} = {no_match!r} is not 0, 1 or 2: {NO_MATCH_ACTION} used")
        no_match = NO_MATCH_ACTION
    entries = []
    for pos, raw_entry in enumerate(text.split("|")):
        entry = raw_entry.strip()
        if not entry:
            problems.append(f"empty digit map entry at position {pos + 1}")
            continue
        # Distribution form: the Nth value times the Nth string, the last value the rest.
        short = shorts[min(pos, len(shorts) - 1)] if shorts else SHORT_TIMER
        try:
            entries.append(_entry(entry, pos, short))
        except ValueError as e:
            problems.append(f"digit map entry {entry!r} ignored: {e}")
    return _DigitMapPlan(tuple(entries), long_timer, no_match, tuple(problems), note)


def _run_digitmap(plan: _DigitMapPlan, digits: str) -> Outcome:
    steps: list[str] = [
        "digit map mode: dial-now, replace, block-out and area code rules are ignored"
    ]
    if plan.note:
        steps.append(plan.note)
    live = [(e, e.nfa.start) for e in plan.entries]
    accumulate = False
    for k, ch in enumerate(digits, 1):
        prefix = digits[:k]
        if accumulate:
            steps.append(f"{prefix}: accumulating (no_match_action = 2)")
            continue
        live = [(e, m2) for e, m in live if (m2 := e.nfa.step(m, ch))]
        now = next((e for e, m in live if e.timer is None and e.nfa.complete(m)), None)
        if now is not None:
            return _place_map(
                plan,
                digits,
                prefix,
                now,
                0.0,
                steps,
                f"{prefix}: {now.text!r} matches completely with no timer: the shortest match wins",
            )
        if live:
            steps.append(f"{prefix}: partial match of {_names(e.text for e, _ in live)}")
            continue
        if plan.no_match == "0":
            steps.append(
                f"{prefix}: impossible match: no_match_action = 0 sends {prefix!r} at once"
            )
            return Outcome(digits, "dial", sent=prefix, steps=tuple(steps), problems=plan.problems)
        if plan.no_match == "1":
            steps.append(f"{prefix}: impossible match: no_match_action = 1, Forbidden Number")
            return Outcome(digits, "no-match", steps=tuple(steps), problems=plan.problems)
        steps.append(f"{prefix}: impossible match: no_match_action = 2 keeps collecting")
        accumulate = True
    if not digits:
        return Outcome(digits, "wait", steps=tuple(steps), problems=plan.problems)
    if accumulate:
        return _after_long(plan, digits, steps, "nothing in the map matches")
    timed = [(e.timer, e) for e, m in live if e.timer is not None and e.nfa.complete(m)]
    partial = [e for e, m in live if e.nfa.extendable(m)]
    best = min(timed, key=lambda t: t[0]) if timed else None  # min() keeps the first on ties
    if best is not None and (not partial or plan.long_timer == 0 or best[0] <= plan.long_timer):
        entry = best[1]
        return _place_map(
            plan,
            digits,
            digits,
            entry,
            best[0],
            steps,
            f"{entry.text!r} completes when its timer ({best[0]:g} s) runs out",
        )
    if partial:
        return _after_long(
            plan, digits, steps, f"partial match of {_names(e.text for e in partial)}"
        )
    steps.append("nothing more can match")  # unreachable: a dead map ends in the loop above
    return Outcome(digits, "no-match", steps=tuple(steps), problems=plan.problems)


def _after_long(plan: _DigitMapPlan, digits: str, steps: list[str], why: str) -> Outcome:
    if plan.long_timer == 0:
        steps.append(f"{why}; interdigit_long_timer = 0: the phone waits for Send")
        return Outcome(digits, "wait", steps=tuple(steps), problems=plan.problems)
    steps.append(f"{why}: sent as keyed after interdigit_long_timer = {plan.long_timer:g} s")
    return Outcome(
        digits,
        "dial",
        after_timeout=True,
        delay_s=plan.long_timer,
        sent=digits,
        steps=tuple(steps),
        problems=plan.problems,
    )


def _place_map(
    plan: _DigitMapPlan,
    digits: str,
    number: str,
    entry: _Entry,
    delay: float,
    steps: list[str],
    why: str,
) -> Outcome:
    if entry.blocked:
        steps.append(f"{why}; it ends in '!': barred")
        return Outcome(
            digits, "block", matched=entry.text, steps=tuple(steps), problems=plan.problems
        )
    sent = entry.rewrite(number)
    steps.append(f"{why}; sends {sent!r}" + (f" on {entry.route}" if entry.route else ""))
    if not sent:
        return Outcome(
            digits, "no-match", matched=entry.text, steps=tuple(steps), problems=plan.problems
        )
    return Outcome(
        digits,
        "dial",
        after_timeout=delay > 0,
        delay_s=delay,
        sent=sent,
        route=entry.route,
        matched=entry.text,
        steps=tuple(steps),
        problems=plan.problems,
    )


# --- entry point ----------------------------------------------------------------------------


def mode_of(options: dict[str, str]) -> str:
    """``classic`` or ``digitmap``: the profile's ``mode`` option, else the enable switches
    (the account's own ``account.N.dialplan.digitmap.enable`` first)."""
    mode = options.get("mode", "").strip()
    if mode in ("classic", "digitmap"):
        return mode
    _, enable = _digitmap_option(options, "enable")
    return "digitmap" if enable == "1" else "classic"


@lru_cache(maxsize=256)
def _compile(text: str, options: tuple[tuple[str, str], ...]) -> _ClassicPlan | _DigitMapPlan:
    opts = dict(options)
    if mode_of(opts) == "digitmap":
        return _compile_digitmap(text, opts)
    return _compile_classic(text, opts)


@lru_cache(maxsize=4096)
def _run(plan: _ClassicPlan | _DigitMapPlan, digits: str) -> Outcome:
    if isinstance(plan, _DigitMapPlan):
        return _run_digitmap(plan, digits)
    return _run_classic(plan, digits)


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    """What a Yealink line does when ``digits`` are keyed without pausing and nothing else is
    pressed (docs/dialplan.md)."""
    return _run(_compile(plan.text, tuple(sorted(plan.options.items()))), digits)
