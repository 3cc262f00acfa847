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


def us_golden(tmp_path, body: str = "") -> golden.Golden:
    p = tmp_path / "us.yaml"
    p.write_text("fleet_golden: 1\nname: t\npolicy: [us]\n" + body)
    return golden.load(p)


def test_9911_is_checked_only_where_9_is_an_outside_line_prefix(tmp_path):
    # no outside-line 9: Kari's Law asks 911 without a prefix, nothing of 9911
    res = phone("911|[2-8]xxxxxx|1[2-9]xxxxxxxxx", numbers=("911",), location="ELIN")
    check.check_device(res, us_golden(tmp_path), {})
    assert res.findings == []
    # 9 strips for outside numbers: 9911 must reach 911 too, and here it does not
    res = phone("911|R9RR[2-9]xxxxxxxxx", numbers=("911",), location="ELIN")
    check.check_device(res, us_golden(tmp_path), {})
    [f] = res.findings
    assert (f.rule, f.subject) == ("emergency.dial", "9911")
    assert any("9 is an outside-line prefix" in e for e in f.evidence)
    # the golden's own prefixes apply always
    res = phone("911|[2-8]xxxxxx", numbers=("911",), location="ELIN")
    check.check_device(res, us_golden(tmp_path, "emergency: {prefixes: ['9']}\n"), {})
    assert [(f.rule, f.subject) for f in res.findings] == [("emergency.dial", "9911")]


def test_a_prefixed_form_sent_as_dialled_is_not_called_a_rewrite(tmp_path):
    res = phone("999|112|9xxx")
    run(tmp_path, res)
    f = next(f for f in res.findings if f.subject == "9112")
    assert "rewrites" not in f.message and "sends 9112 as dialled" in f.message
    assert not any("{" in e for e in f.evidence)
    assert any(e.startswith("evaluation: keyed 9112") for e in f.evidence)


def test_a_plan_no_engine_reads_or_no_plan_is_coverage_dialplan(tmp_path):
    res = phone("999|112", syntax="martian")
    got = run(tmp_path, res)
    assert ("coverage.dialplan", "dialplan") in got
    f = next(f for f in res.findings if f.rule == "coverage.dialplan")
    assert f.severity == "high" and "martian" in f.message
    res = phone("999|112")
    res.state.lines[0].dialplan = None
    assert ("coverage.dialplan", "dialplan") in run(tmp_path, res)


def test_a_site_file_plan_is_checked_without_a_line(tmp_path):
    # a factory plan whose outside-line rule swallows 112 (R1RR: strip a leading 1)
    st = DeviceState(
        vendor="Poly",
        profile="polycom",
        dialplan=DialPlan("mgcp", "999|R1RRxx", "dialplan.digitmap"),
    )
    res = DeviceResult("sip", None, "phone", "polycom", "sip.cfg", "audited", state=st)
    p = tmp_path / "g.yaml"
    p.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    check.check_device(res, golden.load(p), {}, from_file=True)
    got = {(f.rule, f.subject): f for f in res.findings}
    assert ("coverage.noline", "lines") in got
    f = got[("emergency.dial", "112")]
    assert "rewrites it to 12" in f.message
    assert ("emergency.route", "999") not in got  # a shared file is unproven, not broken


def test_firmware_without_an_emergency_setting_dials_through_the_line(tmp_path):
    res = phone("999|112", numbers=())
    res.state.emergency_setting = False
    got = run(tmp_path, res)
    assert not [g for g in got if g[0] == "emergency.route"]


def test_a_site_file_that_lists_only_911_fails_a_uk_golden(tmp_path):
    st = DeviceState(
        vendor="Poly",
        profile="polycom",
        emergency=[EmergencyEntry("911", None, "dialplan.routing.emergency.1.value")],
    )
    res = DeviceResult("sip", None, "phone", "polycom", "sip.cfg", "audited", state=st)
    p = tmp_path / "g.yaml"
    p.write_text("fleet_golden: 1\nname: t\npolicy: [uk]\n")
    check.check_device(res, golden.load(p), {}, from_file=True)
    got = {(f.rule, f.subject) for f in res.findings}
    assert {("emergency.route", "999"), ("emergency.route", "112")} <= got
    assert ("coverage.dialplan", "dialplan") in got  # and it has no plan to check


def _fake_sbc(monkeypatch, strips: bool) -> DeviceResult:
    from fleet import profiles
    from fleet.model import RouteDecision, SbcState

    def route(state: DeviceState, number: str, source: str | None) -> RouteDecision:
        sent = number[1:] if strips and number.startswith("9") and len(number) == 4 else number
        return RouteDecision(number, source, "routed", "rule 1", sent, "EMERGENCY")

    prof = profiles.Profile(name="fakesbc", vendor="X", role="sbc", transport="ssh", route=route)
    monkeypatch.setitem(profiles.registry(), "fakesbc", prof)
    st = DeviceState(vendor="X", profile="fakesbc", sbc=SbcState(addresses=[SBC]))
    return DeviceResult("sbc", "lon", "sbc", "fakesbc", SBC, "audited", state=st)


def test_a_prefixed_form_sent_as_dialled_is_proven_through_the_sbc(tmp_path, monkeypatch):
    p = tmp_path / "g.yaml"
    p.write_text(
        f"fleet_golden: 1\nname: t\npolicy: [uk]\nemergency:\n  phone_route: {SBC}\n"
        "  prefixes: ['9']\n  sbc_trunks: [EMERGENCY]\n"
    )
    gold = golden.load(p)
    for strips in (True, False):
        res, sbc = phone("999|112|9999|9112|[2-8]xxx"), _fake_sbc(monkeypatch, strips)
        check.check_device(res, gold, {})
        assert ("emergency.dial", "9112") in {(f.rule, f.subject) for f in res.findings}
        check.check_fleet([res, sbc], gold, {})
        left = [f for f in res.findings if f.subject == "9112"]
        if strips:  # the SBC turns 9112 into 112 on the emergency trunk: the path is proven
            assert left == []
        else:
            [f] = left
            assert any("does not strip it either" in e for e in f.evidence)
