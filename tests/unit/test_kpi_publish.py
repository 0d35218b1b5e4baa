"""Which periods a publication covers, what their files are called, and what may be served."""

from datetime import date
from pathlib import Path

import pytest

from cti.kpi.publish import PublishedPeriod, periods, published, report_file, title, write_atomically


@pytest.mark.parametrize(
    ("every", "today", "count", "expected"),
    [
        ("day", date(2026, 12, 5), 1, [("2026-12-04", date(2026, 12, 4), date(2026, 12, 4))]),
        (
            "day",
            date(2026, 3, 1),
            2,
            [
                ("2026-02-27", date(2026, 2, 27), date(2026, 2, 27)),
                ("2026-02-28", date(2026, 2, 28), date(2026, 2, 28)),
            ],
        ),
        ("week", date(2026, 12, 5), 1, [("2026-W48", date(2026, 11, 23), date(2026, 11, 29))]),  # a Saturday
        ("week", date(2026, 11, 30), 1, [("2026-W48", date(2026, 11, 23), date(2026, 11, 29))]),  # a Monday
        ("week", date(2026, 1, 6), 1, [("2026-W01", date(2025, 12, 29), date(2026, 1, 4))]),  # ISO year
        ("week", date(2027, 1, 4), 1, [("2026-W53", date(2026, 12, 28), date(2027, 1, 3))]),
        ("month", date(2026, 12, 5), 1, [("2026-11", date(2026, 11, 1), date(2026, 11, 30))]),
        ("month", date(2026, 12, 1), 1, [("2026-11", date(2026, 11, 1), date(2026, 11, 30))]),
        (
            "month",
            date(2026, 3, 31),
            2,
            [
                ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
                ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
            ],
        ),
        ("month", date(2026, 1, 15), 1, [("2025-12", date(2025, 12, 1), date(2025, 12, 31))]),
    ],
)
def test_the_last_complete_periods(
    every: str, today: date, count: int, expected: list[tuple[str, date, date]]
) -> None:
    found = periods(every, today, count)
    assert [(p.name, p.first, p.last) for p in found] == expected
    assert all(p.path == f"{every}/{p.name}.html" for p in found)


def test_an_unknown_kind_of_period_is_refused() -> None:
    with pytest.raises(ValueError, match="every must be one of"):
        periods("year", date(2026, 1, 1))


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Weekly KPI report 2026-W48"), ("zh", "KPI 周报 2026-W48")]
)
def test_titles(language: str, expected: str) -> None:
    assert title(periods("week", date(2026, 12, 5))[0], language) == expected


def test_listing_reads_back_what_was_written_and_nothing_else(tmp_path: Path) -> None:
    for period in (
        periods("day", date(2026, 12, 5), 2)
        + periods("week", date(2026, 12, 5))
        + periods("month", date(2026, 12, 5))
    ):
        write_atomically(tmp_path / period.path, "<html></html>")
    (tmp_path / "month" / "notes.html").write_text("not a report")
    (tmp_path / "month" / ".2026-10.html.partial").write_text("half written")
    assert published(tmp_path) == [
        PublishedPeriod("day", "2026-12-04", date(2026, 12, 4), date(2026, 12, 4)),
        PublishedPeriod("day", "2026-12-03", date(2026, 12, 3), date(2026, 12, 3)),
        PublishedPeriod("week", "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),
        PublishedPeriod("month", "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
    ]
    assert [p.name for p in tmp_path.rglob("*.partial")] == [".2026-10.html.partial"]  # ours leave none


@pytest.mark.parametrize(
    ("every", "name", "served"),
    [
        ("month", "2026-11", True),
        ("month", "2026-12", False),  # not published
        ("month", "../month/2026-11", False),
        ("month", "2026-11.html", False),
        ("year", "2026", False),
        ("day", "2026-11", False),
    ],
)
def test_only_published_names_are_served(tmp_path: Path, every: str, name: str, served: bool) -> None:
    write_atomically(tmp_path / "month" / "2026-11.html", "<html></html>")
    found = report_file(tmp_path, every, name)
    assert (found == tmp_path / "month" / "2026-11.html") if served else found is None
