"""The aiohttp application: routes, error bodies, tokens. Started by ``cti.app.run_service``."""

from __future__ import annotations

from aiohttp import web

from cti.settings import Settings
from cti.web.auth import TOKENS, load_tokens
from cti.web.kpi import SETTINGS, get_kpi
from cti.web.problems import problems


def build_web_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problems])
    app[SETTINGS] = settings
    app[TOKENS] = load_tokens(settings.web.tokens_file)
    app.router.add_get("/api/kpi", get_kpi)
    return app
