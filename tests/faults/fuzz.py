"""The seeded mutation fuzzer: every profile's samples and conformance files, mutated, each
mutant audited with `fleet audit` semantics (in-process, through :func:`fleet.audit.audit`,
the same per-device boundary the CLI calls).

A mutant passes when it ends as exactly one device whose result is clean: audited, or
``error`` / ``unrecognised`` with a message that names the file and carries no raw Python
exception text and no "a bug in fleet" report; within ``LIMIT_S`` CPU seconds; without
raising. The script caps its address space at ``MEMORY_LIMIT``, so a runaway allocation is a
MemoryError the run reports, not a machine brought down.

    python -m tests.faults.fuzz --mutants 5000 --seed 1           # the long run (~2-5 min)
    python -m tests.faults.fuzz --mutants 50 --seed 3 --cli 20    # + 20 through `fleet audit`
    python -m tests.faults.fuzz --seed 3 --only 233               # replay one mutant

prints ``mutants ending cleanly / tried``, the slowest mutants and every failure (with the
seed, index and kind that reproduce it: ``--only INDEX``). tests/faults/test_fuzz.py runs a
seeded slice of it in `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
# Per mutant, in CPU seconds: on a machine shared with other work, wall time measures the
# neighbours too. The wall time is printed beside it for the slowest.
LIMIT_S = 2.0
MEMORY_LIMIT = 4 * 1024**3  # the script's address space: past it, a MemoryError is a failure
HARD_LIMIT_S = 20
# Over fleet.audit.MAX_FILE (8 MiB), so the size cap is exercised, but not gigabytes: two
# mutations stacked (huge value, then its line duplicated) could write that much.
MAX_MUTANT = 9 * 1024 * 1024  # a mutant still running after this is stopped (SIGALRM) and failed
GOLDEN = {"fleet_golden": 1, "name": "fuzz", "policy": ["uk"]}

# Text that only Python itself writes: a device error quoting it leaks an implementation
# detail (and, through the exception's text, possibly a configuration value).
RAW_PYTHON = re.compile(
    r"invalid literal for|could not convert|object has no attribute|list index out of range"
    r"|is not subscriptable|unsupported operand|NoneType|codec can't|unknown encoding"
    r"|not enough values to unpack|too many values to unpack|expected string or bytes"
    r"|Traceback \(most recent|maximum recursion depth|unterminated character set"
    r"|invalid group reference|bad escape|unbalanced parenthesis|nothing to repeat"
    r"|object is not iterable|argument of type|takes \d+ positional|KeyError|IndexError"
)
BUG = "a bug in fleet"


@dataclass(frozen=True, slots=True)
class Seed:
    profile: str  # the folder the sample came from (a hint only: detection decides)
    path: Path
    siblings: tuple[Path, ...]  # the other files of its case (includes, common files)


@dataclass(slots=True)
class Mutant:
    index: int
    seed: Seed
    kind: str
    name: str
    data: bytes


@dataclass(slots=True)
class Outcome:
    mutant: Mutant
    ok: bool
    why: str
    elapsed: float
    status: str = ""
    cpu: float = 0.0


@dataclass(slots=True)
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def clean(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _is_seed(p: Path) -> bool:
    skip = (".expected.json", ".parsed.json", ".error.json")
    return (
        p.is_file()
        and p.name != "case.yaml"
        and not p.name.startswith(".")
        and not p.name.endswith(skip)
        and p.suffix not in (".py", ".md", ".textfsm", ".pyc")
    )


def seeds() -> list[Seed]:
    """Every sample under device_profiles/*/samples and */conformance, and every conformance
    case file under tests/conformance; files of one case folder are each other's siblings."""
    roots = [
        *sorted((ROOT / "device_profiles").glob("*/samples")),
        *sorted((ROOT / "device_profiles").glob("*/conformance")),
        *sorted(p for p in (ROOT / "tests" / "conformance").glob("*") if p.is_dir()),
    ]
    out = []
    for root in roots:
        profile = root.parent.name if root.name in ("samples", "conformance") else root.name
        for p in sorted(root.rglob("*")):
            if "templates" in p.relative_to(root).parts or not _is_seed(p):
                continue
            sib = tuple(q for q in sorted(p.parent.iterdir()) if q != p and _is_seed(q))
            out.append(Seed(profile, p, sib if (p.parent / "case.yaml").exists() else ()))
    return out


