"""The roles, and the machine tokens of the tokens file (scripts, scrapers, integrations).

People sign in and carry short-lived tokens instead (``cti.web.sessions``); ``cti.web.principal``
accepts both and guards the endpoints.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from cti.errors import ConfigError
from cti.roles import Role as Role  # the web layer's name for it (cti.web.auth.Role)

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


def bearer(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    return presented


def machine_role(tokens: Mapping[str, Role], presented: str) -> Role | None:
    """The role of a token of the tokens file, or None."""
    found = None
    for token, role in tokens.items():  # constant-time per comparison: no timing oracle on tokens
        if hmac.compare_digest(token.encode(), presented.encode()):
            found = role
    return found
