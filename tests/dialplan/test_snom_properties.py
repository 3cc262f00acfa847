"""Properties of the Snom regular-expression dial-plan engine, and its tricky semantics."""

from __future__ import annotations

import time

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from device_profiles.snom import dialplan as snom
from fleet.dialplan import Outcome, dialect
from fleet.model import DialPlan

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=12)
PLAN_CHARS = st.text(alphabet='0123456789!|\\()[]{}^$*+?.,-d i"sip:@#', max_size=80)


def _eval(text: str, digits: str, **options: str) -> Outcome:
    return snom.DIALECT.evaluate(DialPlan("snom", text, "user_dp_str1", dict(options)), digits)


@st.composite
def entries(draw: st.DrawFn) -> str:
    prefix = draw(st.text(alphabet="0123456789", min_size=1, max_size=4))
    tail = draw(st.sampled_from(["$", "[0-9]$", "[0-9]{2,}$", "([0-9]*)$", ""]))
    flag = draw(st.sampled_from(["d", ""]))
    return f"!^({prefix}){tail}!sip:\\1@\\d!{flag}"


PLANS = st.lists(entries(), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(PLAN_CHARS, st.text(alphabet="0123456789*#", max_size=12), st.sampled_from(["off", "4"]))
def test_never_raises_and_sent_only_for_dial(text: str, digits: str, auto: str) -> None:
    out = _eval(text, digits, auto_dial=auto)
    assert out.outcome in ("dial", "block", "wait", "no-match")
    assert (out.sent is not None) == (out.outcome == "dial")
    assert out.route is None or out.outcome == "dial"
    assert out.delay_s == 0 or out.after_timeout


@settings(max_examples=200, deadline=None)
@given(PLANS, DIGITS, st.data())
def test_removing_an_entry_that_never_matches_changes_nothing(
    plan: list[str], digits: str, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(plan) - 1))
    compiled = snom.compile_plan(plan[i], {})
    if any(e.regex.search(digits[:k]) for e in compiled.entries for k in range(1, 13)):
        return
    rest = plan[:i] + plan[i + 1 :]
    assert _eval(" ".join(plan), digits) == _eval(" ".join(rest), digits)


@settings(max_examples=200, deadline=None)
@given(PLANS, DIGITS, st.data())
def test_removing_an_entry_never_makes_an_undialable_number_dial_through_it(
    plan: list[str], digits: str, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(plan) - 1))
    before = _eval(" ".join(plan), digits)
    after = _eval(" ".join(plan[:i] + plan[i + 1 :]), digits)
    if before.outcome != "dial":
        assert after.outcome != "dial" or after.matched != plan[i]


@settings(max_examples=200, deadline=None)
@given(DIGITS, PLANS)
def test_a_first_dial_now_entry_for_the_number_dials_it_at_once(
    number: str, rest: list[str]
) -> None:
    # Another entry matching a shorter prefix would decide first: that is the prefix trap.
    others = snom.compile_plan(" ".join(rest), {}).entries
    assume(not any(e.regex.search(number[:k]) for e in others for k in range(1, len(number))))
    out = _eval(" ".join([f"!^{number}$!sip:{number}@\\d!d", *rest]), number)
    assert (out.outcome, out.sent, out.delay_s, out.after_timeout) == ("dial", number, 0, False)


@settings(max_examples=200, deadline=None)
@given(PLANS, DIGITS)
def test_the_auto_dial_timer_never_makes_a_dial_later_or_a_dial_disappear(
    plan: list[str], digits: str
) -> None:
    off = _eval(" ".join(plan), digits, auto_dial="off")
    on = _eval(" ".join(plan), digits, auto_dial="4")
    if off.outcome == "dial":
        assert on == off
    elif off.outcome == "wait":
        assert on.after_timeout and on.delay_s == 4


@settings(max_examples=200, deadline=None)
@given(PLANS, DIGITS)
def test_one_step_per_digit_keyed_until_the_decision(plan: list[str], digits: str) -> None:
    out = _eval(" ".join(plan), digits)
    keyed = [s for s in out.steps if s.startswith("key ")]
    if out.outcome == "wait":
        assert len(keyed) == len(digits)
    else:
        assert 1 <= len(keyed) <= len(digits)


