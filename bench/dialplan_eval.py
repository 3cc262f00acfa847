"""Dial-plan evaluation rate: a 50-entry plan and 10 emergency strings, per syntax; and what
compiling once per distinct plan saves a sweep of many phones sharing a few plans.

    python bench/dialplan_eval.py [--phones 10000] [--plans 5]

Prints, per syntax: compile time, evaluations/s with the compiled plan cached (results not
memoised), and the same with every cache cleared before each evaluation (the baseline);
then a simulated sweep (every phone: 10 strings through fleet's memoised evaluate_plan)
against that baseline.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet import dialplan
from fleet.model import DialPlan

STRINGS = ["999", "112", "9999", "9112", "911", "9911", "000", "9000", "110", "9110"]


def entries(variant: int) -> list[tuple[str, str | None]]:
    """50 (pattern, strip-prefix) entries in a neutral form: x = any digit."""
    base: list[tuple[str, str | None]] = [
        ("999", None),
        ("112", None),
        ("112", "9"),
        ("101", None),
        ("111", None),
        ("0[1-9]xxxxxxxxx", None),
        ("0[1-9]xxxxxxxxx", "9"),
    ]
    ext = [(f"{20 + variant + i}xx", None) for i in range(43)]
    return base + ext


def plan_text(syntax: str, variant: int) -> tuple[str, dict[str, str]]:
    es = entries(variant)
    if syntax == "mgcp":
        return "|".join(f"R{p}RR{e}" if p else e for e, p in es), {}
    if syntax == "cisco":
        return "(" + "|".join(f"<{p}:>{e}" if p else e for e, p in es) + ")", {}
    if syntax == "grandstream":
        return "{ " + " | ".join(f"<{p}=>{e}" if p else e for e, p in es) + " }", {}
    if syntax == "snom":
        out = []
        for e, p in es:
            rx = e.replace("x", "[0-9]")
            out.append(f"!^{p or ''}({rx})$!\\1!d")
        return " ".join(out), {}
    # yealink classic: dial-now rules in the text, the 9-strip as a replace rule
    rules = [e.replace("x", "x") for e, p in es if not p]
    opts = {
        "mode": "classic",
        "phone_setting.dialnow_delay": "0",
        "dialplan.replace.prefix.1": "9(112)",
        "dialplan.replace.replace.1": "$1",
        "dialplan.replace.prefix.2": "9(0[1-9]xxxxxxxxx)",
        "dialplan.replace.replace.2": "$1",
    }
    rules += ["9112", "90[1-9]xxxxxxxxx"]
    return "|".join(rules), opts


def clear(module: object, compiled_too: bool = True) -> None:
    """Empty the engine's caches: results always, compiled plans when ``compiled_too``."""
    for name, obj in vars(module).items():
        if callable(getattr(obj, "cache_clear", None)) and (compiled_too or "compile" not in name):
            obj.cache_clear()


def per_syntax(syntax: str, rounds: int) -> tuple[float, float, float]:
    module = importlib.import_module(f"fleet.dialplan.{syntax}")
    text, opts = plan_text(syntax, 0)
    plan = DialPlan(syntax, text, "bench", opts)
    clear(module)
    t = time.perf_counter()
    module.evaluate(plan, STRINGS[0])
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(rounds):
        for d in STRINGS:
            clear(module, compiled_too=False)  # some engines memoise results too
            module.evaluate(plan, d)
    warm = rounds * len(STRINGS) / (time.perf_counter() - t)
    cold_rounds = max(1, rounds // 20)
    t = time.perf_counter()
    for _ in range(cold_rounds):
        for d in STRINGS:
            clear(module)
            module.evaluate(plan, d)
    cold = cold_rounds * len(STRINGS) / (time.perf_counter() - t)
    return compile_s, warm, cold


def sweep(phones: int, nplans: int) -> tuple[float, float]:
    """Seconds for ``phones`` phones over ``nplans`` shared plans per syntax, memoised (as a
    sweep runs) and with every cache cleared per phone (the baseline)."""
    plans = [
        DialPlan(s, *plan_text(s, v)[:1], "bench", plan_text(s, v)[1])
        for s in dialplan.SYNTAXES
        for v in range(nplans)
    ]
    modules = [importlib.import_module(f"fleet.dialplan.{s}") for s in dialplan.SYNTAXES]
    dialplan._memo.cache_clear()
    for m in modules:
        clear(m)
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
        for m in modules:
            clear(m)
        for d in STRINGS:
            dialplan.evaluate_plan(p, d)
    per_phone_cold = (time.perf_counter() - t) / sample
    return shared, per_phone_cold * phones


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=10000)
    ap.add_argument("--plans", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    print(f"50-entry plan, {len(STRINGS)} emergency strings")
    print(
        f"{'syntax':<12} {'compile ms':>10} {'evals/s cached':>15} {'evals/s uncached':>17}"
        f" {'ratio':>7}"
    )
    for s in dialplan.SYNTAXES:
        c, warm, cold = per_syntax(s, args.rounds)
        print(f"{s:<12} {c * 1000:>10.2f} {warm:>15,.0f} {cold:>17,.0f} {warm / cold:>6.1f}x")
    shared, baseline = sweep(args.phones, args.plans)
    n = args.phones * len(STRINGS)
    print(
        f"sweep of {args.phones:,} phones sharing {args.plans} plans per syntax "
        f"({n:,} evaluations): {shared:.2f} s memoised vs {baseline:.1f} s compiling per "
        f"phone (estimated from {max(1, args.phones // 100)} phones): "
        f"{baseline / shared:.0f}x"
    )


if __name__ == "__main__":
    main()
