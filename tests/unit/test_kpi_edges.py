"""The edges of the KPI definitions (kpi-defs/2026-12-05.1): unknown waits, callers and agents
measured alike, clock skew on leads, hold time in AHT, queue callbacks apart, IVR hang-ups."""

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.events import CallEvent, EventKind
from cti.kpi import KpiConfig, derive_facts
from cti.kpi.definitions import CHANGES, DEFINITIONS_VERSION, CallHistory
from cti.kpi.report import kpi_row
from tests.unit.kpi_events import answered_call, ev, unanswered_call

CFG = KpiConfig()  # 5 s ring cycle (three rings: 15 s), T = 20 s


def row(events: list[CallEvent], cfg: KpiConfig = CFG) -> dict[str, Any]:
    facts = derive_facts(events)
    return kpi_row(facts, CallHistory(facts.calls), cfg)


def answered_with_wait(call_id: str, wait: float | None, stamped_at: float = 3.0) -> list[CallEvent]:
    """Answered ``stamped_at`` s after entering, the producer saying its wait was ``wait``."""
    events = answered_call(call_id, stamped_at)
    events[3] = ev(
        EventKind.AGENT_ANSWERED, stamped_at, call_id, queue="sales", agent="1001", data={"wait_s": wait}
    )
    return events


# -- an unknown wait is not a 0 s wait --------------------------------------------------------------


def test_given_an_answer_with_an_unknown_wait_then_it_is_a_miss_and_left_out_of_asa() -> None:
    result = row(answered_with_wait("a", None) + answered_call("b", 4.0))
    assert (result["offered"], result["answered"], result["waits_unknown"]) == (2, 2, 1)
    assert result["answered_within_three_rings"] == 1
    assert result["three_ring_rate"] == 0.5
    assert result["service_level"] == 0.5  # in the denominator, never within T
    assert result["asa_s"] == 4.0  # the mean of the known waits only


@pytest.mark.parametrize("kind", [EventKind.ABANDONED, EventKind.TIMED_OUT, EventKind.CALLBACK_REQUESTED])
def test_given_other_outcomes_with_unknown_waits_then_they_are_counted_never_within(kind: EventKind) -> None:
    events = unanswered_call("a", kind, 1.0)
    events[2] = ev(kind, 1.0, "a", queue="sales", data={"wait_s": None})
    result = row(events, KpiConfig(short_abandon_s=5.0))
    assert (result["offered"], result["waits_unknown"], result["short_abandons_excluded"]) == (1, 1, 0)
    assert result["service_level_2"] in (None, 0.0)


def test_given_a_waiting_caller_then_the_wait_is_not_called_unknown() -> None:
    result = row([ev(EventKind.QUEUE_ENTERED, 0, "a", queue="sales")])
    assert (result["offered"], result["waits_unknown"]) == (1, 0)


# -- callers and agents: the same clock points, rounding and boundary --------------------------------


def rang_and_answered(
    answered_at: float, start: float = 0, data: dict[str, Any] | None = None
) -> list[CallEvent]:
    """A caller entering the queue and an agent's phone ringing at ``start``, answered at ``answered_at``."""
    return [
        ev(EventKind.QUEUE_ENTERED, start, "a", queue="sales"),
        ev(EventKind.AGENT_OFFERED, start, "a", queue="sales", agent="1001"),
        ev(EventKind.AGENT_ANSWERED, answered_at, "a", queue="sales", agent="1001", data=data or {}),
    ]


@pytest.mark.parametrize(
    ("ring_s", "within"),
    [(0.0, True), (14.9, True), (14.9994, True), (14.9996, False), (15.0, False), (15.0001, False)],
)
def test_given_the_same_answer_then_stay_and_offer_meet_three_rings_alike(
    ring_s: float, within: bool
) -> None:
    events = rang_and_answered(ring_s)
    facts = derive_facts(events)
    assert facts.stays[0].wait_s == facts.offers[0].ring_s
    result = row(events)
    assert result["answered_within_three_rings"] == result["agent_answered_within_three_rings"] == within


@pytest.mark.parametrize(("producer_s", "within"), [(14.9, True), (14.9996, False), (15.0, False)])
def test_given_producer_figures_then_both_views_round_them_to_the_millisecond(
    producer_s: float, within: bool
) -> None:
    result = row(rang_and_answered(20, data={"wait_s": producer_s, "ring_s": producer_s}))
    assert result["answered_within_three_rings"] == result["agent_answered_within_three_rings"] == within


