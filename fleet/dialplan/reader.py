"""The element reader every dial-plan syntax configures: keys, ``x``, ``[..]`` (a
:class:`Charset`), ``.`` repeats, and rewrites as segments of atoms; a syntax's own letters go
to :meth:`Reader.other`. A rewrite (Poly's ``R..R..R``, Cisco's ``<a:b>``, Grandstream's
``<a=b>``) is a segment: the keys its atoms take are sent, or its replacement instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from fleet.dialplan.automaton import DIGITS, Atom
from fleet.errors import DialPlanError


@dataclass(frozen=True, slots=True)
class Charset:
    """How one syntax writes ``[...]``: the dialects differ in words, not in the idea."""

    allowed: frozenset[str] | None = None  # None: any other character stands for itself
    x: str = "x"  # letters meaning any digit
    commas: bool = False  # "," separates members (Yealink classic)
    dash: bool = False  # a "-" that makes no range is a bad range (Yealink)
    escapes: bool = False  # "\c" is c (Grandstream; "x" is read before ranges there)
    spaces: bool = False  # white space inside is no member (Cisco)
    any_range: bool = False  # a range spans any characters, not only digits (Snom's POSIX)
    bad_range: str = "bad range '{lo}-{hi}' in [{body}]"
    bad_char: str = "'{c}' in [{body}]"
    empty: str = "empty []"

    def parse(self, body: str) -> frozenset[str]:
        body = "".join(body.split()) if self.spaces else body
        chars: set[str] = set()
        j = 0
        while j < len(body):
            c = body[j]
            if self.escapes and c == "\\" and j + 1 < len(body):
                chars.add(body[j + 1])
                j += 2
                continue
            if self.commas and c == ",":
                j += 1
                continue
            if self.escapes and c in self.x:
                chars |= DIGITS
            elif j + 2 < len(body) and body[j + 1] == "-":
                chars |= self._range(c, body[j + 2], body)
                j += 2
            elif c == "-" and self.dash:
                raise DialPlanError(f"bad range in [{body}]")
            elif c in self.x:
                chars |= DIGITS
            elif self.allowed is None or c in self.allowed:
                chars.add(c)
            else:
                raise DialPlanError(self.bad_char.format(c=c, body=body))
            j += 1
        if not chars:
            raise DialPlanError(self.empty)
        return frozenset(chars)

    def _range(self, lo: str, hi: str, body: str) -> set[str]:
        if self.any_range and lo <= hi:
            return set(map(chr, range(ord(lo), ord(hi) + 1)))
        if lo not in DIGITS or hi not in DIGITS or lo > hi:
            raise DialPlanError(self.bad_range.format(lo=lo, hi=hi, body=body))
        return {str(d) for d in range(int(lo), int(hi) + 1)}


class Reader:
    """One entry's text read element by element into atoms, each in a rewrite segment. The
    class attributes say how a syntax writes the shared elements; a subclass reads the rest
    in ``other`` and may read a stretch of the text again (a rewrite's keyed side) with
    ``read``."""

    keys: frozenset[str] = frozenset()  # characters that stand for themselves
    x: str = "x"  # letters meaning any digit
    sets: Charset = Charset()
    unclosed: str = "'[' without ']'"
    nothing: str = "'.' with no construct before it"  # may name the repeat as {c}
    more: bool = False  # a repeat follows its atom ("c+": one or more), not replaces it
    lazy: bool = False  # a repeat takes as few keys as it can
    again: bool = True  # a repeat may itself be repeated

    def __init__(self, text: str) -> None:
        self.text = text
        self.end = len(text)
        self.atoms: list[Atom] = []
        self.segment: list[int] = []  # per atom
        self.replace: list[str | None] = [None]  # per segment: its replacement, None: as keyed
        self.can_repeat = False

    def read(self, i: int = 0, end: int | None = None) -> Reader:
        """Reads text[i:end] (to the end by default; a ``[`` looks no further)."""
        outer, self.end = self.end, len(self.text) if end is None else end
        while i < self.end:
            i = self.element(self.text[i], i + 1)
        self.end = outer
        return self

    def element(self, c: str, i: int) -> int:
        """Reads the element ``c`` (text[i - 1]) starts; where the next one starts."""
        if c in self.keys or c in self.x:
            self.add(DIGITS if c in self.x else frozenset(c))
        elif c == "[":
            end = self.closing(i, "]")
            self.add(self.sets.parse(self.text[i:end]))
            return end + 1
        elif c == ".":
            self.repeat(c)
        else:
            return self.other(c, i)
        return i

    def other(self, c: str, i: int) -> int:
        raise DialPlanError(f"{c!r} is not dial-plan syntax")

    def closing(self, i: int, close: str) -> int:
        if (end := self.text.find(close, i, self.end)) < 0:
            raise DialPlanError(self.unclosed)
        return end

    def add(self, chars: frozenset[str], **flags: Any) -> None:
        self.atoms.append(Atom(chars, **flags) if flags else _plain(chars))
        self.segment.append(len(self.replace) - 1)
        self.can_repeat = True

    def repeat(self, c: str) -> None:
        if not self.can_repeat:
            raise DialPlanError(self.nothing.format(c=c))
        if self.more:
            self.atoms.append(replace(self.atoms[-1], repeat=True, lazy=self.lazy))
            self.segment.append(self.segment[-1])
        else:
            self.atoms[-1] = replace(self.atoms[-1], repeat=True, lazy=self.lazy)
        self.can_repeat = self.again

    def rewrite(self, replacement: str | None) -> None:
        """Atoms added from here on form a new segment, sent as ``replacement`` (None: as
        keyed)."""
        self.replace.append(replacement)


_plain = lru_cache(maxsize=4096)(Atom)  # atoms are immutable: a plan's thousand keys share a few


def send(path: Sequence[int], keys: str, segment: Sequence[int], repl: Sequence[str | None]) -> str:
    """What an entry sends for ``keys`` taken by atoms ``path``: each segment's keys, or its
    replacement."""
    if len(repl) == 1 and repl[0] is None:
        return keys
    kept = [""] * len(repl)
    for key, atom in zip(keys, path, strict=True):
        kept[segment[atom]] += key
    return "".join(got if r is None else r for got, r in zip(kept, repl, strict=True))
