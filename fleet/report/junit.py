"""A snapshot as JUnit XML: one testcase per device; findings at or above high fail it."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fleet.model import SEVERITY_RANK, Snapshot


def render(snap: Snapshot, fail_on: str = "high") -> str:
    limit = SEVERITY_RANK[fail_on]
    suite = ET.Element(
        "testsuite",
        name=f"fleet {snap.kind} {snap.golden or ''}".strip(),
        tests=str(len(snap.results)),
        timestamp=snap.finished_at,
    )
    failures = 0
    for r in sorted(snap.results, key=lambda r: r.id):
        case = ET.SubElement(suite, "testcase", classname=f"fleet.{r.site or 'nosite'}", name=r.id)
        bad = [f for f in r.findings if SEVERITY_RANK[f.severity] <= limit]
        if bad:
            failures += 1
            fail = ET.SubElement(
                case,
                "failure",
                type=bad[0].rule,
                message=f"{len(bad)} finding(s), worst {bad[0].severity}",
            )
            fail.text = "\n".join(f"{f.severity} {f.rule} [{f.subject}] {f.message}" for f in bad)
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
