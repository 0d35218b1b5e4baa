"""``GET /api/wallboard`` (supervisor, manager): the wallboard body (``cti.desk.wallboard``), read
now; today's KPIs in it are at most a few seconds old (``cti.desk.wallboard_feed``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cti.desk.wallboard_feed import TodayKpis, WallboardSource
from cti.kpi.report import Period
from cti.web.auth import Role
from cti.web.desk import Desk
from cti.web.kpi import REPORTS, SETTINGS
from cti.web.principal import require

WALLBOARD: web.AppKey[WallboardSource] = web.AppKey("wallboard", WallboardSource)


@require(Role.SUPERVISOR, Role.MANAGER)
async def get_wallboard(request: web.Request) -> web.Response:
    return web.json_response(await request.app[WALLBOARD].body(datetime.now(UTC)))


def add_wallboard_route(app: web.Application, desk: Desk) -> None:
    """The route, and the wallboard's source (the push channel's publisher reads it too): today's
    KPIs come from the app's report workers by queue, with the center's rules and timezone."""
    kpi = app[SETTINGS].kpi
    rules, tz = kpi.config(), ZoneInfo(kpi.timezone)

    async def by_queue(period: Period) -> dict[str, Any]:
        report, _ = await app[REPORTS].report(rules, period=period, queue=None, by="queue", tz=tz)
        return report

    today = TodayKpis(by_queue, tz)

    async def computing(app: web.Application) -> AsyncIterator[None]:
        yield
        await today.aclose()  # before the report workers go (cleanups run in reverse)

    app.cleanup_ctx.append(computing)
    app[WALLBOARD] = WallboardSource(desk.control.config, desk.control.state, today)
    app.router.add_get("/api/wallboard", get_wallboard)
