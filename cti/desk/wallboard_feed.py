"""Reading the wallboard's figures: live state from Redis, today's KPIs from the store.

Live state costs two Redis round trips (every agent's status; every line's length and oldest
entry) and is read afresh each time. Today's KPIs cost SQL (a day's report, in the KPI report
workers, off the call-handling loop): they are recomputed at most every ``ttl_s`` seconds,
shared by every reader meanwhile, and when the workers are busy the last figures stay up.
"Today" is the center's day (``[kpi] timezone``), from its midnight to now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cti.acd.model import AcdConfig
from cti.desk.wallboard import wallboard_body
from cti.kpi.report import Period
from cti.kpi.workers import ReportsBusy
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
        self._day = ""
        self._fresh_until = float("-inf")
        self._lock = asyncio.Lock()

    async def rows(self, now: datetime) -> dict[str, Mapping[str, Any]]:
        """Per queue, today's report row (recomputed when older than ``ttl_s`` or of another day)."""
        local = now.astimezone(self.tz)
        async with self._lock:  # readers meanwhile wait for this computation, not one of their own
            if self.clock() < self._fresh_until and self._day == local.date().isoformat():
                return self._rows
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            try:
                report = await self.report(Period(midnight, None))
            except ReportsBusy as exc:
                log.info("wallboard: today's KPIs kept as they were: %s", exc)
                return self._rows
            self._rows = {group["key"]: group for group in report["groups"]}
            self._day, self._fresh_until = local.date().isoformat(), self.clock() + self.ttl_s
            return self._rows


class WallboardSource:
    """The wallboard body, read now (``GET /api/wallboard``; the push channel's publisher)."""

    def __init__(self, config: AcdConfig, state: AcdState, today: TodayKpis) -> None:
        self.config = config
        self.state = state
        self.today = today

    async def body(self, now: datetime) -> dict[str, Any]:
        statuses = await self.state.agents([agent.id for agent in self.config.agents])
        lines = await self.state.lines([queue.name for queue in self.config.queues], now.timestamp())
        today = await self.today.rows(now)
        return wallboard_body(now, self.config, [s for s, _ in statuses], lines, today)
