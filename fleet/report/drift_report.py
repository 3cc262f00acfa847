"""`fleet diff` and `fleet rollout verify` output: terminal, JSON, JUnit, CSV. Each command
says which formats it produces (DIFF_FORMATS, VERIFY_FORMATS); any other is refused."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from fleet.drift import Comparison, Verdict, describe_scope
from fleet.errors import InputError
from fleet.model import Snapshot

# A diff is no pass/fail, so no JUnit; HTML has no page for it yet (the HTML report of a
# snapshot shows its drift since the previous one of the same scope).
DIFF_FORMATS = ("table", "json", "csv")
VERIFY_FORMATS = ("table", "json", "junit", "csv")
NAMED = 5  # devices named on a change's line before "and N more" (--devices: all)


def require_format(fmt: str, supported: tuple[str, ...], command: str) -> None:
    """Exit 2 for a format ``command`` cannot produce, never plain text under its name."""
    if fmt not in supported:
        raise InputError(
            f"{command} cannot write {fmt!r}; it writes {', '.join(supported)}", field="--format"
        )


def _snap(s: Snapshot) -> str:
    return f"snapshot {s.id} ({s.finished_at}, {s.tag or s.kind})"


def _names(ids: list[str], first: int = NAMED) -> str:
    if len(ids) <= first + 1:
        return ", ".join(ids)
    return ", ".join(ids[:first]) + f" and {len(ids) - first} more"


def wrap(text: str, width: int | None) -> str:
    """``text`` for a terminal ``width`` columns wide: a long line breaks between words, its
    continuation indented under it, so a device name or firmware is never split; None: as is
    (a file or a pipe)."""
    if not width:
        return text
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out += textwrap.wrap(
            line,
            width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def diff_table(c: Comparison, devices: bool = False) -> str:
    """The diff for a terminal: the scopes (when they differ), each change folded with the
    devices it touched named, then the devices that appeared, vanished or were not read."""
    lines = [f"{_snap(c.old)} → {_snap(c.new)}:"]
    if not c.same_scope:
        lines.append(
            f"  the scopes differ: {describe_scope(c.old)} → {describe_scope(c.new)}; only the "
            f"devices in both are compared"
        )
    n_dev = len({d for g in c.groups for d in g.devices})
    lines.append(
        f"  {len(c.groups)} distinct change{_s(len(c.groups))} on {n_dev} device{_s(n_dev)}"
        f" ({len(c.changes)} in all)"
        if c.groups
        else "  no configuration changes on the devices read in both"
    )
    section = None
    for g in c.groups:
        s = "Emergency-relevant" if g.emergency else "Other"
        if s != section:
            lines.append(f"\n{s}:")
            section = s
        lines.append("  " + g.line())
        lines.append("      " + (", ".join(sorted(g.devices)) if devices else g.names(NAMED)))
    lines += _membership(c, devices)
    return "\n".join(lines) + "\n"


def _membership(c: Comparison, devices: bool) -> list[str]:
    first = 10**9 if devices else NAMED
    out = []
    if c.same_scope:
        labels = (
            ("Appeared", c.appeared, f"not in snapshot {c.old.id}"),
            ("Vanished", c.vanished, f"not in snapshot {c.new.id}"),
        )
    else:
        labels = (
            ("Only in the new snapshot", c.appeared, "outside the old one's scope, or new"),
            ("Only in the old snapshot", c.vanished, "outside the new one's scope, or gone"),
        )
    for title, ids, why in labels:
        if ids:
            out.append(f"\n{title} — {len(ids)} device{_s(len(ids))} ({why}):")
            out.append("  " + _names(ids, first))
    if c.not_compared:
        n = len(c.not_compared)
        out.append(f"\nNot compared — {n} device{_s(n)} not read in one of the snapshots:")
        shown = sorted(c.not_compared.items())[:first]
        out += [f"  {d}  {why}" for d, why in shown]
        if n > len(shown):
            out.append(f"  and {n - len(shown)} more (--devices lists them all)")
    return out


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _meta(s: Snapshot) -> dict[str, Any]:
    return {
        "id": s.id,
        "tag": s.tag,
        "finished_at": s.finished_at,
        "kind": s.kind,
        "inventory": s.inventory,
        "selection": s.selection,
    }


def diff_json(c: Comparison) -> str:
    return (
        json.dumps(
            {
                "schema": "fleet.diff/1",
                "old": _meta(c.old),
                "new": _meta(c.new),
                "same_scope": c.same_scope,
                "changes": [
                    {
                        "device": ch.device,
                        "layer": ch.layer,
                        "key": ch.key,
                        "kind": ch.kind,
                        "old": ch.old,
                        "new": ch.new,
                        "emergency": ch.emergency,
                    }
                    for ch in _sorted_changes(c)
                ],
                "groups": [
                    {
                        "summary": g.line(),
                        "layer": g.layer,
                        "key": g.key,
                        "kind": g.kind,
                        "old": g.old,
                        "new": g.new,
                        "count": len(g.devices),
                        "devices": sorted(g.devices),
                        "emergency": g.emergency,
                    }
                    for g in c.groups
                ],
                "appeared": c.appeared,
                "vanished": c.vanished,
                "not_compared": c.not_compared,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def _sorted_changes(c: Comparison) -> list[Any]:
    return sorted(c.changes, key=lambda ch: (not ch.emergency, ch.device, ch.layer, ch.key))


DIFF_COLUMNS = ("device", "change", "layer", "key", "old", "new", "emergency")


def diff_csv(c: Comparison) -> str:
    """One row per device and changed key; devices that appeared, vanished or were not read
    get one row each (``change`` says which)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(DIFF_COLUMNS)
    for ch in _sorted_changes(c):
        w.writerow(
            _cells(ch.device, ch.kind, ch.layer, ch.key, ch.old, ch.new, ch.emergency and "yes")
        )
    for kind, ids in (("device-appeared", c.appeared), ("device-vanished", c.vanished)):
        for d in ids:
            w.writerow(_cells(d, kind, "", "", "", "", ""))
    for d, why in sorted(c.not_compared.items()):
        w.writerow(_cells(d, "not-compared", "", "", why, "", ""))
    return buf.getvalue()


