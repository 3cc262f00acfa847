"""Dial-plan evaluation rate: a 50-entry plan and 10 emergency strings, per syntax, fleet's
engines beside the engines as they were before issue 10 (bench/baseline_dialplan/, the same
run); and what compiling once per distinct plan saves a sweep of many phones sharing a few plans.

    python bench/dialplan_eval.py [--phones 10000] [--plans 5] [--rounds 2000]

Prints, per syntax: compile time, evaluations/s with the compiled plan cached (results not
memoised), and the same with every cache cleared before each evaluation; then a simulated
sweep (every phone: 10 strings through fleet's memoised evaluate_plan) against compiling per
phone; and the engines' lines against the baseline's (issue 10's target: 0.75x or less). The
syntaxes are fleet.dialplan.syntaxes(): one without a bench plan here is an error.
"""

from __future__ import annotations

import argparse
import importlib
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet import dialplan
from fleet.dialplan import dialect
from fleet.model import DialPlan

ROOT = Path(__file__).resolve().parent.parent
OLD_INIT_LINES = 107  # fleet/dialplan/__init__.py before issue 10 (not kept in the baseline)
# The vendor syntaxes the baseline had; a dialect added since (Avaya's) is not counted.
FRONT_ENDS = ("cisco_mpp", "yealink", "snom", "grandstream")
STRINGS = ["999", "112", "9999", "9112", "911", "9911", "000", "9000", "110", "9110"]
Entries = list[tuple[str, str | None]]


def entries(variant: int) -> Entries:
    """50 (pattern, strip-prefix) entries in a neutral form: x = any digit."""
    base: Entries = [
        ("999", None),
        ("112", None),
        ("112", "9"),
        ("101", None),
        ("111", None),
        ("0[1-9]xxxxxxxxx", None),
        ("0[1-9]xxxxxxxxx", "9"),
    ]
    ext: Entries = [(f"{20 + variant + i}xx", None) for i in range(43)]
    return base + ext


def _snom(es: Entries) -> tuple[str, dict[str, str]]:
    out = [f"!^{p or ''}({e.replace('x', '[0-9]')})$!\\1!d" for e, p in es]
    return " ".join(out), {}


def _yealink(es: Entries) -> tuple[str, dict[str, str]]:
    # classic: dial-now rules in the text, the 9-strip as a replace rule
    rules = [e for e, p in es if not p] + ["9112", "90[1-9]xxxxxxxxx"]
    opts = {
        "mode": "classic",
        "phone_setting.dialnow_delay": "0",
        "dialplan.replace.prefix.1": "9(112)",
        "dialplan.replace.replace.1": "$1",
        "dialplan.replace.prefix.2": "9(0[1-9]xxxxxxxxx)",
        "dialplan.replace.replace.2": "$1",
    }
    return "|".join(rules), opts


PLANS: dict[str, Callable[[Entries], tuple[str, dict[str, str]]]] = {
    "mgcp": lambda es: ("|".join(f"R{p}RR{e}" if p else e for e, p in es), {}),
    "cisco": lambda es: ("(" + "|".join(f"<{p}:>{e}" if p else e for e, p in es) + ")", {}),
    "grandstream": lambda es: (
        "{ " + " | ".join(f"<{p}=>{e}" if p else e for e, p in es) + " }",
        {},
    ),
    "snom": _snom,
    "yealink": _yealink,
}


def plan_for(syntax: str, variant: int) -> DialPlan:
    """The 50-entry plan: the bench's own for the syntaxes it was written with, else the one
    the syntax's dialect declares (so a new vendor's syntax is benched from its folder)."""
    make = PLANS.get(syntax) or dialplan.dialect_for(syntax).bench_plan
    if make is None:
        raise SystemExit(
            f"syntax {syntax!r} declares no bench_plan in its Dialect: nothing to measure"
        )
    text, opts = make(entries(variant))
    return DialPlan(syntax, text, "bench", opts)


def _caches(module: ModuleType) -> tuple[list[Callable[[], None]], list[Callable[[], None]]]:
    """A baseline engine's (result caches, compile caches)."""
    results, compiled = [], []
    for name, obj in vars(module).items():
        if callable(clear := getattr(obj, "cache_clear", None)):
            (compiled if "compile" in name else results).append(clear)
    return results, compiled


def _rate(
    evaluate: Callable[[DialPlan, str], object],
    plan: DialPlan,
    rounds: int,
    clear: Callable[[], None],
) -> float:
    t = time.perf_counter()
    for _ in range(rounds):
        for d in STRINGS:
            clear()
            evaluate(plan, d)
    return rounds * len(STRINGS) / (time.perf_counter() - t)