# --- mutations: each takes (rng, data) and returns the mutated bytes ---------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick_line(rng: random.Random, lines: list[bytes]) -> int:
    useful = [i for i, ln in enumerate(lines) if ln.strip()]
    return rng.choice(useful) if useful else 0


def byte_flip(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data or b"x")
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(max(len(data), 1))]


def duplicate_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = _pick_line(rng, lines)
    j = min(len(lines), i + rng.randint(1, 20))
    times = rng.choice([2, 3, 50, 2000])
    return b"\n".join(lines[:j] + lines[i:j] * times + lines[j:])


def huge_value(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = _pick_line(rng, lines)
    size = rng.choice([10_000, 60_000, 120_000, 1_000_000, 7_000_000])
    filler = rng.choice([b"9", b"x", b"[0-9]", b"(", b"<", b"|"]) * (size // 2)
    ln = lines[i]
    for sep in (b"=", b'="', b">", b" "):
        if sep in ln:
            head, _, tail = ln.partition(sep)
            lines[i] = head + sep + filler + tail
            break
    else:
        lines[i] = ln + filler
    return b"\n".join(lines)


def deep_xml(rng: random.Random, data: bytes) -> bytes:
    depth = rng.choice([500, 5_000, 100_000])
    nest = b"<a>" * depth + b"</a>" * depth
    m = re.search(rb"<[A-Za-z_][^<>]*>", data)
    if m:
        return data[: m.end()] + nest + data[m.end() :]
    return nest + data


def unknown_encoding(rng: random.Random, data: bytes) -> bytes:
    enc = rng.choice([b"x-no-such", b"utf-7", b"utf-32", b"ebcdic-x", b"", b"\xff\xfe", b"hex"])
    decl = b'<?xml version="1.0" encoding="' + enc + b'"?>'
    if data.lstrip().startswith(b"<?xml"):
        return re.sub(rb"<\?xml[^>]*\?>", lambda _: decl, data, count=1)
    return decl + b"\n" + data


def remove_equals(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    hits = [i for i, ln in enumerate(lines) if b"=" in ln]
    for i in rng.sample(hits, min(len(hits), rng.randint(1, 5))) if hits else []:
        lines[i] = lines[i].replace(b"=", rng.choice([b"", b" ", b"  "]), 1)
    return b"\n".join(lines)


META = [b"\\1", b"\\g<9>", b"(", b")", b"[", b"]", b"*", b"+?", b"\\", b"(?P<", b"{9999}", b"$9"]


def regex_meta(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 6)):
        i = _pick_line(rng, lines)
        ln = lines[i]
        at = rng.randrange(len(ln) + 1)
        lines[i] = ln[:at] + b"".join(rng.choices(META, k=rng.randint(1, 4))) + ln[at:]
    return b"\n".join(lines)


def nuls(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        b.insert(rng.randrange(len(b) + 1), 0)
    return bytes(b)


def invalid_utf8(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        junk = rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80"])
        at = rng.randrange(len(b) + 1)
        b[at:at] = junk
    return bytes(b)


def binary_junk(rng: random.Random, data: bytes) -> bytes:
    junk = rng.randbytes(rng.choice([16, 512, 8192]))
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


def digits_to_words(rng: random.Random, data: bytes) -> bytes:
    """Numbers where the vendor wants numbers, replaced by words or signs (int() bait)."""
    word = rng.choice([b"abc", b"-1", b"1e9", b"0x", b"99999999999999999999", b"", b"1.5"])
    return re.sub(rb"(?<=[=\s\"'>])\d+(?=[\s\"'<]|$)", lambda m: word, data, count=50)


# Values built to break whatever reads them: regular expressions (Acme HMR match-value, CUBE
# translation rules), dial plans (every phone engine), numbers (timers, ports, costs).
HOSTILE_VALUES = [
    b"\\9", b"$9", b"\\g<name>", b"(((((", b"[^", b"*+", b"(?P<x>)(?P<x>)", b"x{99999999}",
    b"{ x+ | " * 200 + b"}", b"<" * 300, b"[" * 500 + b"]" * 500, b"(" * 2000 + b"x" + b")" * 2000,
    b"999|" * 3000, b"x.x.x.x." * 500, b"-1", b"1e308", b"NaN", b"", b"%NULL%", b"\\",
]  # fmt: skip
_PLAN_KEY = re.compile(rb"(?i)dial_?plan|digitmap|<P290>|<P4200>|_dp_str|dialnow")
_VALUE_AT = re.compile(rb"(=\s*\"?|>(?=[^<\n]*</)|^[ \t]+[a-z][\w-]*[ \t]{2,})", re.M)


def hostile_value(rng: random.Random, data: bytes) -> bytes:
    """One to three values (after ``=``, between XML tags, in an indented ACLI/IOS/ini
    parameter line) replaced by a hostile one."""
    spots = list(_VALUE_AT.finditer(data))
    # half the time, the dial plans: every phone engine reads them (Dial_Plan_1_, P290,
    # dialplan.digitmap, dialplan.*, user_dp_str, ...)
    planned = [m for m in spots if _PLAN_KEY.search(data, max(0, m.start() - 60), m.end())]
    if planned and rng.random() < 0.5:
        spots = planned
    for m in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 3))), key=lambda m: -m.end()):
        end = m.end()
        stop = len(data)
        for ch in (b"\n", b"<", b'"'):
            i = data.find(ch, end)
            if i != -1:
                stop = min(stop, i)
        data = data[:end] + rng.choice(HOSTILE_VALUES) + data[stop:]
    return data


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "hostile-value": hostile_value,
    "byte-flip": byte_flip,
    "truncate": truncate,
    "duplicate-lines": duplicate_lines,
    "huge-value": huge_value,
    "deep-xml": deep_xml,
    "unknown-encoding": unknown_encoding,
    "remove-equals": remove_equals,
    "regex-meta": regex_meta,
    "nul": nuls,
    "invalid-utf8": invalid_utf8,
    "binary-junk": binary_junk,
    "digits-to-words": digits_to_words,
    "long-name": lambda rng, data: data,  # the file's name is what changes
}


