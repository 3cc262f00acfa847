"""Kari's Law on-site notification, per site (a pack with ``notification_required``: ``us``).

47 CFR 9.16(b)(2) asks an MLTS to notify a central location or a person when someone dials
911, where the system can be configured to. None of the SBC profiles holds such a target
(their READMEs say so), so the target is an inventory fact: ``notify:`` on the site's hosts
or, usually, its group (``fleet.inventory``). A site whose devices name none gets one
``emergency.notification`` finding, on its first SBC (else its first device by id).
"""

from __future__ import annotations

from fleet.check import policies
from fleet.check.golden import Golden
from fleet.model import DeviceResult, Finding

RULE = "emergency.notification"


def required(golden: Golden) -> list[str]:
    """The citations of the golden's packs that require notification ([] = none do)."""
    out = []
    for name in golden.packs:
        pack = policies.load(name)
        if pack.notification_required:
            cites = [str(r["source"]) for r in pack.rules if r.get("id") == "notification"]
            out += cites or [pack.citation]
    return out


def check_sites(
    results: list[DeviceResult], golden: Golden, notify: dict[str, list[str]] | None
) -> None:
    """``notify``: device id -> the notification targets the inventory gives it; None where
    there is no inventory (`fleet audit` of bare files: no sites, so nothing to check per
    site; the reference says so). Adds one finding per site with no target at all; hosts
    the inventory gives no site form the site "(none)"."""
    sources = required(golden)
    if not sources or notify is None:
        return
    sites: dict[str, list[DeviceResult]] = {}
    for r in results:
        sites.setdefault(r.site or "(none)", []).append(r)
    for site, devices in sorted(sites.items()):
        if any(notify.get(r.id) for r in devices):
            continue
        holder = min(devices, key=lambda r: (r.role != "sbc", r.id))
        holder.findings.append(_finding(site, devices, sources))
        holder.findings.sort(key=Finding.sort_key)


def _finding(site: str, devices: list[DeviceResult], sources: list[str]) -> Finding:
    ids = ", ".join(r.id for r in sorted(devices, key=lambda r: r.id)[:5])
    more = f" and {len(devices) - 5} more" if len(devices) > 5 else ""
    return Finding(
        RULE,
        "high",
        f"site {site}",
        f"site {site}: no emergency-call notification target is configured: nobody on site "
        "is told when someone dials 911",
        expected="a notification target for the site (inventory notify: on its group or hosts)",
        actual="none",
        evidence=[
            f"{len(devices)} device(s) at site {site}, none with notify: {ids}{more}",
            "no SBC profile holds a notification target (their READMEs, 'Caller location')",
            *sources,
        ],
    )
