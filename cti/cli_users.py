"""``cti users``: add, list, disable, enable the people who sign in to the desktop, and set their
passwords. A thin shell over ``cti.desk.users``: the store is the one in [database] url, the agent
ids an agent user may be bound to are the ACD's ([acd] config_file). A password is read from the
terminal (twice, hidden) or, for scripts, from one line of stdin; it is never printed, nor is a
hash. ``cti.cli`` registers the group; its helpers are imported when a command runs, because
``cti.cli`` imports this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cti.acd import load_acd_config
from cti.desk.demo import demo_table, ensure_demo_users
from cti.desk.users import User, UserStore, agent_names
from cti.errors import CtiError
from cti.roles import USER_ROLES
from cti.store import make_engine

if TYPE_CHECKING:
    from cti.cli import CliState

T = TypeVar("T")


def _with_store(state: CliState, work: Callable[[UserStore], Awaitable[T]]) -> T:
    """Run ``work`` on the users store of [database] url (its schema checked first)."""
    from cti.cli import _run, _store_url

    url = _store_url(state)

    async def run() -> T:
        engine = make_engine(url)
        try:
            return await work(UserStore(engine))
        finally:
            await engine.dispose()

    return _run(run())


def _agents(state: CliState) -> dict[str, str]:
    try:
        return agent_names(load_acd_config(state.settings.acd.config_file))
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _shown(user: User) -> dict[str, Any]:
    return {
        "login": user.login,
        "name": user.display_name,
        "role": user.role.value,
        "agent": user.agent,
        "disabled": user.disabled,
        "created_at": datetime.fromtimestamp(user.created_at_us / 1e6, UTC).isoformat(timespec="seconds"),
    }


@click.group()
def users() -> None:
    """The people who sign in to the desktop: agents, supervisors, managers."""


@users.command("add")
@click.argument("login")
@click.option("--role", required=True, type=click.Choice([r.value for r in USER_ROLES]))
@click.option("--agent", help="The ACD agent id an agent user signs in as (agents only).")
@click.option("--name", help="The name shown (default: the ACD agent's name, else the login).")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.pass_obj
def add(
    state: CliState, login: str, role: str, agent: str | None, name: str | None, password_stdin: bool
) -> None:
    """Add user LOGIN, with a password of at least 8 characters.

    A login is 1 to 64 of a-z, 0-9, '.', '_' and '-'; an agent user needs --agent."""
    agents = _agents(state)
    password = _password(password_stdin)
    user = _with_store(
        state, lambda store: store.add(login, role, password, agents=agents, agent=agent, display_name=name)
    )
    bound = f", agent {user.agent}" if user.agent else ""
    click.echo(f"added {user.login} ({user.display_name}): {user.role}{bound}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array.")
@click.pass_obj
def list_users(state: CliState, as_json: bool) -> None:
    """Every user (never a password or its hash)."""
    everyone = [_shown(user) for user in _with_store(state, lambda store: store.all_users())]
    if as_json:
        click.echo(json.dumps(everyone, ensure_ascii=False, indent=2))
        return
    table = Table("login", "name", "role", "agent", "status", "created")
    for user in everyone:
        status = "disabled" if user["disabled"] else "enabled"
        agent = user["agent"] or "-"
        table.add_row(user["login"], user["name"], user["role"], agent, status, user["created_at"])
    Console().print(table)


@users.command("disable")
@click.argument("login")
@click.pass_obj
def disable(state: CliState, login: str) -> None:
    """Disable LOGIN: no sign-in, and its tokens stop working now."""
    _with_store(state, lambda store: store.set_disabled(login, True))
    click.echo(f"disabled {login}: its tokens are refused from now on")


@users.command("enable")
@click.argument("login")
@click.pass_obj
def enable(state: CliState, login: str) -> None:
    """Enable LOGIN again (it signs in afresh: tokens from before stay refused)."""
    _with_store(state, lambda store: store.set_disabled(login, False))
    click.echo(f"enabled {login}")


@users.command("set-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.pass_obj
def set_password(state: CliState, login: str, password_stdin: bool) -> None:
    """A new password for LOGIN; its tokens from before stop working now."""
    password = _password(password_stdin)
    _with_store(state, lambda store: store.set_password(login, password))
    click.echo(f"new password set for {login}: its earlier tokens are refused from now on")


@users.command("demo")
@click.pass_obj
def demo(state: CliState) -> None:
    """Create the demo's users (public passwords!) where missing, and print them."""
    agents = _agents(state)
    click.echo(demo_table(_with_store(state, lambda store: ensure_demo_users(store, agents))))
