"""Yealink dial plans (syntax ``yealink``), a front end on fleet's dial-plan automaton: the
classic rules (dial-now, replace, block-out, area code) or, once the digit map is enabled, an
RFC 3435 digit map with Yealink's extensions, the classic rules then dead (the failure this
engine exists to show). Semantics, with sources: docs/dialplan.md, "How each phone reads its
plan"; options and open interpretations: this folder's README.md, "Dial plan"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fleet.dialplan.automaton import ANY, Atom, Automaton, span
from fleet.dialplan.dialect import Dialect, Log, choice, names, number, read_entries, timer_list
from fleet.dialplan.mgcp import Entry as MapEntry
from fleet.dialplan.mgcp import rewrite
from fleet.dialplan.outcome import Outcome
from fleet.dialplan.reader import Charset, Reader
from fleet.errors import DialPlanError

# The admin guide's default dialplan.digitmap.string (a US plan: no 999, no 112).
DEFAULT_DIGITMAP = (
    "[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx|[2-9]xxxT|**x.T|+x.T|00x.T"
)
DIALNOW_DELAY = 1.0  # phone_setting.dialnow_delay: 0..14 s, default 1
INTER_DIGIT_TIME = 4.0  # phone_setting.inter_digit_time (live dialpad auto-dial), default 4
LONG_TIMER = 10.0  # dialplan.digitmap.interdigit_long_timer, default 10
SHORT_TIMER = 3.0  # dialplan.digitmap.interdigit_short_timer, default 3 ("T" alone)
NO_MATCH_ACTION = "0"  # dialplan.digitmap.no_match_action: 0 send now, 1 forbid, 2 accumulate
BAD = "{key} = {raw!r} is not a number: default {default:g} used"
OUTSIDE = "{key} = {raw} is outside {lo:g}..{hi:g}: default {default:g} used"
NO_MATCH_SAYS = {"0": "sends the digits at once", "1": "Forbidden Number", "2": "keeps collecting"}

_RANGE = "bad range {lo}-{hi} in [{body}]"
CLASSIC_SETS = Charset(x="", commas=True, dash=True, bad_range=_RANGE)
MAP_SETS = Charset(dash=True, bad_range=_RANGE)
_DOLLAR = re.compile(r"\$(\d)")
_REPLACEMENT = re.compile(r"[0-9*#+]*")
MAP_KEYS = frozenset("0123456789*#+ABCDx")


# --- classic rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pattern:
    """One classic pattern (dial-now rule, replace prefix or block-out number)."""

    text: str
    atoms: tuple[Atom, ...]
    groups: tuple[tuple[int, int], ...]  # $n: atoms lo..hi-1
    label: str = ""  # a replace rule's index
    replace: str = ""  # a replace rule's replacement


def classic(pattern: str) -> Pattern:
    """A classic pattern; DialPlanError says why the phone cannot use it."""
    atoms: list[Atom] = []
    groups: list[list[int]] = []
    open_: list[int] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "x":
            atoms.append(Atom(ANY))
        elif ch == ".":  # "a placeholder or multiple placeholders": one or more characters
            atoms += [Atom(ANY), Atom(ANY, repeat=True)]
        elif ch == "[":
            if (end := pattern.find("]", i + 1)) < 0:
                raise DialPlanError("unbalanced [")
            atoms.append(Atom(CLASSIC_SETS.parse(pattern[i + 1 : end])))
            i = end
        elif ch == "(":
            open_.append(len(groups))
            groups.append([len(atoms), len(atoms)])
        elif ch in ")]" and (ch == "]" or not open_):
            raise DialPlanError(f"unbalanced {ch}")
        elif ch == ")":
            groups[open_.pop()][1] = len(atoms)
        else:
            atoms.append(Atom(frozenset(ch)))
        i += 1
    if open_ or not atoms:
        raise DialPlanError("unbalanced (" if open_ else "matches nothing")
    return Pattern(pattern, tuple(atoms), tuple((a, b) for a, b in groups))


def _apply(rule: Pattern, path: tuple[int, ...], number: str) -> str:
    def group(d: re.Match[str]) -> str:
        n = int(d.group(1))
        if n == 0 or n > len(rule.groups):
            return number if n == 0 else ""  # a group the prefix does not have: nothing
        start, end = span(path, *rule.groups[n - 1])
        return number[start:end]

    return _DOLLAR.sub(group, rule.replace)


@dataclass(frozen=True, slots=True, eq=False)
class ClassicPlan:
    rules: tuple[Pattern, ...]
    replaces: tuple[Pattern, ...]
    blocks: tuple[Pattern, ...]
    area: tuple[str, int, int] | None  # code, min_len, max_len
    dialnow_delay: float
    autodial: float | None  # live-dialpad timeout, None when off
    problems: tuple[str, ...]
    nfas: tuple[Automaton, ...] = field(init=False)  # of rules, replaces, blocks

    def __post_init__(self) -> None:
        each = (self.rules, self.replaces, self.blocks)
        object.__setattr__(self, "nfas", tuple(Automaton([r.atoms for r in x]) for x in each))


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
    lo: float = 0,
    hi: float = 255,
) -> float:
    return number(options, key, default, problems, BAD, OUTSIDE, lo, hi)


def _patterns(items: list[tuple[str, str]], what: str, problems: list[str]) -> list[Pattern]:
    out = []
    for label, text in items:
        try:
            out.append(classic(text))
        except DialPlanError as e:
            problems.append(f"{what}{label} {text!r} ignored: {e}")
    return out


def _replaces(options: dict[str, str], problems: list[str]) -> list[Pattern]:
    out = []
    for _, idx, prefix in _indexed(options, "dialplan.replace.prefix."):
        replace = options.get(f"dialplan.replace.replace.{idx}", "").strip()
        for rule in _patterns([(f" {idx}", prefix)], "replace rule", problems):
            if not replace:
                problems.append(f"replace rule {idx} {prefix!r} ignored: no replacement")
                continue
            if bad := [d for d in _DOLLAR.findall(replace) if int(d) > len(rule.groups)]:
                problems.append(
                    f"replace rule {idx}: {replace!r} names ${bad[0]} but {prefix!r} has "
                    f"{len(rule.groups)} group(s): it is replaced by nothing"
                )
            out.append(Pattern(rule.text, rule.atoms, rule.groups, idx, replace))
    return out


def compile_classic(text: str, options: dict[str, str]) -> ClassicPlan:
    problems: list[str] = []
    rules = [("", r.strip()) for r in text.split("|") if r.strip()]
    dialnow = _patterns(rules, "dial-now rule", problems)
    replaces = _replaces(options, problems)
    numbers = [(f" {i}", n) for _, i, n in _indexed(options, "dialplan.block_out.number.")]
    blocks = _patterns(numbers, "block-out number", problems)
    area = None
    if code := options.get("dialplan.area_code.code", "").strip():
        lo = int(_number(options, "dialplan.area_code.min_len", 1, problems, 1, 15))
        hi = int(_number(options, "dialplan.area_code.max_len", 15, problems, 1, 15))
        area = (code, lo, hi)
    delay = _number(options, "phone_setting.dialnow_delay", DIALNOW_DELAY, problems, 0, 14)
    autodial = None
    if options.get("phone_setting.predial_autodial", "").strip() == "1":
        key = "phone_setting.inter_digit_time"
        autodial = _number(options, key, INTER_DIGIT_TIME, problems, 1, 14)
    patterns = tuple(dialnow), tuple(replaces), tuple(blocks)
    return ClassicPlan(*patterns, area, delay, autodial, tuple(problems))


def _dial_now(plan: ClassicPlan, digits: str, log: Log) -> tuple[str, Pattern] | None:
    """The dial-now rule that places the call, and the digits it places."""
    nfa, state = plan.nfas[0], plan.nfas[0].start
    for k, ch in enumerate(digits, 1):
        state = nfa.step(state, ch)
        done, open_, _ = nfa.info(state)
        if log.loud and done:
            when = f"after phone_setting.dialnow_delay = {plan.dialnow_delay:g} s"
            when += "" if k == len(digits) else "; the next digit comes sooner and cancels it"
            when = when if plan.dialnow_delay else "at once"
            log(f"{digits[:k]}: dial-now rule {plan.rules[done[0]].text!r} matches: placed {when}")
        elif log.loud:
            could = f"matches yet; could still: {names(plan.rules, open_, quote=True)}"
            log(f"{digits[:k]}: no dial-now rule {could if open_ else 'can match'}")
        if done and (plan.dialnow_delay == 0 or k == len(digits)):
            return digits[:k], plan.rules[done[0]]
    return None


def run_classic(plan: ClassicPlan, digits: str, log: Log) -> Outcome:
    if (decided := _dial_now(plan, digits, log)) is not None:
        return _place_classic(plan, decided[0], decided[1].text, plan.dialnow_delay, log)
    if (k := plan.nfas[2].first(digits)) is not None:
        text = plan.blocks[k].text
        log(lambda: f"no dial-now match; block-out number {text!r} matches: Forbidden Number")
        return log.done("block", matched=text)
    if plan.autodial is not None and digits:
        log(lambda: f"no dial-now match: predial_autodial sends after {plan.autodial:g} s")
        return _place_classic(plan, digits, None, plan.autodial, log)
    log("no dial-now match: the phone waits for Send or # (no auto-dial timer)")
    return log.done("wait")


def _place_classic(
    plan: ClassicPlan, number: str, matched: str | None, delay: float, log: Log
) -> Outcome:
    if (k := plan.nfas[2].first(number)) is not None:
        text = plan.blocks[k].text
        log(lambda: f"block-out number {text!r} matches {number!r}: Forbidden Number")
        return log.done("block", matched=text)
    sent = number
    if (k := plan.nfas[1].first(number)) is not None:
        rep = plan.replaces[k]
        sent = _apply(rep, plan.nfas[1].trace(k, number) or (), number)
        log(lambda: f"replace rule {rep.label} {rep.text!r} -> {rep.replace!r}: sends {sent!r}")
    code, lo, hi = plan.area or ("", 1, 0)
    if lo <= len(sent) <= hi:
        log(lambda s: f"area code {code!r} (length {lo}..{hi}) prefixed: {code + s!r}", sent)
        sent = code + sent
    if not sent:
        log("the rewrite leaves nothing to send")
        return log.done("no-match", matched=matched)
    return log.done("dial", sent=sent, matched=matched, delay=delay)


# --- digit map ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MapLine:
    text: str
    entry: MapEntry  # RFC 3435 entry: atoms and R/<a:b> segments
    timer: float | None  # seconds after the last digit before it completes; None = at once
    blocked: bool
    route: str | None


class _MapReader(Reader):
    """One digit-map entry: RFC 3435's elements, Yealink's extensions read in ``other``."""

    keys, sets = MAP_KEYS, MAP_SETS
    unclosed, nothing = "unbalanced [", "'.' follows nothing"

    def __init__(self, text: str, short: float) -> None:
        super().__init__(text)
        self.short = short
        self.timer: float | None = None
        self.route: str | None = None
        self.sub = False  # in a rewrite's dialled side: only the shared elements

    def add(self, chars: frozenset[str], **flags: Any) -> None:
        if self.timer is not None:
            raise DialPlanError("the timer must end the entry")
        super().add(chars, **flags)

    def rewrite(self, replacement: str | None) -> None:
        super().rewrite(replacement)
        self.can_repeat = False  # a '.' repeats only within its own segment

    def rewritten(self, lo: int, mid: int, hi: int) -> int:
        """text[lo:mid] dialled is sent as text[mid + 1:hi]; where the next element starts."""
        if not _REPLACEMENT.fullmatch(inserted := self.text[mid + 1 : hi]):
            raise DialPlanError(f"bad replacement {inserted!r}")
        self.rewrite(inserted)
        self.sub = True
        self.read(lo, mid)
        self.sub = False
        self.rewrite(None)
        return hi + 1

    def element(self, c: str, i: int) -> int:
        if c == "A" and not self.sub:  # a key only in a rewrite's dialled side
            self.route = "default line"
            return i
        return super().element(c, i)

    def other(self, c: str, i: int) -> int:
        s = self.text
        if c == ",":  # second dial tone: no digit
            return i
        if self.sub:
            raise DialPlanError(f"unexpected {c!r}")
        if c == "<":
            if (end := s.find(">", i)) < 0:
                raise DialPlanError("unbalanced <")
            return self.angle(i, end)
        if c == "R":
            mid = s.find("R", i)
            if (end := s.find("R", mid + 1) if mid >= 0 else -1) < 0:
                raise DialPlanError("R needs the form RdialledRinsertedR")
            return self.rewritten(i, mid, end)
        if c == "T" and self.timer is not None:
            raise DialPlanError("two timers")
        if c != "T":
            raise DialPlanError(f"unbalanced {c}" if c in "]>" else f"unexpected {c!r}")
        self.timer = self.short
        return i

    def angle(self, i: int, end: int) -> int:
        if re.fullmatch(r"T\d{1,2}", body := self.text[i:end]):
            self.timer = float(body[1:])
        elif re.fullmatch(r"A\d+", body):
            self.route = f"line {body[1:]}"
        elif ":" in body:
            return self.rewritten(i, self.text.index(":", i), end)
        else:
            raise DialPlanError(f"unknown <{body}>")
        return end + 1


def map_line(text: str, short: float) -> MapLine:
    s = re.sub(r"\s+", "", text)
    if blocked := s.endswith("!"):
        s = s[:-1]
    if "!" in s:
        raise DialPlanError("'!' may only end an entry")
    reader = _MapReader(s, short)
    reader.read()
    if not reader.atoms:
        raise DialPlanError("matches nothing")
    entry = MapEntry(tuple(reader.atoms), tuple(reader.segment), tuple(reader.replace), False)
    return MapLine(text, entry, reader.timer, blocked, reader.route)


@dataclass(frozen=True, slots=True, eq=False)
class MapPlan:
    lines: tuple[MapLine, ...]
    long_timer: float
    no_match: str
    problems: tuple[str, ...]
    note: str
    nfa: Automaton


def _digitmap_option(options: dict[str, str], name: str) -> tuple[str, str]:
    """(key, value) of a digit-map option; the account's own value takes precedence."""
    for key, value in sorted(options.items()):
        if re.fullmatch(rf"account\.\d+\.dialplan\.digitmap\.{name}", key) and value.strip():
            return key, value.strip()
    key = f"dialplan.digitmap.{name}"
    return key, options.get(key, "").strip()