def _cells(*values: object) -> list[str]:
    """Cells as text; one a spreadsheet would run as a formula (a device's own value can start
    with = or @) is quoted with a leading apostrophe."""
    out = []
    for v in values:
        t = "" if v is None or v is False else str(v)
        out.append("'" + t if t[:1] in ("=", "+", "-", "@") else t)
    return out


def verdict_table(v: Verdict) -> str:
    b = v.baseline
    out = [
        f"rollout verify against baseline {b.tag or b.id} (snapshot {b.id}, {b.finished_at}):"
        f" {'FAIL' if v.failed else 'PASS'}",
        _summary(v),
    ]
    if v.regressions:
        out.append(
            f"\nNew since the baseline, at or above {v.fail_on} — {len(v.regressions)} "
            f"device{_s(len(v.regressions))}:"
        )
        for d, fs in sorted(v.regressions.items()):
            out += [f"  {d}  {f.rule} [{f.subject}]  {f.message}" for f in fs]
    if v.unverified:
        out.append(f"\nNot reached now (reached at the baseline, or new) — {len(v.unverified)}:")
        out += [f"  {d}  {why}" for d, why in sorted(v.unverified.items())]
    if v.still_down:
        tail = "failing: --strict" if v.strict else "not failing; --strict fails them"
        out.append(f"\nUnreachable, as at baseline — {len(v.still_down)} ({tail}):")
        out += [f"  {d}  {why}" for d, why in sorted(v.still_down.items())]
    out += _verdict_notes(v)
    if not v.failed:
        out.append("\nNothing is worse than at the baseline.")
    return "\n".join(out) + "\n"


def _summary(v: Verdict) -> str:
    """One line: what is new apart from what was there before."""
    c = v.counts()
    new = (
        f"{c['new_findings']} new finding{_s(c['new_findings'])} at or above {v.fail_on} on "
        f"{c['new_devices']} device{_s(c['new_devices'])}"
        if c["new_findings"]
        else f"no new finding at or above {v.fail_on}"
    )
    return (
        f"{c['devices']} device{_s(c['devices'])} swept: {new}, {c['unverified']} not reached "
        f"now, {c['unreachable_as_at_baseline']} down as at the baseline; "
        f"{c['pre_existing_findings']} finding{_s(c['pre_existing_findings'])} pre-existing "
        f"(there at the baseline, not failing)"
    )


