"""GET /api/kpi: the KPI report as JSON or as the HTML page, the same as ``cti kpi report
--format json|html`` (the wallboard links each queue to its page for the day)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.kpi.html import to_html
from cti.kpi.i18n import LANGUAGES
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
FORMATS = ("json", "html")
#: A report page needs its inline styles and SVG, nothing else: no script, no fetch, no frame.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


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
    """Query: from, to (ISO dates or date-times), queue, by, ring_cycle, threshold, short_abandon;
    format (json or html) and, for html, language (zh or en; default ``[kpi] language``)."""
    settings = request.app[SETTINGS]
    tz = ZoneInfo(settings.kpi.timezone)
    by = _choice(request, "by", GROUP_BY)
    fmt = _choice(request, "format", FORMATS) or "json"
    language = _choice(request, "language", LANGUAGES) or settings.kpi.language
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
        report, agents = await request.app[REPORTS].report(
            cfg, period=period, queue=request.query.get("queue"), by=by, tz=tz, for_page=fmt == "html"
        )
    except ReportsBusy as exc:
        raise ApiError(
            503, str(exc), {"retry_after_s": RETRY_AFTER_S}, headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from exc
    if fmt == "json":
        return web.json_response(report)
    page = to_html(report, agents, targets=settings.kpi.targets(), language=language)
    headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    """The query parameter ``name`` if given, which must be one of ``allowed``."""
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise ApiError(400, f"{name} must be one of {list(allowed)}", {"parameter": name, "value": value})
    return value


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
