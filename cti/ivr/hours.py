"""Is the center open? A flow's business hours, its public calendar and its own dates. Pure.

A day is one of three kinds. A ``holiday`` is closed all day: a public holiday or a day off in
lieu by the flow's calendar, or a date in the flow's ``holidays``. A ``workday`` opens with the
weekday hours (Monday's) whatever day of the week it is: a make-up working day by the calendar
(China's 调休, e.g. a Saturday worked before the Spring Festival), or a date in the flow's
``workdays``. Any other day opens with the hours written for its day of the week. The flow's
own dates win over the calendar's. A calendar that does not know a year answers ``None``:
that day then follows its written hours and the flow's own dates, so a call never fails on a
missing year (the adapter says so in the log, ``cti.ivr.calendars``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from cti.ivr.model import Flow, Weekday

#: Whose hours a workday opens with: a weekday's, Monday's as the first of the week.
WORKDAY_HOURS = Weekday.MON


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # closed all day
    WORKDAY = "workday"  # open with the weekday hours, even on a weekend
    USUAL = "usual"  # open with the hours of its day of the week


class PublicCalendar(Protocol):
    """A country's public holidays and make-up working days (an adapter over a library)."""

    def day_kind(self, day: date) -> DayKind | None:
        """The day's kind by the public calendar; ``None`` when it does not know that year."""
        ...


def day_kind(flow: Flow, day: date, calendar: PublicCalendar | None) -> DayKind:
    """The kind of ``day`` for ``flow``: its own dates first, then its calendar's."""
    if day in flow.holidays:
        return DayKind.HOLIDAY
    if day in flow.workdays:
        return DayKind.WORKDAY
    public = calendar.day_kind(day) if calendar is not None else None
    return public or DayKind.USUAL


def hours_status(flow: Flow, now: datetime, calendar: PublicCalendar | None) -> str:
    """``holiday``, ``open`` or ``closed`` at ``now`` (timezone-aware), in the flow's timezone."""
    local = now.astimezone(ZoneInfo(flow.timezone))
    kind = day_kind(flow, local.date(), calendar)
    if kind is DayKind.HOLIDAY:
        return "holiday"
    if flow.business_hours is None:
        return "open"
    weekday = WORKDAY_HOURS if kind is DayKind.WORKDAY else list(Weekday)[local.weekday()]
    opened = any(hours.covers(local.time()) for hours in flow.business_hours.get(weekday, ()))
    return "open" if opened else "closed"


#: How far ahead ``next_opening`` looks: a year and a bit covers the longest holiday season.
OPENING_HORIZON_DAYS = 400


def next_opening(flow: Flow, now: datetime, calendar: PublicCalendar | None) -> datetime | None:
    """When the center is next open at or after ``now``: ``now`` itself when open, else the start
    of the next opening interval (holidays and make-up working days as ``hours_status`` judges
    them); ``None`` when it opens on no day of the horizon (a flow with no hours at all). An
    after-hours callback request is due then (``cti.ivr.runner``)."""
    if hours_status(flow, now, calendar) == "open":
        return now
    business_hours = flow.business_hours or {}
    local = now.astimezone(ZoneInfo(flow.timezone))
    for offset in range(OPENING_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        kind = day_kind(flow, day, calendar)
        if kind is DayKind.HOLIDAY:
            continue
        weekday = WORKDAY_HOURS if kind is DayKind.WORKDAY else list(Weekday)[day.weekday()]
        starts = sorted(hours.start for hours in business_hours.get(weekday, ()))
        later = [start for start in starts if offset > 0 or start > local.time()]
        if later:
            return datetime.combine(day, later[0], tzinfo=local.tzinfo)
    return None
