"""How many lines the dialer starts (cti.outbound.pacing): preview dials nothing, progressive one
line per ready agent, predictive overdials within the abandon budget and falls back to
progressive near the cap or without samples; inbound wins the blended agents."""

import math
import random
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.outbound.pacing import (
    RING_BINS,
    Agents,
    DialMode,
    LogNormal,
    PacingInput,
    PacingStats,
    PacingTracker,
    _Batch,
    pace,
)


def learned(answer_rate: float = 0.35, attempts: int = 400, seed: int = 1) -> PacingStats:
    """A tracker that has seen ``attempts`` calls: live answers 5-25 s after the dial, the rest
    ending 1-30 s after it."""
    rng = random.Random(seed)
    tracker = PacingTracker()
    for _ in range(attempts):
        if rng.random() < answer_rate:
            tracker = tracker.attempted(rng.uniform(5, 25), live=True)
        else:
            tracker = tracker.attempted(rng.choice([30.0, rng.uniform(1, 30)]), live=False)
    return tracker.stats


STATS = learned()
FRESH = PacingTracker().stats  # no attempt seen yet


def predictive(**fields: object) -> PacingInput:
    return PacingInput(mode=DialMode.PREDICTIVE, stats=STATS, **fields)  # type: ignore[arg-type]


# --- the tracker --------------------------------------------------------------------------------


def test_given_no_calls_when_asked_then_the_priors_answer() -> None:
    assert FRESH.attempts == 0
    assert FRESH.answer_rate == pytest.approx(0.35)
    assert FRESH.talk.mean == pytest.approx(180 * math.exp(0.5**2 / 2))
    assert FRESH.answered_by[0] == 0
    assert FRESH.answered_by[-1] == pytest.approx(0.35)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.6])
def test_given_many_calls_when_asked_then_the_answer_rate_is_theirs(rate: float) -> None:
    assert learned(rate, attempts=3000).answer_rate == pytest.approx(rate, abs=0.06)


def test_given_a_new_answer_rate_when_calls_go_on_then_the_old_one_fades() -> None:
    tracker = PacingTracker(window=100)
    for _ in range(500):
        tracker = tracker.attempted(10.0, live=True)
    for _ in range(500):
        tracker = tracker.attempted(30.0, live=False)
    assert tracker.stats.answer_rate < 0.01
    assert (tracker.stats.attempts, tracker.stats.answers) == (1000, 500)


def test_given_talk_and_wrap_up_times_when_fitted_then_lognormal_moments_follow() -> None:
    rng = random.Random(2)
    tracker = PacingTracker(window=2000)
    for _ in range(3000):
        tracker = tracker.talked(rng.lognormvariate(math.log(120), 0.4)).wrapped(rng.uniform(20, 30))
    assert tracker.stats.talk.mu == pytest.approx(math.log(120), abs=0.05)
    assert tracker.stats.talk.sigma == pytest.approx(0.4, abs=0.05)
    assert tracker.stats.wrap.mean == pytest.approx(25, abs=1)


