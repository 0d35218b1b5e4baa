"""Bearer tokens with roles: every endpoint states which roles may call it."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from cti.errors import ConfigError
from cti.roles import Role as Role  # the web layer's name for it (cti.web.auth.Role)
from cti.web.problems import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKENS: web.AppKey[Mapping[str, Role]] = web.AppKey("tokens", Mapping)


def load_tokens(path: Path) -> dict[str, Role]:
    """Read "<role> <token>" lines; refuse unknown roles and short tokens, naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(str(path), "web.tokens_file", f"cannot read: {exc.strerror}") from exc
    tokens: dict[str, Role] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        where = f"{path}:{number}"
        if len(parts) != 2 or parts[0] not in Role.__members__.values():
            raise ConfigError(
                where,
                "web.tokens_file",
                f"expected '<role> <token>' with a role in {[r.value for r in Role]}",
            )
        if len(parts[1]) < 12:
            raise ConfigError(where, "web.tokens_file", "a token must have at least 12 characters")
        tokens[parts[1]] = Role(parts[0])
    return tokens


def role_of(request: web.Request, tokens: Mapping[str, Role]) -> Role | None:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    for token, role in tokens.items():  # constant-time per comparison: no timing oracle on tokens
        if hmac.compare_digest(token.encode(), presented.encode()):
            return role
    return None


def require(*roles: Role) -> Callable[[Handler], Handler]:
    """Guard a handler: 401 without a known token, 403 when its role is not among ``roles``."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            role = role_of(request, request.app[TOKENS])
            if role is None:
                raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)")
            if role not in roles:
                raise ApiError(403, f"the {role} role may not call {request.method} {request.path}")
            return await handler(request)

        return guarded

    return wrap
