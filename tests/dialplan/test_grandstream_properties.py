"""Properties of the Grandstream dial-plan engine, and the semantics the vectors cannot show."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles.grandstream import dialplan as grandstream
from fleet.dialplan import Outcome
from fleet.model import DialPlan

OUTCOMES = {"dial", "block", "wait", "no-match"}


def _eval(text: str, digits: str, **options: str) -> Outcome:
    return grandstream.DIALECT.evaluate(
        DialPlan("grandstream", text, "P290", dict(options)), digits
    )


def _plan(entries: list[str]) -> str:
    return "{ " + " | ".join(entries) + " }"


element = st.sampled_from(["x", "[1-5]", "[29]", "0", "1", "9", "*", "x+", "9+", "<9=>", "<=44>"])
allow_entry = st.lists(element, min_size=1, max_size=5).map("".join)
any_entry = st.tuples(st.booleans(), allow_entry, st.booleans()).map(
    lambda t: ("^" if t[0] else "") + t[1] + ("T" if t[2] else "")
)
keyed = st.text(alphabet="0123456789*", min_size=1, max_size=8)
plan_chars = st.text(alphabet="{}[]<>=^|+.,\\xXT0129*# -", max_size=40)


@settings(max_examples=300, deadline=None)
@given(plan_chars, st.text(alphabet="0123456789*#", max_size=10))
def test_never_raises_and_fields_agree_with_outcome(text: str, digits: str) -> None:
    out = _eval(text, digits)
    assert out.outcome in OUTCOMES
    if out.outcome != "dial":
        assert out.sent is None and out.delay_s == 0 and not out.after_timeout
    assert out.after_timeout == (out.delay_s > 0)
    assert out.steps or not digits


@settings(max_examples=200, deadline=None)
@given(st.lists(any_entry, max_size=6), st.text(alphabet="0123456789", min_size=1, max_size=5))
def test_an_exclusion_blocks_its_number_whatever_else_the_plan_holds(
    entries: list[str], number: str
) -> None:
    for at in (0, len(entries)):
        plan = _plan([*entries[:at], "^" + number, *entries[at:]])
        assert _eval(plan, number).outcome == "block"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(allow_entry.filter(lambda e: not e.startswith(("9", "<9=>"))), max_size=6),
    st.text(alphabet="0123456789", min_size=1, max_size=4),
)
def test_an_entry_nothing_else_extends_dials_at_once(entries: list[str], tail: str) -> None:
    # Every other entry starts with a digit other than 9 (or a wildcard that is not a 9 rule),
    # so none of them can match 9 + tail or anything longer.
    others = [e for e in entries if e[0] not in "x*9[<"]
    number = "9" + tail
    out = _eval(_plan([*others, number]), number)
    assert (out.outcome, out.sent, out.delay_s, out.matched) == ("dial", number, 0, number)


@settings(max_examples=300, deadline=None)
@given(st.lists(any_entry, min_size=1, max_size=6), keyed)
def test_the_deciding_entry_alone_dials_the_same_number_no_later(
    entries: list[str], digits: str
) -> None:
    full = _eval(_plan(entries), digits)
    if full.outcome != "dial" or full.matched is None:
        return
    alone = _eval(_plan([full.matched]), digits)
    assert alone.outcome == "dial" and alone.sent == full.sent
    assert alone.delay_s <= full.delay_s


@settings(max_examples=200, deadline=None)
@given(st.lists(any_entry, min_size=1, max_size=6), keyed, st.sampled_from(["9", "0", "1617"]))
def test_dial_plan_prefix_only_prepends(entries: list[str], digits: str, prefix: str) -> None:
    plain = _eval(_plan(entries), digits)
    prefixed = _eval(_plan(entries), digits, P66=prefix)
    assert prefixed.outcome == plain.outcome
    if plain.outcome == "dial":
        assert prefixed.sent == prefix + (plain.sent or "")


@settings(max_examples=200, deadline=None)
@given(st.lists(any_entry, min_size=1, max_size=6), keyed)
def test_spacing_does_not_matter(entries: list[str], digits: str) -> None:
    tight = _eval("{" + "|".join(entries) + "}", digits)
    loose = _eval("{  " + "  |\t".join(" ".join(e) for e in entries) + " }", digits)
    assert (tight.outcome, tight.sent, tight.delay_s) == (loose.outcome, loose.sent, loose.delay_s)


def test_complete_entry_waits_for_no_key_entry_timeout_while_a_longer_one_can_match() -> None:
    out = _eval("{ 999 | 9xxx }", "999")
    assert (out.outcome, out.sent, out.after_timeout, out.delay_s) == ("dial", "999", True, 4)
    assert any("P85" in s for s in out.steps)
    assert _eval("{ 999 | 9xxx }", "999", P85="7").delay_s == 7


def test_first_complete_entry_in_plan_order_wins_after_the_timeout() -> None:
    assert _eval("{ 99x | <9=>xx }", "991").sent == "991"
    assert _eval("{ <9=>xx | 99x }", "991").sent == "91"


def test_exclusion_that_can_still_grow_holds_the_call_then_blocks() -> None:
    out = _eval("{ ^99x+ | 999 }", "999")
    assert out.outcome == "block" and out.matched == "^99x+"
    assert _eval("{ ^1900x+ | x+ }", "1800").outcome == "dial"


def test_digits_keyed_after_the_number_completes_are_not_sent() -> None:
    out = _eval("{ 999 | 112 }", "99912")
    assert (out.outcome, out.sent) == ("dial", "999")
    assert any("12 keyed after" in s for s in out.steps)


def test_t_flag_waits_three_seconds_and_lets_more_digits_come() -> None:
    assert _eval("{ 1xxT | 1xxxx }", "123").delay_s == 4  # a longer entry: the P85 timer
    assert _eval("{ 1xxT }", "123").delay_s == 3
    assert _eval("{ 1xxT | 1xxxx }", "12345").sent == "12345"


def test_dial_key_sends_what_was_keyed_at_once() -> None:
    out = _eval("{ x+ }", "112#")
    assert (out.outcome, out.sent, out.delay_s) == ("dial", "112", 0)
    assert _eval("{ x+ }", "112*", P72="2").sent == "112"
    assert _eval("{ 1xx }", "11#").outcome == "no-match"


def test_escapes_and_any_character() -> None:
    assert _eval("{ \\+x+ }", "+44").sent == "+44"
    assert _eval("{ \\*98 }", "*98").delay_s == 0
    assert _eval("{ X12 }", "912").sent == "912"


def test_problems_are_reported_and_the_rest_of_the_plan_still_works() -> None:
    out = _eval("{ 999 | <9011> | 1[2-x]2 | 112 }", "112")
    assert out.outcome == "dial" and len(out.problems) == 2
    assert _eval("{ " + "x" * 1100 + " | 999 }", "999").problems
    bad_timer = _eval("{ 1xx | 1xxx }", "123", P85="soon")
    assert bad_timer.delay_s == 4 and bad_timer.problems
    assert _eval("{ }", "999").outcome == "no-match"


def test_fifty_entry_plan_evaluates_well_under_a_millisecond() -> None:
    entries = [f"{d}{n:02d}xx" for d in "2345678" for n in range(7)] + ["999", "112", "x+"]
    plan = DialPlan("grandstream", _plan(entries), "P290", {})
    grandstream.DIALECT.evaluate(plan, "1")  # compiled once, then only evaluated
    numbers = ["999", "112", "9999", "9112", "2011234", "3456", "0123456789", "7", "55", "101"]
    start = time.perf_counter()
    for _ in range(20):
        for n in numbers:
            grandstream.DIALECT.evaluate(plan, n)
    per_call = (time.perf_counter() - start) / (20 * len(numbers))
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per evaluation"