def compile_digitmap(text: str, options: dict[str, str]) -> MapPlan:
    problems: list[str] = []
    note = ""
    if not text.strip():
        text = DEFAULT_DIGITMAP
        note = f"no digit map string: the documented default {DEFAULT_DIGITMAP!r} applies"
    key, raw = _digitmap_option(options, "interdigit_short_timer")
    bad = f"{key}: {{raw!r}} is not a number: {{default:g}} s used"
    shorts = timer_list(raw, SHORT_TIMER, problems, bad)
    key, raw = _digitmap_option(options, "interdigit_long_timer")
    long_timer = _number({key: raw}, key, LONG_TIMER, problems)
    key, no_match = _digitmap_option(options, "no_match_action")
    bad = "{key} = {raw!r} is not 0, 1 or 2: {default} used"
    no_match = choice({key: no_match}, key, NO_MATCH_ACTION, "012", problems, bad)

    def line(entry: str, pos: int) -> MapLine | None:
        if not entry:
            problems.append(f"empty digit map entry at position {pos + 1}")
            return None
        # Distribution form: the Nth value times the Nth string, the last value the rest.
        return map_line(entry, shorts[min(pos, len(shorts) - 1)] if shorts else SHORT_TIMER)

    texts = [raw.strip() for raw in text.split("|")]
    lines = read_entries(texts, line, problems, "digit map entry {text!r} ignored: {why}")
    nfa = Automaton([ln.entry.atoms for ln in lines])
    return MapPlan(tuple(lines), long_timer, no_match, tuple(problems), note, nfa)


