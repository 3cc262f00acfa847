"""Avaya ``DIALPLAN`` (syntax ``avaya``): a front end on fleet's RFC 3435 (``mgcp``) engine.

Avaya's format strings (README.md, "Dial plan"): ``0-9`` and ``*`` literal, ``#`` literal only
as the first character, ``x`` any digit, ``Z``/``z`` dial tone, ``[..]`` one of (``a-b``
ranges), ``+`` the construct before it repeated 0 or more more times, ``|`` between strings.
"When the dialed digits match a format string, the call is initiated"; otherwise the phone
waits for Send or the inter-digit timeout and sends what was keyed. No rewriting, no blocking.

That is RFC 3435 "shortest match sends at once", which the ``mgcp`` engine implements, so
``compile_plan`` rewrites each string construct by construct (``x``->``x``, ``Z``->``,``,
``c+``->``cc.``, then ``T``), appends one catch-all ``[0-9*#][0-9*#].T`` that carries
INTER_DIGIT_TIMEOUT, and hands the result to ``mgcp``; ``run`` reports the Avaya string that
decided (``matched``), or none when only the timeout did. A string with ``+`` completes only
when the timeout runs out (``cc.T``): see ``_one``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fleet.dialplan import mgcp
from fleet.dialplan.dialect import Dialect, Log
from fleet.dialplan.outcome import Outcome
from fleet.model import DialPlan

SYNTAX = "avaya"
TIMEOUT = "INTER_DIGIT_TIMEOUT"  # the one option a plan reads, named as the settings file does
CATCH_ALL = "[0-9*#][0-9*#].T"
DEFAULT_TIMEOUT = "5"  # s; INTER_DIGIT_TIMEOUT's default is UNCONFIRMED (README.md)
SET_CHARS = frozenset("0123456789*#-")


@dataclass(frozen=True, slots=True)
class Translated:
    entries: list[str]  # mgcp entries, one per readable Avaya format string
    written: list[str]  # those Avaya format strings, as written
    bad: list[tuple[str, str]]  # (format string as written, why fleet cannot read it)


def _bracket(entry: str, i: int) -> tuple[str, int]:
    end = entry.find("]", i)
    if end < 0:
        raise ValueError("'[' without ']'")
    body = entry[i + 1 : end]
    if not body or not set(body) <= SET_CHARS:
        raise ValueError(f"[{body}] holds characters other than digits, *, # and -")
    return f"[{body}]", end + 1


def _one(entry: str) -> str:
    """One Avaya format string as an mgcp entry; ValueError says what the docs do not allow."""
    out: list[str] = []
    last: str | None = None  # the construct a following '+' repeats
    i = 0
    while i < len(entry):
        c = entry[i]
        if c == "[":
            last, i = _bracket(entry, i)
            out.append(last)
            continue
        i += 1
        if c in "0123456789*" or (c == "#" and not out):
            last = c
        elif c == "#":
            raise ValueError("'#' is valid only as the first character")
        elif c in "xX":
            last = "x"
        elif c in "Zz":
            out.append(",")
            last = None
            continue
        elif c == "+" and last is not None:
            out.append(last + ".")
            last = None
            continue
        else:
            raise ValueError(f"{c!r} is not a dial plan character")
        out.append(last)
    text = "".join(out)
    if not text.replace(",", ""):
        raise ValueError("no digit to match")
    # A string that can still grow (``+``): the vendor's own example ``9z011x+`` is for
    # international numbers "of unknown, and variable, length", so the phone cannot send at
    # the first digit after 011; fleet assumes it waits for the timeout (UNCONFIRMED).
    return text + "T" if "." in text else text


def translate(text: str) -> Translated:
    entries: list[str] = []
    written: list[str] = []
    bad: list[tuple[str, str]] = []
    for raw in text.strip().strip("|").split("|"):
        entry = raw.strip()
        if not entry:
            continue
        try:
            entries.append(_one(entry))
            written.append(entry)
        except ValueError as e:
            bad.append((entry, str(e)))
    return Translated(entries, written, bad)


def timeout(value: str | None) -> str:
    v = (value or "").strip()
    return v if v.isdigit() else DEFAULT_TIMEOUT


def mgcp_plan(dialplan_text: str, inter_digit: str | None) -> tuple[str, dict[str, str]]:
    """The equivalent ``mgcp`` digit map and its options."""
    t = translate(dialplan_text)
    entries = [*t.entries, CATCH_ALL]
    secs = timeout(inter_digit)
    options = {
        mgcp.TIMEOUT: "|".join([secs] * len(entries)),
        mgcp.IMPOSSIBLE: "0",
        mgcp.REMOVE_END: "0",
    }
    return "|".join(entries), options


def plan(dialplan_text: str, inter_digit: str | None, source: str = "DIALPLAN") -> DialPlan:
    return DialPlan(SYNTAX, dialplan_text, source, {TIMEOUT: timeout(inter_digit)})


# ---- the dialect ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    core: mgcp.Plan  # the mgcp plan, each entry named by the Avaya string it came from
    own: tuple[str, ...]  # what the Avaya text itself gets wrong

    @property
    def problems(self) -> tuple[str, ...]:
        return self.core.problems  # the Avaya text's own, then the mgcp engine's


def compile_plan(text: str, opts: dict[str, str]) -> Plan:
    t = translate(text)
    raw = opts.get(TIMEOUT)
    problems = [f"format string {e!r} is ignored: {why}" for e, why in t.bad]
    if raw is not None and raw.strip() and not raw.strip().isdigit():
        problems.append(f"{TIMEOUT}={raw!r} is not a number of seconds; {DEFAULT_TIMEOUT} s used")
    digit_map, options = mgcp_plan(text, raw)
    core = mgcp.compile_plan(digit_map, options)
    # an entry reports the Avaya string it came from; the catch-all, which no one wrote, none
    named = [*t.written, ""]
    lines = tuple(replace(e, text=named[e.index]) for e in core.lines)
    core = replace(core, lines=lines, problems=(*problems, *core.problems))
    return Plan(core, tuple(problems))


def run(p: Plan, digits: str, log: Log) -> Outcome:
    if log.loud:  # a sweep reads no steps: build none
        for x in p.own:
            log(f"problem: {x}")
        log(
            f"Avaya DIALPLAN read as an RFC 3435 digit map of {len(p.core.lines)} entries, "
            "the last one the inter-digit timeout (no format string matches)"
        )
    return mgcp.run(p.core, digits, log)


def bench_plan(entries: list[tuple[str, str | None]]) -> tuple[str, dict[str, str]]:
    """bench/dialplan_eval.py's 50-entry plan: Avaya strings cannot strip a prefix, so an
    entry behind an outside-line code is written with the code kept (the server strips it)."""
    return "|".join(f"{p}{e}" if p else e for e, p in entries), {TIMEOUT: "5"}


DIALECT = Dialect(
    name=SYNTAX,
    compile=compile_plan,
    run=run,
    option_names=(TIMEOUT,),
    vectors=Path(__file__).with_name("dialplan_vectors.yaml"),
    bench_plan=bench_plan,
)
