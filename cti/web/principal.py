"""Who is calling: the principal a guarded handler acts for.

This is the interface the agent desktop's routes are written against (``require``,
``request[PRINCIPAL]``, ``may_act_for``); sign-in tokens are not read here yet, only the
machine tokens of ``web.tokens_file``, whose principal is bound to no agent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from cti.web.auth import TOKENS, Handler, Role, role_of
from cti.web.problems import ApiError


@dataclass(frozen=True)
class Principal:
    user: str  # the login, or "token:<role>" for a machine token
    role: Role
    agent: str | None  # the ACD agent id an agent user is bound to
    expires_at: float | None  # epoch seconds; None for machine tokens


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def require(*roles: Role) -> Callable[[Handler], Handler]:
    """Guard a handler: 401 without a known token, 403 when its role is not among ``roles``;
    the handler finds the principal in ``request[PRINCIPAL]``."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            role = role_of(request, request.app[TOKENS])
            if role is None:
                raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)")
            if role not in roles:
                raise ApiError(403, f"the {role} role may not call {request.method} {request.path}")
            request[PRINCIPAL] = Principal(f"token:{role}", role, None, None)
            return await handler(request)

        return guarded

    return wrap


def may_act_for(principal: Principal, agent_id: str) -> bool:
    """An agent acts for its own agent id only; a supervisor, a manager or the api for any."""
    if principal.role is Role.AGENT:
        return principal.agent == agent_id
    return True