def _verdict_notes(v: Verdict) -> list[str]:
    out = []
    if v.below:
        n = sum(len(fs) for fs in v.below.values())
        out.append(f"\nNew below {v.fail_on} (not failing) — {n} finding{_s(n)}:")
        for d, fs in sorted(v.below.items()):
            out.append(f"  {d}  " + ", ".join(f"{f.severity} {f.rule} [{f.subject}]" for f in fs))
    if v.not_swept:
        out.append(f"\nIn the baseline, not in this sweep — {len(v.not_swept)}:")
        out.append("  " + _names(v.not_swept, 10))
    if v.firmware:
        out.append(f"\nFirmware changed on {len(v.firmware)} device{_s(len(v.firmware))}:")
        for model, a, b2, ds in v.firmware_groups():
            out.append(f"  {len(ds)} × {model}, firmware {a} → {b2}: {_names(sorted(ds))}")
    if v.fixed:
        out.append(f"\nFixed since the baseline — {len(v.fixed)} device{_s(len(v.fixed))}:")
        for d, fs in sorted(v.fixed.items()):
            out.append(f"  {d}  " + ", ".join(f"{f.rule} [{f.subject}]" for f in fs))
    return out


def verdict_json(v: Verdict) -> str:
    return json.dumps(v.to_dict(), indent=2, ensure_ascii=False) + "\n"


def verdict_junit(v: Verdict) -> str:
    """One testcase per device, so change-management CI shows each phone and SBC; a device
    down as at the baseline is skipped (a failure with --strict)."""
    failures = len(v.regressions) + len(v.unverified) + (len(v.still_down) if v.strict else 0)
    suite = ET.Element(
        "testsuite",
        name="fleet rollout verify",
        tests=str(len(v.current.results)),
        failures=str(failures),
        skipped=str(0 if v.strict else len(v.still_down)),
        timestamp=v.current.finished_at,
    )
    for r in sorted(v.current.results, key=lambda r: r.id):
        case = ET.SubElement(suite, "testcase", classname=f"fleet.{r.site or 'nosite'}", name=r.id)
        if r.id in v.regressions:
            fs = v.regressions[r.id]
            fail = ET.SubElement(
                case,
                "failure",
                type="regression",
                message=f"{len(fs)} new finding(s) at or above {v.fail_on}: "
                + ", ".join(f"{f.rule} [{f.subject}]" for f in fs),
            )
            fail.text = "\n".join(f"{f.rule} [{f.subject}] {f.message}" for f in fs)
        elif r.id in v.unverified:
            ET.SubElement(
                case, "failure", type="unverified", message=f"not reached: {v.unverified[r.id]}"
            )
        elif r.id in v.still_down:
            why = f"unreachable, as at baseline: {v.still_down[r.id]}"
            ET.SubElement(case, "failure" if v.strict else "skipped", message=why)
        notes = []
        if r.id in v.firmware:
            a, b = v.firmware[r.id]
            notes.append(f"firmware {a} → {b}")
        notes += [f"pre-existing: {f.rule} [{f.subject}]" for f in v.pre_existing.get(r.id, [])]
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


VERIFY_COLUMNS = (
    "device",
    "site",
    "status",
    "result",
    "new_findings",
    "pre_existing",
    "fixed",
    "firmware_from",
    "firmware_to",
)


def verdict_csv(v: Verdict) -> str:
    """One row per device swept: what the verify made of it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(VERIFY_COLUMNS)

    def names(d: dict[str, list[Any]], device: str) -> str:
        return "; ".join(f"{f.rule} [{f.subject}]" for f in d.get(device, []))

    for r in sorted(v.current.results, key=lambda r: (r.site or "", r.id)):
        fw = v.firmware.get(r.id, (None, None))
        w.writerow(
            _cells(
                r.id,
                r.site,
                r.status,
                _result(v, r.id),
                names(v.regressions, r.id),
                names(v.pre_existing, r.id),
                names(v.fixed, r.id),
                fw[0],
                fw[1],
            )
        )
    return buf.getvalue()


def _result(v: Verdict, device: str) -> str:
    if device in v.regressions:
        return "regression"
    if device in v.unverified:
        return "unverified"
    if device in v.still_down:
        return "down-as-at-baseline"
    return "pass"


VERIFY_RENDER: dict[str, Callable[[Verdict], str]] = {
    "table": verdict_table,
    "json": verdict_json,
    "junit": verdict_junit,
    "csv": verdict_csv,
}
