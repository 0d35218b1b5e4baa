"""``cti agent ...``: agents' state for scripts and the shift lead's terminal.

Registered on the ``cti`` group by cti/cli.py (``cli.add_command(agent)``). The commands act on
the live state in Redis directly (no running service needed) through ``AgentControl``, the
same checks and records as the HTTP routes, with by "cli"; the events go through the outbox,
so a running service's drainer stores them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cti.acd.agents import StateChange
from cti.acd.model import load_acd_config
from cti.desk.agent_control import AgentControl
from cti.desk.agent_view import agent_summary
from cti.errors import CtiError
from cti.live import AcdState, EventOutbox, connect_redis
from cti.settings import Settings

T = TypeVar("T")
BY = "cli"


class _HasSettings(Protocol):
    """cti.cli's ``CliState`` (not imported: cti.cli imports this module)."""

    @property
    def settings(self) -> Settings: ...


def _with_control(state: _HasSettings, act: Callable[[AgentControl], Awaitable[T]]) -> T:
    """Run ``act`` on an ``AgentControl`` over the settings' Redis and ACD configuration; a
    refusal (unknown agent or reason, a state that forbids it) is the command's error."""
    settings = state.settings

    async def run() -> T:
        redis = connect_redis(settings.redis.url)
        outbox = EventOutbox(redis, settings.redis.outbox_stream)
        try:
            config = load_acd_config(settings.acd.config_file)
            return await act(AgentControl(config, AcdState(redis, settings.acd.redis_prefix), outbox))
        finally:
            await outbox.aclose()
            await redis.aclose()

    try:
        return asyncio.run(run())
    except CtiError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def agent() -> None:
    """Sign agents in and out, pause and unpause them, end a wrap-up; list every agent's state."""


def _report(command: str, change: StateChange) -> None:
    click.echo(f"agent {change.agent}: {command} -> {change.state.value} ({change.reason})")


@agent.command("login")
@click.argument("agent_id")
@click.option("--queues", help="Comma-separated queues to sign in for (default: every queue it serves).")
@click.pass_obj
def login(state: _HasSettings, agent_id: str, queues: str | None) -> None:
    """Sign AGENT_ID in (ready)."""
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues is not None else None
    change = _with_control(state, lambda control: control.login(agent_id, BY, chosen))
    _report("login", change)


@agent.command("pause")
@click.argument("agent_id")
@click.option(
    "--reason", required=True, help="A pause reason code of the ACD configuration (break, lunch...)."
)
@click.pass_obj
def pause(state: _HasSettings, agent_id: str, reason: str) -> None:
    """Pause AGENT_ID with a reason."""
    change = _with_control(state, lambda control: control.pause(agent_id, BY, reason))
    _report("pause", change)


def _plain(name: str, doc: str, act: Callable[[AgentControl, str, str], Awaitable[StateChange]]) -> None:
    """A command that takes the agent id only: logout, unpause, ready."""

    @agent.command(name, help=doc)
    @click.argument("agent_id")
    @click.pass_obj
    def command(state: _HasSettings, agent_id: str) -> None:
        change = _with_control(state, lambda control: act(control, agent_id, BY))
        _report(name, change)


_plain("logout", "Sign AGENT_ID out.", AgentControl.logout)
_plain("unpause", "Unpause AGENT_ID (also after an automatic pause).", AgentControl.unpause)
_plain(
    "ready",
    "End AGENT_ID's wrap-up now (refused while a required disposition is missing).",
    AgentControl.ready,
)


@agent.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per agent.")
@click.pass_obj
def list_agents(state: _HasSettings, as_json: bool) -> None:
    """Every configured agent's state, reason, since when and chosen queues."""

    async def read(control: AgentControl) -> list[dict[str, Any]]:
        agents = control.config.agents
        statuses = await control.state.agents([a.id for a in agents])
        return [agent_summary(a, s) for a, (s, _) in zip(agents, statuses, strict=True)]

    rows = _with_control(state, read)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table("agent", "name", "state", "reason", "since", "queues")
    for row in rows:
        queues = ",".join(row["chosen_queues"]) or "all"
        table.add_row(*(str(row[k] or "") for k in ("agent", "name", "state", "reason", "since")), queues)
    Console().print(table)
