"""Rebuilding the ACD's live state after Redis lost it (a restart without persistence). Pure.

Three witnesses, most trusted first:

1. what the routing instance holds right now (its calls, kept current by Asterisk's events):
   an agent ringing or talking for one of them is ringing or on a call;
2. the store's last recorded state of each agent (every change is a call event): logged out,
   paused with its reason, ready;
3. nothing: an agent with no record has never logged in, so logged out.

A recorded *ringing* or *on call* that no live call backs is over (the call ended while Redis
was away): the agent is ready. A recorded *wrap-up* is cut short for the same reason: its timer
lived in the instance, not in the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cti.acd.agents import AgentStatus
from cti.acd.model import AgentState, Entry


@dataclass(frozen=True)
class RecordedState:
    """An agent's last state change as the store has it."""

    state: AgentState
    reason: str
    at: float


@dataclass(frozen=True)
class LiveAgent:
    """An agent this instance is ringing or talking to right now."""

    state: AgentState  # RINGING or ON_CALL
    call_id: str


@dataclass(frozen=True)
class PendingCallback:
    """A callback the store knows was requested and never dialled: it goes back in line."""

    entry: Entry
    number: str
    lead_id: str


@dataclass(frozen=True)
class Recall:
    """What the store remembers for a rebuild."""

    agents: Mapping[str, RecordedState]
    callbacks: tuple[PendingCallback, ...] = ()


_BUSY = (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)


def rebuilt_agents(
    agent_ids: Iterable[str],
    recorded: Mapping[str, RecordedState],
    live: Mapping[str, LiveAgent],
    now: float,
    owner: str = "",
) -> list[AgentStatus]:
    """The status to restore for each configured agent; ``owner`` is the instance whose live
    calls ``live`` describes (the sweeper must know it is alive)."""
    statuses: list[AgentStatus] = []
    for agent_id in agent_ids:
        if agent_id in live:
            busy = live[agent_id]
            statuses.append(AgentStatus(agent_id, busy.state, now, "rebuilt", busy.call_id, owner=owner))
        elif agent_id in recorded and recorded[agent_id].state not in _BUSY:
            last = recorded[agent_id]
            statuses.append(AgentStatus(agent_id, last.state, last.at, last.reason))
        elif agent_id in recorded:  # the call it was on ended while Redis was away
            statuses.append(AgentStatus(agent_id, AgentState.READY, now, "rebuilt"))
        else:
            statuses.append(AgentStatus(agent_id))
    return statuses