def run_digitmap(plan: MapPlan, digits: str, log: Log) -> Outcome:
    log("digit map mode: dial-now, replace, block-out and area code rules are ignored")
    if plan.note:
        log(plan.note)
    nfa, state = plan.nfa, plan.nfa.start
    for k, ch in enumerate(digits, 1):
        state = nfa.step(state, ch)
        done, _, live = nfa.info(state)
        if (now := next((i for i in done if plan.lines[i].timer is None), None)) is not None:
            why = f"{digits[:k]}: {plan.lines[now].text!r} matches with no timer: shortest match"
            return _place_map(plan, digits[:k], now, 0.0, log, why)
        if live:
            log(
                lambda k, live: (
                    f"{digits[:k]}: partial match of {names(plan.lines, live, quote=True)}"
                ),
                k,
                live,
            )
            continue
        says = f"impossible match: no_match_action = {plan.no_match} {NO_MATCH_SAYS[plan.no_match]}"
        log(f"{digits[:k]}: {says}")
        if plan.no_match != "2":
            return log.done(*(("dial", digits[:k]) if plan.no_match == "0" else ("no-match",)))
        return _after_long(plan, digits, log, "nothing in the map matches")
    if not digits:
        return log.done("wait")
    done, partial, _ = nfa.info(state)
    timed = [(t, k) for k in done if (t := plan.lines[k].timer) is not None]
    best = min(timed, key=lambda t: t[0]) if timed else None  # min() keeps the first on ties
    if best is not None and (not partial or plan.long_timer == 0 or best[0] <= plan.long_timer):
        why = f"{plan.lines[best[1]].text!r} completes when its timer ({best[0]:g} s) runs out"
        return _place_map(plan, digits, best[1], best[0], log, why)
    return _after_long(
        plan, digits, log, f"partial match of {names(plan.lines, partial, quote=True)}"
    )


