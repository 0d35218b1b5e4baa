"""Sign-in tokens: short-lived JWTs (PyJWT, HS256) that say who signed in, with which role.

A token carries sub (the login), role, agent (the ACD agent id of an agent user, else null), iat,
exp and jti. ``iat`` keeps microseconds (RFC 7519 allows a non-integer NumericDate): a password
change or a disable is stamped in microseconds (``tokens_valid_after_us``), and a token issued in
the same second but after it must live while one issued before it must not. ``exp`` is whole
seconds, which PyJWT compares exactly. Every instance of a center signs with the same
``[web] signing_key``, so any instance accepts a token any other issued.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from cti.errors import ConfigError
from cti.roles import USER_ROLES, Role

ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash


class TokenRefused(Exception):
    """A sign-in token that cannot be accepted; ``reason`` is said to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    login: str
    role: Role
    agent: str | None
    issued_at_us: int
    expires_at: int  # epoch seconds
    jti: str


class SignInTokens:
    """Issues and reads sign-in tokens. ``clock`` (epoch seconds) stamps issued tokens; reading
    checks expiry against the real time, with no leeway."""

    def __init__(self, key: str, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        if len(key.encode()) < MIN_KEY_BYTES:
            raise ConfigError("[web]", "web.signing_key", f"use at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._ttl_s = ttl_s
        self._clock = clock

    def issue(self, login: str, role: Role, agent: str | None) -> tuple[str, Claims]:
        now = self._clock()
        claims = Claims(login, role, agent, round(now * 1_000_000), int(now) + self._ttl_s, uuid.uuid4().hex)
        payload = {
            "sub": login,
            "role": role.value,
            "agent": agent,
            "iat": claims.issued_at_us / 1_000_000,
            "exp": claims.expires_at,
            "jti": claims.jti,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def read(self, token: str) -> Claims:
        """The claims of a token this center signed and that has not expired, else ``TokenRefused``."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                leeway=0,
                options={"require": ["sub", "role", "iat", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("the sign-in token has expired: sign in again") from None
        except jwt.InvalidTokenError:
            raise TokenRefused("the bearer token is not valid") from None
        role, agent, login = payload["role"], payload.get("agent"), payload["sub"]
        if (
            not isinstance(login, str)
            or role not in USER_ROLES
            or not (agent is None or isinstance(agent, str))
            or not isinstance(payload["iat"], int | float)
        ):
            raise TokenRefused("the bearer token is not valid")
        return Claims(
            login,
            Role(role),
            agent,
            round(payload["iat"] * 1_000_000),
            int(payload["exp"]),
            str(payload["jti"]),
        )