def test_a_line_that_has_rung_long_is_less_likely_answered() -> None:
    fresh, old, rung_out = (STATS.answers_within(age, 60) for age in (0.0, 20.0, 40.0))
    assert fresh == pytest.approx(STATS.answer_rate)
    assert 0 < old < fresh
    assert rung_out == 0.0
    assert STATS.answers_within(0.0, 4.0) < STATS.answers_within(0.0, 15.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda t: t.attempted(-1.0, live=True),
            "attempted: after_s must be finite seconds >= 0, not [-1.0]",
        ),
        (lambda t: t.talked(math.nan), "talk time must be finite seconds >= 0, not [nan]"),
        (lambda t: t.wrapped(math.inf), "wrap-up time must be finite seconds >= 0, not [inf]"),
    ],
)
def test_bad_durations_are_refused_with_what_was_wrong(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call(PacingTracker())  # type: ignore[operator]


def test_a_window_under_one_call_is_refused() -> None:
    with pytest.raises(ValueError, match="window must be at least 1"):
        PacingTracker(window=0)


def test_attempts_longer_than_the_bins_share_the_last() -> None:
    stats = PacingTracker().attempted(500.0, live=False).stats
    assert len(stats.ended_by) == RING_BINS + 1
    assert stats.ended_by[-1] == pytest.approx(1 - stats.answer_rate)


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("elapsed", [0.0, 60.0, 180.0, 600.0])
def test_the_mean_residual_of_a_lognormal_matches_sampling(elapsed: float) -> None:
    talk = LogNormal.of(180, 0.5)
    rng = random.Random(3)
    left = [
        t - elapsed for t in (rng.lognormvariate(talk.mu, talk.sigma) for _ in range(200_000)) if t > elapsed
    ]
    assert talk.mean_residual(elapsed) == pytest.approx(sum(left) / len(left), rel=0.03)


def test_a_duration_without_spread_ends_at_its_median() -> None:
    assert LogNormal.of(20, 0).mean_residual(5) == pytest.approx(15)
    assert LogNormal.of(20, 0).mean_residual(25) == 0


def test_far_in_the_tail_the_residual_stays_finite() -> None:
    assert 0 < LogNormal.of(10, 0.1).mean_residual(1e6) < 1e6


# --- the model's arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "ringing", "fresh", "n"),
    [
        (2, [(0.3, 1), (0.1, 1), (0.5, 1)], 0.3, 4),
        (0, [(0.2, 1)], 0.3, 2),
        (3, [], 0.35, 8),
        (5, [(0.4, 7)], 0.3, 6),
    ],
)
def test_expected_abandons_match_a_monte_carlo(
    agents: int, ringing: list[tuple[float, int]], fresh: float, n: int
) -> None:
    rng = random.Random(4)
    chances = [chance for chance, lines in ringing for _ in range(lines)] + [fresh] * n
    runs = 100_000
    overflow = sum(max(sum(rng.random() < c for c in chances) - agents, 0) for _ in range(runs)) / runs
    assert _Batch(agents, ringing, fresh).abandons(n) == pytest.approx(overflow, abs=0.01)


def test_certain_answers_overflow_exactly() -> None:
    assert _Batch(3, [(0.5, 1)], 1.0).abandons(4) == pytest.approx(1.5)
    assert _Batch(3, [], 1.0).abandons(2) == 0


# --- preview and progressive ---------------------------------------------------------------------


def test_preview_dials_nothing_by_itself() -> None:
    decision = pace(PacingInput(DialMode.PREVIEW, STATS, Agents(ready=10)))
    assert (decision.dial, decision.mode) == (0, DialMode.PREVIEW)


@pytest.mark.parametrize(
    ("ready", "ringing", "dial"),
    [(0, 0, 0), (3, 0, 3), (3, 1, 2), (3, 3, 0), (3, 5, 0), (10, 4, 6)],
)
def test_progressive_dials_one_line_per_ready_agent_not_covered(ready: int, ringing: int, dial: int) -> None:
    decision = pace(
        PacingInput(DialMode.PROGRESSIVE, STATS, Agents(ready=ready), dialling_for_s=[5.0] * ringing)
    )
    assert (decision.dial, decision.mode) == (dial, DialMode.PROGRESSIVE)


def test_progressive_does_not_count_busy_agents() -> None:
    agents = Agents(ready=1, talking_for_s=[300.0], wrapping_for_s=[29.0])
    assert pace(PacingInput(DialMode.PROGRESSIVE, STATS, agents)).dial == 1


# --- predictive ----------------------------------------------------------------------------------


def test_given_ready_agents_when_predictive_then_more_lines_than_agents() -> None:
    decision = pace(predictive(agents=Agents(ready=10)))
    assert decision.mode is DialMode.PREDICTIVE
    assert 10 < decision.dial <= 30
    assert "abandons expected" in decision.reason


def test_given_one_ready_agent_when_predictive_then_hardly_any_overdial() -> None:
    assert pace(predictive(agents=Agents(ready=1))).dial <= 2


def test_agents_about_to_end_their_wrap_up_count() -> None:
    alone = pace(predictive(agents=Agents(ready=2))).dial
    with_soon = pace(predictive(agents=Agents(ready=2, wrapping_for_s=[24.0, 24.0, 24.0]))).dial
    with_late = pace(predictive(agents=Agents(ready=2, wrapping_for_s=[0.0, 0.0, 0.0]))).dial
    assert with_soon > alone
    assert with_late == alone  # free in 25 s: after the last checkpoint


def test_agents_on_a_call_do_not_count_when_a_whole_wrap_up_follows() -> None:
    alone = pace(predictive(agents=Agents(ready=2))).dial
    assert pace(predictive(agents=Agents(ready=2, talking_for_s=[1000.0] * 20))).dial == alone


