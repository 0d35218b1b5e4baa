"""The aiohttp application: routes, error bodies, tokens. Started by ``cti.app.run_service``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cti.kpi.workers import ReportWorkers
from cti.settings import Settings
from cti.store import make_engine
from cti.web.auth import TOKENS, load_tokens
from cti.web.desktop import add_desktop_routes
from cti.web.health import VITALS, add_health_routes
from cti.web.kpi import ENGINE, REPORTS, SETTINGS, get_kpi
from cti.web.problems import problems
from cti.web.reports import add_report_routes


async def _store(app: web.Application) -> AsyncIterator[None]:
    """One database engine (and its pool) for the app's lifetime, not one per request; and the
    worker processes the KPI reports run in (``cti.kpi.workers``), off the call-handling loop."""
    settings = app[SETTINGS]
    app[ENGINE] = make_engine(settings.database.url)
    app[REPORTS] = ReportWorkers(
        settings.database.url,
        workers=settings.kpi.report_workers,
        queue_max=settings.kpi.report_queue_max,
        observe=app[VITALS].report_seconds.observe,
    )
    yield
    app[REPORTS].close()
    await app[ENGINE].dispose()


def build_web_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problems])
    app[SETTINGS] = settings
    app[TOKENS] = load_tokens(settings.web.tokens_file)
    app.cleanup_ctx.append(_store)
    app.router.add_get("/api/kpi", get_kpi)
    add_health_routes(app)
    add_report_routes(app)
    add_desktop_routes(app)
    return app