def test_given_an_unknown_ring_time_then_the_offer_is_not_within_three_rings() -> None:
    events = [
        ev(EventKind.AGENT_OFFERED, 0, "a", queue="sales", agent="1001"),
        ev(EventKind.AGENT_ANSWERED, 2, "a", queue="sales", agent="1001", data={"ring_s": None}),
    ]
    assert row(events)["agent_three_ring_rate"] == 0.0


# -- leads: clock skew, queue callbacks apart -------------------------------------------------------


def lead(lead_id: str, source: str, answered_after: float | None, created: float = 0) -> list[CallEvent]:
    """A lead created at ``created``, its customer answering ``answered_after`` s later (or never)."""
    events = [ev(EventKind.LEAD_CREATED, created, lead_id=lead_id, data={"source": source})]
    if answered_after is not None:
        answered = created + answered_after
        events.append(ev(EventKind.DIAL_STARTED, min(answered, created) + 1, f"c-{lead_id}", lead_id=lead_id))
        events.append(ev(EventKind.CUSTOMER_ANSWERED, answered, f"c-{lead_id}", lead_id=lead_id))
    return events


@pytest.mark.parametrize(
    ("answered_after_s", "contacted"),
    [(-0.001, False), (-30, False), (0, True), (59.999, True), (60, False), (None, False)],
)
def test_given_an_answer_relative_to_creation_then_contacted_within_a_minute(
    answered_after_s: float | None, contacted: bool
) -> None:
    result = row(lead("l", "insurer", answered_after_s, created=100))
    assert result["leads_contacted_within_one_minute"] == int(contacted)
    skewed = answered_after_s is not None and answered_after_s < 0
    assert result["leads_answered_before_created"] == int(skewed)


def test_given_queue_callbacks_then_they_are_reported_apart_from_leads() -> None:
    events = lead("l1", "insurer", 30) + lead("l2", "web", 90) + lead("cb1", "queue_callback", 10)
    events += lead("cb2", "queue_callback", 300) + lead("cb3", "queue_callback", None)
    result = row(events)
    assert (result["leads"], result["leads_contacted_within_one_minute"]) == (2, 1)
    assert result["one_minute_contact_rate"] == 0.5
    assert (result["queue_callbacks"], result["queue_callbacks_contacted_within_one_minute"]) == (3, 1)
    assert result["queue_callback_one_minute_contact_rate"] == pytest.approx(1 / 3)
    assert result["lead_sources"] == {
        "insurer": {"leads": 1, "contacted_within_one_minute": 1, "rate": 1.0},
        "queue_callback": {"leads": 3, "contacted_within_one_minute": 1, "rate": pytest.approx(1 / 3)},
        "web": {"leads": 1, "contacted_within_one_minute": 0, "rate": 0.0},
    }


def test_given_only_queue_callbacks_then_the_lead_rate_has_no_data() -> None:
    result = row(lead("cb", "queue_callback", 10))
    assert (result["leads"], result["one_minute_contact_rate"]) == (0, None)


# -- hold time in AHT -------------------------------------------------------------------------------


def hold(kind: EventKind, t: float, channel: str, call_id: str = "a") -> CallEvent:
    return ev(kind, t, call_id, queue="sales", agent="1001", data={"channel": channel})


