"""A dial-plan syntax as the engine sees it: a typed record each front end declares, found by
scanning ``device_profiles/*/dialplan.py``; plus the few helpers every front end needs."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from fleet.dialplan.outcome import Outcome
from fleet.errors import DialPlanError
from fleet.model import DialPlan

T = TypeVar("T")
Note = Callable[..., str] | str  # a callable: formatted only when someone reads the steps


class Log:
    """One evaluation's ``--explain`` lines, formatted as they are said, and its outcome. A
    front end says ``log(line, *args)`` (a string, or a callable formatted with ``args``) or
    builds a costly line only ``if log.loud``, and ends with ``log.done(...)``."""

    __slots__ = ("digits", "lines", "problems")
    loud = True

    def __init__(self, digits: str, problems: tuple[str, ...]) -> None:
        self.digits, self.problems = digits, problems
        self.lines: list[str] = []

    def __call__(self, line: Note, *args: Any) -> None:
        self.lines.append(line if isinstance(line, str) else line(*args))

    def steps(self) -> Sequence[str]:
        return tuple(self.lines)

    def done(
        self,
        outcome: str,
        sent: str | None = None,
        matched: str | None = None,
        route: str | None = None,
        delay: float = 0.0,
        timed: bool | None = None,
    ) -> Outcome:
        """The outcome; ``timed`` (after_timeout) defaults to whether a timer delayed it."""
        after = delay > 0 if timed is None else timed
        steps = self.steps()
        return Outcome(
            self.digits, outcome, after, delay, sent, route, matched, steps, self.problems
        )


class Silent(Log, Sequence[str]):
    """The fast path: formats nothing, and is itself the outcome's steps, rendered by a loud
    re-run on first read (a sweep evaluates millions of numbers and reads none of them)."""

    __slots__ = ("_lines", "_render")
    loud = False

    def __init__(
        self, digits: str, problems: tuple[str, ...], render: Callable[[], Sequence[str]]
    ) -> None:
        super().__init__(digits, problems)
        self._render = render
        self._lines: tuple[str, ...] | None = None

    def __call__(self, line: Note, *args: Any) -> None:
        pass

    def steps(self) -> Sequence[str]:
        return self

    def _get(self) -> tuple[str, ...]:
        if self._lines is None:
            self._lines = tuple(self._render())
        return self._lines

    def __getitem__(self, i: Any) -> Any:
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __eq__(self, other: object) -> bool:
        return self._get() == (other._get() if isinstance(other, Silent) else other)

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get())

    def __reduce__(self) -> tuple[type, tuple[tuple[str, ...]]]:
        return tuple, (self._get(),)  # pickled (a worker's result) as the lines themselves


@dataclass(frozen=True, slots=True, eq=False)  # eq=False: hashed by identity, cheaply
class Dialect:
    """One syntax: ``compile`` reads the vendor's text and options into a plan for ``run``."""

    name: str
    compile: Callable[[str, dict[str, str]], Any]
    run: Callable[[Any, str, Log], Outcome]
    option_names: tuple[str, ...] | None = None  # the options the plan reads; None: any
    vectors: Path | None = None  # the documented cases; None: the folder's dialplan_vectors.yaml
    # bench/dialplan_eval.py: a plan in this syntax from neutral (pattern, strip-prefix)
    # entries, x = any digit, with the options it needs; None = the bench has one of its own
    bench_plan: Callable[[list[tuple[str, str | None]]], tuple[str, dict[str, str]]] | None = None

    def key(self, options: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """What of ``options`` the compiled plan depends on, as a cache key."""
        if not options:
            return ()
        if self.option_names is None:
            return tuple(sorted(options.items()))
        names = self.option_names
        return tuple(sorted((k, v) for k, v in options.items() if k in names))

    def evaluate(self, plan: DialPlan, digits: str) -> Outcome:
        c = _compiled(self, plan.text, self.key(plan.options))
        loud = lambda: self.run(c, digits, Log(digits, c.problems)).steps  # noqa: E731
        return self.run(c, digits, Silent(digits, c.problems, loud))


@lru_cache(maxsize=1024)
def _compiled(dialect: Dialect, text: str, options: tuple[tuple[str, str], ...]) -> Any:
    return dialect.compile(text, dict(options))


def clear_compiled() -> None:
    """Forget every compiled plan (the bench times compiling)."""
    _compiled.cache_clear()


@cache
def registry() -> dict[str, Dialect]:
    """Every dialect: RFC 3435 here, then each vendor folder's ``dialplan.py`` that declares
    ``DIALECT``."""
    import device_profiles
    from fleet.dialplan import mgcp

    found = {mgcp.DIALECT.name: mgcp.DIALECT}
    for path in sorted(Path(device_profiles.__file__).parent.glob("*/dialplan.py")):
        module = importlib.import_module(f"device_profiles.{path.parent.name}.dialplan")
        if not hasattr(module, "DIALECT"):
            continue  # a vendor may translate its plans into another dialect (Avaya: mgcp)
        dialect = module.DIALECT
        if not isinstance(dialect, Dialect):
            raise DialPlanError(f"{path}: DIALECT is not a fleet.dialplan.Dialect")
        if dialect.name in found:
            raise DialPlanError(f"{path}: dial-plan syntax {dialect.name!r} is declared twice")
        vectors = dialect.vectors or path.with_name("dialplan_vectors.yaml")  # the folder's own
        found[dialect.name] = replace(dialect, vectors=vectors)
    return found


def number(
    options: Mapping[str, str],
    key: str,
    default: float,
    problems: list[str],
    bad: str,
    outside: str = "",
    lo: float = float("-inf"),
    hi: float = float("inf"),
    parse: Callable[[str], float] = float,
) -> float:
    """A timer or length option as the phone takes it: ``default`` when absent or unreadable,
    said in ``problems`` with the vendor's ``bad`` / ``outside`` templates (fields ``key``,
    ``raw``, ``default``, ``lo``, ``hi``); an ``outside`` template ending in "!" keeps the value
    (the phone warns and uses it)."""
    if not (raw := options.get(key, "").strip()):
        return default
    try:
        value = parse(raw)
    except ValueError:
        problems.append(bad.format(key=key, raw=raw, default=default))
        return default
    if lo <= value <= hi:
        return value
    problems.append(outside.rstrip("!").format(key=key, raw=raw, default=default, lo=lo, hi=hi))
    return value if outside.endswith("!") else default


def timer_list(
    raw: str, default: float, problems: list[str], bad: str, lo: float = float("-inf")
) -> list[float]:
    """A ``|`` list of per-entry timer values: one unreadable (or below ``lo``) is ``default``,
    said in ``problems`` with ``bad`` (fields ``n``, counted from 1, ``raw``, ``default``)."""
    out: list[float] = []
    for n, v in enumerate(raw.split("|") if raw.strip() else []):
        try:
            if (value := float(v)) < lo:
                raise ValueError(v)
        except ValueError:
            problems.append(bad.format(n=n + 1, raw=v.strip(), default=default))
            value = default
        out.append(value)
    return out


def choice(
    options: Mapping[str, str], key: str, default: str, allowed: str, problems: list[str], bad: str
) -> str:
    """A no-match or end-of-dial switch: one of ``allowed``, else ``default`` (said)."""
    if (value := options.get(key, "").strip() or default) not in allowed:
        problems.append(bad.format(key=key, raw=value, default=default))
        return default
    return value


def read_entries(
    texts: Iterable[str],
    parse: Callable[[str, int], T | None],
    problems: list[str],
    dropped: str,
    kept: list[T] | None = None,
) -> list[T]:
    """What the phone keeps of ``texts``, in order, appended to ``kept``: ``parse(text,
    position)``, None when there is nothing to keep; one the phone drops (DialPlanError) is
    said in ``problems`` as ``dropped`` (fields ``n``, counted from 1, ``text``, ``why``)."""
    kept = [] if kept is None else kept
    for n, text in enumerate(texts):
        try:
            got = parse(text, n)
        except DialPlanError as e:
            problems.append(dropped.format(n=n + 1, text=text, why=e))
            continue
        if got is not None:
            kept.append(got)
    return kept


def names(
    entries: Sequence[Any], which: Iterable[int] | None = None, quote: bool = False, limit: int = 4
) -> str:
    """Candidate entries for an ``--explain`` line, ``limit`` of them at most: ``which`` of
    ``entries`` (all by default), each a string or an entry with a ``text``."""
    picked = entries if which is None else [entries[k] for k in which]
    texts = [e if isinstance(e, str) else e.text for e in picked]
    texts = [repr(t) for t in texts] if quote else texts
    more = f" (+{len(texts) - limit} more)" if len(texts) > limit else ""
    return ", ".join(texts[:limit]) + more if texts else "none"
