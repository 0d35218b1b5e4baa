"""Properties of the KPI maths over arbitrary event histories: never raises, rates stay rates."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.events import CallEvent, EventKind, from_us
from cti.kpi import KpiConfig, Period, build_report, derive_facts
from cti.kpi.definitions import CallHistory
from cti.kpi.facts import Facts
from cti.kpi.report import UTC_ZONE, grouper, kpi_row, time_bucket
from tests.unit.kpi_events import at

events = st.builds(
    lambda kind, t, call, agent, queue, lead, wait: CallEvent(
        kind,
        at(t),
        f"c{call}",
        queue=queue,
        agent=agent,
        lead_id=lead,
        caller_number=f"1390000000{call % 3}",
        data={"wait_s": wait, "talk_s": wait, "resolved": call % 2 == 0, "stage": "assessed"} if wait else {},
    ),
    st.sampled_from(list(EventKind)),
    st.floats(min_value=0, max_value=200_000, allow_nan=False),
    st.integers(min_value=0, max_value=6),
    st.sampled_from([None, "1001", "1002"]),
    st.sampled_from([None, "sales", "service"]),
    st.sampled_from([None, "L1", "L2"]),
    st.none() | st.floats(min_value=0, max_value=500, allow_nan=False),
)
configs = st.builds(
    KpiConfig,
    ring_cycle_s=st.floats(min_value=0.5, max_value=10),
    threshold_s=st.floats(min_value=0, max_value=60),
    short_abandon_s=st.floats(min_value=0, max_value=10),
)


@settings(max_examples=300, deadline=None)
@given(history=st.lists(events, max_size=40), cfg=configs)
def test_rates_are_fractions_or_null_and_counts_add_up(history: list[CallEvent], cfg: KpiConfig) -> None:
    facts = derive_facts(history)
    row = kpi_row(facts, CallHistory(facts.calls), cfg)
    for key, value in row.items():
        if key.endswith("_rate") or key.startswith("service_level"):
            assert value is None or 0 <= value <= 1, (key, value)
    assert (
        row["answered"] + row["abandoned"] + row["overflowed"] + row["timed_out"] + row["callbacks"]
        <= row["offered"]
    )
    assert row["answered_within_three_rings"] <= row["answered"]
    assert row["leads_contacted_within_one_minute"] <= row["leads"]
    assert row["agent_answered_within_three_rings"] <= row["agent_offers"]


@settings(max_examples=100, deadline=None)
@given(
    history=st.lists(events, max_size=40),
    by=st.sampled_from([None, "queue", "agent", "hour", "day", "week", "month"]),
)
def test_groups_never_hold_more_than_the_whole(history: list[CallEvent], by: str | None) -> None:
    facts = derive_facts(history)
    report = build_report(facts, facts.calls, KpiConfig(), period=Period(at(0), at(100_000)), by=by)
    if by in ("hour", "day", "week", "month", "queue"):  # a partition of the queue stays
        assert sum(g["offered"] for g in report["groups"]) == report["overall"]["offered"]
    assert all(g["offered"] <= report["overall"]["offered"] for g in report["groups"])


@settings(max_examples=100, deadline=None)
@given(history=st.lists(events, max_size=40), by=st.sampled_from(["queue", "agent", "hour", "day"]))
def test_every_row_of_a_report_is_the_kpi_row_of_its_own_facts(history: list[CallEvent], by: str) -> None:
    """The repeat-call and FCR flags are looked up once per report and split with the facts: each
    group's row must still be what ``kpi_row`` gives for that group's facts alone."""
    facts, cfg = derive_facts(history), KpiConfig()
    calls, key_of = CallHistory(facts.calls), grouper(by, UTC_ZONE)
    report = build_report(facts, facts.calls, cfg, by=by)
    assert report["overall"] == kpi_row(facts, calls, cfg)
    for group in report["groups"]:
        key = group.pop("key")
        part = Facts(
            stays=tuple(s for s in facts.stays if key_of(s.queue, s.agent, s.entered_us) == key),
            offers=tuple(o for o in facts.offers if key_of(o.queue, o.agent, o.rang_us) == key),
            calls=tuple(c for c in facts.calls if key_of(c.queue, c.agent, c.at_us) == key),
            leads=tuple(lead for lead in facts.leads if key_of(lead.queue, None, lead.created_us) == key),
            contacts=tuple(c for c in facts.contacts if key_of(c.queue, c.agent, c.at_us) == key),
        )
        assert group == kpi_row(part, calls, cfg)


ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Australia/Lord_Howe",  # moves by 30 min
    "Asia/Kathmandu",  # +05:45
    "Africa/Monrovia",  # -00:44:30 until 1972
    "Pacific/Apia",  # skipped 2011-12-30
]


def offset_changes(tz: ZoneInfo, first_year: int = 1890, last_year: int = 2040) -> list[int]:
    """Every second (since the epoch) at which ``tz`` changes its UTC offset, in those years."""

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, tz).utcoffset()

    start = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(last_year, 1, 1, tzinfo=UTC).timestamp())
    changes = []
    step = 6 * 3600  # offsets never change twice within 6 h
    for low in range(start, end, step):
        high = low + step
        if offset(low) != offset(high):
            while high - low > 1:  # the first second at the new offset
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            changes.append(high)
    return changes


@pytest.mark.parametrize("zone", ZONES)
def test_time_groups_are_the_time_buckets_of_each_moment_even_where_the_offset_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    moments = [
        (change + second) * 1_000_000 + micro
        for change in offset_changes(tz)
        for second in range(-90, 90, 7)
        for micro in (0, 999_999)
    ]
    random.Random(zone).shuffle(moments)
    for by in ("hour", "day", "week", "month"):
        key_of = grouper(by, tz)
        assert [key_of(None, None, us) for us in moments] == [
            time_bucket(from_us(us), by, tz) for us in moments
        ]