@pytest.mark.parametrize(
    ("holds", "hold_s"),
    [
        ([], 0.0),
        ([(EventKind.HOLD_STARTED, 10, "agent"), (EventKind.HOLD_ENDED, 25, "agent")], 15.0),
        (  # two holds of the same conversation add up
            [
                (EventKind.HOLD_STARTED, 10, "agent"),
                (EventKind.HOLD_ENDED, 20, "agent"),
                (EventKind.HOLD_STARTED, 30, "agent"),
                (EventKind.HOLD_ENDED, 35, "agent"),
            ],
            15.0,
        ),
        (  # both sides on hold at once: held from the first start to the last end
            [
                (EventKind.HOLD_STARTED, 10, "agent"),
                (EventKind.HOLD_STARTED, 12, "caller"),
                (EventKind.HOLD_ENDED, 20, "agent"),
                (EventKind.HOLD_ENDED, 22, "caller"),
            ],
            12.0,
        ),
        ([(EventKind.HOLD_STARTED, 50, "agent")], 13.0),  # never taken off: held until completion
        ([(EventKind.HOLD_ENDED, 20, "agent")], 0.0),  # an end without a start (events lost)
    ],
)
def test_given_holds_then_hold_is_in_aht_and_out_of_talk(holds: list[tuple[Any, ...]], hold_s: float) -> None:
    events = answered_call("a", 3.0, talk_s=60)  # answered at 3 s, completed at 63 s
    events += [hold(kind, t, channel) for kind, t, channel in holds]
    events.append(ev(EventKind.WRAPUP_ENDED, 100, "a", queue="sales", agent="1001", data={"wrapup_s": 30}))
    stay = derive_facts(events).stays[0]
    assert (stay.hold_s, stay.talk_s) == (hold_s, 60 - hold_s)
    result = row(events)
    assert result["aht_s"] == pytest.approx(60 + 30)  # talk + hold + wrap-up: the whole handling time
    assert result["hold_s"] == hold_s


def test_given_a_producer_that_reports_hold_then_its_figures_are_kept() -> None:
    events = answered_call("a", 3.0, talk_s=60)
    events[4] = ev(
        EventKind.COMPLETED, 63, "a", queue="sales", agent="1001", data={"talk_s": 50, "hold_s": 10}
    )
    stay = derive_facts(events).stays[0]
    assert (stay.talk_s, stay.hold_s) == (50, 10)


# -- a caller who never reached a queue -------------------------------------------------------------


def test_given_a_caller_who_hangs_up_in_the_ivr_then_no_queue_counts_an_offer() -> None:
    events = [
        ev(EventKind.CALL_STARTED, 0, "ivr", caller_number="13900000001"),
        ev(EventKind.IVR_NODE_ENTERED, 1, "ivr", data={"flow": "hotline", "node": "menu"}),
        ev(EventKind.CALL_ENDED, 5, "ivr", data={"duration_s": 5}),
        # an IVR callback request names its queue, but the caller never waited in it
        ev(EventKind.CALLBACK_REQUESTED, 4, "ivr", queue="sales", data={"from": "ivr"}),
        *answered_call("q", 3.0, queue="service"),
    ]
    facts = derive_facts(events)
    assert [s.queue for s in facts.stays] == ["service"]
    result = row(events)
    assert (result["calls"], result["offered"], result["three_ring_rate"]) == (2, 1, 1.0)


# -- properties -------------------------------------------------------------------------------------

waits = st.none() | st.floats(min_value=0, max_value=100, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    known=st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=8),
    unknown=st.integers(0, 5),
)
def test_unknown_waits_only_ever_lower_the_rates(known: list[float], unknown: int) -> None:
    events: list[CallEvent] = []
    for n, wait in enumerate(known):
        events += answered_with_wait(f"k{n}", wait)
    with_unknown = events + [e for n in range(unknown) for e in answered_with_wait(f"u{n}", None)]
    before, after = row(events), row(with_unknown)
    assert after["answered_within_three_rings"] == before["answered_within_three_rings"]
    assert after["asa_s"] == before["asa_s"]
    assert after["waits_unknown"] == unknown
    if before["three_ring_rate"] is not None and after["three_ring_rate"] is not None:
        assert after["three_ring_rate"] <= before["three_ring_rate"]


@settings(max_examples=200, deadline=None)
@given(offered_at=st.floats(0, 30, allow_nan=False), answered_after=st.floats(0, 40, allow_nan=False))
def test_an_offer_ringing_from_queue_entry_agrees_with_its_stay(
    offered_at: float, answered_after: float
) -> None:
    events = rang_and_answered(offered_at + answered_after, start=offered_at)
    result = row(events)
    assert result["three_ring_rate"] == result["agent_three_ring_rate"]


def test_the_definitions_version_is_the_newest_change_and_docs_list_every_change() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "kpi.md").read_text(encoding="utf-8")
    assert CHANGES[0][0] == DEFINITIONS_VERSION
    assert [version for version, _ in CHANGES] == sorted((v for v, _ in CHANGES), reverse=True)
    for version, _ in CHANGES:
        assert f"**{version}**" in docs
