"""Properties of the Cisco SPA/MPP dial-plan dialect (device_profiles.cisco_mpp.dialplan), and
its tricky corners: timers, the most specific entry winning, barring, rewrites, malformed plans."""

from __future__ import annotations

import re
import time

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from device_profiles.cisco_mpp import dialplan as cisco
from device_profiles.cisco_mpp import simulator
from fleet.dialplan import Outcome, dialect
from fleet.model import DialPlan

KEYS = "0123456789*#"
keyed = st.text(alphabet=KEYS, min_size=0, max_size=12)
number = st.text(alphabet="0123456789", min_size=1, max_size=6)
ELEMENTS = {
    "x": "0123456789",
    "[2-9]": "23456789",
    "[0-1]": "01",
    "[13579]": "13579",
    "9": "9",
    "1": "1",
    "0": "0",
    "*": "*",
    "#": "#",
}
SUBS = {"": "", "<9:>": "9", "<:1>": "", "<8:44>": "8"}


@st.composite
def entry_and_keys(draw: st.DrawFn) -> tuple[str, str]:
    """One entry, and keys that follow it (so that plans built from them do dial)."""
    sub = draw(st.sampled_from(["", "", *SUBS]))
    text, keys = sub, SUBS[sub]
    for _ in range(draw(st.integers(1, 6))):
        el = draw(st.sampled_from(sorted(ELEMENTS)))
        rep = draw(st.sampled_from(["", "", "", "."]))
        text += el + rep
        for _ in range(draw(st.integers(0, 2)) if rep else 1):
            keys += draw(st.sampled_from(ELEMENTS[el]))
    text += draw(st.sampled_from(["", "", "S0", "S2", "L5"]))
    text += draw(st.sampled_from(["", "", "", "!"]))
    return text, keys


entries = st.lists(entry_and_keys().map(lambda t: t[0]), min_size=1, max_size=8)


@st.composite
def plan_and_keys(draw: st.DrawFn) -> tuple[list[str], str]:
    pairs = draw(st.lists(entry_and_keys(), min_size=1, max_size=8))
    keys = draw(st.sampled_from(pairs))[1] + draw(st.text(alphabet=KEYS, max_size=2))
    return [t for t, _ in pairs], keys


SYNTAX = [*"0123456789xX*#[]-.<>:|()!,SLP @;g w", "\t", "S0", "<9:>", "[2-9]"]


def ev(text: str, digits: str, **options: str) -> Outcome:
    return cisco.DIALECT.evaluate(DialPlan("cisco", text, "Dial_Plan_1_", options), digits)


def plan(*parts: str) -> str:
    return "(" + "|".join(parts) + ")"


# ---------------------------------------------------------------- properties


@settings(max_examples=400)
@given(
    st.one_of(st.text(max_size=40), st.lists(st.sampled_from(SYNTAX), max_size=30).map("".join)),
    st.text(max_size=14),
    st.dictionaries(
        st.sampled_from(["Interdigit_Short_Timer", "Interdigit_Long_Timer", "Enable_IP_Dialing"]),
        st.text(max_size=6),
        max_size=3,
    ),
)
def test_never_raises_on_arbitrary_text(text: str, digits: str, options: dict[str, str]) -> None:
    out = ev(text, digits, **options)
    assert out.outcome in {"dial", "block", "wait", "no-match"}
    assert out.digits == digits
    assert out.steps


@settings(max_examples=300)
@given(plan_and_keys())
def test_sent_route_only_for_dial(case: tuple[list[str], str]) -> None:
    parts, digits = case
    out = ev(plan(*parts), digits)
    if out.outcome != "dial":
        assert out.sent is None and out.route is None and out.delay_s == 0
    else:
        assert out.sent is not None and out.matched in [p.strip() for p in parts]
        assert out.after_timeout == (out.delay_s > 0)
    if out.outcome == "block":
        assert out.matched is not None and out.matched.endswith("!")
    if out.outcome == "no-match":
        assert out.matched is None


@settings(max_examples=300)
@given(plan_and_keys())
def test_the_deciding_entry_alone_sends_the_same(case: tuple[list[str], str]) -> None:
    """What a dial sends comes from its own entry: that entry alone, keyed the digits the phone
    took, sends the same (its rewrites, not another entry's). Its timers are dropped: alone,
    an S0 would fire at the first complete point the other entries had kept waiting."""
    parts, digits = case
    out = ev(plan(*parts), digits)
    assume(out.outcome == "dial" and out.matched is not None)
    entry = re.sub(r"[SL]\d*", "", out.matched)
    alone = [ev(plan(entry), digits[:k]) for k in range(len(digits) + 1)]
    assert any(a.outcome == "dial" and a.sent == out.sent for a in alone)


