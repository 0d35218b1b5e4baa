"""Each KPI pinned on small hand-computed cases and on the edges of its definition."""

from datetime import timedelta

import pytest

from cti.events import EventKind
from cti.kpi import KpiConfig, build_report, derive_facts
from cti.kpi.definitions import CallHistory, percentile
from cti.kpi.report import kpi_row
from tests.unit.kpi_events import answered_call, ev, unanswered_call

CFG = KpiConfig()  # 5 s ring cycle, T = 20 s, no short abandons excluded


def row(events: list, cfg: KpiConfig = CFG) -> dict:
    facts = derive_facts(events)
    return kpi_row(facts, CallHistory(facts.calls), cfg)


def test_answered_at_14_9_s_is_within_three_rings_and_at_15_0_s_is_not() -> None:
    result = row(answered_call("a", 14.9) + answered_call("b", 15.0))
    assert result["offered"] == 2
    assert result["answered_within_three_rings"] == 1
    assert result["three_ring_rate"] == 0.5


def test_a_us_ring_cycle_moves_the_limit_to_18_s() -> None:
    result = row(answered_call("a", 15.0) + answered_call("b", 17.9), KpiConfig(ring_cycle_s=6.0))
    assert result["three_ring_rate"] == 1.0


def test_abandoned_and_overflowed_calls_are_three_ring_misses() -> None:
    events = answered_call("a", 3) + unanswered_call("b", EventKind.ABANDONED, 2)
    events += unanswered_call("c", EventKind.OVERFLOWED, 10)
    result = row(events)
    assert (result["offered"], result["answered"], result["abandoned"], result["overflowed"]) == (3, 1, 1, 1)
    assert result["three_ring_rate"] == pytest.approx(1 / 3)
    assert result["abandon_rate"] == pytest.approx(1 / 3)


def test_an_abandon_exactly_at_the_short_abandon_threshold_counts() -> None:
    events = unanswered_call("a", EventKind.ABANDONED, 5.0) + unanswered_call("b", EventKind.ABANDONED, 4.99)
    events += answered_call("c", 10)
    result = row(events, KpiConfig(short_abandon_s=5.0))
    assert result["short_abandons_excluded"] == 1
    assert (result["offered"], result["abandoned"]) == (2, 1)
    assert result["abandon_rate"] == 0.5
    assert result["three_ring_rate"] == 0.5


def test_service_levels_are_inclusive_at_the_threshold_like_app_queue() -> None:
    events = answered_call("a", 20.0) + answered_call("b", 20.1)
    events += unanswered_call("c", EventKind.ABANDONED, 20.0) + unanswered_call("d", EventKind.ABANDONED, 30)
    result = row(events)
    assert result["service_level"] == 0.5  # 1 of 2 answered within T
    assert result["service_level_2"] == 0.5  # (1 answered + 1 abandoned within T) / 4


def test_callbacks_are_not_abandons_and_timeouts_are_neither_in_sl2() -> None:
    events = answered_call("a", 5) + unanswered_call("b", EventKind.CALLBACK_REQUESTED, 40)
    events += unanswered_call("c", EventKind.TIMED_OUT, 300)
    result = row(events)
    assert (result["offered"], result["abandoned"], result["callbacks"], result["timed_out"]) == (3, 0, 1, 1)
    assert result["abandon_rate"] == 0.0
    assert result["service_level_2"] == 1.0  # only the answered call is in SL2's denominator
    assert result["three_ring_rate"] == pytest.approx(1 / 3)


def test_asa_and_aht() -> None:
    events = answered_call("a", 4, talk_s=100) + answered_call("b", 8, talk_s=200)
    events.append(ev(EventKind.WRAPUP_ENDED, 400, "b", agent="1001", data={"wrapup_s": 30}))
    result = row(events)
    assert result["asa_s"] == 6.0
    assert result["aht_s"] == pytest.approx((100 + 200 + 30) / 2)


def test_producer_wait_beats_wall_clock_difference() -> None:
    events = answered_call("a", 15.2)
    events[3] = ev(EventKind.AGENT_ANSWERED, 15.2, "a", queue="sales", agent="1001", data={"wait_s": 14.95})
    assert row(events)["answered_within_three_rings"] == 1


def test_no_calls_gives_null_rates_not_zero() -> None:
    result = row([])
    assert result["offered"] == 0
    assert result["three_ring_rate"] is None
    assert result["service_level"] is None
    assert result["asa_s"] is None
    assert result["one_minute_contact_rate"] is None


def test_agent_view_counts_from_the_agents_phone_ringing() -> None:
    events = [
        ev(EventKind.QUEUE_ENTERED, 0, "a", queue="sales"),
        ev(EventKind.AGENT_OFFERED, 0, "a", queue="sales", agent="1001"),
        ev(EventKind.RING_NO_ANSWER, 15, "a", queue="sales", agent="1001"),
        ev(EventKind.AGENT_OFFERED, 15, "a", queue="sales", agent="1002"),
        ev(EventKind.AGENT_ANSWERED, 17, "a", queue="sales", agent="1002"),
    ]
    result = row(events)
    assert result["agent_offers"] == 2
    assert result["agent_answered_within_three_rings"] == 1
    assert result["agent_three_ring_rate"] == 0.5
    assert result["three_ring_rate"] == 0.0  # the caller waited 17 s


def lead(lead_id: str, created: float, dial: float | None, answered: float | None) -> list:
    events = [ev(EventKind.LEAD_CREATED, created, lead_id=lead_id, data={"source": "insurer"})]
    if dial is not None:
        events.append(ev(EventKind.DIAL_STARTED, dial, f"call-{lead_id}", lead_id=lead_id))
    if answered is not None:
        events.append(ev(EventKind.CUSTOMER_ANSWERED, answered, f"call-{lead_id}", lead_id=lead_id))
    return events


