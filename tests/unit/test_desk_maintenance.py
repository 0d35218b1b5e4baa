"""The due-maintenance rule: first free maintenance, then periodic, overdue when past."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.desk.crm import ServiceVisit
from cti.desk.maintenance import (
    FIRST_MAINTENANCE,
    FIRST_MAINTENANCE_MONTHS,
    MAINTENANCE,
    PERIODIC_MONTHS,
    Due,
    add_months,
    next_due,
)

BOUGHT = date(2026, 1, 15)


def visit(on: date, kind: str = MAINTENANCE) -> ServiceVisit:
    return ServiceVisit(on, kind, "浦东4S店")


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 15), 6, date(2026, 7, 15)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 7, 31), 12, date(2027, 7, 31)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2026, 3, 31), 0, date(2026, 3, 31)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@given(st.dates(max_value=date(9000, 1, 1)), st.integers(0, 120))
def test_months_later_is_never_earlier_and_lands_in_the_right_month(day: date, months: int) -> None:
    later = add_months(day, months)
    assert later >= day
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)


def test_a_new_car_has_its_first_free_maintenance_due_six_months_after_purchase() -> None:
    due = next_due(BOUGHT, [], today=date(2026, 3, 1))
    assert due == Due(FIRST_MAINTENANCE, add_months(BOUGHT, FIRST_MAINTENANCE_MONTHS), overdue=False)
    assert due.on == date(2026, 7, 15)


def test_the_first_maintenance_is_overdue_the_day_after_it_fell_due() -> None:
    assert next_due(BOUGHT, [], today=date(2026, 7, 15)) == Due(FIRST_MAINTENANCE, date(2026, 7, 15), False)
    assert next_due(BOUGHT, [], today=date(2026, 7, 16)) == Due(FIRST_MAINTENANCE, date(2026, 7, 15), True)


def test_repairs_do_not_count_as_maintenance() -> None:
    services = [visit(date(2026, 5, 1), "repair"), visit(date(2026, 6, 1), "glass")]
    assert next_due(BOUGHT, services, today=date(2026, 6, 2)) == Due(
        FIRST_MAINTENANCE, date(2026, 7, 15), False
    )


def test_after_the_first_maintenance_the_next_is_periodic_from_it() -> None:
    services = [visit(date(2026, 7, 1), FIRST_MAINTENANCE)]
    assert next_due(BOUGHT, services, today=date(2026, 8, 1)) == Due(MAINTENANCE, date(2027, 7, 1), False)


def test_periodic_maintenance_counts_from_the_last_one_whatever_the_order_given() -> None:
    services = [
        visit(date(2027, 6, 20)),
        visit(date(2026, 7, 1), FIRST_MAINTENANCE),
        visit(date(2028, 1, 5), "repair"),
    ]
    due = next_due(BOUGHT, services, today=date(2028, 7, 1))
    assert due == Due(MAINTENANCE, add_months(date(2027, 6, 20), PERIODIC_MONTHS), overdue=True)


def test_a_periodic_maintenance_without_a_first_one_on_record_puts_the_car_on_the_periodic_schedule() -> None:
    due = next_due(BOUGHT, [visit(date(2026, 9, 1))], today=date(2026, 10, 1))
    assert due == Due(MAINTENANCE, date(2027, 9, 1), False)


def test_without_a_purchase_date_or_a_maintenance_nothing_is_due() -> None:
    assert next_due(None, [visit(date(2026, 1, 1), "repair")], today=date(2026, 3, 1)) is None
    assert next_due(None, [visit(date(2026, 1, 1))], today=date(2026, 3, 1)) == Due(
        MAINTENANCE, date(2027, 1, 1), False
    )


@given(
    bought=st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2030, 1, 1))),
    visits=st.lists(
        st.tuples(
            st.dates(date(2000, 1, 1), date(2030, 1, 1)),
            st.sampled_from([FIRST_MAINTENANCE, MAINTENANCE, "repair"]),
        )
    ),
    today=st.dates(date(2000, 1, 1), date(2031, 1, 1)),
)
def test_the_rule(bought: date | None, visits: list[tuple[date, str]], today: date) -> None:
    due = next_due(bought, [visit(on, kind) for on, kind in visits], today)
    maintained = [on for on, kind in visits if kind != "repair"]
    if maintained:
        assert due == Due(
            MAINTENANCE, add_months(max(maintained), 12), add_months(max(maintained), 12) < today
        )
    elif bought:
        assert due == Due(FIRST_MAINTENANCE, add_months(bought, 6), add_months(bought, 6) < today)
    else:
        assert due is None
