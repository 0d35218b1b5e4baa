"""Agent state changes asked for by people and scripts: sign in and out, pause, unpause, ready.

The HTTP routes (``cti.web.agents``) and ``cti agent ...`` both act through ``AgentControl``,
so a change is checked, applied and recorded one way whoever asks: the choice is checked
against the ACD configuration (the agent, its queues, the pause reasons), the state machine
(``cti.acd.agents``) decides through ``AcdState.transition`` (a compare-and-set: an agent the
router claims meanwhile is read again, not overwritten), and the change is recorded through
the outbox as ``agent_state_changed`` with who asked (``by``). Routing needs no call: the
transition publishes its notice on the changes channel in the same step, and an agent who
becomes ready wakes every instance's router, as the router's own changes do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from cti.acd.agents import (
    AgentStateError,
    AgentStatus,
    Command,
    StateChange,
    agent_state_event,
    wrapup_ended_event,
)
from cti.acd.model import AcdConfig, AgentConfig, AgentState
from cti.errors import CtiError
from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.outbox import EventOutbox

STALE_RETRIES = 3  # an agent the router changed meanwhile is read again this many times


class UnknownAgent(CtiError):
    """No such agent in the ACD configuration."""


class InvalidChoice(CtiError):
    """A pause reason or a queue the configuration does not offer; ``details`` lists what it does."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


class AgentControl:
    def __init__(
        self,
        config: AcdConfig,
        state: AcdState,
        outbox: EventOutbox,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.state = state
        self.outbox = outbox
        self.clock = clock

    def agent(self, agent_id: str) -> AgentConfig:
        found = self.config.agent(agent_id)
        if found is None:
            raise UnknownAgent(f"no agent {agent_id!r} in the ACD configuration")
        return found

    async def status(self, agent_id: str) -> AgentStatus:
        self.agent(agent_id)
        status, _ = await self.state.agent(agent_id)
        return status

    async def login(self, agent_id: str, by: str, queues: Sequence[str] | None = None) -> StateChange:
        """Sign in, for ``queues`` only if given (a subset of the queues its skills serve)."""
        chosen = self._chosen(self.agent(agent_id), queues)
        return await self._apply(agent_id, Command.LOGIN, by, queues=chosen)

    async def logout(self, agent_id: str, by: str) -> StateChange:
        return await self._apply(agent_id, Command.LOGOUT, by)

    async def pause(self, agent_id: str, by: str, reason: str) -> StateChange:
        codes = [r.code for r in self.config.pause_reasons]
        if reason not in codes:
            raise InvalidChoice(
                f"unknown pause reason {reason!r}; reasons: {codes}", {"pause_reasons": codes}
            )
        return await self._apply(agent_id, Command.PAUSE, by, reason=reason)

    async def unpause(self, agent_id: str, by: str) -> StateChange:
        return await self._apply(agent_id, Command.UNPAUSE, by)

    async def ready(self, agent_id: str, by: str) -> StateChange:
        """End the wrap-up early (refused while the call's required disposition is missing)."""
        self.agent(agent_id)
        return await self._end_wrap_up(agent_id, Command.WRAPUP_DONE, by)

    async def disposed(self, agent_id: str, call_id: str, by: str) -> StateChange | None:
        """The disposition of ``call_id`` is recorded: if the agent's wrap-up waited for it, it
        may end now (past its deadline: the agent is ready at once). None if nothing waited."""
        status, _ = await self.state.agent(agent_id)
        if status.undisposed != call_id:
            return None
        return await self._end_wrap_up(agent_id, Command.DISPOSED, by)

    async def _end_wrap_up(self, agent_id: str, command: Command, by: str) -> StateChange:
        """``command`` on a wrap-up; once the agent is ready, ``wrapup_ended`` says how long it was."""
        before = await self.status(agent_id)
        change = await self._apply(agent_id, command, by)
        if change.state is AgentState.READY:
            ended = wrapup_ended_event(
                agent_id, before.call_id or "", change.at, change.at - before.since, by=by
            )
            await self.outbox.record(ended)
        return change

    def _chosen(self, agent: AgentConfig, queues: Sequence[str] | None) -> tuple[str, ...]:
        if queues is None:
            return ()
        serves = self.config.queues_of(agent)
        if not self.config.agents_choose_queues:
            raise InvalidChoice(
                "this center's agents sign in for every queue they serve ([acd] agents_choose_queues)",
                {"queues": serves},
            )
        unknown = sorted(set(queues) - set(serves))
        if unknown or not queues:
            raise InvalidChoice(
                f"agent {agent.id} cannot sign in for {unknown or 'no queue'}; its queues: {serves}",
                {"queues": serves},
            )
        return tuple(q for q in serves if q in queues)

    async def _apply(self, agent_id: str, command: Command, by: str, **options: Any) -> StateChange:
        self.agent(agent_id)
        tries = STALE_RETRIES
        while True:
            try:
                change = await self.state.transition(agent_id, command, self.clock(), by=by, **options)
            except StaleAgentState:
                tries -= 1
                if tries:
                    continue
                raise AgentStateError(f"agent {agent_id} keeps changing; try again") from None
            await self.outbox.record(agent_state_event(change))
            return change
