"""GET /api/kpi: the KPI report as JSON, the same as ``cti kpi report --format json``."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.kpi.report import GROUP_BY, Period, make_period
from cti.kpi.workers import ReportsBusy, ReportWorkers
from cti.settings import KpiSettings, Settings
from cti.web.auth import Role
from cti.web.principal import require
from cti.web.problems import ApiError

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)
REPORTS: web.AppKey[ReportWorkers] = web.AppKey("reports", ReportWorkers)
RETRY_AFTER_S = 5  # what a busy answer asks the client to wait


def _number(request: web.Request, name: str, default: float) -> float:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ApiError(
            400, f"{name} must be a number of seconds", {"parameter": name, "value": text}
        ) from None
    if value < 0 or (name == "ring_cycle" and value == 0):
        raise ApiError(400, f"{name} must be positive", {"parameter": name, "value": text})
    return value


@require(Role.MANAGER, Role.SUPERVISOR, Role.API)
async def get_kpi(request: web.Request) -> web.Response:
    """Query: from, to (ISO dates or date-times), queue, by, ring_cycle, threshold, short_abandon."""
    settings = request.app[SETTINGS]
    tz = ZoneInfo(settings.kpi.timezone)
    by = request.query.get("by")
    if by is not None and by not in GROUP_BY:
        raise ApiError(400, f"by must be one of {list(GROUP_BY)}", {"parameter": "by", "value": by})
    try:
        period = make_period(request.query.get("from"), request.query.get("to"), tz)
    except ValueError as exc:
        raise ApiError(400, str(exc), {"parameter": "from/to"}) from exc
    period = _capped(period, settings.kpi, tz)
    cfg = settings.kpi.config(
        _number(request, "ring_cycle", settings.kpi.ring_cycle_s),
        _number(request, "threshold", settings.kpi.threshold_s),
        _number(request, "short_abandon", settings.kpi.short_abandon_s),
    )
    try:
        report = await request.app[REPORTS].report(
            cfg, period=period, queue=request.query.get("queue"), by=by, tz=tz
        )
    except ReportsBusy as exc:
        raise ApiError(
            503, str(exc), {"retry_after_s": RETRY_AFTER_S}, headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from exc
    return web.json_response(report)


def _capped(period: Period, kpi: KpiSettings, tz: ZoneInfo) -> Period:
    """The period a report may cover: an open start is ``max_period_days`` before the end (the
    report's ``period`` says so), a longer period is refused (a report's memory grows with it)."""
    end = period.end or datetime.now(tz)
    start = period.start or end - timedelta(days=kpi.max_period_days)
    if end - start > timedelta(days=kpi.max_period_days):
        raise ApiError(
            400,
            f"the period is {(end - start).days} days; a report covers at most {kpi.max_period_days}: "
            "narrow from/to",
            {"parameter": "from/to", "max_period_days": kpi.max_period_days},
        )
    return Period(start, period.end)
