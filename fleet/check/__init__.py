"""Checks: golden rules, emergency requirements and coverage, applied to each device."""

from __future__ import annotations

from fleet.check import emergency, firmware, notification, path, rules, waivers
from fleet.check.golden import Golden
from fleet.model import DeviceResult, Finding


def check_device(
    result: DeviceResult, golden: Golden, facts: dict[str, list[str]], from_file: bool = False
) -> None:
    """Fill ``result.findings``; a device not audited gets one ``coverage.<status>`` finding.
    ``from_file``: read from a file (`fleet audit`), which may be a shared site file."""
    if result.status != "audited" or result.state is None:
        result.findings = [
            Finding(
                f"coverage.{result.status}",
                "high",
                result.id,
                f"not audited ({result.status}): {result.error or 'no answer'}; its emergency "
                "calling is unverified",
                expected="audited",
                actual=result.status,
            )
        ]
        result.findings.sort(key=Finding.sort_key)
        return
    state = result.state
    facts = {**facts, "model": [state.model or ""]}
    found: list[Finding] = list(state.notices)
    if result.role == "phone":
        found += emergency.check_phone(state, golden.emergency, from_file)
    elif result.role == "sbc":
        found += path.check_sbc(result, golden.emergency)
    for rule in golden.rules:
        if not rules.in_scope(rule.scope, facts):
            continue
        if rule.dial is not None:
            found += rules.check_dial_rule(rule, state)
        elif (f := rules.check_rule(rule, state)) is not None:
            found.append(f)
    found += firmware.check(state, golden.firmware_deny)
    found = waivers.apply(found, golden.waivers, {**facts, "id": [result.id]})
    found.sort(key=Finding.sort_key)
    result.findings = found


def check_fleet(
    results: list[DeviceResult],
    golden: Golden,
    addresses: dict[str, str | None],
    outside: dict[str, str] | None = None,
    notify: dict[str, list[str]] | None = None,
) -> None:
    """Checks across devices: the phone → SBC → trunk path, and each site's emergency-call
    notification target where the policy asks for one. ``outside``: address → id of the
    inventory's SBCs that are not in this run (a path through one is unproven); ``notify``:
    device id → the inventory's notification targets (None: no inventory)."""
    path.check_paths(results, golden.emergency, addresses, outside)
    notification.check_sites(results, golden, notify)
