"""Agents' desktop users for tests, benches and demos: the user the store keeps for a simulated
agent, and the sign-in token its desktop would have after ``POST /api/login``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import jwt
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from cti.settings import Settings
from cti.store import schema
from cti.store.models import UserRow


def agent_login(agent: str) -> str:
    return f"agent-{agent}"


def sign_in_token(settings: Settings, agent: str, *, ttl_s: float = 900, role: str = "agent") -> str:
    """A sign-in token of the agent's user, signed with the settings' key (HS256), as the
    sign-in issues it: claims sub, role, agent, iat, exp, jti."""
    now = time.time()
    claims = {"sub": agent_login(agent), "role": role, "agent": agent, "iat": int(now) - 1}
    claims |= {"exp": now + ttl_s, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings.web.signing_key.get_secret_value(), algorithm="HS256")


def add_agent_users(database_url: str, agents: Iterable[str]) -> None:
    """The agents' users in the store (upgraded first): a sign-in token is good only for a user
    the store has. No password: these users never sign in through the page."""
    schema.upgrade(database_url)
    engine = create_engine(schema.sync_url(database_url))
    try:
        with Session(engine) as session, session.begin():
            for agent in agents:
                session.add(
                    UserRow(
                        login=agent_login(agent),
                        display_name=f"Agent {agent}",
                        role="agent",
                        agent_id=agent,
                        password_hash="!",  # no hash matches: no password signs in
                        created_at_us=0,
                    )
                )
    finally:
        engine.dispose()
