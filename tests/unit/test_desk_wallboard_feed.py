"""Today's KPIs for the wallboard: computed in the background, at most every ``ttl_s``, waited
for only when none of the day's are known, kept when a computation fails (a fake report and
clock; no store)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti.desk.wallboard_feed import TodayKpis
from cti.kpi.report import Period
from cti.kpi.workers import ReportsBusy

MORNING = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NEXT_DAY = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # 01:00 the next day in Shanghai


class FakeReport:
    """Answers ``answered`` as its figure; holds each answer until ``release`` when ``held``."""

    def __init__(self) -> None:
        self.periods: list[Period] = []
        self.answered = 1
        self.held = False
        self.failing: Exception | None = None
        self._gate = asyncio.Event()

    async def __call__(self, period: Period) -> dict[str, Any]:
        self.periods.append(period)
        if self.held:
            await self._gate.wait()
        if self.failing is not None:
            raise self.failing
        return {"groups": [{"key": "sales", "answered": self.answered}]}

    def release(self) -> None:
        self._gate.set()


async def settled() -> None:
    """Let a background computation finish (it awaits nothing that is not ready)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_first_figures_are_waited_for_then_kept_for_ttl_s() -> None:
    report, now = FakeReport(), [0.0]
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"), ttl_s=5, clock=lambda: now[0])
    assert (await today.rows(MORNING))["sales"]["answered"] == 1
    assert report.periods[0].start == datetime(2026, 11, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
    report.answered, now[0] = 2, 4.9
    assert (await today.rows(MORNING))["sales"]["answered"] == 1
    assert len(report.periods) == 1


async def test_the_publishers_reading_never_waits_not_even_for_the_first_figures() -> None:
    report = FakeReport()
    report.held = True
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"))
    assert today.known(MORNING) is None  # under way
    assert today.known(MORNING) is None
    report.release()
    await settled()
    assert today.known(MORNING) == {"sales": {"key": "sales", "answered": 1}}
    assert len(report.periods) == 1


async def test_a_reader_gets_the_last_figures_at_once_while_new_ones_are_computed() -> None:
    report, now = FakeReport(), [0.0]
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"), ttl_s=5, clock=lambda: now[0])
    await today.rows(MORNING)
    report.answered, report.held, now[0] = 2, True, 5.0
    assert (await today.rows(MORNING))["sales"]["answered"] == 1  # not waiting for the report
    await settled()
    assert (await today.rows(MORNING))["sales"]["answered"] == 1
    assert len(report.periods) == 2  # one computation for every reader meanwhile
    report.release()
    await settled()
    assert (await today.rows(MORNING))["sales"]["answered"] == 2


async def test_a_failing_report_keeps_the_figures_and_is_tried_again_after_ttl_s() -> None:
    report, now = FakeReport(), [0.0]
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"), ttl_s=5, clock=lambda: now[0])
    await today.rows(MORNING)
    report.failing, now[0] = ReportsBusy("every worker is busy"), 5.0
    await today.rows(MORNING)
    await settled()
    assert (await today.rows(MORNING))["sales"]["answered"] == 1
    assert len(report.periods) == 2
    report.failing, report.answered, now[0] = None, 3, 10.0
    await today.rows(MORNING)
    await settled()
    assert (await today.rows(MORNING))["sales"]["answered"] == 3


async def test_a_new_day_starts_from_its_own_figures_and_none_while_they_cannot_be_had() -> None:
    report, now = FakeReport(), [0.0]
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"), ttl_s=5, clock=lambda: now[0])
    await today.rows(MORNING)
    report.failing = OSError("the store is away")
    assert await today.rows(NEXT_DAY) == {}  # not yesterday's figures
    assert report.periods[-1].start == datetime(2026, 11, 3, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert await today.rows(NEXT_DAY) == {}
    assert len(report.periods) == 2  # tried again after ttl_s, not at every read


async def test_closing_stops_a_computation_under_way() -> None:
    report = FakeReport()
    report.held = True
    today = TodayKpis(report, ZoneInfo("Asia/Shanghai"))
    reader = asyncio.create_task(today.rows(MORNING))
    await settled()
    await today.aclose()
    assert isinstance((await asyncio.gather(reader, return_exceptions=True))[0], asyncio.CancelledError)
