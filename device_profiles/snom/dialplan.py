"""Snom regular-expression dial plans (syntax ``snom``, ``user_dp_str``). Snom's patterns are
POSIX regular expressions: the plain ones (keys, classes, ``.``, ``*``, ``+``, groups, anchors)
become atoms of fleet's automaton, the rest (alternation, counts, back-references, classes
Python spells differently) stay with ``re``. Semantics, with sources: docs/dialplan.md, "How
each phone reads its plan"."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from fleet.dialplan.automaton import ANY, DIGITS, MAX_MEMO, Atom, Automaton, span
from fleet.dialplan.dialect import Dialect, Log
from fleet.dialplan.outcome import Outcome
from fleet.dialplan.reader import Charset
from fleet.errors import DialPlanError

# POSIX bracket classes snom's regcomp accepts but Python's re does not.
POSIX_CLASSES = {
    "[:digit:]": "0-9",
    "[:alpha:]": "a-zA-Z",
    "[:alnum:]": "0-9a-zA-Z",
    "[:space:]": r"\s",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:xdigit:]": "0-9a-fA-F",
}
KNOWN_FLAGS = frozenset("di")
HOT_LINE_MAX_S = 2
IGNORED = "ignored by the phone"
SETS = Charset(x="", any_range=True)  # as re reads a class without escapes or negation
NEVER = (Atom(frozenset()),)  # the automaton's stand-in for a pattern left to re
_Groups = tuple[str | None, ...]  # group 0 (what the pattern matched), 1, 2...
_LITERAL = {c: Atom(frozenset(c)) for c in string.printable if c not in "()*+?{}|^$.[\\"}
_ELEMENT = re.compile(r"\\.?|\[[^\]]*\]?|.", re.DOTALL)  # an escape, a class, a character
_WORD = re.compile(r'(?:"[^"]*(?:"|$)|[^\s"])+')  # a quoted part may hold white space
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(slots=True, eq=False)
class Entry:
    text: str
    pattern: str  # as Python's re reads it
    flags: int
    replacement: str
    dial_now: bool
    atoms: tuple[Atom, ...] | None = None  # None: left to re
    groups: tuple[tuple[int, int], ...] = ()  # group n: atoms lo..hi-1 (0: the whole match)
    _regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        """The pattern compiled by re (only entries left to re need it to be evaluated)."""
        if self._regex is None:
            self._regex = re.compile(self.pattern, self.flags)
        return self._regex


def translate(
    pattern: str, known: dict[str, Atom] | None = None
) -> tuple[tuple[Atom, ...], tuple[tuple[int, int], ...]] | None:
    """A plain pattern as atoms searching the keys (a lazy any-key loop stands for each
    missing anchor) and its groups; None when only re can read it. ``known``: the atoms the
    plan's other patterns already read (a plan writes ``[0-9]`` a hundred times)."""
    known = {} if known is None else known
    body = pattern[1:] if pattern.startswith("^") else pattern
    anchored = body.endswith("$") and not body.endswith("\\$")
    body = body[:-1] if anchored else body
    atoms = [] if pattern.startswith("^") else [Atom(ANY, repeat=True, lazy=True)]
    groups, opened = [[len(atoms), 0]], []
    after = ""  # the element before: "" a key, else "(", ")", "*" or "+"
    for el in _ELEMENT.findall(body):
        if el == "(":
            opened.append(len(groups))
            groups.append([len(atoms), 0])
        elif el == ")" and opened:
            groups[opened.pop()][1] = len(atoms)
        elif el in ("*", "+") and after == "" and len(atoms) > groups[0][0]:
            last = atoms.pop()
            atoms += [last] if el == "+" else []
            atoms.append(Atom(last.chars, repeat=True))
        elif (atom := _LITERAL.get(el) or known.get(el)) is not None:
            atoms.append(atom)
        elif (chars := _key(el)) is None:
            return None
        else:
            atoms.append(known.setdefault(el, Atom(chars)))
        after = el if el in ("(", ")", "*", "+") else ""
    if opened:
        return None
    groups[0][1] = len(atoms)
    if not anchored:
        atoms.append(Atom(ANY, repeat=True, lazy=True))
    return tuple(atoms), tuple((a, b) for a, b in groups)