def mutant(index: int, seed: int, pool: list[Seed]) -> Mutant:
    """The ``index``-th mutant of a run: the same (seed, index) always gives the same bytes."""
    rng = random.Random(f"{seed}:{index}")
    s = rng.choice(pool)
    kind = rng.choice(sorted(MUTATIONS))
    data = s.path.read_bytes()
    data = MUTATIONS[kind](rng, data)
    if rng.random() < 0.15 and kind != "long-name":  # a second mutation on top, sometimes
        data = MUTATIONS[rng.choice(sorted(MUTATIONS))](rng, data)
    data = data[:MAX_MUTANT]
    name = s.path.name
    if kind == "long-name":
        name = "n" * rng.choice([200, 255, 300, 5000]) + s.path.suffix
    return Mutant(index, s, kind, name, data)


def mutants(count: int, seed: int, pool: list[Seed] | None = None) -> Iterator[Mutant]:
    pool = pool or seeds()
    for i in range(count):
        yield mutant(i, seed, pool)


# --- running one -------------------------------------------------------------------------


class _Stuck(BaseException):
    pass


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise _Stuck


def _place(m: Mutant, folder: Path) -> Path | None:
    """Write the mutant (and its case's other files) into ``folder``; None when the file
    system refuses the name (a name over NAME_MAX cannot exist, so there is nothing to audit
    by that name: the mutant is given by its truncated name instead)."""
    for s in m.seed.siblings:
        shutil.copyfile(s, folder / s.name)
    target = folder / m.name
    try:
        target.write_bytes(m.data)
    except OSError:
        return None
    return target


def check_result(m: Mutant, path: Path, results: list) -> tuple[bool, str, str]:
    mine = [r for r in results if str(path) in r.files or r.address == str(path)]
    if len(mine) != 1:
        return False, f"{len(mine)} devices for the mutated file", ""
    r = mine[0]
    text = r.error or ""
    if r.status == "audited":
        return True, "", r.status
    if RAW_PYTHON.search(text):
        return False, f"raw Python text in the error: {text[:300]}", r.status
    if BUG in text:
        return False, f"a fleet bug: {text[:300]}", r.status
    names = [path.name[:40], *(s.name for s in m.seed.siblings)]
    if not any(n in text for n in names):
        return False, f"the error does not name the file: {text[:300]}", r.status
    return True, "", r.status


