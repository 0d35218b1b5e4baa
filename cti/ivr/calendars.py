"""Public calendars a flow can name (``calendar: CN``): adapters over calendar libraries.

China's calendar comes from the ``chinese-calendar`` package, which records each year's public
holidays, days off in lieu and make-up working days (调休) from the State Council's notice, and
raises ``NotImplementedError`` for a year it does not know. (The ``holidays`` package also knows
make-up days for the years it was told, but computes holidays by rule for any other year
without them, so a missing year cannot be told from a known one.) A new year comes with a new
release of the package each winter; until it is installed, that year's days follow the flow's
written hours and its own dates, the log says so once per year, and ``cti doctor`` warns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date

import chinese_calendar
from chinese_calendar import constants

from cti.ivr.hours import DayKind

log = logging.getLogger(__name__)


class ChinaCalendar:
    """China's public holidays and make-up working days, by ``chinese-calendar``."""

    name = "CN"

    def __init__(self) -> None:
        self._years: set[int] = {day.year for day in (*constants.holidays, *constants.workdays)}
        self._warned: set[int] = set()

    @property
    def years(self) -> tuple[int, int]:
        """First and last year the installed package knows."""
        return min(self._years), max(self._years)

    def covers(self, year: int) -> bool:
        return year in self._years

    def day_kind(self, day: date) -> DayKind | None:
        try:
            off, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            self._warn_once(day.year)
            return None
        if name is None:
            return DayKind.USUAL  # an ordinary weekday or weekend
        return DayKind.HOLIDAY if off else DayKind.WORKDAY

    def _warn_once(self, year: int) -> None:
        if year not in self._warned:
            self._warned.add(year)
            first, last = self.years
            log.warning(
                "calendar CN knows no holidays of %d (chinese-calendar %s covers %d-%d): those days "
                "follow the flows' written hours and their own dates; upgrade chinese-calendar",
                year,
                chinese_calendar.__version__,
                first,
                last,
            )


def public_calendars() -> Mapping[str, ChinaCalendar]:
    """Every calendar a flow may name, by name (each made once per call of this function)."""
    china = ChinaCalendar()
    return {china.name: china}


def uncovered(year: int, calendars: Mapping[str, ChinaCalendar]) -> list[str]:
    """Warnings for calendars that do not know ``year`` (``cti doctor``)."""
    return [
        f"calendar {name} does not know {year} (chinese-calendar {chinese_calendar.__version__} "
        f"covers {calendar.years[0]}-{calendar.years[1]}): holidays and make-up working days of "
        f"{year} are not applied; upgrade chinese-calendar"
        for name, calendar in calendars.items()
        if not calendar.covers(year)
    ]
