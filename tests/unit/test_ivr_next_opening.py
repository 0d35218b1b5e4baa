"""When the center next opens (cti.ivr.hours.next_opening): an after-hours callback is due then.
The same flow and in-memory calendar as the business-hours table (test_ivr_hours)."""

from datetime import UTC, datetime

import pytest

from cti.ivr import Flow
from cti.ivr.hours import next_opening
from tests.unit.test_ivr_hours import CALENDAR, SHANGHAI, flow


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        ("2026-02-09 10:00", "2026-02-09 10:00"),  # a Monday, open: now
        ("2026-02-09 07:00", "2026-02-09 08:30"),  # before the day's opening
        ("2026-02-09 20:00", "2026-02-10 08:30"),  # closing time: the next morning
        ("2026-02-10 21:00", "2026-02-14 08:30"),  # Tuesday night: Saturday, a make-up workday
        ("2026-02-13 22:00", "2026-02-14 08:30"),  # with the weekday hours, not Saturday's 09:00
        ("2026-02-14 21:00", "2026-02-21 09:00"),  # past two holidays to the next usual Saturday
        ("2026-02-21 06:00", "2026-02-21 09:00"),
    ],
)
def test_the_next_opening_after_hours(now: str, opens: str) -> None:
    assert next_opening(flow(), at(now), CALENDAR) == at(opens)


def test_the_flows_own_holidays_are_skipped() -> None:
    closed_tuesday = flow(holidays=["2026-02-10"])
    assert next_opening(closed_tuesday, at("2026-02-09 21:00"), CALENDAR) == at("2026-02-14 08:30")


def test_a_flow_without_hours_is_always_open_and_one_with_no_open_day_never() -> None:
    always = Flow.model_validate(
        {"name": "x", "entry": "end", "languages": ["zh"], "nodes": {"end": {"type": "hangup"}}}
    )
    assert next_opening(always, at("2026-02-09 03:00"), None) == at("2026-02-09 03:00")
    never = Flow.model_validate(
        {
            "name": "x",
            "entry": "end",
            "languages": ["zh"],
            "business_hours": {},
            "nodes": {"end": {"type": "hangup"}},
        }
    )
    assert next_opening(never, at("2026-02-09 03:00"), None) is None


def test_the_opening_is_in_the_flows_time_zone_whatever_the_zone_of_now() -> None:
    utc_evening = at("2026-02-09 21:00").astimezone(UTC)
    assert next_opening(flow(), utc_evening, CALENDAR) == at("2026-02-10 08:30")