def test_contacted_within_one_minute_and_a_lead_never_reached_is_a_miss() -> None:
    events = (
        lead("l1", 0, 5, 59.9) + lead("l2", 0, 10, 60.0) + lead("l3", 0, 20, None) + lead("l4", 0, None, None)
    )
    result = row(events)
    assert result["leads"] == 4
    assert result["leads_contacted_within_one_minute"] == 1
    assert result["one_minute_contact_rate"] == 0.25
    assert result["leads_never_dialled"] == 1
    assert result["time_to_first_dial_p50_s"] == 10
    assert result["time_to_first_dial_p99_s"] == 20


def test_repeat_calls_within_48_h() -> None:
    events = [
        ev(EventKind.CALL_STARTED, 0, "a", caller_number="13911112222"),
        ev(EventKind.CALL_STARTED, 47 * 3600, "b", caller_number="13911112222"),  # repeat
        ev(EventKind.CALL_STARTED, 96 * 3600, "c", caller_number="13911112222"),  # 49 h after b: not
        ev(EventKind.CALL_STARTED, 10, "d", caller_number="13933334444"),
    ]
    result = row(events)
    assert (result["calls"], result["repeat_calls"]) == (4, 1)
    assert result["repeat_call_rate"] == 0.25


def test_first_contact_resolution_needs_resolved_and_no_call_back_within_7_days() -> None:
    day = 24 * 3600
    events = answered_call("a", 3) + answered_call("b", 3, start=100) + answered_call("c", 3, start=200)
    events += [ev(EventKind.DISPOSITION, 500, cid, data={"resolved": True}) for cid in ("a", "b")]
    events.append(ev(EventKind.DISPOSITION, 500, "c", data={"resolved": False}))
    number_of_b = events[5].caller_number
    events.append(ev(EventKind.CALL_STARTED, 6 * day, "b-again", caller_number=number_of_b))
    result = row(events)
    assert result["handled"] == 3
    assert result["first_contact_resolved"] == 1  # a; b called again within 7 days; c unresolved
    assert result["fcr_rate"] == pytest.approx(1 / 3)


def test_fcr_counts_disposed_calls_only_and_has_no_data_without_dispositions() -> None:
    events = answered_call("a", 3) + answered_call("b", 3, start=100)
    assert (row(events)["first_contact_resolved"], row(events)["fcr_rate"]) == (0, None)
    events.append(ev(EventKind.DISPOSITION, 500, "a", data={"resolved": True}))
    assert row(events)["fcr_rate"] == 1.0  # b, not disposed, is neither resolved nor unresolved


def test_each_group_counts_the_repeat_calls_and_fcr_of_its_own_calls() -> None:
    # Looked up once per report, the flags must follow their calls into the groups.
    events = answered_call("a", 3) + answered_call("b", 3, queue="service", start=100)
    events += answered_call("c", 3, start=200)
    events += [ev(EventKind.DISPOSITION, 500, cid, data={"resolved": True}) for cid in ("a", "b")]
    events.append(ev(EventKind.DISPOSITION, 500, "c", data={"resolved": False}))
    number_of_b, number_of_c = events[5].caller_number, events[10].caller_number
    events.append(ev(EventKind.CALL_STARTED, 6 * 24 * 3600, "b-again", caller_number=number_of_b))
    events.append(ev(EventKind.CALL_STARTED, 3600, "d", caller_number=number_of_c))  # a repeat of c
    events.append(ev(EventKind.QUEUE_ENTERED, 3600, "d", queue="service", caller_number=number_of_c))
    facts = derive_facts(events)
    report = build_report(facts, facts.calls, CFG, by="queue")
    counted = ("calls", "repeat_calls", "handled", "first_contact_resolved", "fcr_rate")
    rows = {g["key"]: tuple(g[k] for k in counted) for g in report["groups"]}
    assert rows == {"sales": (2, 0, 2, 1, 0.5), "service": (2, 1, 1, 0, 0.0)}
    assert tuple(report["overall"][k] for k in counted) == (5, 1, 3, 1, pytest.approx(1 / 3))


def test_appointment_rate_over_contacts() -> None:
    events = answered_call("a", 3) + answered_call("b", 3) + lead("l1", 0, 5, 30)
    events.append(ev(EventKind.APPOINTMENT_BOOKED, 100, "a"))
    events.append(ev(EventKind.APPOINTMENT_BOOKED, 100, "call-l1", lead_id="l1"))
    result = row(events)
    assert (result["contacts"], result["appointments"]) == (3, 2)
    assert result["appointment_rate"] == pytest.approx(2 / 3)


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        KpiConfig(ring_cycle_s=0)
    with pytest.raises(ValueError, match="negative"):
        KpiConfig(threshold_s=-1)


@pytest.mark.parametrize(("pct", "expected"), [(50, 2), (90, 4), (99, 4), (100, 4), (1, 1)])
def test_nearest_rank_percentile(pct: float, expected: float) -> None:
    assert percentile([4, 1, 3, 2], pct) == expected


def test_fcr_window_is_configurable() -> None:
    cfg = KpiConfig(fcr_window=timedelta(days=1))
    events = [*answered_call("a", 3), ev(EventKind.DISPOSITION, 500, "a", data={"resolved": True})]
    events.append(ev(EventKind.CALL_STARTED, 2 * 24 * 3600, "a2", caller_number=events[0].caller_number))
    assert row(events, cfg)["first_contact_resolved"] == 1
