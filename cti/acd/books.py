"""The router's books: what one instance holds of its calls, and the verbs every room uses.

``Books`` is the state the router's rooms share (``routing``, ``line``, ``outcomes``,
``callbacks``): the sessions of the calls this instance routes and their agent and customer
legs, the view a routing pass matches from, the tasks it started. Its verbs are the ones they
all need: an agent's state change (recorded), a call event (through the outbox), a call
remembered for a restart (``OwnedCalls``) or forgotten, ringing cancelled, a caller out of line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis.exceptions import RedisError

from cti.acd.agents import AgentStateError, Command, agent_state_event
from cti.acd.model import AcdConfig, AgentSnapshot
from cti.acd.session import Waiting
from cti.acd.strategies import RoundRobinMemory
from cti.ari.client import AriClient
from cti.events import CallEvent, EventKind
from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.outbox import EventOutbox
from cti.live.owned import OwnedCalls

log = logging.getLogger("cti.acd.router")
_T = TypeVar("_T")


@dataclass
class View:
    """What a routing pass matches from: the agents and the callbacks in line, and the
    round-robin queues' memory (shared by every instance), as last read."""

    agents: list[AgentSnapshot] = field(default_factory=list)
    callback_ids: list[str] = field(default_factory=list)
    rotation: RoundRobinMemory = field(default_factory=RoundRobinMemory)


class Books:
    """The calls one router holds, and the bookkeeping every step of theirs does."""

    def __init__(
        self,
        ari: AriClient,
        app: str,
        config: AcdConfig,
        state: AcdState,
        outbox: EventOutbox,
        clock: Callable[[], float],
    ) -> None:
        self.ari = ari
        self.app = app
        self.config = config
        self.queues = {queue.name: queue for queue in config.queues}
        self.agents = {agent.id: agent for agent in config.agents}
        self.state = state
        self.outbox = outbox
        self.clock = clock
        self.calls: dict[str, Waiting] = {}  # caller channel id -> its session
        self.legs: dict[str, str] = {}  # agent channel id -> caller channel id
        self.customer_legs: dict[str, str] = {}  # a callback's customer channel id -> call id
        self.dial_status: dict[str, str] = {}
        self.in_stasis: set[str] = set()  # agent and customer legs whose StasisStart we saw
        self.joining: list[Waiting] = []  # arrived since the last routing pass began
        self.view: View | None = None  # agents and callbacks as last read; None: stale
        #: Routing latency, for /metrics: seconds from the start of the pass that offered a
        #: call to the agent's dial being accepted (agent channel -> the pass's start).
        self.pass_started: dict[str, float] = {}
        self.owned = OwnedCalls(state.redis, state.prefix, app, "acd")  # what a restart adopts
        self.tasks: set[asyncio.Task[Any]] = set()

    def changed(self) -> None:
        """The agents or the callbacks changed (a notice, or this instance's own write): the
        next pass reads them again."""
        self.view = None

    def session_of_leg(self, channel_id: str) -> Waiting | None:
        call_id = self.legs.get(channel_id)
        return self.calls.get(call_id) if call_id else None

    async def agent(self, agent_id: str, command: Command, now: float, **options: Any) -> bool:
        """Apply ``command`` to the agent and record the change; False if it no longer applied."""
        # Stale from now on, not from the reply: the change's notice may arrive, and a pass read
        # the agents afresh on it, before the reply does.
        self.changed()
        try:
            change = await self.state.transition(agent_id, command, now, **options)
        except (StaleAgentState, AgentStateError) as exc:
            log.warning("agent %s: %s not applied: %s", agent_id, command, exc)
            return False
        await self.outbox.try_record(agent_state_event(change))
        return True

    async def cancel_ringing(self, session: Waiting) -> None:
        legs, session.ringing = dict(session.ringing), {}
        for channel_id, agent_id in legs.items():
            self.legs.pop(channel_id, None)
            await self.ari.hangup(channel_id, missing_ok=True)
            await self.agent(agent_id, Command.CANCEL, self.clock())
            await self.record(EventKind.OFFER_CANCELED, session, agent=agent_id, data={"offer": channel_id})

    async def leave_queue(self, session: Waiting, keep_timer: bool = False) -> None:
        await self.state.dequeue(session.entry)
        if session.timer is not None and not keep_timer:
            session.timer.cancel()
        if session.escalation is not None:
            session.escalation.cancel()

    # --- what a restart adopts ----------------------------------------------------------------
    async def own(self, session: Waiting) -> None:
        """Remember the call in Redis for the next start (best effort: the call goes on without)."""
        try:
            await self.owned.save(session.entry.call_id, session.record())
        except (RedisError, OSError) as exc:
            log.warning(
                "acd: call not remembered for a restart: %s", exc, extra={"channel": session.entry.call_id}
            )

    async def forget(self, session: Waiting) -> None:
        """The call left the ACD (or this instance): nothing to adopt any more."""
        self.calls.pop(session.entry.call_id, None)
        try:
            await self.owned.drop(session.entry.call_id)
        except (RedisError, OSError) as exc:
            log.warning("acd: call record not dropped: %s", exc, extra={"channel": session.entry.call_id})

    # --- call events ----------------------------------------------------------------------------
    async def record(
        self,
        kind: EventKind,
        session: Waiting,
        *,
        agent: str | None = None,
        data: dict[str, Any] | None = None,
        lead_id: str | None = None,
    ) -> None:
        await self.record_events([self.event(kind, session, agent=agent, data=data, lead_id=lead_id)])

    def event(
        self,
        kind: EventKind,
        session: Waiting,
        *,
        agent: str | None = None,
        data: dict[str, Any] | None = None,
        lead_id: str | None = None,
        at: float | None = None,
    ) -> CallEvent:
        return CallEvent(
            kind,
            datetime.fromtimestamp(self.clock() if at is None else at, UTC),
            session.entry.call_id,
            queue=session.entry.queue,
            agent=agent,
            lead_id=lead_id or session.lead_id,  # a callback's or an outbound call's lead
            caller_number=session.caller_number,
            data=data or {},
        )

    async def record_events(self, events: list[CallEvent]) -> None:
        if not events:
            return
        await self.outbox.try_record(*events)  # held in the process while Redis is away
        for event in events:
            details = {  # not the IVR's collected values (a customer's name, say): the log is no CRM
                k: round(v, 3) if isinstance(v, float) else v for k, v in event.data.items() if k != "ivr"
            }
            log.info(
                "acd: %s",
                event.kind.value,
                extra={"channel": event.call_id, "queue": event.queue, "agent": event.agent, **details},
            )

    # --- tasks ------------------------------------------------------------------------------------
    def spawn(self, coroutine: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        """Forget a finished task, and say if it failed (a failure in a wrap-up timer would
        otherwise leave an agent in wrap-up without a word)."""
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("acd: task failed", exc_info=task.exception())

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
