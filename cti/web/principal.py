"""Who a token speaks for: a machine token's role, or a signed-in user's (a JWT).

A minimal version for the push channel: the machine tokens of ``web.tokens_file`` and sign-in
tokens signed with ``web.signing_key`` (HS256; claims sub, role, agent, exp). The sign-in work
(``cti.web.principal`` of the desktop's sign-in) replaces it with the store's checks.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import jwt
from aiohttp import web

from cti.web.auth import TOKENS, Role
from cti.web.kpi import SETTINGS


@dataclass(frozen=True)
class Principal:
    user: str  # the login, or "token:<role>" for a machine token
    role: Role
    agent: str | None  # the ACD agent an agent user is bound to
    expires_at: float | None  # epoch seconds; None for machine tokens


async def authenticate(app: web.Application, token: str) -> Principal | None:
    """The principal ``token`` speaks for; None for a token that is unknown, forged or expired."""
    for known, role in app[TOKENS].items():  # constant-time per comparison
        if hmac.compare_digest(known.encode(), token.encode()):
            return Principal(f"token:{role}", role, None, None)
    key = app[SETTINGS].web.signing_key.get_secret_value()
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp", "sub", "role"]})
        role = Role(claims["role"])
    except (jwt.InvalidTokenError, ValueError):
        return None
    agent = claims.get("agent")
    return Principal(str(claims["sub"]), role, str(agent) if agent else None, float(claims["exp"]))
