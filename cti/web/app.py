"""The aiohttp application: routes, error bodies, tokens. Started by ``cti.app.run_service``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cti.settings import Settings
from cti.store import make_engine
from cti.web.auth import TOKENS, load_tokens
from cti.web.health import add_health_routes
from cti.web.kpi import ENGINE, SETTINGS, get_kpi
from cti.web.problems import problems


async def _store(app: web.Application) -> AsyncIterator[None]:
    """One database engine (and its pool) for the app's lifetime, not one per request."""
    app[ENGINE] = make_engine(app[SETTINGS].database.url)
    yield
    await app[ENGINE].dispose()


def build_web_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problems])
    app[SETTINGS] = settings
    app[TOKENS] = load_tokens(settings.web.tokens_file)
    app.cleanup_ctx.append(_store)
    app.router.add_get("/api/kpi", get_kpi)
    add_health_routes(app)
    return app
