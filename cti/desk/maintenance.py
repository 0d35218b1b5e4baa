"""When a vehicle's next maintenance is due: the first free one, then the periodic ones.

A pure rule, so the pop and the card say the same thing and the tests can walk every case. The
first free maintenance falls ``FIRST_MAINTENANCE_MONTHS`` after purchase until a maintenance is
recorded; after that the next one is ``PERIODIC_MONTHS`` after the last (first or periodic).
A car with a periodic maintenance but no first one on record had its first one elsewhere or
missed it: either way it is on the periodic schedule, and reminding of a free maintenance years
past would be wrong.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cti.desk.crm import ServiceVisit

FIRST_MAINTENANCE = "first_maintenance"
MAINTENANCE = "maintenance"
FIRST_MAINTENANCE_MONTHS = 6
PERIODIC_MONTHS = 12


@dataclass(frozen=True)
class Due:
    kind: str  # FIRST_MAINTENANCE | MAINTENANCE
    on: date
    overdue: bool


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter (Aug 31 + 6 -> Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(purchased_on: date | None, services: Iterable[ServiceVisit], today: date) -> Due | None:
    """The next maintenance and whether its day has passed; None without a purchase date or a
    maintenance to count from."""
    maintenances = [visit.on for visit in services if visit.kind in (FIRST_MAINTENANCE, MAINTENANCE)]
    if maintenances:
        kind, on = MAINTENANCE, add_months(max(maintenances), PERIODIC_MONTHS)
    elif purchased_on is not None:
        kind, on = FIRST_MAINTENANCE, add_months(purchased_on, FIRST_MAINTENANCE_MONTHS)
    else:
        return None
    return Due(kind, on, overdue=on < today)
