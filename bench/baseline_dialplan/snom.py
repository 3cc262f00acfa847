"""Snom regular-expression dial plans (``user_dp_str``), evaluated the way the phone does.

Semantics (Snom wiki "Dial Plan - Regular Expressions"; see device_profiles/snom/README.md):

- The plan is a list of entries separated by spaces (an entry may be wrapped in double quotes).
  Each entry is ``<c>pattern<c>replacement<c>flags`` where ``<c>`` is the entry's first
  character, usually ``!`` or ``|``. Entries written back to back with ``|`` between them
  (``!a!b!d|!c!d!``) are also split, as provisioning templates in the field write them.
- After every key press the phone searches the digits keyed so far with each pattern in order;
  the first pattern that matches is the entry that applies (matching is a regex *search*: a
  pattern without ``^``/``$`` matches anywhere in the digits).
- Flag ``d``: the number is complete, the phone dials at once without the OK key. Without ``d``
  the entry only applies when the user presses OK/#, or when the ``auto_dial`` timer (seconds
  after the last digit, default off) fires. Flag ``i``: case-insensitive.
- The replacement is the whole dialled target (NAPTR style, RFC 2915): ``\\1``..``\\9`` are the
  pattern's groups, ``\\d`` is the registrar's domain. ``sent`` is the user part of the target
  (``sip:999@\\d`` sends 999); a host other than the registrar is the ``route``.
- A replacement whose target has no user part (``!^0900!!d``) places nothing: ``block``
  (UNCONFIRMED: the wiki's "allow calls only with a leading string" example blocks other
  numbers, but its exact entry is not preserved in the sources found).
- ``auto_dial_target`` with ``auto_dial`` <= 2 is a hot line: any key dials the target at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

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


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    regex: re.Pattern[str]
    replacement: str
    dial_now: bool


@dataclass(frozen=True, slots=True)
class Compiled:
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]
    domain: str
    auto_dial_s: float | None
    hot_target: str | None


def _tokens(text: str) -> list[str]:
    """Split on whitespace outside double quotes; the quotes themselves go."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            continue
        if ch.isspace() and not quoted:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def _split_parts(token: str) -> tuple[list[str], str]:
    """``!a!b!d|!c...`` -> (["", "a", "b", "d"], rest after the ``|`` separator)."""
    delim = token[0]
    parts: list[str] = [""]
    i = 1
    buf: list[str] = []
    while i < len(token):
        ch = token[i]
        if ch == "\\" and i + 1 < len(token):
            buf += [ch, token[i + 1]]
            i += 2
            continue
        if ch == delim:
            parts.append("".join(buf))
            buf = []
        elif (
            ch == "|"
            and delim != "|"
            and len(parts) >= 3
            and i + 1 < len(token)
            and token[i + 1] == delim
        ):
            parts.append("".join(buf))
            return parts, token[i + 1 :]
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts, ""


def _python_regex(pattern: str) -> str:
    for posix, py in POSIX_CLASSES.items():
        pattern = pattern.replace(posix, py)
    return pattern


