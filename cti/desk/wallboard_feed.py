"""Reading the wallboard's figures: live state from Redis, today's KPIs from the store.

Live state is read afresh each time: every agent's status and every line's length and oldest
entry, two pipelines sent at once (one round trip's wait). Today's KPIs cost SQL (a day's
report, in the KPI report workers, off the call-handling loop): they are recomputed at most
every ``ttl_s`` seconds, in the background, while readers go on with the figures they have, so
a board's live part never waits for a report (only a request waits for the day's first ones).
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

from cti.acd.agents import AgentStatus
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

    def known(self, now: datetime) -> dict[str, Mapping[str, Any]] | None:
        """Per queue, today's report row as known now, never waiting: a computation is started
        when the last one is ``ttl_s`` old (or of another day); None while the day's first one
        is under way ({} once it failed: no figures, and it is retried after ``ttl_s``)."""
        local = now.astimezone(self.tz)
        day = local.date().isoformat()
        if self._computing is None and (self.clock() >= self._due or self._asked != day):
            self._asked, self._due = day, self.clock() + self.ttl_s
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._computing = asyncio.get_running_loop().create_task(self._compute(day, midnight))
        if self._day == day:
            return self._rows
        return None if self._computing is not None else {}

    async def rows(self, now: datetime) -> dict[str, Mapping[str, Any]]:
        """``known``, waiting for the day's first figures when they are under way."""
        rows = self.known(now)
        if rows is None and self._computing is not None:
            await asyncio.shield(self._computing)  # a reader cancelled leaves it to the others
            rows = self.known(now)
        return rows or {}

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
        finally:
            self._computing = None
        if self._failing:
            log.warning("wallboard: today's KPIs computed again")
        self._rows, self._day, self._failing = {group["key"]: group for group in report["groups"]}, day, False

    async def aclose(self) -> None:
        """Stop a computation under way (the app stops: its workers are going)."""
        computing = self._computing
        if computing is not None:
            computing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await computing


class WallboardSource:
    """The wallboard body, read now (``GET /api/wallboard``; the push channel's publisher)."""

    def __init__(self, config: AcdConfig, state: AcdState, today: TodayKpis) -> None:
        self.config = config
        self.state = state
        self.today = today

    async def body(self, now: datetime) -> dict[str, Any]:
        """The body; today's first figures are waited for (a request's first answer has them)."""
        (statuses, lines), today = await asyncio.gather(self._live(now), self.today.rows(now))
        return wallboard_body(now, self.config, statuses, lines, today)

    async def body_if_ready(self, now: datetime) -> dict[str, Any] | None:
        """The body, waiting for Redis alone; None while today's first figures are computed (a
        fresh instance's report workers take seconds to start: the publisher's turn must not
        outlast its lease, and a body with no figures would tell the boards that no call came)."""
        today = self.today.known(now)
        if today is None:
            return None
        statuses, lines = await self._live(now)
        return wallboard_body(now, self.config, statuses, lines, today)

    async def _live(self, now: datetime) -> tuple[list[AgentStatus], dict[str, tuple[int, float]]]:
        """Every agent's status and every line, two pipelines sent at once."""
        statuses, lines = await asyncio.gather(
            self.state.agents([agent.id for agent in self.config.agents]),
            self.state.lines([queue.name for queue in self.config.queues], now.timestamp()),
        )
        return [status for status, _ in statuses], lines