def _after_long(plan: MapPlan, digits: str, log: Log, why: str) -> Outcome:
    if plan.long_timer == 0:
        log(lambda: f"{why}; interdigit_long_timer = 0: the phone waits for Send")
        return log.done("wait")
    log(lambda: f"{why}: sent as keyed after interdigit_long_timer = {plan.long_timer:g} s")
    return log.done("dial", sent=digits, delay=plan.long_timer, timed=True)


def _place_map(plan: MapPlan, number: str, k: int, delay: float, log: Log, why: str) -> Outcome:
    line = plan.lines[k]
    if line.blocked:
        log(lambda: f"{why}; it ends in '!': barred")
        return log.done("block", matched=line.text)
    sent = rewrite(plan.nfa, k, number, line.entry)
    log(lambda: f"{why}; sends {sent!r}" + (f" on {line.route}" if line.route else ""))
    if not sent:
        return log.done("no-match", matched=line.text)
    return log.done("dial", sent=sent, matched=line.text, route=line.route, delay=delay)


# --- entry point ----------------------------------------------------------------------------


def mode_of(options: dict[str, str]) -> str:
    """``classic`` or ``digitmap``: the profile's ``mode`` option, else the enable switches
    (the account's own ``account.N.dialplan.digitmap.enable`` first)."""
    if (mode := options.get("mode", "").strip()) in ("classic", "digitmap"):
        return mode
    return "digitmap" if _digitmap_option(options, "enable")[1] == "1" else "classic"


def compile_plan(text: str, options: dict[str, str]) -> ClassicPlan | MapPlan:
    digitmap = mode_of(options) == "digitmap"
    return (compile_digitmap if digitmap else compile_classic)(text, options)


def run(plan: ClassicPlan | MapPlan, digits: str, log: Log) -> Outcome:
    if isinstance(plan, MapPlan):
        return run_digitmap(plan, digits, log)
    return run_classic(plan, digits, log)


DIALECT = Dialect("yealink", compile_plan, run)
