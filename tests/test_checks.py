"""Checks on the vendor-neutral model: emergency numbers, routes, dial plans, golden rules."""

from __future__ import annotations

from fleet import check
from fleet.check import golden
from fleet.check.emergency import route_matches
from fleet.model import DeviceResult, DeviceState, DialPlan, EmergencyEntry, Line

SBC = "sbc1.example.net"


def phone(
    plan: str, numbers=("999", "112"), route=SBC, syntax="mgcp", options=None, location=None
) -> DeviceResult:
    line = Line(
        1,
        registrar=SBC,
        outbound_proxy=SBC,
        dialplan=DialPlan(syntax, plan, "dialplan.digitmap", dict(options or {})),
        emergency=[
            EmergencyEntry(
                n, route, "dialplan.routing.emergency.1.value", "dialplan.routing.server.1.address"
            )
            for n in numbers
        ],
    )
    st = DeviceState(vendor="Poly", profile="polycom", lines=[line], location_source=location)
    return DeviceResult("ph1", "lon", "phone", "polycom", "h", "audited", state=st)


def run(tmp_path, res: DeviceResult, body: str = "") -> list[tuple[str, str]]:
    p = tmp_path / "g.yaml"
    p.write_text(
        "fleet_golden: 1\nname: t\npolicy: [uk]\nemergency:\n"
        f"  phone_route: {SBC}\n  prefixes: ['9']\n" + body
    )
    check.check_device(res, golden.load(p), {"role": ["phone"], "site": ["lon"]})
    return [(f.rule, f.subject) for f in res.findings]


def test_a_good_plan_passes(tmp_path):
    assert run(tmp_path, phone("999|112|R9RR112|[2-8]xxx|0[1-9]xxxxxxxxx")) == []


def test_a_plan_that_lost_112_is_an_emergency_dial_finding(tmp_path):
    res = phone("999|[2-8]xxx|0[1-9]xxxxxxxxx")
    got = run(tmp_path, res)
    assert ("emergency.dial", "112") in got and ("emergency.dial", "9112") in got
    f = next(f for f in res.findings if f.subject == "112")
    assert f.severity == "critical"
    assert f.evidence[0] == "dialplan.digitmap = 999|[2-8]xxx|0[1-9]xxxxxxxxx"
    # Poly's default impossibleMatchHandling (0) sends what was keyed up to the impossible
    # match: "1", at once
    assert f.actual == "dial 1 at once" and "matches no dial-plan entry" in f.message


def test_a_rewrite_to_the_wrong_number(tmp_path):
    res = phone("R999R911R|112|R9RR112")
    got = run(tmp_path, res)
    assert ("emergency.dial", "999") in got
    f = next(f for f in res.findings if f.subject == "999")
    assert "rewrites it to 911" in f.message and f.actual == "dial 911 at once"


def test_us_default_plan_on_a_uk_phone(tmp_path):
    res = phone("[2-9]11|0T|011xxx.T|[0-1][2-9]xxxxxxxxx|[2-9]xxxxxxxxx|[2-9]xxxT")
    got = dict.fromkeys(run(tmp_path, res))
    assert ("emergency.dial", "999") in got


def test_route_and_missing_numbers(tmp_path):
    res = phone("999|112|R9RR112", numbers=("999",), route="old-sbc.example.net:5060")
    got = run(tmp_path, res)
    assert ("emergency.route", "112") in got
    wrong = [f for f in res.findings if f.rule == "emergency.route" and f.subject == "999"]
    assert wrong and wrong[0].actual == "old-sbc.example.net:5060"


def test_location_required_by_the_us_pack(tmp_path):
    res = phone("911|9911", numbers=("911",))
    p = tmp_path / "g.yaml"
    p.write_text("fleet_golden: 1\nname: t\npolicy: [us]\nemergency: {prefixes: []}\n")
    check.check_device(res, golden.load(p), {})
    assert [(f.rule, f.severity) for f in res.findings] == [("emergency.location", "high")]
    res = phone("911|9911", numbers=("911",), location="ELIN")
    check.check_device(res, golden.load(p), {})
    assert res.findings == []


def test_golden_dial_rules(tmp_path):
    res = phone("999|112|R9RR112|[2-8]xxx|0[1-9]xxxxxxxxx")
    got = run(
        tmp_path,
        res,
        "rules:\n  - id: internal\n    severity: high\n"
        "    dial: {'2001': dial, '09001234567': block, '7': dial}\n",
    )
    assert got == [("rule.internal", "09001234567"), ("rule.internal", "7")]
    f = res.findings[0]
    assert f.severity == "high" and f.expected == "block" and f.actual == "dial 09001234567"


def test_scope_limits_rules(tmp_path):
    res = phone("999|112|R9RR112")
    body = (
        "rules:\n  - {id: man-only, scope: {site: man}, key: firmware, present: true}\n"
        "  - {id: lon, scope: {site: [lon, edi]}, key: firmware, present: true}\n"
    )
    assert run(tmp_path, res, body) == [("rule.lon", "firmware")]


def test_route_matching():
    assert route_matches("sbc:5060", ["sbc"])
    assert route_matches("SBC:5060", ["sbc:5060"])
    assert not route_matches("sbc:5061", ["sbc:5060"])
    assert not route_matches("sbc2", ["sbc"])
    assert not route_matches(None, ["sbc"])
