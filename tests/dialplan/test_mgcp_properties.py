"""Properties of the Poly digit-map engine (fleet.dialplan.mgcp), and its tricky corners."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.dialplan import dialect, mgcp
from fleet.model import DialPlan

KEYS = "0123456789*#"
number = st.text(alphabet="0123456789", min_size=1, max_size=8)
keyed = st.text(alphabet=KEYS, min_size=0, max_size=12)
# one entry built from what the phone reads, well-formed or not
atom = st.sampled_from(["x", "[2-9]", "[0-1]", "[13579]", "9", "1", "0", "*", "#", "x.", "9."])
entry = st.lists(atom, min_size=1, max_size=6).map("".join) | st.builds(
    lambda left, right, tail: f"R{left}R{right}R{tail}",
    st.text(alphabet="0123456789", max_size=3),
    st.text(alphabet="0123456789", max_size=3),
    st.lists(atom, max_size=5).map("".join),
)
timed_entry = st.builds(lambda e, t: e + ("T" if t else ""), entry, st.booleans())
plan_entries = st.lists(timed_entry, min_size=1, max_size=8)
handling = st.sampled_from(["0", "1", "2"])


def ev(text: str, digits: str, **options: str) -> mgcp.Outcome:
    return mgcp.evaluate(DialPlan("mgcp", text, "dialplan.digitmap", options), digits)


@settings(max_examples=300)
@given(
    st.text(max_size=40),
    st.text(max_size=15),
    st.dictionaries(st.sampled_from(mgcp.OPTION_NAMES), st.text(max_size=8), max_size=3),
)
def test_never_raises_on_arbitrary_text(text: str, digits: str, options: dict[str, str]) -> None:
    out = mgcp.evaluate(DialPlan("mgcp", text, "p", options), digits)
    assert out.outcome in ("dial", "block", "wait", "no-match")


@settings(max_examples=300)
@given(plan_entries, keyed, handling)
def test_sent_only_for_dial_and_delay_only_after_a_timer(
    entries: list[str], digits: str, h: str
) -> None:
    out = ev("|".join(entries), digits, **{mgcp.IMPOSSIBLE: h})
    assert (out.sent is not None) == (out.outcome == "dial")
    assert out.route is None
    if out.delay_s:
        assert out.after_timeout and out.outcome == "dial"
    if out.matched is not None:
        assert out.matched in entries
    assert out.outcome != "block"  # Poly digit maps have no barring construct


@settings(max_examples=300)
@given(plan_entries, keyed, st.sampled_from(["1", "2"]), st.data())
def test_removing_an_entry_never_makes_an_undialable_number_dial(
    entries: list[str], digits: str, h: str, data: st.DataObject
) -> None:
    # With impossible matches not sent (1, 2), only an entry can place a call: fewer entries
    # can neither complete nor time out where more entries did not.
    full = ev("|".join(entries), digits, **{mgcp.IMPOSSIBLE: h})
    if full.outcome == "dial":
        return
    drop = data.draw(st.integers(0, len(entries) - 1))
    fewer = entries[:drop] + entries[drop + 1 :]
    assert ev("|".join(fewer), digits, **{mgcp.IMPOSSIBLE: h}).outcome != "dial"


@settings(max_examples=300)
@given(number, st.lists(st.text(alphabet="0123456789x.T", min_size=1, max_size=5), max_size=5))
def test_an_entry_nothing_shorter_preempts_dials_at_once(n: str, tails: list[str]) -> None:
    # Every other entry extends n, so none completes on a proper prefix of it (a tail starting
    # with "." would make n's last digit optional): n goes at once however many longer entries
    # could still match (RFC 3435 §2.1.5).
    others = [n + t for t in tails if not t.startswith(".")]
    out = ev("|".join([n, *others]), n)
    assert (out.outcome, out.sent, out.delay_s, out.after_timeout) == ("dial", n, 0, False)
    assert out.matched == n


@settings(max_examples=300)
@given(plan_entries, keyed, st.text(alphabet=KEYS, min_size=1, max_size=4))
def test_digits_after_an_immediate_dial_change_nothing(
    entries: list[str], digits: str, more: str
) -> None:
    first = ev("|".join(entries), digits)
    if first.outcome == "dial" and not first.after_timeout:
        again = ev("|".join(entries), digits + more)
        assert (again.outcome, again.sent, again.matched) == ("dial", first.sent, first.matched)


@given(
    st.text(alphabet="0123456789", min_size=1, max_size=3),
    st.text(alphabet="0123456789*#", max_size=3),
    st.text(alphabet="0123456789", min_size=1, max_size=7),
)
def test_a_rewrite_replaces_exactly_what_its_left_part_matched(
    left: str, right: str, tail: str
) -> None:
    plan = f"R{left}R{right}R" + "x" * len(tail)
    out = ev(plan, left + tail, **{mgcp.REMOVE_END: "0"})
    assert (out.outcome, out.sent) == ("dial", right + tail)


# ---------------------------------------------------------------- targeted


def test_shortest_match_999_beats_the_longer_9xxx() -> None:
    out = ev("9xxx|999", "9999")
    assert (out.outcome, out.sent, out.matched, out.delay_s) == ("dial", "999", "999", 0)


def test_first_complete_entry_in_plan_order_decides() -> None:
    assert ev("R999R911R|999", "999").sent == "911"
    assert ev("999|R999R911R", "999").sent == "999"


def test_timeout_list_is_per_entry_and_defaults_to_3s() -> None:
    opts = {mgcp.TIMEOUT: "1|7"}
    assert ev("1T|2T|3T", "1", **opts).delay_s == 1
    assert ev("1T|2T|3T", "2", **opts).delay_s == 7
    assert ev("1T|2T|3T", "3", **opts).delay_s == mgcp.DEFAULT_TIMEOUT
    # a single value is entry 1's only, not everyone's
    assert ev("0T|5xxxT", "5123", **{mgcp.TIMEOUT: "9"}).delay_s == 3


def test_the_first_timer_to_run_out_decides() -> None:
    out = ev("99xxT|999xT", "9991", **{mgcp.TIMEOUT: "5|2"})
    assert (out.matched, out.delay_s, out.after_timeout) == ("999xT", 2, True)


def test_bad_options_fall_back_to_defaults_and_are_reported() -> None:
    out = ev("999", "999", **{mgcp.IMPOSSIBLE: "7", mgcp.TIMEOUT: "x", mgcp.REMOVE_END: "?"})
    assert out.outcome == "dial" and len(out.problems) == 3


def test_malformed_entries_are_ignored_not_fatal() -> None:
    for bad in ("R9Rxxx", "9[2-", "9[]x", "9[5-2]x", ".9", "9XX", "9tT", "R0TR1R", "R9RaR9", "9?"):
        out = ev(f"{bad}|999", "999")
        assert (out.outcome, out.sent) == ("dial", "999"), bad
        assert out.problems, bad


def test_no_valid_entry_makes_every_digit_an_impossible_match() -> None:
    out = ev("R9R", "999")
    assert (out.outcome, out.sent) == ("dial", "9") and out.problems


def test_empty_plan_waits_for_send() -> None:
    for text in ("", "   ", "()"):
        out = ev(text, "999")
        assert out.outcome == "wait" and out.sent is None


def test_h_entries_wait_for_send_on_everything_but_a_vvx_1500() -> None:
    out = ev("33xxH", "3302")
    assert out.outcome == "wait"
    assert any("VVX 1500" in s for s in out.steps)
    assert ev("0xxxS", "0123").sent == "0123"


def test_explain_names_the_candidates_and_the_decision() -> None:
    out = ev("[2-9]11|[2-9]xxxT", "9112")
    assert out.steps[0].startswith("'9': partial [2-9]11, [2-9]xxxT")
    assert "shortest match" in out.steps[-1] and "'2' keyed after it" in out.steps[-1]


def test_trailing_hash_is_stripped_by_default_only() -> None:
    assert ev("2x.#", "234#").sent == "234"
    assert ev("2x.#", "234#", **{mgcp.REMOVE_END: "0"}).sent == "234#"


def test_compiled_once_per_distinct_plan_and_options() -> None:
    dialect.clear_compiled()
    for d in ("999", "112", "9999"):
        ev("999|112", d, **{mgcp.TIMEOUT: "3|3", "unrelated.option": d})
    info = dialect._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_fifty_entries_evaluate_well_under_a_millisecond() -> None:
    entries = ["999", "112", "R9RR112"]
    entries += [f"{d}{e}xx" for d in "2345678" for e in "135"]
    entries += [f"0{d}xxxxxxxxxT" for d in "123456789"] + [f"R9RR0{d}xxxxxxxxx" for d in "1234"]
    entries += [f"00{d}x.T" for d in "123456789"] + ["*xx", "#xx", "R*67RRxxxx", "xxxxxxT"]
    assert len(entries) >= 50
    plan = DialPlan("mgcp", "|".join(entries), "p", {mgcp.TIMEOUT: "|".join("3" * 50)})
    digits = ["999", "112", "9999", "9112", "01632960000", "901632960000", "2345", "0044", "4"]
    mgcp.evaluate(plan, "1")
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        for d in digits:
            mgcp.evaluate(plan, d)
    assert (time.perf_counter() - start) / (n * len(digits)) < 0.0005
