"""Root-cause grouping: the findings one fault explains, as one cause.

A pure function over results, shared by the terminal table, the HTML report and the email, so
all three name the same causes. "Same root cause" is read from the evidence the checks attach
(fleet.check.emergency, fleet.check.path); every finding lands in exactly one cause:

- ``sbc:<id>``: one SBC. Its own ``emergency.sbc_route`` and ``coverage.*`` findings, and every
  phone's ``emergency.path`` finding whose failing hop is that SBC (the path evidence names the
  SBC that owns the phone's server; the reason names it as the box that rewrote, misrouted or
  was not audited). One SBC fault is then one line with every phone behind it; an SBC is
  fixed in one change, so all its emergency faults are one cause.
- ``route:<host>``: one wrong destination. ``emergency.route`` findings that send a number to
  a server other than the emergency route, and ``emergency.path`` findings that stop at that
  server because no inventory SBC owns it. One wrong route setting gives four criticals on a
  phone (112 and 999, route and path); the same wrong server on many phones is one fault.
  A phone with no server at all is ``route:-:<device>`` (no shared server to blame).
- ``setting:<profile>:<evidence>``: one setting with one value on one vendor's phones. Phone
  findings (``emergency.dial``, ``emergency.delay``, ``emergency.route`` for a missing number,
  ``dialplan.malformed``, ``coverage.dialplan``) whose first evidence line is the same
  ``parameter = value`` (or the same "not set" sentence). One dial plan that turns 112 into 1
  fails 112 and 9112; the same plan on 40 phones from one template is one fix. A phone's path
  finding for a number its own plan already mangles joins that plan's cause: the SBC only saw
  what the phone sent.
- ``noline:<device>``: a phone with no SIP line, one finding per number.
- ``same:...``: anything else; identical findings (rule, subject, message, expected, actual)
  on several devices are one cause, so a golden rule broken fleet-wide is one line. A device
  that was not reached keeps a cause of its own: its message names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleet.model import SEVERITY_RANK, DeviceResult, Finding


@dataclass(frozen=True, slots=True)
class Cause:
    """One root cause and everything it explains.

    ``key`` identifies the cause (the same fault gives the same key in the next run);
    ``devices`` are the devices it affects, in id order; ``numbers`` the emergency numbers it
    affects (a prefixed form such as 9112 counts as its number); ``findings`` are (device id,
    finding) pairs, worst first.
    """

    key: str
    rule: str
    severity: str
    summary: str
    devices: tuple[str, ...]
    numbers: tuple[str, ...]
    findings: tuple[tuple[str, Finding], ...]


# fleet.check.path: the first hop of a chain, and the hop that names the SBC owning a server
_SENDS = re.compile(r"^(?P<dev>\S+) line \d+ sends (?P<sent>\S+) to (?P<route>\S+)")
_OWNED = re.compile(r"^\S+ is (?P<sbc>\S+) (?:\(|in the inventory, which is not in this run)")
_PHONE_SETTINGS = (
    "emergency.dial",
    "emergency.delay",
    "emergency.route",
    "dialplan.malformed",
    "coverage.dialplan",
)


def group(results: Sequence[DeviceResult]) -> list[Cause]:
    """Every finding of ``results`` in exactly one cause, worst cause first (severity, then
    emergency before other rules, then the cause affecting more devices)."""
    by_id = {r.id: r for r in results}
    sbcs = {r.id for r in results if r.role == "sbc"}
    members: dict[str, list[tuple[str, Finding]]] = {}
    for r in results:
        for f in r.findings:
            members.setdefault(_key(r, f, sbcs), []).append((r.id, f))
    causes = [_cause(key, found, by_id) for key, found in members.items()]
    causes.sort(
        key=lambda c: (
            SEVERITY_RANK[c.severity],
            0 if c.rule.startswith("emergency.") else 1,
            -len(c.devices),
            c.key,
        )
    )
    return causes


def _key(r: DeviceResult, f: Finding, sbcs: set[str]) -> str:
    if r.role == "sbc" and (f.rule == "emergency.sbc_route" or f.rule.startswith("coverage.")):
        return f"sbc:{r.id}"
    if f.rule == "emergency.path":
        return _path_key(r, f, sbcs)
    if f.rule == "emergency.route" and f.actual == "no line":
        return f"noline:{r.id}"
    if f.rule == "emergency.route" and f.message.startswith(f"{f.subject} is sent to "):
        return _route_key(r, f.actual if f.actual != "no route" else None)
    if f.rule in _PHONE_SETTINGS and f.evidence:
        return f"setting:{r.profile}:{f.evidence[0]}"
    return f"same:{f.rule}\0{f.subject}\0{f.message}\0{f.expected}\0{f.actual}"


def _path_key(r: DeviceResult, f: Finding, sbcs: set[str]) -> str:
    first = _SENDS.match(f.evidence[0]) if f.evidence else None
    if first and first["sent"] != f.subject:
        # the phone's own plan changed the number: the SBC is not where it broke
        plan = next(
            (
                g
                for g in r.findings
                if g.rule == "emergency.dial" and g.subject == f.subject and g.evidence
            ),
            None,
        )
        if plan is not None:
            return f"setting:{r.profile}:{plan.evidence[0]}"
    why = f.actual or ""
    for line in f.evidence[1:2]:
        owned = _OWNED.match(line)
        if owned and (owned["sbc"] in sbcs or "not in this run" in line):
            sbc = owned["sbc"]
            if why.startswith((f"{sbc} ", f"{sbc}:", f"unproven: SBC {sbc} ")):
                return f"sbc:{sbc}"
    if first and (why.endswith("is no SBC in the inventory") or why.startswith("the phone has")):
        return _route_key(r, first["route"] if first["route"] != "nowhere" else None)
    return f"same:{f.rule}\0{r.id}\0{f.subject}\0{why}"


def _route_key(r: DeviceResult, route: str | None) -> str:
    if not route:
        return f"route:-:{r.id}"
    return f"route:{_host(route)}"


def _host(route: str) -> str:
    s = route.strip().lower()
    head, sep, tail = s.rpartition(":")
    return head if sep and tail.isdigit() and ":" not in head else s


def _cause(key: str, found: list[tuple[str, Finding]], by_id: dict[str, DeviceResult]) -> Cause:
    found.sort(key=lambda df: (df[1].sort_key(), df[0]))
    worst = found[0][1]
    devices = tuple(sorted({d for d, _ in found}))
    numbers = _numbers(f for _, f in found)
    kind = key.split(":", 1)[0]
    if kind == "sbc":
        summary = _sbc_summary(key[4:], found, by_id)
    elif kind == "route":
        summary = _route_summary(key, found, numbers)
    elif kind == "setting":
        summary = _setting_summary(found)
    elif kind == "noline":
        summary = "no SIP line is configured: no emergency number can be called"
    else:
        summary = worst.message
    return Cause(key, worst.rule, worst.severity, summary, devices, numbers, tuple(found))


def _numbers(findings: Iterable[Finding]) -> tuple[str, ...]:
    """The emergency numbers the findings are about. A dialled form (9112) counts as the
    number it should have become (its ``expected`` names it: "112 sent at once")."""
    numbers = set()
    for f in findings:
        if not f.rule.startswith("emergency.") or not f.subject.isdigit():
            continue
        wanted = (f.expected or "").split(" ", 1)[0]
        if f.rule in ("emergency.dial", "emergency.delay") and wanted.isdigit():
            numbers.add(wanted)
        elif len(f.subject) <= 6:
            numbers.add(f.subject)
    # 9112 is 112 behind the outside-line prefix: name each emergency number once
    return tuple(
        sorted(
            (n for n in numbers if not any(n != m and n.endswith(m) for m in numbers)),
            key=lambda n: (len(n), n),
        )
    )


def _tails(found: list[tuple[str, Finding]], rule: str | None = None) -> list[str]:
    """The distinct messages (of ``rule``), each said once for the numbers it was given for:
    "112: the SBC has no route" and "999: the SBC has no route" are "112, 999: the SBC has
    no route"."""
    tails: dict[tuple[str, str], list[str]] = {}
    for _, f in found:
        if rule is not None and f.rule != rule:
            continue
        head, sep, tail = f.message.partition(": ")
        if sep and head == f.subject:
            k = (": ", tail)
        elif f.message.startswith(f"{f.subject} "):
            k = (" ", f.message[len(f.subject) + 1 :])
        else:
            k = ("", f.message)
        nums = tails.setdefault(k, [])
        if k[0] and f.subject not in nums:
            nums.append(f.subject)
    out = []
    for (sep, tail), nums in tails.items():
        if sep == " " and len(nums) > 1 and tail.startswith("is "):
            tail = "are " + tail[3:]
        joined = (", " if sep == ": " else " and ").join(nums)
        out.append(f"{joined}{sep}{tail}" if nums else tail)
    return out