@settings(max_examples=300)
@given(plan_and_keys(), number)
def test_adding_a_barring_entry_never_makes_a_number_dialable(
    case: tuple[list[str], str], barred: str
) -> None:
    parts, digits = case
    # Open question, same in the engines before and after issue 10: with '#' keyed, a barred
    # entry that completes earlier ("8!" before "8#") starts the short timer instead of the
    # S0 bar of a longer entry ("[2-9]#.S0!"), and '#' then sends "<8:44>#". Which the phone
    # does is not settled by the admin guides (docs/dialplan.md, "Cisco SPA / MPP"); '#' cases
    # are left out here until it is.
    assume("#" not in digits)
    before = ev(plan(*parts), digits)
    after = ev(plan(*parts, barred + "!"), digits)
    if before.outcome != "dial":
        assert after.outcome != "dial"


@settings(max_examples=200)
@given(st.lists(number, min_size=1, max_size=6, unique=True))
def test_an_entry_nothing_else_extends_dials_at_once(numbers: list[str]) -> None:
    prefix_free = [n for n in numbers if not any(m != n and m.startswith(n) for m in numbers)]
    for n in prefix_free:
        out = ev(plan(*numbers), n)
        assert (out.outcome, out.sent, out.delay_s, out.matched) == ("dial", n, 0, n)


@settings(max_examples=200)
@given(st.lists(number, min_size=1, max_size=6, unique=True), number)
def test_s0_on_every_entry_means_no_emergency_delay(numbers: list[str], digits: str) -> None:
    out = ev(plan(*(n + "S0" for n in numbers)), digits)
    assert out.delay_s == 0


@settings(max_examples=200)
@given(plan_and_keys())
def test_white_space_is_ignored(case: tuple[list[str], str]) -> None:
    """'White space is ignored, but can be used for readability' (MPP admin guide): spaces
    between elements, where they cannot end a timer value, change nothing."""
    parts, digits = case
    spaced = [p.replace("x", " x ").replace("[", " [").replace("<", " <") for p in parts]
    a, b = ev(plan(*parts), digits), ev(plan(*spaced), digits)
    assert (a.outcome, a.sent, a.delay_s, a.route) == (b.outcome, b.sent, b.delay_s, b.route)


@settings(max_examples=200)
@given(plan_and_keys(), st.sampled_from(KEYS))
def test_keys_after_an_immediate_decision_are_ignored(
    case: tuple[list[str], str], extra: str
) -> None:
    parts, digits = case
    out = ev(plan(*parts), digits)
    assume(out.outcome == "dial" and out.delay_s == 0 and digits)
    more = ev(plan(*parts), digits + extra)
    assert (more.outcome, more.sent, more.matched) == (out.outcome, out.sent, out.matched)


# ---------------------------------------------------------------- the tricky corners


def test_complete_entry_with_a_longer_candidate_waits_the_short_timer() -> None:
    out = ev(plan("999", "9xxx"), "999")
    assert (out.outcome, out.sent, out.delay_s, out.after_timeout) == ("dial", "999", 3, True)
    assert ev(plan("999S0", "9xxx"), "999").delay_s == 0
    assert ev(plan("999", "9xxx"), "999", Interdigit_Short_Timer="1.5").delay_s == 1.5
    assert ev("S:0,(999|9xxx)", "999").delay_s == 0


def test_no_complete_entry_when_the_long_timer_expires_is_rejected() -> None:
    out = ev(plan("9xxx"), "999")
    assert out.outcome == "no-match" and out.sent is None
    assert any("long timer 10 s" in s for s in out.steps)


def test_most_specific_complete_entry_wins_whatever_the_order() -> None:
    for parts in (("<9:>xx.", "999"), ("999", "<9:>xx.")):
        out = ev(plan(*parts), "999")
        assert (out.sent, out.matched) == ("999", "999")
    for parts in (("1 xxx xxxxxxx", "1 947 xxxxxxx !"), ("1 947 xxxxxxx !", "1 xxx xxxxxxx")):
        assert ev(plan(*parts), "19475551234").outcome == "block"
    # equally specific: the earlier entry
    assert ev(plan("<9:>999", "<9:1>999"), "9999").sent == "999"
    assert ev(plan("<9:1>999", "<9:>999"), "9999").sent == "1999"


def test_a_ranked_loser_still_keeps_the_phone_waiting() -> None:
    # [2-9]xxxxxx could still take digits after 911: the short timer runs although
    # [3469]11 is the only complete entry (MPP US default).
    out = ev("(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)", "911")
    assert (out.outcome, out.delay_s) == ("dial", 3)


