"""The agent state machine: logged out, ready, ringing, on call, wrap-up, paused (with a reason).

Pure: ``apply(status, command, now)`` returns the new status and the state changes to record,
each with its reason, or raises ``AgentStateError`` for a command that makes no sense in the
current state (the router never sends one; an agent desktop might). An agent who lets
``auto_pause_after`` offers in a row ring out is paused with reason ``auto:no-answer``, so
callers stop waiting on an empty seat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from cti.acd.model import AgentState
from cti.errors import CtiError
from cti.events import CallEvent, EventKind


class AgentStateError(CtiError):
    """A command that the agent's current state does not allow."""


class Command(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    OFFER = "offer"  # the agent's phone starts ringing
    ANSWER = "answer"
    RING_NO_ANSWER = "ring_no_answer"
    CANCEL = "cancel"  # ringing stopped: the caller left, or another agent answered (ringall)
    HANG_UP = "hang_up"  # the conversation ended: wrap-up starts
    WRAPUP_DONE = "wrapup_done"


@dataclass(frozen=True)
class AgentStatus:
    agent: str
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    reason: str = ""
    call_id: str | None = None
    missed_in_row: int = 0
    #: The instance (ARI app) whose call the agent is ringing, talking or wrapping up for.
    owner: str = ""
    #: When ringing or wrap-up is over at the latest (epoch seconds; 0: no deadline). It lives
    #: with the agent so that any instance can end it if the owner dies (``cti.acd.sweeper``).
    until: float = 0.0


@dataclass(frozen=True)
class StateChange:
    agent: str
    state: AgentState
    reason: str
    at: float
    call_id: str | None = None


_ALLOWED: dict[Command, frozenset[AgentState]] = {
    Command.LOGIN: frozenset({AgentState.LOGGED_OUT}),
    Command.LOGOUT: frozenset({AgentState.READY, AgentState.PAUSED, AgentState.WRAP_UP}),
    Command.PAUSE: frozenset({AgentState.READY, AgentState.WRAP_UP}),
    Command.UNPAUSE: frozenset({AgentState.PAUSED}),
    Command.OFFER: frozenset({AgentState.READY}),
    Command.ANSWER: frozenset({AgentState.RINGING}),
    Command.RING_NO_ANSWER: frozenset({AgentState.RINGING}),
    Command.CANCEL: frozenset({AgentState.RINGING}),
    Command.HANG_UP: frozenset({AgentState.ON_CALL}),
    Command.WRAPUP_DONE: frozenset({AgentState.WRAP_UP}),
}


def _target(status: AgentStatus, command: Command, auto_pause_after: int) -> tuple[AgentState, str]:
    if command is Command.RING_NO_ANSWER and 0 < auto_pause_after <= status.missed_in_row + 1:
        return AgentState.PAUSED, "auto:no-answer"
    return {
        Command.LOGIN: (AgentState.READY, "login"),
        Command.LOGOUT: (AgentState.LOGGED_OUT, "logout"),
        Command.PAUSE: (AgentState.PAUSED, ""),
        Command.UNPAUSE: (AgentState.READY, "unpause"),
        Command.OFFER: (AgentState.RINGING, "offered"),
        Command.ANSWER: (AgentState.ON_CALL, "answered"),
        Command.RING_NO_ANSWER: (AgentState.READY, "ring-no-answer"),
        Command.CANCEL: (AgentState.READY, "offer-canceled"),
        Command.HANG_UP: (AgentState.WRAP_UP, "call-ended"),
        Command.WRAPUP_DONE: (AgentState.READY, "wrap-up-done"),
    }[command]


def apply(
    status: AgentStatus,
    command: Command,
    now: float,
    *,
    reason: str = "",
    call_id: str | None = None,
    auto_pause_after: int = 0,
    until: float = 0.0,
) -> tuple[AgentStatus, StateChange]:
    """The agent's status after ``command`` and the change to record (with its reason);
    ``until`` is the new state's deadline (wrap-up's end), none by default."""
    if status.state not in _ALLOWED[command]:
        raise AgentStateError(f"agent {status.agent}: cannot {command} while {status.state}")
    state, default_reason = _target(status, command, auto_pause_after)
    if command is Command.PAUSE and not reason:
        raise AgentStateError(f"agent {status.agent}: a pause needs a reason code")
    missed = status.missed_in_row + 1 if command is Command.RING_NO_ANSWER else status.missed_in_row
    if command in (Command.ANSWER, Command.LOGIN, Command.UNPAUSE) or state is AgentState.PAUSED:
        missed = 0
    keeps_call = state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
    new = replace(
        status,
        state=state,
        since=now,
        reason=reason or default_reason,
        call_id=(call_id or status.call_id) if keeps_call else None,
        missed_in_row=missed,
        owner=status.owner if keeps_call else "",
        until=until,
    )
    return new, StateChange(status.agent, state, new.reason, now, new.call_id)


def agent_state_event(change: StateChange) -> CallEvent:
    """The call event of a state change (agent state history, occupancy, and rebuilding Redis)."""
    return CallEvent(
        EventKind.AGENT_STATE_CHANGED,
        datetime.fromtimestamp(change.at, UTC),
        change.call_id or "",
        agent=change.agent,
        data={"state": change.state.value, "reason": change.reason},
    )
