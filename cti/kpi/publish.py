"""Published reports: the daily, weekly and monthly HTML reports managers open in the web app.

``cti kpi publish --every day|week|month DIR`` writes the last complete period's report (or the
last ``count``) as ``DIR/<every>/<name>.html``: ``day/2026-12-04``, ``week/2026-W49`` (ISO week,
Monday first), ``month/2026-11``. One file per period: publishing again rewrites the same name
(atomically: a reader never sees half a page) and leaves every other period's file alone, so
nothing published is lost and a cron job may run it as often as it likes.

Which periods and what they are called is pure (``periods``); writing and listing the files is
the thin part.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

EVERY = ("day", "week", "month")
Every = Literal["day", "week", "month"]
BY: dict[str, str] = {"day": "hour", "week": "day", "month": "day"}  # each report's rows
_NAME = {
    "day": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "week": re.compile(r"\d{4}-W\d{2}"),
    "month": re.compile(r"\d{4}-\d{2}"),
}
TITLES = {
    "en": {
        "day": "Daily KPI report {name}",
        "week": "Weekly KPI report {name}",
        "month": "Monthly KPI report {name}",
    },
    "zh": {"day": "KPI 日报 {name}", "week": "KPI 周报 {name}", "month": "KPI 月报 {name}"},
}


@dataclass(frozen=True)
class PublishedPeriod:
    every: str
    name: str
    first: date  # the first day
    last: date  # the last day, included

    @property
    def path(self) -> str:
        """Where its report lives under the publishing folder."""
        return f"{self.every}/{self.name}.html"


def _start_of(every: str, day: date) -> date:
    if every == "day":
        return day
    if every == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _period(every: str, first: date) -> PublishedPeriod:
    if every == "day":
        return PublishedPeriod(every, first.isoformat(), first, first)
    if every == "week":
        year, week, _ = first.isocalendar()
        return PublishedPeriod(every, f"{year}-W{week:02d}", first, first + timedelta(days=6))
    following = (first + timedelta(days=32)).replace(day=1)
    return PublishedPeriod(every, first.strftime("%Y-%m"), first, following - timedelta(days=1))


def periods(every: str, today: date, count: int = 1) -> list[PublishedPeriod]:
    """The ``count`` complete periods before the one ``today`` is in, oldest first."""
    if every not in EVERY:
        raise ValueError(f"every must be one of {list(EVERY)}, not {every!r}")
    found: list[PublishedPeriod] = []
    start = _start_of(every, today)
    for _ in range(count):
        start = _start_of(every, start - timedelta(days=1))
        found.append(_period(every, start))
    return found[::-1]


def title(period: PublishedPeriod, language: str) -> str:
    return TITLES[language][period.every].format(name=period.name)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a reader gets the old page or the new, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def published(directory: Path) -> list[PublishedPeriod]:
    """The reports under ``directory``, newest first within each kind (day, week, month)."""
    found: list[PublishedPeriod] = []
    for every in EVERY:
        folder = directory / every
        names = sorted(
            (p.stem for p in folder.glob("*.html") if _NAME[every].fullmatch(p.stem)), reverse=True
        )
        found += [PublishedPeriod(every, name, *_bounds(every, name)) for name in names]
    return found


def _bounds(every: str, name: str) -> tuple[date, date]:
    if every == "week":
        year, week = name.split("-W")
        period = _period(every, date.fromisocalendar(int(year), int(week), 1))
    else:
        period = _period(every, date.fromisoformat(name if every == "day" else f"{name}-01"))
    return period.first, period.last


def report_file(directory: Path, every: str, name: str) -> Path | None:
    """The published report ``every``/``name``, if it exists; ``None`` for anything that is not
    a report's name (no path reaches outside ``directory``)."""
    if every not in EVERY or not _NAME[every].fullmatch(name):
        return None
    path = directory / every / f"{name}.html"
    return path if path.is_file() else None
