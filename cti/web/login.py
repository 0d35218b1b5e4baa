"""``POST /api/login`` and ``POST /api/session/renew``: a person signs in with a password and
gets a short-lived token (``cti.web.sessions``); the desktop renews it before it expires.

The same 401 answers an unknown login and a wrong password, and both cost the same argon2 work
(``UserStore.verify``), so neither the answer nor its timing tells which logins exist. Failures
are throttled (``cti.web.throttle``): past a few, the client is told to wait (429, Retry-After)
before its password is even looked at. Neither a password nor a token is ever logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from cti.desk.users import User
from cti.roles import USER_ROLES
from cti.web.principal import PRINCIPAL, SIGN_IN, require
from cti.web.problems import ApiError
from cti.web.throttle import LoginThrottle

log = logging.getLogger(__name__)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle", LoginThrottle)
WRONG = "wrong login or password"


async def _credentials(request: web.Request) -> tuple[str, str]:
    """(login, password) from a JSON body, or a 400 naming the field that is wrong."""
    try:
        body: Any = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, 'the body must be JSON: {"login": "...", "password": "..."}') from None
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object: {"login": "...", "password": "..."}')
    values = []
    for field in ("login", "password"):
        if field not in body:
            raise ApiError(400, f"{field} is required", {"field": field})
        if not isinstance(body[field], str):
            raise ApiError(400, f"{field} must be a string", {"field": field})
        values.append(body[field])
    return values[0].strip().lower(), values[1]  # logins are lower case: "Wang.Fang" means wang.fang


def _session(request: web.Request, user: User) -> web.Response:
    token, claims = request.app[SIGN_IN].tokens.issue(user.login, user.role, user.agent)
    body = {
        "token": token,
        "expires_at": claims.expires_at,
        "user": user.login,
        "display_name": user.display_name,
        "role": user.role.value,
        "agent": user.agent,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def post_login(request: web.Request) -> web.Response:
    login, password = await _credentials(request)
    address = request.remote or "unknown"
    throttle = request.app[THROTTLE]
    wait = await throttle.wait_s(login, address)
    if wait:
        raise ApiError(
            429,
            f"too many failed sign-ins: try again in {wait} s",
            {"retry_after_s": wait},
            headers={"Retry-After": str(wait)},
        )
    user = await request.app[SIGN_IN].users.verify(login, password)
    if user is None:
        await throttle.failed(login, address)
        log.info("sign-in refused", extra={"login": login, "address": address})
        raise ApiError(401, WRONG)
    await throttle.succeeded(login)
    if user.disabled:
        raise ApiError(403, f"user {login} is disabled: ask a supervisor")
    log.info("signed in", extra={"login": login, "role": user.role.value, "address": address})
    return _session(request, user)


@require(*USER_ROLES)
async def post_renew(request: web.Request) -> web.Response:
    """A fresh token for a valid sign-in token, with the user as the store has it now."""
    principal = request[PRINCIPAL]
    if principal.expires_at is None:
        raise ApiError(403, "a machine token does not expire: there is nothing to renew")
    user = await request.app[SIGN_IN].users.find(principal.user)
    if user is None or user.disabled:
        raise ApiError(401, f"user {principal.user} can no longer sign in")
    return _session(request, user)


def add_login_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", post_login)
    app.router.add_post("/api/session/renew", post_renew)