def _key(el: str) -> frozenset[str] | None:
    """The keys one element takes; None: not a one-key element re and fleet read alike."""
    if el == ".":
        return ANY
    if el[0] == "\\":
        if el == "\\d":
            return DIGITS
        return frozenset(el[1]) if len(el) == 2 and not el[1].isalnum() else None
    if el[0] != "[":
        return None if el in "()*+?{}|^$" else frozenset(el)
    inner = el[1:-1]
    if len(el) < 3 or el[-1] != "]" or inner[0] == "^" or "\\" in inner or "[" in inner:
        return None
    try:
        return SETS.parse(inner)
    except DialPlanError:
        return None  # a backwards range: re reads (and reports) it


@dataclass(frozen=True, slots=True, eq=False)
class Compiled:
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]
    domain: str
    auto_dial_s: float | None
    hot_target: str | None
    # The state of a regex plan is the prefix keyed so far: its first match, memoised the
    # way the automaton memoises its steps (a sweep keys the same few numbers).
    first: dict[str, tuple[Entry, _Groups] | None] = field(default_factory=dict)
    nfa: Automaton = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nfa", Automaton([e.atoms or NEVER for e in self.entries]))


def _split_parts(token: str) -> tuple[list[str], str]:
    """``!a!b!d|!c...`` -> (["", "a", "b", "d"], rest after the ``|`` separator)."""
    delim = token[0]
    if "\\" + delim not in token and (delim == "|" or "|" not in token):
        return token.split(delim), ""  # nothing escaped, nothing joined: the common case
    parts: list[str] = [""]
    buf: list[str] = []
    i = 1
    while i < len(token):
        ch = token[i]
        if ch == "\\" and i + 1 < len(token):
            buf += [ch, token[i + 1]]
            i += 1
        elif ch == delim:
            parts.append("".join(buf))
            buf = []
        elif ch == "|" != delim and len(parts) >= 3 and token[i + 1 : i + 2] == delim:
            return [*parts, "".join(buf)], token[i + 1 :]
        else:
            buf.append(ch)
        i += 1
    return [*parts, "".join(buf)], ""


def _entry(raw: str, parts: list[str], problems: list[str], known: dict[str, Atom]) -> Entry | None:
    # parts[0] is the empty text before the opening delimiter.
    if len(parts) < 3:
        problems.append(f"{raw}: no replacement part; the phone ignores this entry")
        return None
    pattern, replacement, flags = parts[1], parts[2], (parts[3] if len(parts) > 3 else "")
    if any(p for p in parts[4:]):
        problems.append(f"{raw}: text after the flags ({parts[4]!r}) is ignored")
    if unknown := sorted(set(flags) - KNOWN_FLAGS):
        problems.append(f"{raw}: unknown flag(s) {''.join(unknown)!r} ignored")
    python = pattern
    for posix, py in POSIX_CLASSES.items() if "[:" in pattern else ():
        python = python.replace(posix, py)
    plain = None if "i" in flags else translate(python, known)
    entry = Entry(raw, python, re.IGNORECASE if "i" in flags else 0, replacement, "d" in flags)
    if plain is not None:
        entry.atoms, entry.groups = plain
        return entry
    try:
        entry.regex  # noqa: B018 - compiled now, so that a bad one is reported with the plan
    except re.error as e:
        problems.append(f"{raw}: pattern {pattern!r} is not a valid regular expression ({e})")
        return None
    return entry


def _seconds(value: str | None) -> float | None:
    v = (value or "").strip().lower()
    try:
        s = float(v) if v not in ("off", "false", "no") else 0.0
    except ValueError:
        return None
    return s if s > 0 else None


def compile_plan(text: str, opts: dict[str, str]) -> Compiled:
    entries: list[Entry] = []
    problems: list[str] = []
    known: dict[str, Atom] = {}
    words = _WORD.findall(text) if '"' in text else text.split()
    for token in (t for w in words if (t := w.replace('"', ""))):
        rest = token
        while rest and not (rest[0].isalnum() or rest[0] == "\\"):
            parts, after = _split_parts(rest)
            raw = rest[: len(rest) - len(after) - (1 if after else 0)]
            if (entry := _entry(raw, parts, problems, known)) is not None:
                entries.append(entry)
            rest = after
        if rest:
            problems.append(f"{rest}: an entry starts with its delimiter (e.g. !); {IGNORED}")
    domain = (opts.get("user_host") or "").split(";", 1)[0].strip()
    domain = re.sub(r"(?i)^sips?:", "", domain).split(":", 1)[0] or "registrar"
    auto = _seconds(opts.get("auto_dial"))
    target = (opts.get("auto_dial_target") or "").strip() or None
    hot = target if target and auto is not None and auto <= HOT_LINE_MAX_S else None
    return Compiled(tuple(entries), tuple(problems), domain, auto, hot)


