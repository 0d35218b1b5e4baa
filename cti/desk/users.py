"""The people who sign in to the desktop: agents, supervisors and managers, kept in the SQL store.

Only an argon2id hash of a password is stored (``argon2-cffi``'s ``PasswordHasher``, whose
defaults follow RFC 9106); a hash made with older parameters is replaced at the next good
sign-in, so raising the cost needs no migration. Hashing takes tens of milliseconds of CPU, so it
runs in a worker thread, off the call-handling loop. An unknown login is checked against a
throw-away hash too: the answer's timing does not tell which logins exist.

An agent user is bound to exactly one ACD agent id (the ACD's agents are configured in TOML, not
in SQL, so the caller hands in the ids it knows); the other roles have none. Disabling a user or
changing a password moves ``tokens_valid_after_us`` to now, which kills every token issued before
(``cti.web.principal`` checks it).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import AcdConfig
from cti.errors import CtiError
from cti.roles import USER_ROLES, Role
from cti.store.models import UserRow

LOGIN_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")
MIN_PASSWORD_CHARS = 8
MAX_NAME_CHARS = 128  # users.display_name


class UserError(CtiError):
    """A user cannot be added or changed as asked; the message names the login and the problem."""


@dataclass(frozen=True)
class User:
    """A user as the rest of the service sees it: never with the password's hash."""

    login: str
    display_name: str
    role: Role
    agent: str | None
    disabled: bool
    created_at_us: int
    tokens_valid_after_us: int


def check_login(login: str) -> str:
    """``login`` if it is 1-64 of a-z, 0-9, '.', '_', '-'; else ``UserError`` saying so."""
    if not LOGIN_PATTERN.fullmatch(login):
        raise UserError(f"login {login!r}: use 1 to 64 of a-z, 0-9, '.', '_' and '-'")
    return login


def check_password(login: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"user {login}: a password needs at least {MIN_PASSWORD_CHARS} characters")


def check_role(login: str, role: str, agent: str | None, agents: Mapping[str, str]) -> Role:
    """The role, checked with its binding: an agent user names a configured ACD agent id
    (``agents``: id -> name), the other roles none."""
    if role not in USER_ROLES:
        raise UserError(f"user {login}: role {role!r} is not one of {[r.value for r in USER_ROLES]}")
    if role == Role.AGENT:
        if agent is None:
            raise UserError(f"user {login}: an agent user needs --agent, the ACD agent id it signs in as")
        if agent not in agents:
            raise UserError(
                f"user {login}: agent {agent!r} is not in the ACD configuration (known: {sorted(agents)})"
            )
    elif agent is not None:
        raise UserError(f"user {login}: only an agent user is bound to an agent id, not a {role}")
    return Role(role)


def agent_names(config: AcdConfig) -> dict[str, str]:
    """The ACD's agents an agent user may be bound to: id -> name."""
    return {agent.id: agent.name for agent in config.agents}


def _user(row: Any) -> User:
    return User(
        login=row.login,
        display_name=row.display_name,
        role=Role(row.role),
        agent=row.agent_id,
        disabled=row.disabled,
        created_at_us=row.created_at_us,
        tokens_valid_after_us=row.tokens_valid_after_us,
    )


class UserStore:
    """The ``users`` table. ``clock`` (epoch seconds) stamps creation and token cut-offs."""

    def __init__(
        self,
        engine: AsyncEngine,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
        self._clock = clock

    def _now_us(self) -> int:
        return round(self._clock() * 1_000_000)

    @functools.cached_property
    def _decoy_hash(self) -> str:
        """What an unknown login's password is checked against, so that costs the same time."""
        return self._hasher.hash("no such user: a decoy so timing tells nothing")

    async def add(
        self,
        login: str,
        role: str,
        password: str,
        *,
        agents: Mapping[str, str],
        agent: str | None = None,
        display_name: str | None = None,
    ) -> User:
        """A new user; an agent's name defaults to the ACD's name for its id, others' to the login."""
        check_login(login)
        checked = check_role(login, role, agent, agents)
        check_password(login, password)
        name = display_name or (agents[agent] if agent is not None else login)
        if len(name) > MAX_NAME_CHARS:
            raise UserError(f"user {login}: a name has at most {MAX_NAME_CHARS} characters")
        if await self.find(login) is not None:
            raise UserError(f"user {login} already exists")
        if agent is not None:
            holder = await self._holder_of(agent)
            if holder is not None:
                raise UserError(f"user {login}: agent {agent} is already bound to user {holder}")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            login, name, checked, agent, disabled=False, created_at_us=self._now_us(), tokens_valid_after_us=0
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(UserRow).values(
                        login=login,
                        display_name=name,
                        role=checked.value,
                        agent_id=agent,
                        password_hash=password_hash,
                        disabled=False,
                        created_at_us=user.created_at_us,
                        tokens_valid_after_us=0,
                    )
                )
        except IntegrityError as exc:  # another command added the same login or agent meanwhile
            raise UserError(f"user {login}: the login or agent {agent} was taken meanwhile") from exc
        return user

    async def _holder_of(self, agent: str) -> str | None:
        async with self._engine.connect() as connection:
            query = select(UserRow.login).where(UserRow.agent_id == agent)
            login: str | None = (await connection.execute(query)).scalar_one_or_none()
            return login

    async def all_users(self) -> list[User]:
        """Every user, by login."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(UserRow).order_by(UserRow.login))
            return [_user(row) for row in rows]

    async def find(self, login: str) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(UserRow).where(UserRow.login == login))).first()
        return None if row is None else _user(row)

    async def set_disabled(self, login: str, disabled: bool) -> User:
        """Disable (its tokens die now) or enable a user (tokens issued before stay dead)."""
        values: dict[str, Any] = {"disabled": disabled}
        if disabled:
            values["tokens_valid_after_us"] = self._now_us()
        return await self._change(login, values)

    async def set_password(self, login: str, password: str) -> User:
        """A new password; every token issued before dies now."""
        check_password(login, password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        return await self._change(
            login, {"password_hash": password_hash, "tokens_valid_after_us": self._now_us()}
        )

    async def _change(self, login: str, values: dict[str, Any]) -> User:
        async with self._engine.begin() as connection:
            done = await connection.execute(update(UserRow).where(UserRow.login == login).values(**values))
        if done.rowcount == 0:
            raise UserError(f"no user {login!r}")
        user = await self.find(login)
        assert user is not None  # just changed; users are never deleted
        return user

    async def verify(self, login: str, password: str) -> User | None:
        """The user if ``password`` is theirs (disabled or not: the caller decides), else None.

        An unknown login costs the same argon2 work; a good password whose hash was made with
        older parameters is rehashed (unless it was changed meanwhile)."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(UserRow).where(UserRow.login == login))).first()
        stored = self._decoy_hash if row is None else row.password_hash
        if not await asyncio.to_thread(self._matches, stored, password) or row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            fresh = await asyncio.to_thread(self._hasher.hash, password)
            async with self._engine.begin() as connection:
                await connection.execute(
                    update(UserRow)
                    .where(UserRow.login == login, UserRow.password_hash == stored)
                    .values(password_hash=fresh)
                )
        return _user(row)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
