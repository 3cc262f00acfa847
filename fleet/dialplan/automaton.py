"""The compiled automaton every dialect shares: atoms (character classes), one NFA per plan
with memoised steps, and the match path from which rewrites are read.

A plan's entries are laid side by side in one bit set (entry k's position i is bit
``offset[k] + i``; position ``n`` accepts), so a state of the whole plan is one int and a
step is one dict look-up once seen: a sweep keys the same few numbers into the same few
plans. Rewrites are read from the path the keys took (which atom took which key), traced
the way a backtracking regex would choose it, so no regex has to agree with the NFA.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

DIGITS = frozenset("0123456789")
MAX_MEMO = 50_000  # memoised steps per plan: arbitrary keys cannot grow a shared plan forever


class AnyKey(frozenset[str]):
    """The class that takes every key (Yealink's classic ``x`` and ``.``)."""

    def __contains__(self, item: object) -> bool:
        return True


ANY = AnyKey()


@dataclass(frozen=True, slots=True)
class Atom:
    chars: frozenset[str]
    repeat: bool = False  # zero or more: the position loops on itself
    lazy: bool = False  # a repeat that takes as few keys as it can (regex *?)
    silent: bool = False  # an event (timer, pause), not a key: no key's path goes through it


def _closures(atoms: Sequence[Atom]) -> list[int]:
    """Position i's epsilon closure as a local bit mask: a repeat may take nothing."""
    n = len(atoms)
    out = [0] * (n + 1)
    out[n] = 1 << n
    for i in range(n - 1, -1, -1):
        out[i] = (1 << i) | (out[i + 1] if atoms[i].repeat else 0)
    return out


class Automaton:
    """All entries of one plan; ``step`` and ``info`` are memoised on the plan-wide state."""

    __slots__ = ("_info", "_moves", "_straight", "_succ", "_traces", "atoms", "offsets", "start")

    def __init__(self, entries: Sequence[Sequence[Atom]]) -> None:
        self.atoms = tuple(tuple(e) for e in entries)
        # An entry without repeats has one path: its key-taking atoms, in order.
        self._straight = [
            None if any(a.repeat for a in e) else tuple(i for i, a in enumerate(e) if not a.silent)
            for e in self.atoms
        ]
        self.offsets: list[int] = []
        self._succ: list[tuple[frozenset[str], int] | None] = []  # per bit: (keys, targets)
        start = off = 0
        for atoms in self.atoms:
            clo = _closures(atoms)
            self.offsets.append(off)
            for i, a in enumerate(atoms):
                self._succ.append((a.chars, clo[i if a.repeat else i + 1] << off))
            self._succ.append(None)
            start |= clo[0] << off
            off += len(atoms) + 1
        self.start = start
        self._moves: dict[tuple[int, str], int] = {}
        self._info: dict[int, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}
        self._traces: dict[tuple[int, tuple[int, ...], str], tuple] = {}

    def step(self, state: int, key: str) -> int:
        got = self._moves.get((state, key))
        if got is not None:
            return got
        out = 0
        rest, bit = state, 0
        while rest:
            if rest & 1 and (s := self._succ[bit]) is not None and key in s[0]:
                out |= s[1]
            rest >>= 1
            bit += 1
        if len(self._moves) > MAX_MEMO:
            self._moves.clear()
        self._moves[(state, key)] = out
        return out

    def walk(self, keys: str) -> int:
        state = self.start
        for key in keys:
            state = self.step(state, key)
        return state

    def first(self, keys: str) -> int | None:
        """The first entry that ``keys`` match completely."""
        done = self.info(self.walk(keys))[0]
        return done[0] if done else None

    def local(self, state: int, k: int) -> int:
        """Entry k's positions in ``state`` (bit i: before atom i; bit n: complete)."""
        return state >> self.offsets[k] & ((2 << len(self.atoms[k])) - 1)

    def info(self, state: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(complete, open, live) entry indexes: accepting; with a position short of the end;
        with any position at all."""
        got = self._info.get(state)
        if got is None:
            done, open_, live = [], [], []
            for k, atoms in enumerate(self.atoms):
                mask = self.local(state, k)
                if mask:
                    live.append(k)
                    if mask >> len(atoms):
                        done.append(k)
                    if mask & ((1 << len(atoms)) - 1):
                        open_.append(k)
            got = (tuple(done), tuple(open_), tuple(live))
            if len(self._info) > MAX_MEMO:
                self._info.clear()
            self._info[state] = got
        return got

    def trace(self, k: int, keys: str) -> tuple[int, ...] | None:
        """Which atom of entry k took each key, on the path a backtracking regex would pick
        (a repeat takes as many keys as it can, a lazy one as few); None: no full match.
        ``keys`` are ones the NFA saw entry k accept: a repeat-free entry is not re-checked."""
        straight = self._straight[k]
        if straight is not None:
            return straight if len(straight) == len(keys) else None
        atoms = self.atoms[k]
        threads = tuple(_order(atoms, 0))
        history = []
        for key in keys:
            memo_key = (k, threads, key)
            got = self._traces.get(memo_key)
            if got is None:
                got = _pike(atoms, threads, key)
                if len(self._traces) > MAX_MEMO:
                    self._traces.clear()
                self._traces[memo_key] = got
            threads, links = got
            history.append(links)
        if len(atoms) not in threads:
            return None
        t = threads.index(len(atoms))
        path = []
        for links in reversed(history):
            t, atom = links[t]
            path.append(atom)
        return tuple(reversed(path))


def _order(atoms: Sequence[Atom], p: int) -> list[int]:
    """Positions reachable from p without a key, in the order a regex would try them: a
    greedy repeat before what follows it, a lazy one after. A loop, not a recursion: a plan
    of a thousand repeats in a row (``x.x.x.``...) must not exhaust Python's stack."""
    front: list[int] = []
    lazy: list[int] = []  # tried after everything that follows them, innermost first
    while True:
        if p == len(atoms):
            front.append(p)
            break
        a = atoms[p]
        if not a.silent:
            if not a.repeat:
                front.append(p)
                break
            (lazy if a.lazy else front).append(p)
        p += 1
    return front + lazy[::-1]


def _pike(
    atoms: Sequence[Atom], threads: tuple[int, ...], key: str
) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    out: list[int] = []
    links: list[tuple[int, int]] = []
    for t, p in enumerate(threads):
        if p == len(atoms) or key not in atoms[p].chars:
            continue
        for q in _order(atoms, p if atoms[p].repeat else p + 1):
            if q not in out:
                out.append(q)
                links.append((t, p))
    return tuple(out), tuple(links)


def span(path: Sequence[int], lo: int, hi: int) -> tuple[int, int]:
    """The keys taken by atoms lo..hi-1 (where they would be, when none)."""
    return bisect_left(path, lo), bisect_left(path, hi)
