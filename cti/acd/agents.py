"""The agent state machine: logged out, ready, ringing, on call, wrap-up, paused (with a reason).

Pure: ``apply(status, command, now)`` returns the new status and the state changes to record,
each with its reason, or raises ``AgentStateError`` for a command that makes no sense in the
current state (the router never sends one; an agent desktop might). An agent who lets
``auto_pause_after`` offers in a row ring out is paused with reason ``auto:no-answer``, so
callers stop waiting on an empty seat.

Who asked for a change (``by``: "auto" for the ACD's own, "agent:<login>", "supervisor:<login>",
"api", "cli"...) rides along unread, so the recorded event says it. An agent may sign in for some
of its queues only (``queues``: empty means every queue its skills serve). A queue may require a
disposition before ready: the call is then ``undisposed`` from the hang-up, ending the wrap-up is
refused until ``DISPOSED`` clears it, and a disposition after the wrap-up's deadline makes the
agent ready at once.
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
    DISPOSED = "disposed"  # the call's required disposition is recorded


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
    #: The queues the agent signed in for (empty: every queue its skills serve).
    queues: tuple[str, ...] = ()
    #: The call whose disposition its queue requires before the agent is ready again ('' : none).
    undisposed: str = ""


@dataclass(frozen=True)
class StateChange:
    agent: str
    state: AgentState
    reason: str
    at: float
    call_id: str | None = None
    by: str = "auto"
    #: The new state's deadline (epoch seconds; 0: none), e.g. the end of the wrap-up.
    until: float = 0.0
    #: The new state waits for this call's disposition before ready ('': for none).
    undisposed: str = ""


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
    Command.DISPOSED: frozenset({AgentState.WRAP_UP}),
}


def _target(
    status: AgentStatus, command: Command, now: float, auto_pause_after: int
) -> tuple[AgentState, str]:
    if command is Command.RING_NO_ANSWER and 0 < auto_pause_after <= status.missed_in_row + 1:
        return AgentState.PAUSED, "auto:no-answer"
    if command is Command.DISPOSED and now < status.until:  # the wrap-up goes on to its deadline
        return AgentState.WRAP_UP, "disposed"
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
        Command.DISPOSED: (AgentState.READY, "wrap-up-done"),
    }[command]


def _refusal(status: AgentStatus, command: Command, reason: str) -> str | None:
    """Why ``command`` cannot apply now, beyond the states it starts from."""
    if status.state not in _ALLOWED[command]:
        return f"cannot {command} while {status.state}"
    if command is Command.PAUSE and not reason:
        return "a pause needs a reason code"
    if command in (Command.WRAPUP_DONE, Command.PAUSE) and status.undisposed:
        return f"call {status.undisposed} needs a disposition before the wrap-up ends"
    if command is Command.DISPOSED and not status.undisposed:
        return "no call waits for a disposition"
    return None


def _queues(
    status: AgentStatus, command: Command, state: AgentState, chosen: tuple[str, ...]
) -> tuple[str, ...]:
    """A login chooses the queues; they hold until the logout."""
    if command is Command.LOGIN:
        return chosen
    return () if state is AgentState.LOGGED_OUT else status.queues


def _undisposed(
    status: AgentStatus, command: Command, state: AgentState, call_id: str | None, required: bool
) -> str:
    """A hang-up in a queue that requires a disposition marks the call; the disposition, or
    leaving the wrap-up otherwise (a logout), clears it."""
    if command is Command.HANG_UP:
        return (call_id or status.call_id or "") if required else ""
    if command is Command.DISPOSED or state is not AgentState.WRAP_UP:
        return ""
    return status.undisposed


def apply(
    status: AgentStatus,
    command: Command,
    now: float,
    *,
    reason: str = "",
    call_id: str | None = None,
    auto_pause_after: int = 0,
    until: float = 0.0,
    by: str = "auto",
    queues: tuple[str, ...] = (),
    disposition_required: bool = False,
) -> tuple[AgentStatus, StateChange]:
    """The agent's status after ``command`` and the change to record (with its reason and
    ``by``); ``until`` is the new state's deadline (wrap-up's end), none by default; ``queues``
    the ones a login chooses; ``disposition_required``: a hang-up's call needs a disposition
    before ready."""
    refusal = _refusal(status, command, reason)
    if refusal is not None:
        raise AgentStateError(f"agent {status.agent}: {refusal}")
    state, default_reason = _target(status, command, now, auto_pause_after)
    missed = status.missed_in_row + 1 if command is Command.RING_NO_ANSWER else status.missed_in_row
    if command in (Command.ANSWER, Command.LOGIN, Command.UNPAUSE) or state is AgentState.PAUSED:
        missed = 0
    keeps_call = state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
    staying = state is status.state  # disposed before the wrap-up's deadline: it keeps its times
    new = replace(
        status,
        state=state,
        since=status.since if staying else now,
        reason=reason or default_reason,
        call_id=(call_id or status.call_id) if keeps_call else None,
        missed_in_row=missed,
        owner=status.owner if keeps_call else "",
        until=status.until if staying else until,
        queues=_queues(status, command, state, queues),
        undisposed=_undisposed(status, command, state, call_id, disposition_required),
    )
    return new, StateChange(status.agent, state, new.reason, now, new.call_id, by, new.until, new.undisposed)


def agent_state_event(change: StateChange) -> CallEvent:
    """The call event of a state change (agent state history, occupancy, and rebuilding Redis);
    with the state's deadline (``until``, epoch seconds) and ``disposition_required`` when it
    has them, so a desktop shows the wrap-up's countdown and why Ready waits."""
    data: dict[str, object] = {"state": change.state.value, "reason": change.reason, "by": change.by}
    if change.until:
        data["until"] = change.until
    if change.undisposed:
        data["disposition_required"] = True
    return CallEvent(
        EventKind.AGENT_STATE_CHANGED,
        datetime.fromtimestamp(change.at, UTC),
        change.call_id or "",
        agent=change.agent,
        data=data,
    )


def wrapup_ended_event(agent: str, call_id: str, at: float, wrapup_s: float, **data: object) -> CallEvent:
    """``wrapup_ended`` of a wrap-up ended by anyone but the call's own router (a sweeper, the
    agent ending it early, the disposition it waited for): the KPIs read its ``wrapup_s``."""
    return CallEvent(
        EventKind.WRAPUP_ENDED,
        datetime.fromtimestamp(at, UTC),
        call_id,
        agent=agent,
        data={"wrapup_s": round(wrapup_s, 3), **data},
    )