def _phones(found: list[tuple[str, Finding]], sbc: str) -> str:
    n = len({d for d, f in found if d != sbc})
    return f"{n} phone{'s' if n != 1 else ''} behind it"


def _sbc_summary(sbc: str, found: list[tuple[str, Finding]], by_id: dict[str, DeviceResult]) -> str:
    r = by_id.get(sbc)
    if r is None:
        return (
            f"SBC {sbc} is not in this run: the emergency path of {_phones(found, sbc)} is unproven"
        )
    if r.status != "audited":
        return (
            f"SBC {sbc} was not audited ({r.status}): the emergency path of "
            f"{_phones(found, sbc)} is unproven"
        )
    problems = _tails(found, "emergency.sbc_route") or _tails(found, "emergency.path")
    behind = _phones(found, sbc)
    return f"SBC {sbc}: {'; '.join(problems)}" + ("" if behind.startswith("0 ") else f" ({behind})")


def _route_summary(key: str, found: list[tuple[str, Finding]], numbers: tuple[str, ...]) -> str:
    nums = " and ".join(numbers) or "emergency calls"
    if key.startswith("route:-:"):
        return f"{nums} have no server to go to: no emergency route is set"
    host = key[len("route:") :]
    wrong = any(f.rule == "emergency.route" for _, f in found)
    no_sbc = any(f.rule == "emergency.path" for _, f in found)
    return (
        f"{nums} sent to {host}"
        + (", not to the emergency route" if wrong else "")
        + ("; it is no SBC in the inventory" if no_sbc else "")
    )


def _setting_summary(found: list[tuple[str, Finding]]) -> str:
    ev = found[0][1].evidence[0]
    name, sep, _ = ev.partition(" = ")
    said = _tails(found)
    more = f"; and {len(said) - 2} more" if len(said) > 2 else ""
    return f"{name if sep else ev}: " + "; ".join(said[:2]) + more
