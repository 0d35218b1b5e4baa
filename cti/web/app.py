"""The aiohttp application: routes, error bodies, tokens, sign-in. Started by ``cti.app.run_service``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from cti.desk.users import UserStore
from cti.kpi.workers import ReportWorkers
from cti.live import connect_redis
from cti.settings import Settings
from cti.store import make_engine
from cti.web.agents import add_agent_routes
from cti.web.auth import TOKENS, load_tokens
from cti.web.campaigns import add_campaign_routes
from cti.web.customers import add_customer_routes
from cti.web.desk import Desk
from cti.web.desktop import add_desktop_routes
from cti.web.dnc import add_dnc_routes
from cti.web.health import VITALS, add_health_routes
from cti.web.kpi import ENGINE, REPORTS, SETTINGS, get_kpi
from cti.web.login import THROTTLE, add_login_routes
from cti.web.principal import SIGN_IN, SignIn, UserCache
from cti.web.problems import problems
from cti.web.reports import add_report_routes
from cti.web.sessions import SignInTokens
from cti.web.throttle import LoginThrottle
from cti.web.wallboard import add_wallboard_route


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


def _sign_in(tokens: SignInTokens) -> Callable[[web.Application], AsyncIterator[None]]:
    """Sign-in: the users store on the app's engine, and a Redis client for the throttle of
    failed sign-ins. The tokens are made before, so a bad signing key stops the start at once."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        users = UserStore(app[ENGINE])
        app[SIGN_IN] = SignIn(tokens, users, UserCache(users))
        redis = connect_redis(settings.redis.url)
        app[THROTTLE] = LoginThrottle(redis, settings.acd.redis_prefix)
        yield
        await redis.aclose()

    return context


def build_web_app(settings: Settings, desk: Desk | None = None) -> web.Application:
    """The API; with ``desk`` (the live state's), the agent desktop's routes too."""
    app = web.Application(middlewares=[problems])
    app[SETTINGS] = settings
    app[TOKENS] = load_tokens(settings.web.tokens_file)
    app.cleanup_ctx.append(_store)
    tokens = SignInTokens(settings.web.signing_key.get_secret_value(), settings.web.session_ttl_s)
    app.cleanup_ctx.append(_sign_in(tokens))
    app.router.add_get("/api/kpi", get_kpi)
    add_health_routes(app)
    add_report_routes(app)
    add_login_routes(app)
    add_customer_routes(app)
    add_dnc_routes(app)
    add_campaign_routes(app)
    if desk is not None:
        add_agent_routes(app, desk)
        add_wallboard_route(app, desk)
    add_desktop_routes(app)
    return app
