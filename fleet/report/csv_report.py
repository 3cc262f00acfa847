"""CSV for spreadsheets: one row per finding; a device without findings gets one row too."""

from __future__ import annotations

import csv
import io

from fleet.model import Snapshot
from fleet.report.json_report import address, device_mac

COLUMNS = (
    "device",
    "site",
    "role",
    "profile",
    "model",
    "firmware",
    "status",
    "severity",
    "rule",
    "subject",
    "message",
    "expected",
    "actual",
    "evidence",
    # added at the end: the first columns keep their places
    "address",
    "mac",
)


def render(snap: Snapshot) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(snap.results, key=lambda r: (r.site or "", r.id)):
        st = r.state
        base = [
            r.id,
            r.site or "",
            r.role,
            r.profile,
            (st.model if st else "") or "",
            (st.firmware if st else "") or "",
            r.status,
        ]
        where = [address(r.address) or "", device_mac(r) or ""]
        if not r.findings:
            # the error, if any, in the message column (the others are a finding's)
            w.writerow([*base, "", "", "", r.error or "", "", "", "", *where])
        for f in sorted(r.findings, key=lambda f: f.sort_key()):
            w.writerow(
                [
                    *base,
                    f.severity,
                    f.rule,
                    f.subject,
                    f.message,
                    f.expected or "",
                    f.actual or "",
                    " | ".join(f.evidence),
                    *where,
                ]
            )
    return buf.getvalue()