def run_one(m: Mutant, golden: object, work: Path) -> Outcome:
    from fleet.audit import audit

    folder = Path(tempfile.mkdtemp(dir=work))
    t0 = time.monotonic()
    try:
        path = _place(m, folder)
        if path is None:
            m = Mutant(m.index, m.seed, m.kind, m.name[:200], m.data)
            path = _place(m, folder)
            assert path is not None
        t0, cpu0 = time.monotonic(), time.process_time()  # fleet's time, not the fuzzer's
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HARD_LIMIT_S)
        try:
            snap = audit([path], golden)  # type: ignore[arg-type]
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
        ok, why, status = check_result(m, path, snap.results)
        if ok and cpu > LIMIT_S:
            ok, why = False, f"took {cpu:.1f} s of CPU (limit {LIMIT_S} s)"
        return Outcome(m, ok, why, elapsed, status, cpu)
    except _Stuck:
        return Outcome(m, False, f"still running after {HARD_LIMIT_S} s", time.monotonic() - t0)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        return Outcome(
            m, False, f"raised {type(e).__name__}: {str(e)[:200]}", time.monotonic() - t0
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_golden(work: Path) -> object:
    from fleet.check import golden as golden_mod

    path = work / "golden.json"
    path.write_text(json.dumps(GOLDEN))
    return golden_mod.load(path)


def run(count: int, seed: int, only: int | None = None) -> Tally:
    pool = seeds()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="fleet-fuzz-") as tmp:
        work = Path(tmp)
        golden = load_golden(work)
        indices = [only] if only is not None else range(count)
        for i in indices:
            tally.outcomes.append(run_one(mutant(i, seed, pool), golden, work))
    return tally


def run_cli_one(m: Mutant, work: Path) -> str | None:
    """One mutant through the real `fleet audit` command; what went wrong, or None."""
    golden = work / "golden.json"
    golden.write_text(json.dumps(GOLDEN))
    folder = Path(tempfile.mkdtemp(dir=work))
    path = _place(m, folder) or _place(
        Mutant(m.index, m.seed, m.kind, m.name[:200], m.data), folder
    )
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", "audit", str(path), "--golden", str(golden),
         "--format", "json", "--store", str(folder / "fuzz.db")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        return f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    devices = json.loads(proc.stdout).get("devices", [])
    if len(devices) != 1:
        return f"{len(devices)} devices in the report"
    return None


def run_cli(count: int, seed: int) -> list[str]:
    """A few mutants through the real `fleet audit` command: exit 0 or 1, no traceback."""
    pool = seeds()
    problems = []
    with tempfile.TemporaryDirectory(prefix="fleet-fuzz-cli-") as tmp:
        for i in range(count):
            m = mutant(i, seed, pool)
            if why := run_cli_one(m, Path(tmp)):
                problems.append(f"#{i} {m.kind} {m.seed.path.relative_to(ROOT)}: {why}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.faults.fuzz", description=__doc__)
    ap.add_argument("--mutants", type=int, default=300, help="how many mutants (default 300)")
    ap.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    ap.add_argument("--only", type=int, help="run only the mutant with this index")
    ap.add_argument("--cli", type=int, default=0, metavar="N",
                    help="also run the first N mutants through `fleet audit`")  # fmt: skip
    ap.add_argument("--slowest", type=int, default=5, help="how many slowest to print")
    args = ap.parse_args(argv)
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    t0 = time.monotonic()
    tally = run(args.mutants, args.seed, args.only)
    tried = len(tally.outcomes)
    print(f"mutants ending cleanly: {tally.clean} / {tried} (seed {args.seed}, "
          f"{len(seeds())} seed files, {time.monotonic() - t0:.0f} s)")  # fmt: skip
    kinds: dict[str, list[int]] = {}
    for o in tally.outcomes:
        kinds.setdefault(o.mutant.kind, [0, 0])
        kinds[o.mutant.kind][0] += o.ok
        kinds[o.mutant.kind][1] += 1
    print("by kind: " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(kinds.items())))
    print("slowest:")
    for o in sorted(tally.outcomes, key=lambda o: -o.cpu)[: args.slowest]:
        m = o.mutant
        print(f"  {o.cpu:6.2f} s CPU ({o.elapsed:.2f} s wall)  #{m.index} {m.kind} "
              f"{len(m.data):,} bytes  {m.seed.path.relative_to(ROOT)}")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak memory of the run: {peak} MiB (address space capped at "
          f"{MEMORY_LIMIT // 1024**2} MiB)")  # fmt: skip
    for o in tally.failures:
        m = o.mutant
        print(f"FAIL #{m.index} {m.kind} {m.seed.path.relative_to(ROOT)}: {o.why}")
    problems = run_cli(args.cli, args.seed) if args.cli else []
    if args.cli:
        print(f"through the CLI: {args.cli - len(problems)} / {args.cli} exit 0/1, no traceback")
    for p in problems:
        print(f"CLI FAIL {p}")
    return 0 if not tally.failures and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