def test_rewrites_strip_insert_replace_and_route() -> None:
    assert ev(plan("<9:>xxxx"), "91234").sent == "1234"
    assert ev(plan("<:1>xxxxxxxxxx"), "9725550112").sent == "19725550112"
    assert ev(plan("<8:1650>xxxxxxx"), "85550112").sent == "16505550112"
    assert ev(plan("9<:0>xxx"), "9123").sent == "90123"
    out = ev(plan("[39]11<:@gw0>"), "911")
    assert (out.sent, out.route) == ("911", "gw0")
    # parameters after the gateway (uid, pwd) are not part of the route
    out = ev(plan("*1xxxxxxxxxx<:@fwd.example.com;nat;uid=j;pwd=secret>"), "*12125551234")
    assert (out.sent, out.route) == ("*12125551234", "fwd.example.com")


def test_comma_only_plays_dial_tone() -> None:
    a, b = ev(plan("9, 1xxxxxxxxxx"), "912125551234"), ev(plan("91xxxxxxxxxx"), "912125551234")
    assert (a.outcome, a.sent, a.delay_s) == (b.outcome, b.sent, b.delay_s)
    assert any("dial tone" in s for s in a.steps)


def test_hash_is_a_key_when_an_entry_takes_it_else_send() -> None:
    assert ev(plan("*xx#"), "*21#").sent == "*21#"
    out = ev(plan("999", "9xxx"), "999#")
    assert (out.outcome, out.sent, out.delay_s) == ("dial", "999", 0)
    assert ev(plan("9xxx"), "99#").outcome == "no-match"


def test_hot_and_warm_lines() -> None:
    assert ev(plan("S0 <:12125551234>"), "").sent == "12125551234"
    assert ev(plan("S0 <:12125551234>"), "5").sent == "12125551234"
    warm = ev(plan("P5 <:1000>", "xxxx"), "")
    assert (warm.sent, warm.delay_s) == ("1000", 5)
    assert ev(plan("P5 <:1000>", "xxxx"), "1234").sent == "1234"


def test_malformed_entries_are_reported_and_ignored() -> None:
    for bad in ("[2-8xxx", "<9:999", "9>99", "12(3", "99T", ".99", "[]", "[9-2]", "<99>"):
        out = ev(plan("999S0", bad, "112S0"), "112")
        assert (out.outcome, out.sent) == ("dial", "112"), bad
        assert any(repr(bad) in p for p in out.problems), (bad, out.problems)


def test_malformed_plan_shapes_are_reported() -> None:
    assert ev("(999S0|112S0", "999").problems
    assert ev("999S0|112S0)", "999").sent == "999"
    assert ev("999S0|112S0)", "999").problems
    assert ev("(999S0) junk", "999").problems
    assert ev("", "999").outcome == "no-match" and ev("", "999").problems
    assert ev(plan("999S0 112S0"), "999112").problems  # a lost '|'
    assert ev(plan("999"), "999", Interdigit_Short_Timer="soon").problems
    assert not ev("(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)", "").problems
    assert not ev("L:15, S:4, ( S4 8xxx. | 9, 1 900 xxxxxxx ! )", "").problems


def test_lab_plan_passes_the_uk_golden() -> None:
    text = simulator.uk_dial_plan(["999", "112"])
    for digits, number in (("999", "999"), ("112", "112"), ("9999", "999"), ("9112", "112")):
        out = ev(text, digits)
        assert (out.outcome, out.sent, out.delay_s) == ("dial", number, 0), out.steps


def test_every_lab_fault_plan_fails_as_expected() -> None:
    wanted = {"999": "999", "112": "112", "9999": "999", "9112": "112"}
    for fault, params in simulator.FAULTS.items():
        bad = set()
        for digits, number in wanted.items():
            out = ev(params["Dial_Plan_1_"], digits)
            if out.outcome != "dial" or out.sent != number:
                bad.add(("emergency.dial", digits))
            elif out.delay_s > 0:
                bad.add(("emergency.delay", digits))
        assert bad == set(simulator.FAULT_EXPECT[fault]), fault


def test_compiled_once_and_fast() -> None:
    parts = [f"{i:02d}[2-9]xxxxxS0" for i in range(45)]
    parts += ["999S0", "<9:>999S0", "112S0", "<9:>xx.", "1xxx[2-9]xxxxxx!"]
    text = plan(*parts)
    digits = ["999", "112", "9999", "9112", "911", "0123456", "19005551234", "*69", "90", "55"]
    dp = DialPlan("cisco", text, "Dial_Plan_1_", {})
    cisco.DIALECT.evaluate(dp, "1")
    before = dialect._compiled.cache_info().misses
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for d in digits:
            cisco.DIALECT.evaluate(dp, d)  # the engine memoises no result: this evaluates
    each = (time.perf_counter() - start) / (rounds * len(digits))
    assert dialect._compiled.cache_info().misses == before
    assert each < 1e-3, f"{each * 1e3:.3f} ms per evaluation"
