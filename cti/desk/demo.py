"""The demo's users, so ``make run`` can be signed in to at once: one agent user per configured
ACD agent (``agent1001`` / ``agent1001-demo``), ``supervisor`` / ``supervisor-demo`` and
``manager`` / ``manager-demo``. Their passwords are public (printed at start and in the README),
so only a center's demo turns this on (``[web] demo_users``).

Creating them again changes nothing: an existing user is kept as it is, its password too; the
table says whether the demo password still signs it in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cti.desk.users import LOGIN_PATTERN, UserStore
from cti.roles import Role
from cti.store import make_engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoUser:
    login: str
    password: str
    role: Role
    agent: str | None
    status: str  # created | kept | "kept, password changed" | "kept, disabled" | "skipped: ..."


def demo_logins(agents: Mapping[str, str]) -> list[tuple[str, Role, str | None]]:
    """(login, role, agent) of each demo user: the agents whose id makes a login, then the others."""
    bound = [
        (f"agent{agent}", Role.AGENT, agent) for agent in agents if LOGIN_PATTERN.fullmatch(f"agent{agent}")
    ]
    return [*bound, ("supervisor", Role.SUPERVISOR, None), ("manager", Role.MANAGER, None)]


async def ensure_demo_users(users: UserStore, agents: Mapping[str, str]) -> list[DemoUser]:
    """Create the demo users that are missing; say what became of each."""
    existing = {user.login: user for user in await users.all_users()}
    holders = {user.agent: user.login for user in existing.values() if user.agent is not None}

    async def one(login: str, role: Role, agent: str | None) -> DemoUser:
        password = f"{login}-demo"
        if login in existing:
            if existing[login].disabled:
                return DemoUser(login, password, role, agent, "kept, disabled")
            same = await users.verify(login, password) is not None
            return DemoUser(login, password, role, agent, "kept" if same else "kept, password changed")
        if agent is not None and agent in holders:
            return DemoUser(login, password, role, agent, f"skipped: agent {agent} is {holders[agent]}'s")
        await users.add(login, role, password, agents=agents, agent=agent)
        return DemoUser(login, password, role, agent, "created")

    return list(await asyncio.gather(*(one(*spec) for spec in demo_logins(agents))))


def demo_table(demo: Sequence[DemoUser]) -> str:
    """A plain text table for the log: who can sign in with which password."""
    rows = [("login", "password", "role", "agent", "")]
    for user in demo:
        password = user.password if user.status in ("created", "kept") else "-"
        rows.append((user.login, password, user.role.value, user.agent or "-", user.status))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


async def announce_demo_users(database_url: str, agents: Mapping[str, str], site: str) -> None:
    """At the demo's start: make sure the demo users exist, and log who signs in how at ``site``."""
    engine = make_engine(database_url)
    try:
        demo = await ensure_demo_users(UserStore(engine), agents)
    finally:
        await engine.dispose()
    log.info("demo users: sign in at %s\n%s", site, demo_table(demo))
