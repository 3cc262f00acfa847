"""Properties and tricky cases of the Yealink engine (device_profiles/yealink/dialplan.py)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.yealink import dialplan as yealink
from device_profiles.yealink import profile, simulator
from fleet.check.emergency import check_phone
from fleet.check.golden import EmergencyPolicy
from fleet.lab.spec import LabPhone
from fleet.model import Collected, DialPlan

KEYS = "0123456789*#"
digits = st.text(alphabet=KEYS, min_size=1, max_size=12)
classic_rule = st.text(alphabet="0123456789x.[]()-,", min_size=1, max_size=8)
map_entry = st.text(alphabet="0123456789x.[]-<>:RTA!,*#", min_size=1, max_size=10)
literal = st.text(alphabet="0123456789", min_size=1, max_size=6)


def classic(rules: list[str], **options: str) -> DialPlan:
    return DialPlan("yealink", "|".join(rules), "test", {"mode": "classic", **options})


def digitmap(text: str, **options: str) -> DialPlan:
    return DialPlan("yealink", text, "test", {"mode": "digitmap", **options})


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(classic_rule, max_size=5),
    st.lists(classic_rule, max_size=3),
    st.lists(classic_rule, max_size=2),
    digits,
    st.sampled_from(["0", "1", "", "x"]),
)
def test_classic_never_raises(
    rules: list[str], prefixes: list[str], blocks: list[str], keyed: str, delay: str
) -> None:
    opts = {"phone_setting.dialnow_delay": delay}
    for i, p in enumerate(prefixes, 1):
        opts[f"dialplan.replace.prefix.{i}"] = p
        opts[f"dialplan.replace.replace.{i}"] = "$1$2"
    for i, b in enumerate(blocks, 1):
        opts[f"dialplan.block_out.number.{i}"] = b
    out = yealink.DIALECT.evaluate(classic(rules, **opts), keyed)
    assert out.outcome in {"dial", "block", "wait", "no-match"}
    assert (out.sent is not None) == (out.outcome == "dial")
    assert out.steps


@settings(max_examples=300, deadline=None)
@given(
    st.lists(map_entry, max_size=6),
    digits,
    st.sampled_from(["0", "1", "2", "", "9"]),
    st.sampled_from(["0", "3", "", "4|x|2"]),
)
def test_digitmap_never_raises(entries: list[str], keyed: str, action: str, short: str) -> None:
    plan = digitmap(
        "|".join(entries),
        **{
            "dialplan.digitmap.no_match_action": action,
            "dialplan.digitmap.interdigit_short_timer": short,
        },
    )
    out = yealink.DIALECT.evaluate(plan, keyed)
    assert out.outcome in {"dial", "block", "wait", "no-match"}
    assert (out.sent is not None) == (out.outcome == "dial")
    assert out.delay_s >= 0 and out.after_timeout == (out.delay_s > 0)


@given(st.lists(literal, min_size=1, max_size=6), st.data())
def test_removing_a_rule_never_dials_through_it(rules: list[str], data: st.DataObject) -> None:
    keyed = data.draw(st.sampled_from(rules))
    gone = data.draw(st.sampled_from(rules))
    rest = [r for r in rules if r != gone]
    out = yealink.DIALECT.evaluate(classic(rest, **{"phone_setting.dialnow_delay": "0"}), keyed)
    assert out.matched != gone


@given(st.lists(literal, min_size=1, max_size=5), literal)
def test_a_block_out_entry_equal_to_the_number_always_bars_it(
    rules: list[str], number: str
) -> None:
    plan = classic(
        [*rules, number],
        **{"phone_setting.dialnow_delay": "0", "dialplan.block_out.number.1": number},
    )
    out = yealink.DIALECT.evaluate(plan, number)
    # Only a shorter dial-now rule completing first (a different number) escapes the bar.
    assert out.outcome == "block" or (out.outcome == "dial" and out.sent != number)


@given(literal)
def test_a_lone_entry_dials_at_once(number: str) -> None:
    for plan in (classic([number], **{"phone_setting.dialnow_delay": "0"}), digitmap(number)):
        out = yealink.DIALECT.evaluate(plan, number)
        assert (out.outcome, out.sent, out.delay_s, out.matched) == ("dial", number, 0, number)


@given(st.lists(literal, min_size=1, max_size=4), literal, literal)
def test_digitmap_mode_ignores_classic_rules(entries: list[str], keyed: str, rule: str) -> None:
    text = "|".join(entries)
    bare = yealink.DIALECT.evaluate(digitmap(text), keyed)
    loaded = yealink.DIALECT.evaluate(
        digitmap(
            text,
            **{
                "dialplan.dialnow.rule.1": rule,
                "dialplan.replace.prefix.1": rule,
                "dialplan.replace.replace.1": "0",
                "dialplan.block_out.number.1": rule,
                "dialplan.area_code.code": "0161",
                "phone_setting.dialnow_delay": "0",
            },
        ),
        keyed,
    )
    assert bare == loaded


@given(digits)
def test_extra_digits_after_a_dial_now_match_are_ignored(tail: str) -> None:
    plan = classic(["999"], **{"phone_setting.dialnow_delay": "0"})
    assert yealink.DIALECT.evaluate(plan, "999" + tail).sent == "999"


# --- targeted semantics --------------------------------------------------------------------


def test_classic_dot_needs_at_least_one_character() -> None:
    plan = classic(["9."], **{"phone_setting.dialnow_delay": "0"})
    assert yealink.DIALECT.evaluate(plan, "9").outcome == "wait"
    # A rule ending in "." fires on the first character after the prefix: 9 + 999 goes as 99.
    assert yealink.DIALECT.evaluate(plan, "9999").sent == "99"


def test_digitmap_dot_allows_zero() -> None:
    out = yealink.DIALECT.evaluate(digitmap("123."), "123")
    assert (out.outcome, out.delay_s) == ("dial", 0)


def test_dialnow_delay_lets_a_longer_rule_win() -> None:
    plan = classic(["999", "9999"], **{"phone_setting.dialnow_delay": "1"})
    out = yealink.DIALECT.evaluate(plan, "9999")
    assert (out.sent, out.delay_s, out.after_timeout) == ("9999", 1, True)


def test_first_replace_rule_wins() -> None:
    plan = classic(
        ["999"],
        **{
            "phone_setting.dialnow_delay": "0",
            "dialplan.replace.prefix.2": "999",
            "dialplan.replace.replace.2": "112",
            "dialplan.replace.prefix.10": "(.)",
            "dialplan.replace.replace.10": "0$1",
        },
    )
    assert yealink.DIALECT.evaluate(plan, "999").sent == "112"


def test_bad_group_reference_is_a_problem() -> None:
    plan = classic(
        ["999"],
        **{
            "phone_setting.dialnow_delay": "0",
            "dialplan.replace.prefix.1": "9(99)",
            "dialplan.replace.replace.1": "$2",
        },
    )
    out = yealink.DIALECT.evaluate(plan, "999")
    assert out.problems and out.outcome == "no-match"


def test_account_digitmap_options_take_precedence() -> None:
    plan = DialPlan(
        "yealink",
        "9xxxT",
        "test",
        {
            "mode": "digitmap",
            "dialplan.digitmap.interdigit_long_timer": "10",
            "account.2.dialplan.digitmap.interdigit_long_timer": "5",
        },
    )
    out = yealink.DIALECT.evaluate(plan, "999")
    assert (out.outcome, out.delay_s) == ("dial", 5)


def test_mode_from_enable_switch() -> None:
    assert yealink.mode_of({"dialplan.digitmap.enable": "1"}) == "digitmap"
    assert yealink.mode_of({}) == "classic"
    assert yealink.mode_of({"mode": "classic", "dialplan.digitmap.enable": "1"}) == "classic"


def test_steps_name_candidates() -> None:
    out = yealink.DIALECT.evaluate(digitmap("[2-9]11|[2-9]xxxT"), "99")
    assert any("[2-9]xxxT" in s for s in out.steps)


def test_fifty_entry_plan_is_fast() -> None:
    rules = [f"{i:02d}xx" for i in range(45)] + ["999", "112", "9999", "9112", "90x."]
    reps = {f"dialplan.replace.prefix.{i}": f"9({i:02d}xx)" for i in range(1, 40)}
    reps |= {f"dialplan.replace.replace.{i}": "$1" for i in range(1, 40)}
    plans = [
        classic(rules, **{"phone_setting.dialnow_delay": "0"}, **reps),
        digitmap("|".join([*rules[:45], "999", "112", "<9:>999", "<9:>112", "xxxxxT"])),
    ]
    keyed = ["999", "112", "9999", "9112", "0123", "4567", "90123456", "111", "2", "98765"]
    for plan in plans:
        yealink.DIALECT.evaluate(plan, "0")  # compile
        start = time.perf_counter()
        for d in keyed:
            yealink.DIALECT.evaluate(plan, d)
        assert (time.perf_counter() - start) / len(keyed) < 0.001


# --- the lab: default plan and seeded faults -----------------------------------------------


def _spec(extra: dict[str, str]) -> LabPhone:
    return LabPhone(
        id="lon-yealink-0001",
        profile="yealink",
        site="lon",
        address="127.0.0.1",
        port=8080,
        model="SIP-T54W",
        firmware="96.86.0.75",
        mac="805ec0000001",
        admin_user="admin",
        admin_password="x",
        sip_user="2001",
        sip_password="y",
        registrar="127.20.0.1:5060",
        outbound_proxy="127.20.0.1:5060",
        emergency_numbers=["999", "112"],
        emergency_route="127.20.0.1:5060",
        provisioning_server="https://prov.lab.invalid/lon",
        extra=dict(extra),
    )


def _dial_findings(extra: dict[str, str]) -> list[tuple[str, str]]:
    collected: Collected = simulator.render(_spec(extra))
    policy = EmergencyPolicy(
        numbers=["999", "112"], phone_route=["127.20.0.1:5060"], max_dial_delay_s=0, prefixes=["9"]
    )
    findings = check_phone(profile.to_state(collected), policy)
    return sorted(
        (f.rule, f.subject) for f in findings if f.rule in ("emergency.dial", "emergency.delay")
    )


def test_lab_default_plan_passes() -> None:
    assert _dial_findings({}) == []


def _direct(findings: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The findings on the numbers themselves: a 9-prefixed form the phone sends as dialled
    is settled by the SBC on its path (tests/profiles/test_lab_contract.py checks those)."""
    return sorted(f for f in findings if f[1] not in ("9999", "9112", "9911"))


def test_every_fault_gives_its_expected_findings() -> None:
    assert set(simulator.FAULTS) == set(simulator.FAULT_EXPECT)
    for name, extra in simulator.FAULTS.items():
        got, want = _dial_findings(extra), list(simulator.FAULT_EXPECT[name])
        assert _direct(got) == _direct(want), name