def measure(
    evaluate: Callable[[DialPlan, str], object],
    plan: DialPlan,
    rounds: int,
    results: Callable[[], None],
    every: Callable[[], None],
) -> tuple[float, float, float]:
    """(compile s, evaluations/s compiled plan cached, evaluations/s nothing cached).
    Compile: the median of 21 first evaluations from nothing cached (one run is all noise on
    a shared machine)."""
    times = []
    for _ in range(21):
        every()
        t = time.perf_counter()
        evaluate(plan, STRINGS[0])
        times.append(time.perf_counter() - t)
    compile_s = statistics.median(times)
    warm = _rate(evaluate, plan, rounds, results)
    cold = _rate(evaluate, plan, max(1, rounds // 50), every)
    return compile_s, warm, cold


def _noop() -> None:
    pass


def per_syntax(
    syntax: str, rounds: int
) -> tuple[tuple[float, float, float] | None, tuple[float, float, float]]:
    """(before, after) for one syntax: the baseline kept in bench/, then today's engine; a
    syntax added since the baseline has no before (None)."""
    plan = plan_for(syntax, 0)
    new = dialplan.dialect_for(syntax).evaluate
    if not (Path(__file__).parent / "baseline_dialplan" / f"{syntax}.py").exists():
        return None, measure(new, plan, rounds, _noop, _clear_new)
    old = importlib.import_module(f"bench.baseline_dialplan.{syntax}")
    results, compiled = _caches(old)

    def clear_old() -> None:
        for c in results:
            c()

    def clear_all() -> None:
        for c in results + compiled:
            c()
        re.purge()  # else re's own cache hides what compiling a regex per entry costs

    before = measure(old.evaluate, plan, rounds, clear_old, clear_all)
    after = measure(new, plan, rounds, _noop, _clear_new)
    return before, after


def _clear_new() -> None:
    dialect.clear_compiled()
    re.purge()


def sweep(phones: int, nplans: int) -> tuple[float, float]:
    """Seconds for ``phones`` phones over ``nplans`` shared plans per syntax, memoised (as a
    sweep runs) and with every cache cleared per phone (the baseline)."""
    plans = [plan_for(s, v) for s in dialplan.syntaxes() for v in range(nplans)]
    dialplan._memo.cache_clear()
    dialect.clear_compiled()
    t = time.perf_counter()
    for i in range(phones):
        p = plans[i % len(plans)]
        for d in STRINGS:
            dialplan.evaluate_plan(p, d)
    shared = time.perf_counter() - t
    sample = max(1, phones // 100)
    t = time.perf_counter()
    for i in range(sample):
        p = plans[i % len(plans)]
        dialplan._memo.cache_clear()
        dialect.clear_compiled()
        for d in STRINGS:
            dialplan.evaluate_plan(p, d)
    per_phone_cold = (time.perf_counter() - t) / sample
    return shared, per_phone_cold * phones


def engine_lines() -> tuple[int, int]:
    """(before, now) lines of the dial-plan engines, as ``wc -l`` counts them: the baseline's
    five engines and the old __init__; fleet/dialplan/ and the vendors' front ends."""

    def count(paths: list[Path]) -> int:
        return sum(len(p.read_text().splitlines()) for p in paths)

    old = [p for p in (ROOT / "bench" / "baseline_dialplan").glob("*.py") if p.stem != "__init__"]
    new = [*(ROOT / "fleet" / "dialplan").glob("*.py")]
    new += [ROOT / "device_profiles" / v / "dialplan.py" for v in FRONT_ENDS]
    return count(old) + OLD_INIT_LINES, count(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=10000)
    ap.add_argument("--plans", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    print(f"50-entry plan, {len(STRINGS)} emergency strings; before = bench/baseline_dialplan")
    print(f"{'syntax':<12} {'compile ms':>16} {'evals/s cached':>26} {'evals/s uncached':>22}")
    print(f"{'':<12} {'before  after':>16} {'before     after  ratio':>26} {'before   after':>22}")
    for s in dialplan.syntaxes():
        before, (c1, w1, u1) = per_syntax(s, args.rounds)
        if before is None:
            print(f"{s:<12} {'-':>7} {c1 * 1000:>7.2f} {'-':>9} {w1:>9,.0f} {'':>6} {'-':>10}")
            continue
        c0, w0, u0 = before
        print(
            f"{s:<12} {c0 * 1000:>7.2f} {c1 * 1000:>7.2f} {w0:>9,.0f} {w1:>9,.0f} {w1 / w0:>5.1f}x"
            f" {u0:>10,.0f} {u1:>9,.0f}"
        )
    shared, baseline = sweep(args.phones, args.plans)
    n = args.phones * len(STRINGS)
    print(
        f"sweep of {args.phones:,} phones sharing {args.plans} plans per syntax "
        f"({n:,} evaluations): {shared:.2f} s memoised vs {baseline:.1f} s compiling per "
        f"phone (estimated from {max(1, args.phones // 100)} phones): "
        f"{baseline / shared:.0f}x"
    )
    before, now = engine_lines()
    print(f"engine lines: {before:,} before, {now:,} now ({now / before:.2f}x)")


if __name__ == "__main__":
    main()
