"""Reading the wallboard's figures: live state from Redis, today's KPIs from the store.

Live state is read afresh each time: every agent's status and every line's length and oldest
entry, two pipelines sent at once (one round trip's wait). Today's KPIs cost SQL (a day's
report, in the KPI report workers, off the call-handling loop): they are recomputed at most
every ``ttl_s`` seconds, in the background, while readers go on with the figures they have, so
a board's live part never waits for a report (only the day's first figures are waited for).
When the workers are busy or the store is away, the last figures stay up. "Today" is the
center's day (``[kpi] timezone``), from its midnight to now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti.acd.model import AcdConfig
from cti.desk.wallboard import wallboard_body
from cti.kpi.report import Period
from cti.live.acd_state import AcdState

log = logging.getLogger(__name__)

TODAY_TTL_S = 5.0

#: A KPI report by queue over a period (``ReportWorkers.report`` with the center's rules).
QueueReport = Callable[[Period], Awaitable[dict[str, Any]]]


class TodayKpis:
    def __init__(
        self,
        report: QueueReport,
        tz: ZoneInfo,
        ttl_s: float = TODAY_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.report = report
        self.tz = tz
        self.ttl_s = ttl_s
        self.clock = clock
        self._rows: dict[str, Mapping[str, Any]] = {}
        self._day = ""  # the day ``_rows`` are of
        self._asked = ""  # the day the last computation was for
        self._due = float("-inf")  # when the next computation may start
        self._computing: asyncio.Task[None] | None = None  # one at a time, shared by every reader
        self._failing = False  # said once in the log when it starts, once when it ends

    async def rows(self, now: datetime) -> dict[str, Mapping[str, Any]]:
        """Per queue, today's report row; a new computation is started when the last one is
        ``ttl_s`` old, and waited for only when none of today's figures are known yet."""
        local = now.astimezone(self.tz)
        day = local.date().isoformat()
        if self._computing is None and (self.clock() >= self._due or self._asked != day):
            self._asked, self._due = day, self.clock() + self.ttl_s
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._computing = asyncio.get_running_loop().create_task(self._compute(day, midnight))
            self._computing.add_done_callback(self._computed)
        if self._day != day and self._computing is not None:
            await asyncio.shield(self._computing)  # a reader cancelled leaves it to the others
        return self._rows if self._day == day else {}

    async def _compute(self, day: str, midnight: datetime) -> None:
        try:
            report = await self.report(Period(midnight, None))
        except Exception as exc:  # the workers busy, the store away: the last figures stay up
            if not self._failing:
                log.warning(
                    "wallboard: today's KPIs kept as they were, retried every %gs: %s", self.ttl_s, exc
                )
            self._failing = True
            return
        if self._failing:
            log.warning("wallboard: today's KPIs computed again")
        self._rows, self._day, self._failing = {group["key"]: group for group in report["groups"]}, day, False

    def _computed(self, task: asyncio.Task[None]) -> None:
        self._computing = None

    async def aclose(self) -> None:
        """Stop a computation under way (the app stops: its workers are going)."""
        if self._computing is not None:
            self._computing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._computing


class WallboardSource:
    """The wallboard body, read now (``GET /api/wallboard``; the push channel's publisher)."""

    def __init__(self, config: AcdConfig, state: AcdState, today: TodayKpis) -> None:
        self.config = config
        self.state = state
        self.today = today

    async def body(self, now: datetime) -> dict[str, Any]:
        statuses, lines, today = await asyncio.gather(
            self.state.agents([agent.id for agent in self.config.agents]),
            self.state.lines([queue.name for queue in self.config.queues], now.timestamp()),
            self.today.rows(now),
        )
        return wallboard_body(now, self.config, [s for s, _ in statuses], lines, today)
