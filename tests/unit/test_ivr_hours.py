"""Business hours with a public calendar and the flow's own dates, as one table (pure, with an
in-memory calendar), then the real China calendar's adapter on dates it knows."""

import logging
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from cti.ivr import Flow
from cti.ivr.calendars import ChinaCalendar, uncovered
from cti.ivr.hours import DayKind, hours_status

SHANGHAI = ZoneInfo("Asia/Shanghai")
KNOWN_YEARS = {2026}


class TableCalendar:
    """An in-memory public calendar: the listed days, ``USUAL`` otherwise, nothing outside its years."""

    def __init__(self, days: Mapping[date, DayKind]) -> None:
        self.days = days

    def day_kind(self, day: date) -> DayKind | None:
        return self.days.get(day, DayKind.USUAL) if day.year in KNOWN_YEARS else None


CALENDAR = TableCalendar(
    {
        date(2026, 2, 14): DayKind.WORKDAY,  # a Saturday worked before the Spring Festival
        date(2026, 2, 16): DayKind.HOLIDAY,  # a Monday off
        date(2026, 2, 17): DayKind.HOLIDAY,
    }
)


def flow(**dates: list[str]) -> Flow:
    return Flow.model_validate(
        {
            "name": "hours",
            "entry": "end",
            "languages": ["zh"],
            "calendar": "CN",
            "business_hours": {"mon": ["08:30-20:00"], "tue": ["08:30-20:00"], "sat": ["09:00-18:00"]},
            "nodes": {"end": {"type": "hangup"}},
            **dates,
        }
    )


@pytest.mark.parametrize(
    ("at", "dates", "status"),
    [
        pytest.param("2026-02-09T10:00", {}, "open", id="ordinary-monday"),
        pytest.param("2026-02-07T08:45", {}, "closed", id="ordinary-saturday-before-its-hours"),
        pytest.param("2026-02-14T08:45", {}, "open", id="make-up-saturday-opens-with-weekday-hours"),
        pytest.param("2026-02-14T19:00", {}, "open", id="make-up-saturday-stays-open-to-weekday-close"),
        pytest.param("2026-02-14T20:30", {}, "closed", id="make-up-saturday-after-weekday-close"),
        pytest.param("2026-02-16T10:00", {}, "holiday", id="public-holiday-on-a-monday"),
        pytest.param("2026-02-10T10:00", {"holidays": ["2026-02-10"]}, "holiday", id="flow-closed-day"),
        pytest.param("2026-02-17T10:00", {"workdays": ["2026-02-17"]}, "open", id="flow-open-on-a-holiday"),
        pytest.param("2026-02-14T10:00", {"holidays": ["2026-02-14"]}, "holiday", id="flow-closes-make-up"),
        pytest.param("2026-02-07T08:45", {"workdays": ["2026-02-07"]}, "open", id="flow-open-saturday"),
        pytest.param("2027-02-08T10:00", {}, "open", id="unknown-year-follows-written-hours"),
        pytest.param(
            "2027-02-08T10:00", {"holidays": ["2027-02-08"]}, "holiday", id="unknown-year-own-dates"
        ),
        pytest.param("2027-02-08T06:00", {}, "closed", id="unknown-year-before-hours"),
    ],
)
def test_given_a_day_then_the_hours_follow_the_flow_dates_the_calendar_then_the_weekday(
    at: str, dates: dict[str, list[str]], status: str
) -> None:
    now = datetime.fromisoformat(at).replace(tzinfo=SHANGHAI)
    assert hours_status(flow(**dates), now, CALENDAR) == status


def test_given_no_calendar_then_the_written_hours_and_own_dates_alone() -> None:
    make_up_saturday = datetime(2026, 2, 14, 8, 45, tzinfo=SHANGHAI)
    assert hours_status(flow(), make_up_saturday, None) == "closed"
    assert hours_status(flow(workdays=["2026-02-14"]), make_up_saturday, None) == "open"


def test_given_a_flow_without_hours_then_open_except_on_holidays() -> None:
    always = flow().model_copy(update={"business_hours": None})
    assert hours_status(always, datetime(2026, 2, 14, 3, 0, tzinfo=SHANGHAI), CALENDAR) == "open"
    assert hours_status(always, datetime(2026, 2, 16, 3, 0, tzinfo=SHANGHAI), CALENDAR) == "holiday"


# --- the China calendar (chinese-calendar) -------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 2, 14), DayKind.WORKDAY),  # Saturday, worked for the Spring Festival
        (date(2026, 2, 28), DayKind.WORKDAY),  # Saturday, worked for the Spring Festival
        (date(2026, 2, 16), DayKind.HOLIDAY),  # Monday, Spring Festival
        (date(2026, 2, 21), DayKind.HOLIDAY),  # Saturday inside the Spring Festival
        (date(2026, 10, 1), DayKind.HOLIDAY),  # National Day
        (date(2026, 3, 7), DayKind.USUAL),  # an ordinary Saturday
        (date(2026, 3, 9), DayKind.USUAL),  # an ordinary Monday
    ],
)
def test_the_china_calendar_knows_2026_holidays_and_make_up_working_days(day: date, kind: DayKind) -> None:
    assert ChinaCalendar().day_kind(day) is kind


def test_the_china_calendar_covers_2004_to_at_least_2026() -> None:
    first, last = ChinaCalendar().years
    assert first == 2004
    assert last >= 2026


def test_given_a_year_the_china_calendar_does_not_know_then_none_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = ChinaCalendar()
    year = calendar.years[1] + 1
    with caplog.at_level(logging.WARNING, logger="cti.ivr.calendars"):
        assert calendar.day_kind(date(year, 2, 1)) is None
        assert calendar.day_kind(date(year, 5, 1)) is None
    (record,) = caplog.records  # once per year, not once per call
    assert record.levelno == logging.WARNING
    assert f"calendar CN knows no holidays of {year}" in record.getMessage()


def test_given_a_year_a_calendar_does_not_know_then_doctor_has_a_warning() -> None:
    calendar = ChinaCalendar()
    last = calendar.years[1]
    assert uncovered(last, {"CN": calendar}) == []
    (warning,) = uncovered(last + 1, {"CN": calendar})
    assert warning.startswith(f"calendar CN does not know {last + 1} (chinese-calendar ")