def test_lines_already_ringing_are_counted() -> None:
    none = pace(predictive(agents=Agents(ready=5))).dial
    some = pace(predictive(agents=Agents(ready=5), dialling_for_s=[1.0] * 4)).dial
    assert some < none


def test_lines_that_have_rung_long_leave_room_for_new_ones() -> None:
    young = pace(predictive(agents=Agents(ready=5), dialling_for_s=[1.0] * 6)).dial
    old = pace(predictive(agents=Agents(ready=5), dialling_for_s=[28.0] * 6)).dial
    assert old > young


def test_a_lower_answer_rate_dials_more_lines() -> None:
    agents = Agents(ready=8)
    low = pace(PacingInput(DialMode.PREDICTIVE, learned(0.2), agents)).dial
    high = pace(PacingInput(DialMode.PREDICTIVE, learned(0.6), agents)).dial
    assert low > high


def test_a_larger_line_rate_dials_more_lines() -> None:
    assert (
        pace(predictive(agents=Agents(ready=8), line_rate=0.05)).dial
        > pace(predictive(agents=Agents(ready=8), line_rate=0.001)).dial
    )


def test_no_agent_no_line() -> None:
    decision = pace(predictive(agents=Agents(talking_for_s=[30.0] * 10)))
    assert (decision.dial, decision.mode) == (0, DialMode.PREDICTIVE)


def test_the_max_ratio_bounds_the_lines() -> None:
    stats = learned(0.02)  # hardly anyone answers: the model alone would dial a great many
    decision = pace(PacingInput(DialMode.PREDICTIVE, stats, Agents(ready=4), max_ratio=2.0))
    assert decision.dial == 8


def test_given_too_few_samples_when_predictive_then_progressive_says_why() -> None:
    decision = pace(PacingInput(DialMode.PREDICTIVE, FRESH, Agents(ready=4)))
    assert (decision.dial, decision.mode) == (4, DialMode.PROGRESSIVE)
    assert decision.reason == "too few samples for predictive (0 < 50)"


@pytest.mark.parametrize(
    ("abandoned_24h", "answered_24h", "abandoned_30d", "answered_30d", "falls_back"),
    [
        (0, 0, 0, 0, False),
        (2, 100, 10, 1000, False),  # 2 %: under 80 % of the 3 % cap
        (3, 100, 10, 1000, True),  # 24 h over 2.4 %
        (1, 100, 25, 1000, True),  # 30 days over 2.4 %
        (1, 10, 1, 10, True),  # few answers yet: one abandon is 10 %
    ],
)
def test_near_the_cap_predictive_falls_back_to_progressive(
    abandoned_24h: int, answered_24h: int, abandoned_30d: int, answered_30d: int, falls_back: bool
) -> None:
    decision = pace(
        predictive(
            agents=Agents(ready=6),
            abandoned_24h=abandoned_24h,
            answered_24h=answered_24h,
            abandoned_30d=abandoned_30d,
            answered_30d=answered_30d,
        )
    )
    if falls_back:
        assert (decision.dial, decision.mode) == (6, DialMode.PROGRESSIVE)
        assert decision.reason.startswith("abandon rate near the cap (24 h ")
    else:
        assert decision.mode is DialMode.PREDICTIVE
        assert decision.dial > 6