def _expand(replacement: str, groups: _Groups, domain: str) -> str:
    def one(m: re.Match[str]) -> str:
        c = m.group(1)
        if c.isdigit():
            return (groups[int(c)] or "") if int(c) < len(groups) else ""
        return domain if c == "d" else c

    return _ESCAPE.sub(one, replacement)


def _target(uri: str, domain: str) -> tuple[str, str | None]:
    """(user part, route) of a dial target; route None when it is the registrar."""
    user, at, host = re.sub(r"(?i)^(sips?|tel):", "", uri.strip()).partition("@")
    host = host.split(";", 1)[0].strip()
    route = host if at and host and host.split(":", 1)[0] != domain else None
    return user.split(";", 1)[0].strip(), route


def _first(plan: Compiled, digits: str) -> tuple[Entry, _Groups] | None:
    """The first entry whose pattern finds a match in ``digits``, and its groups."""
    if digits in plan.first:
        return plan.first[digits]
    done = plan.nfa.first(digits)
    hit: tuple[Entry, _Groups] | None = None
    for k, e in enumerate(plan.entries[: None if done is None else done + 1]):
        if e.atoms is not None and k == done:
            path = plan.nfa.trace(k, digits) or ()
            hit = e, tuple(digits.__getitem__(slice(*span(path, *g))) for g in e.groups)
        elif e.atoms is None and (m := e.regex.search(digits)):
            hit = e, (m.group(0), *m.groups())
        if hit:
            break
    if len(plan.first) > MAX_MEMO:
        plan.first.clear()
    plan.first[digits] = hit
    return hit


def _apply(
    c: Compiled,
    digits: str,
    hit: tuple[Entry, _Groups] | None,
    log: Log,
    delay: float | None = None,
) -> Outcome:
    """What the phone places once it decides (d flag, OK or timer): the first match's target,
    or the digits as keyed when no entry matches."""
    sent, route, matched = digits, None, None
    if hit is not None:
        sent, route = _target(_expand(hit[0].replacement, hit[1], c.domain), c.domain)
        matched = hit[0].text
    if not sent:
        return log.done("block", matched=matched, delay=delay or 0.0, timed=delay is not None)
    return log.done("dial", sent, matched, route, delay or 0.0, timed=delay is not None)


def run(c: Compiled, digits: str, log: Log) -> Outcome:
    if c.hot_target and digits:
        log(lambda: f"key {digits[0]}: hot line (auto_dial_target, auto_dial <= 2 s): at once")
        return log.done("dial", sent=c.hot_target)
    hit: tuple[Entry, _Groups] | None = None
    for i in range(1, len(digits) + 1):
        hit = _first(c, digits[:i])
        if log.loud and hit:
            d = "d: dial now" if hit[0].dial_now else "no d: it applies on OK/# or on auto_dial"
            log(f"key {digits[i - 1]}: {digits[:i]!r}: first match {hit[0].text} has {d}")
        elif log.loud:
            log(f"key {digits[i - 1]}: {digits[:i]!r} matches no entry; keep collecting")
        if hit and hit[0].dial_now:
            if i < len(digits):
                log(lambda i: f"digits {digits[i:]!r} after that are not part of the number", i)
            return _apply(c, digits, hit, log)
    if not digits or c.auto_dial_s is None:
        log("nothing dials at once and auto_dial is off: the phone waits for OK/#")
        return log.done("wait", matched=hit[0].text if hit else None)
    log(lambda: f"auto_dial fires {c.auto_dial_s:g} s after the last digit")
    return _apply(c, digits, hit, log, delay=c.auto_dial_s)


DIALECT = Dialect("snom", compile_plan, run, ("user_host", "auto_dial", "auto_dial_target"))