def _entry(raw: str, parts: list[str], problems: list[str]) -> Entry | None:
    # parts[0] is the empty text before the opening delimiter.
    if len(parts) < 3:
        problems.append(f"{raw}: no replacement part; the phone ignores this entry")
        return None
    pattern, replacement = parts[1], parts[2]
    flags = parts[3] if len(parts) > 3 else ""
    if any(p for p in parts[4:]):
        problems.append(f"{raw}: text after the flags ({parts[4]!r}) is ignored")
    unknown = sorted(set(flags) - KNOWN_FLAGS)
    if unknown:
        problems.append(f"{raw}: unknown flag(s) {''.join(unknown)!r} ignored")
    try:
        regex = re.compile(_python_regex(pattern), re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        problems.append(f"{raw}: pattern {pattern!r} is not a valid regular expression ({e})")
        return None
    return Entry(raw, regex, replacement, "d" in flags)


def _parse(text: str) -> tuple[list[Entry], list[str]]:
    entries: list[Entry] = []
    problems: list[str] = []
    for token in _tokens(text):
        rest = token
        while rest:
            if rest[0].isalnum() or rest[0] == "\\":
                problems.append(
                    f"{rest}: an entry starts with its delimiter (e.g. !); ignored by the phone"
                )
                break
            parts, after = _split_parts(rest)
            raw = rest[: len(rest) - len(after) - (1 if after else 0)]
            entry = _entry(raw, parts, problems)
            if entry is not None:
                entries.append(entry)
            rest = after
    return entries, problems


def _seconds(value: str | None) -> float | None:
    v = (value or "").strip().lower()
    if not v or v in ("off", "false", "no"):
        return None
    try:
        s = float(v)
    except ValueError:
        return None
    return s if s > 0 else None


@lru_cache(maxsize=1024)
def compile_plan(text: str, options: tuple[tuple[str, str], ...]) -> Compiled:
    opts = dict(options)
    entries, problems = _parse(text)
    domain = (opts.get("user_host") or "").split(";", 1)[0].strip()
    domain = re.sub(r"(?i)^sips?:", "", domain).split(":", 1)[0] or "registrar"
    auto = _seconds(opts.get("auto_dial"))
    target = (opts.get("auto_dial_target") or "").strip() or None
    hot = target if target and auto is not None and auto <= HOT_LINE_MAX_S else None
    return Compiled(tuple(entries), tuple(problems), domain, auto, hot)


def _expand(replacement: str, m: re.Match[str], domain: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            if nxt.isdigit():
                n = int(nxt)
                out.append((m.group(n) or "") if n <= (m.re.groups or 0) else "")
            elif nxt == "d":
                out.append(domain)
            else:
                out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _target(uri: str, domain: str) -> tuple[str, str | None]:
    """(user part, route) of a dial target; route None when it is the registrar."""
    v = re.sub(r"(?i)^(sips?|tel):", "", uri.strip())
    if "@" in v:
        user, _, host = v.partition("@")
        host = host.split(";", 1)[0].strip()
        route = host if host and host.split(":", 1)[0] != domain else None
    else:
        user, route = v, None
    return user.split(";", 1)[0].strip(), route


def _first(plan: Compiled, digits: str) -> tuple[Entry, re.Match[str]] | None:
    for e in plan.entries:
        m = e.regex.search(digits)
        if m:
            return e, m
    return None


def _apply(
    c: Compiled,
    digits: str,
    hit: tuple[Entry, re.Match[str]] | None,
    steps: list[str],
    *,
    after_timeout: bool = False,
    delay_s: float = 0.0,
) -> Outcome:
    """What the phone places once it decides (d flag, OK or timer): the first match's target,
    or the digits as keyed when no entry matches."""
    if hit is None:
        sent: str | None = digits
        outcome, matched, route = "dial", None, None
    else:
        entry, m = hit
        sent, route = _target(_expand(entry.replacement, m, c.domain), c.domain)
        outcome, matched = ("dial", entry.text) if sent else ("block", entry.text)
    return Outcome(
        digits,
        outcome,
        after_timeout=after_timeout,
        delay_s=delay_s,
        sent=sent if outcome == "dial" else None,
        route=route if outcome == "dial" else None,
        matched=matched,
        steps=tuple(steps),
        problems=c.problems,
    )


def evaluate(plan: DialPlan, digits: str) -> Outcome:
    c = compile_plan(plan.text, tuple(sorted(plan.options.items())))
    steps: list[str] = []
    if c.hot_target and digits:
        steps.append(
            f"key {digits[0]}: hot line (auto_dial <= {HOT_LINE_MAX_S} s with "
            f"auto_dial_target): the phone dials {c.hot_target} at once"
        )
        return Outcome(digits, "dial", sent=c.hot_target, steps=tuple(steps), problems=c.problems)
    hit: tuple[Entry, re.Match[str]] | None = None
    for i in range(1, len(digits) + 1):
        typed, key = digits[:i], digits[i - 1]
        hit = _first(c, typed)
        if hit is None:
            steps.append(f"key {key}: {typed!r} matches no entry; keep collecting")
        elif hit[0].dial_now:
            steps.append(f"key {key}: {typed!r}: first match {hit[0].text} has d: dial now")
            if i < len(digits):
                steps.append(f"digits {digits[i:]!r} after that are not part of the number")
            return _apply(c, digits, hit, steps)
        else:
            steps.append(
                f"key {key}: {typed!r}: first match {hit[0].text} has no d: "
                "it applies on OK/# or when auto_dial fires"
            )
    if not digits or c.auto_dial_s is None:
        steps.append("nothing dials at once and auto_dial is off: the phone waits for OK/#")
        matched = hit[0].text if hit else None
        return Outcome(digits, "wait", matched=matched, steps=tuple(steps), problems=c.problems)
    steps.append(f"auto_dial fires {c.auto_dial_s:g} s after the last digit")
    return _apply(c, digits, hit, steps, after_timeout=True, delay_s=c.auto_dial_s)