# --- blending: inbound wins ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_given_inbound_callers_waiting_then_no_line_for_blended_agents(mode: DialMode) -> None:
    blended = Agents(ready=5, wrapping_for_s=[24.0] * 3)
    held = pace(PacingInput(mode, STATS, Agents(ready=0), blended=blended, inbound_waiting=2))
    assert held.dial == 0
    assert "2 inbound callers waiting" in held.reason
    free = pace(PacingInput(mode, STATS, Agents(ready=0), blended=blended))
    assert free.dial >= 5


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREDICTIVE])
def test_given_three_ring_rate_at_risk_then_outbound_only_agents_alone_are_dialled_for(
    mode: DialMode,
) -> None:
    only = pace(PacingInput(mode, STATS, Agents(ready=3))).dial
    decision = pace(
        PacingInput(mode, STATS, Agents(ready=3), blended=Agents(ready=4), three_ring_at_risk=True)
    )
    assert decision.dial == only
    assert "three-ring rate at risk" in decision.reason


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Agents(ready=-1), "Agents.ready must be >= 0, not -1"),
        (lambda: Agents(talking_for_s=[-1.0]), "Agents.talking_for_s must be finite seconds >= 0"),
        (lambda: Agents(wrapping_for_s=[math.nan]), "Agents.wrapping_for_s must be finite seconds >= 0"),
        (lambda: Agents(talking_for_s=[1.0, math.nan, 2.0]), "Agents.talking_for_s must be finite"),
        (lambda: predictive(dialling_for_s=[math.inf]), "PacingInput.dialling_for_s must be finite"),
        (lambda: predictive(inbound_waiting=-2), "inbound_waiting and min_samples must be >= 0, not"),
        (lambda: predictive(abandoned_24h=3, answered_24h=2), "abandoned_24h (3) must be between 0 and"),
        (lambda: predictive(abandoned_30d=-1), "abandoned_30d (-1) must be between 0 and"),
        (lambda: predictive(abandon_cap=1.5), "abandon_cap (1.5) and aim (0.8) are shares"),
        (lambda: predictive(max_ratio=0.5), "max_ratio (0.5) >= 1"),
        (lambda: predictive(line_rate=-0.1), "line_rate (-0.1) must be in [0, 1)"),
    ],
)
def test_bad_input_is_refused_with_what_and_where(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()  # type: ignore[operator]


# --- properties ----------------------------------------------------------------------------------

seconds = st.floats(min_value=0, max_value=900, allow_nan=False)
agent_groups = st.builds(
    Agents,
    ready=st.integers(0, 30),
    talking_for_s=st.lists(seconds, max_size=30),
    wrapping_for_s=st.lists(st.floats(min_value=0, max_value=40), max_size=10),
)
questions = st.builds(
    PacingInput,
    mode=st.sampled_from(list(DialMode)),
    stats=st.sampled_from([STATS, FRESH, learned(0.05, seed=2), learned(0.9, seed=3)]),
    agents=agent_groups,
    dialling_for_s=st.lists(st.floats(min_value=0, max_value=45), max_size=40),
    abandoned_24h=st.integers(0, 20),
    answered_24h=st.integers(20, 2000),
    abandoned_30d=st.integers(0, 300),
    answered_30d=st.integers(300, 60000),
    blended=agent_groups,
    inbound_waiting=st.integers(0, 5),
    three_ring_at_risk=st.booleans(),
    max_ratio=st.floats(min_value=1, max_value=5),
)


@settings(max_examples=300, deadline=None)
@given(question=questions)
def test_the_lines_are_never_negative_nor_over_the_ratio(question: PacingInput) -> None:
    decision = pace(question)
    agents = question.agents.ready + question.blended.ready
    busy = len(question.agents.talking_for_s) + len(question.agents.wrapping_for_s)
    busy += len(question.blended.talking_for_s) + len(question.blended.wrapping_for_s)
    assert decision.dial >= 0
    assert decision.reason
    in_flight = len(question.dialling_for_s) + decision.dial
    assert decision.dial == 0 or in_flight <= question.max_ratio * (agents + busy)


@settings(max_examples=300, deadline=None)
@given(question=questions)
def test_progressive_never_dials_more_than_the_free_agents(question: PacingInput) -> None:
    decision = pace(question)
    if decision.mode is DialMode.PROGRESSIVE:
        free = question.agents.ready + (
            0 if question.inbound_waiting or question.three_ring_at_risk else question.blended.ready
        )
        assert decision.dial + len(question.dialling_for_s) <= max(free, len(question.dialling_for_s))
    if decision.mode is DialMode.PREVIEW:
        assert decision.dial == 0


@settings(max_examples=300, deadline=None)
@given(question=questions)
def test_inbound_wins_the_blended_agents(question: PacingInput) -> None:
    alone = replace(question, blended=Agents(), inbound_waiting=0, three_ring_at_risk=False)
    if question.inbound_waiting or question.three_ring_at_risk:
        assert pace(question).dial == pace(alone).dial


@settings(max_examples=200, deadline=None)
@given(question=questions)
def test_over_the_aim_predictive_falls_back(question: PacingInput) -> None:
    target = question.aim * question.abandon_cap
    over = question.abandoned_24h > target * question.answered_24h or (
        question.abandoned_30d > target * question.answered_30d
    )
    decision = pace(question)
    if question.mode is DialMode.PREDICTIVE and over:
        assert decision.mode is DialMode.PROGRESSIVE
