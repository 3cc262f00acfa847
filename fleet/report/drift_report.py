"""`fleet diff` and `fleet rollout verify` output: terminal, JSON, JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from fleet.drift import Change, Group, Verdict
from fleet.model import Snapshot


def diff_table(groups: list[Group], old: Snapshot, new: Snapshot, devices: bool) -> str:
    head = (
        f"snapshot {old.id} ({old.finished_at}, {old.tag or old.kind}) → "
        f"snapshot {new.id} ({new.finished_at}, {new.tag or new.kind}): "
    )
    if not groups:
        return head + "no changes\n"
    n = sum(len(g.devices) for g in groups)
    lines = [
        head + f"{len(groups)} distinct changes on {len({d for g in groups for d in g.devices})}"
        f" devices ({n} in all)"
    ]
    section = None
    for g in groups:
        s = "Emergency-relevant" if g.emergency else "Other"
        if s != section:
            lines.append(f"\n{s}:")
            section = s
        lines.append("  " + g.line())
        if devices:
            lines.append("      " + ", ".join(sorted(g.devices)))
    return "\n".join(lines) + "\n"


def diff_json(changes: list[Change], groups: list[Group], old: Snapshot, new: Snapshot) -> str:
    return (
        json.dumps(
            {
                "schema": "fleet.diff/1",
                "old": {"id": old.id, "tag": old.tag, "finished_at": old.finished_at},
                "new": {"id": new.id, "tag": new.tag, "finished_at": new.finished_at},
                "changes": [
                    {
                        "device": c.device,
                        "layer": c.layer,
                        "key": c.key,
                        "kind": c.kind,
                        "old": c.old,
                        "new": c.new,
                        "emergency": c.emergency,
                    }
                    for c in sorted(
                        changes, key=lambda c: (not c.emergency, c.device, c.layer, c.key)
                    )
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
                    for g in groups
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def verdict_table(v: Verdict) -> str:
    b = v.baseline
    out = [
        f"rollout verify against baseline {b.tag or b.id} (snapshot {b.id}, {b.finished_at}):"
        f" {'FAIL' if v.failed else 'PASS'}"
    ]
    if v.regressions:
        out.append(f"\nEmergency regressions on {len(v.regressions)} device(s):")
        for d, fs in sorted(v.regressions.items()):
            for f in fs:
                out.append(f"  {d}  {f.rule} [{f.subject}]  {f.message}")
    if v.unverified:
        out.append(f"\nUnverified (not reached) — {len(v.unverified)} device(s):")
        out += [f"  {d}  {why}" for d, why in sorted(v.unverified.items())]
    if v.firmware:
        out.append(f"\nFirmware changed on {len(v.firmware)} device(s):")
        for model, a, b2, ds in v.firmware_groups():
            out.append(f"  {len(ds)} × {model}, firmware {a} → {b2}")
    if v.fixed:
        out.append(f"\nFixed since the baseline — {len(v.fixed)} device(s):")
        for d, fs in sorted(v.fixed.items()):
            out.append(f"  {d}  " + ", ".join(f"{f.rule} [{f.subject}]" for f in fs))
    if not v.failed:
        out.append("\nNo emergency path is worse than at the baseline.")
    return "\n".join(out) + "\n"


def verdict_json(v: Verdict) -> str:
    return json.dumps(v.to_dict(), indent=2, ensure_ascii=False) + "\n"


def verdict_junit(v: Verdict) -> str:
    """One testcase per device, so change-management CI shows each phone and SBC."""
    suite = ET.Element(
        "testsuite",
        name="fleet rollout verify",
        tests=str(len(v.current.results)),
        failures=str(len(v.regressions) + len(v.unverified)),
        timestamp=v.current.finished_at,
    )
    for r in sorted(v.current.results, key=lambda r: r.id):
        case = ET.SubElement(suite, "testcase", classname=f"fleet.{r.site or 'nosite'}", name=r.id)
        if r.id in v.regressions:
            fs = v.regressions[r.id]
            fail = ET.SubElement(
                case,
                "failure",
                type="emergency-regression",
                message=f"{len(fs)} emergency regression(s)",
            )
            fail.text = "\n".join(f"{f.rule} [{f.subject}] {f.message}" for f in fs)
        elif r.id in v.unverified:
            fail = ET.SubElement(
                case, "failure", type="unverified", message=f"not reached: {v.unverified[r.id]}"
            )
        if r.id in v.firmware:
            a, b = v.firmware[r.id]
            ET.SubElement(case, "system-out").text = f"firmware {a} → {b}"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
