"""Agents' desktop users for tests, benches and demos: the user the store keeps for a simulated
agent, and the sign-in token its desktop would have after ``POST /api/login``."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from cti.roles import Role
from cti.settings import Settings
from cti.store import schema
from cti.store.models import UserRow
from cti.web.sessions import SignInTokens


def agent_login(agent: str) -> str:
    return f"agent-{agent}"


def sign_in_token(settings: Settings, agent: str, *, ttl_s: int = 900) -> str:
    """The token the agent's user gets from ``POST /api/login``, lasting ``ttl_s`` seconds
    (negative: already expired)."""
    tokens = SignInTokens(settings.web.signing_key.get_secret_value(), ttl_s)
    return tokens.issue(agent_login(agent), Role.AGENT, agent)[0]


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
