"""GET /api/kpi: the KPI report as JSON, the same as ``cti kpi report --format json``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.kpi.definitions import KpiConfig
from cti.kpi.report import GROUP_BY, make_period
from cti.kpi.service import report_from
from cti.settings import Settings
from cti.web.auth import Role, require
from cti.web.problems import ApiError

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)


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
    cfg = KpiConfig(
        ring_cycle_s=_number(request, "ring_cycle", settings.kpi.ring_cycle_s),
        threshold_s=_number(request, "threshold", settings.kpi.threshold_s),
        short_abandon_s=_number(request, "short_abandon", settings.kpi.short_abandon_s),
    )
    report, _ = await report_from(
        request.app[ENGINE], cfg, period=period, queue=request.query.get("queue"), by=by, tz=tz
    )
    return web.json_response(report)