def test_first_match_without_d_shadows_a_later_dial_now_entry() -> None:
    out = _eval("!^([0-9]{3})$!sip:\\1@\\d! !^999$!sip:999@\\d!d", "999")
    assert (out.outcome, out.matched) == ("wait", "!^([0-9]{3})$!sip:\\1@\\d!")


def test_outside_line_entry_first_strips_the_nine_of_999() -> None:
    plan = "!^9([0-9]{2,})$!sip:\\1@\\d!d !^999$!sip:999@\\d!d"
    assert (_eval(plan, "999").sent, _eval(plan, "9112").sent) == ("99", "11")


def test_hot_line_only_when_auto_dial_is_two_seconds_or_less() -> None:
    plan = "!^999$!sip:999@\\d!d"
    hot = _eval(plan, "999", auto_dial="2", auto_dial_target="100")
    warm = _eval(plan, "999", auto_dial="3", auto_dial_target="100")
    assert (hot.sent, warm.sent) == ("100", "999")


def test_registrar_host_is_no_route_and_another_host_is() -> None:
    same = _eval("!^999$!sip:999@\\d!d", "999", user_host="sip.example.net:5060")
    other = _eval("!^999$!sip:999@sbc.example.net:5060!d", "999", user_host="sip.example.net")
    assert (same.route, other.route) == (None, "sbc.example.net:5060")


def test_pipe_joined_and_quoted_entries_parse_alike() -> None:
    a = snom.compile_plan("!^999$!999!d|!^112$!112!d", {})
    b = snom.compile_plan('"!^999$!999!d" "!^112$!112!d"', {})
    assert (
        [e.text for e in a.entries]
        == [e.text for e in b.entries]
        == [
            "!^999$!999!d",
            "!^112$!112!d",
        ]
    )
    assert a.problems == b.problems == ()


def test_a_broken_entry_is_reported_and_skipped() -> None:
    out = _eval("!^(112!sip:112@\\d!d !^112$!sip:112@\\d!d", "112")
    assert out.outcome == "dial" and out.sent == "112"
    assert len(out.problems) == 1 and "not a valid regular expression" in out.problems[0]


def test_plans_compile_once_and_evaluate_fast() -> None:
    plan = " ".join(f"!^({n:03d}[0-9]{{4}})$!sip:\\1@\\d!d" for n in range(100, 150))
    plan += " !^999$!sip:999@\\d!d"
    dp = DialPlan("snom", plan, "user_dp_str1", {"auto_dial": "off"})
    numbers = ["999", "112", "9999", "9112", "1201234", "01134960000", "2345", "0", "11", "101"]
    snom.DIALECT.evaluate(dp, "1")
    hits = dialect._compiled.cache_info().hits
    start = time.perf_counter()
    for _ in range(10):
        for n in numbers:
            snom.DIALECT.evaluate(dp, n)
    per_call = (time.perf_counter() - start) / (10 * len(numbers))
    assert dialect._compiled.cache_info().hits - hits == 10 * len(numbers)
    assert per_call < 0.001, f"{per_call * 1e6:.0f} us per evaluation"


def test_a_bracket_class_reads_as_re_reads_it() -> None:
    """Classes go through the shared Charset: a range over any characters (``[*-9]`` holds
    ``*``, ``+``, ``,``, ``-``, ``.``, ``/`` and the digits) matches what re matches; a
    backwards range is left to re, which reports the entry and drops it."""
    for keyed in ("5", "*", "#"):
        out = _eval("!^[*-9]$!\\0!d !^(.*)$!x!d", keyed)
        want = "5" if keyed == "5" else "*" if keyed == "*" else "x"
        assert (out.outcome, out.sent) == ("dial", want), (keyed, out.steps)
    assert snom.compile_plan("!^[*-9]$!\\0!d", {}).entries[0].atoms is not None  # not left to re
    out = _eval("!^[9-0]$!\\0!d !^999$!999!d", "999")
    assert (out.outcome, out.sent) == ("dial", "999")
    assert len(out.problems) == 1 and "not a valid regular expression" in out.problems[0]
