"""Who is calling: a ``Principal`` from a machine token or a sign-in token, and the guard of
every endpoint (``require``) and of the websocket (``authenticate``).

A sign-in token is accepted only while its user exists, is enabled, and changed neither password
nor state after the token was issued (``tokens_valid_after_us``). That takes the store, so what
it says of a user is kept for ``STATUS_TTL_S`` at most: a busy desktop does not cost one SQL query
per request, and a disable or a password change made by another process (``cti users``) takes
effect within that time everywhere.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from cti.desk.users import User, UserStore
from cti.web.auth import TOKENS, Role, bearer, machine_role
from cti.web.problems import ApiError
from cti.web.sessions import Claims, SignInTokens, TokenRefused

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUS_TTL_S = 5.0


@dataclass(frozen=True)
class Principal:
    user: str  # the login ("wang.fang"), or "token:<role>" for a machine token
    role: Role
    agent: str | None  # the ACD agent id an agent user is bound to ("1001"); None otherwise
    expires_at: float | None  # epoch seconds; None for machine tokens


PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


class UserCache:
    """What the store says of a user (None: no such user), remembered for ``ttl_s`` seconds."""

    def __init__(
        self, users: UserStore, ttl_s: float = STATUS_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._users = users
        self._ttl_s = ttl_s
        self._clock = clock
        self._seen: dict[str, tuple[float, User | None]] = {}

    async def get(self, login: str) -> User | None:
        now = self._clock()
        seen = self._seen.get(login)
        if seen is not None and now - seen[0] < self._ttl_s:
            return seen[1]
        user = await self._users.find(login)
        self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self._ttl_s}  # bounded
        self._seen[login] = (now, user)
        return user


@dataclass(frozen=True)
class SignIn:
    """What sign-in needs, built once per app (``cti.web.app``)."""

    tokens: SignInTokens
    users: UserStore
    cache: UserCache


SIGN_IN: web.AppKey[SignIn] = web.AppKey("sign_in", SignIn)


def still_valid(claims: Claims, user: User | None) -> bool:
    """A token's user still exists as the token says, is enabled, and did not cut its tokens off
    (a password change, a disable) after the token was issued."""
    return (
        user is not None
        and not user.disabled
        and user.role == claims.role
        and user.agent == claims.agent
        and claims.issued_at_us >= user.tokens_valid_after_us
    )


async def identify(app: web.Application, token: str | None) -> Principal:
    """The principal a token stands for, or ``ApiError(401)`` saying why not."""
    if token is None:
        raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)")
    role = machine_role(app[TOKENS], token)
    if role is not None:
        return Principal(f"token:{role}", role, None, None)
    sign_in = app[SIGN_IN]
    try:
        claims = sign_in.tokens.read(token)
    except TokenRefused as exc:
        raise ApiError(401, exc.reason) from None
    if not still_valid(claims, await sign_in.cache.get(claims.login)):
        raise ApiError(401, "the sign-in token was revoked (new password or user disabled): sign in again")
    return Principal(claims.login, claims.role, claims.agent, float(claims.expires_at))


async def authenticate(app: web.Application, token: str) -> Principal | None:
    """The principal of a token handed over another way than a header (the websocket's hello)."""
    try:
        return await identify(app, token)
    except ApiError:
        return None


def may_act_for(principal: Principal, agent_id: str) -> bool:
    """An agent acts only for the agent it is bound to (a machine token with the agent role,
    bound to none, for no agent); supervisors, managers and the api role for any."""
    if principal.role == Role.AGENT:
        return principal.agent is not None and principal.agent == agent_id
    return True


def require(*roles: Role) -> Callable[[Handler], Handler]:
    """Guard a handler: 401 without a valid token, 403 when its role is not among ``roles``;
    the handler finds the caller in ``request[PRINCIPAL]``."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = await identify(request.app, bearer(request))
            if principal.role not in roles:
                raise ApiError(403, f"the {principal.role} role may not call {request.method} {request.path}")
            request[PRINCIPAL] = principal
            return await handler(request)

        return guarded

    return wrap
