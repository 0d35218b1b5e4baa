"""Routing queued callers to agents over ARI: the ACD's imperative shell.

What to do is decided by ``strategies.match`` and ``agents.apply``; this module carries it out
on Asterisk and records every step as a call event (through the outbox):

- a caller enqueued hears music on hold; ``queue_entered`` (position, priority);
- a match claims the agent in Redis, creates the agent's channel, waits for its StasisStart,
  then dials it with the caller's id and the queue's ring timeout; ``agent_offered``;
- the agent answers: other ringing legs are cancelled, caller and agent share a mixing bridge;
  ``agent_answered`` (wait);
- the agent's leg ends before answering: ``ring_no_answer``, the agent may be auto-paused, the
  caller is offered to the next agent;
- the caller hangs up while waiting: ``abandoned`` (wait, position); ringing legs are cancelled;
- the conversation ends from either side: ``completed`` (by, talk), the agent goes to wrap-up
  and, ``wrapup_s`` later, back to ready (``wrapup_ended``);
- the maximum wait passes: ``overflowed`` into the overflow queue, or ``timed_out``.

One instance routes only the calls its own Stasis app holds; agents are shared through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cti.acd.agents import AgentStateError, Command, StateChange, agent_state_event
from cti.acd.model import AcdConfig, AgentState, Entry, QueueConfig
from cti.acd.strategies import RoundRobinMemory, leaving_empty, match, refusal
from cti.ari.client import AriClient
from cti.ari.events import ChannelDestroyed, ChannelStateChange, Dial, Event, StasisEnd, StasisStart
from cti.ari.models import Channel
from cti.errors import AriBadRequest, AriError, AriNotFound, AriUnavailable
from cti.events import CallEvent, EventKind
from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.outbox import EventOutbox

log = logging.getLogger(__name__)

AGENT_LEG = "acd-agent"  # Stasis args of an agent's channel: acd-agent,<caller channel id>
MOH_GRACE_S = 0.5  # a caller still waiting after this hears music on hold


@dataclass
class Waiting:
    """One caller in the ACD, from enqueue to the end of the conversation."""

    entry: Entry
    caller_number: str | None
    position: int
    ringing: dict[str, str] = field(default_factory=dict)  # agent channel id -> agent id
    agent: str | None = None
    agent_channel: str | None = None
    answered_at: float | None = None
    bridge_id: str | None = None
    done: bool = False
    timer: asyncio.Task[None] | None = None
    moh: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class QueueRouter:
    def __init__(
        self,
        ari: AriClient,
        app: str,
        config: AcdConfig,
        state: AcdState,
        outbox: EventOutbox,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.ari = ari
        self.app = app
        self.config = config
        self.queues = {queue.name: queue for queue in config.queues}
        self.agents = {agent.id: agent for agent in config.agents}
        self.state = state
        self.outbox = outbox
        self.clock = clock
        self.rng = rng or random.Random()
        self.calls: dict[str, Waiting] = {}  # caller channel id -> its session
        self.legs: dict[str, str] = {}  # agent channel id -> caller channel id
        self._dial_status: dict[str, str] = {}
        self._memory = RoundRobinMemory()
        self._matching = asyncio.Lock()
        self._dirty = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- entry points ---------------------------------------------------------------------
    async def enqueue(self, caller: Channel, queue_name: str, priority: int = 0) -> None:
        """Put a caller (already in our Stasis app) in line for ``queue_name``."""
        queue = self.queues.get(queue_name)
        if queue is None:
            raise ValueError(f"no queue {queue_name!r}; configured: {sorted(self.queues)}")
        session = Waiting(
            Entry(caller.id, queue_name, self.clock(), priority), caller.caller.number or None, 0
        )
        self.calls[caller.id] = session
        await self._join(session, queue)

    async def handle(self, event: Event) -> bool:
        """Carry an ARI event forward; True if it concerned the ACD."""
        if isinstance(event, StasisStart) and event.args[:1] == (AGENT_LEG,):
            await self._dial(event.channel.id)
        elif isinstance(event, Dial) and event.peer.id in self.legs:
            self._dial_status[event.peer.id] = event.dialstatus
        elif (
            isinstance(event, ChannelStateChange)
            and event.channel.id in self.legs
            and event.channel.state == "Up"
        ):
            await self._answered(event.channel.id)
        elif isinstance(event, ChannelDestroyed) and event.channel.id in self.legs:
            await self._leg_gone(event.channel.id)
        elif isinstance(event, StasisEnd | ChannelDestroyed) and event.channel.id in self.calls:
            await self._caller_gone(event.channel.id)
        else:
            return False
        return True

    def start(self, safety_pass_s: float = 5.0) -> None:
        """Listen for agents freed by any instance; also re-match now and then, in case a
        notice was missed (pub/sub does not replay what a reconnecting subscriber missed)."""
        self._spawn(self._on_ready_agents())
        self._spawn(self._every(safety_pass_s))

    async def _on_ready_agents(self) -> None:
        async with self.state.redis.pubsub() as pubsub:
            await pubsub.subscribe(self.state.ready_channel)
            async for message in pubsub.listen():
                if message.get("type") == "message" and self.calls:
                    await self.dispatch()

    async def _every(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            if self.calls:
                await self.dispatch()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- queueing -------------------------------------------------------------------------
    async def _join(self, session: Waiting, queue: QueueConfig) -> None:
        if queue.max_len or not queue.join_empty:  # the lean path skips these reads
            agents = await self.state.snapshots(self.config.agents)
            reason = refusal(queue, agents, await self.state.queue_length(queue.name))
            if reason is not None:
                await self._exit(session, queue, reason)
                return
        session.position = await self.state.enqueue(session.entry, owner=self.app)
        data = {"position": session.position, "priority": session.entry.priority}
        await self._record(EventKind.QUEUE_ENTERED, session, data=data)
        # Music on hold only for a caller who actually waits: with an idle agent the call is
        # ringing within milliseconds, and starting music for every caller would cost Asterisk a
        # media stream per call (a burst of 50 saturated this 2-core machine) and an ARI round
        # trip on the path to the agent.
        session.moh = self._spawn(self._music(session, queue.moh_class))
        session.timer = self._spawn(self._max_wait(session, queue))
        await self.dispatch()

    async def _music(self, session: Waiting, moh_class: str) -> None:
        await asyncio.sleep(MOH_GRACE_S)
        if session.bridge_id is None and not session.done:
            with contextlib.suppress(AriNotFound):
                await self.ari.start_channel_moh(session.entry.call_id, moh_class)

    async def dispatch(self) -> None:
        """Offer waiting callers to free agents; call it after every change.

        Passes are coalesced: a change that arrives while a pass runs only marks it dirty, and
        the pass runs again, so a burst of 50 callers costs a few passes, not 50. Matching and
        claiming are Redis round trips of well under a millisecond; creating the agents'
        channels (HTTP requests to Asterisk) then runs for all offers at once.
        """
        self._dirty = True
        if self._matching.locked():
            return  # the pass under way will run again and see this change
        rings: list[tuple[Waiting, str, str]] = []
        async with self._matching:
            while self._dirty:
                self._dirty = False
                rings += await self._claim_offers()
        now = self.clock()  # the claims' state changes, recorded in one round trip
        await self.outbox.record(
            *(
                agent_state_event(StateChange(a, AgentState.RINGING, "offered", now, s.entry.call_id))
                for s, a, _ in rings
            )
        )
        await asyncio.gather(
            *(self._ring(session, agent_id, channel_id) for session, agent_id, channel_id in rings)
        )

    async def _claim_offers(self) -> list[tuple[Waiting, str, str]]:
        now = self.clock()
        agents = await self.state.snapshots(self.config.agents)
        waiting = [
            s.entry for s in self.calls.values() if s.bridge_id is None and not s.ringing and not s.done
        ]
        for entry in leaving_empty(self.queues, agents, waiting):
            self._spawn(self._leave_empty(self.calls[entry.call_id]))
            waiting.remove(entry)
        pairs = [
            (self.calls[offer.entry.call_id], agent_id)
            for offer in match(self.queues, agents, waiting, now, self._memory, self.rng)
            for agent_id in offer.agents
        ]
        claimed = await self.state.claim_many([(agent_id, s.entry.call_id) for s, agent_id in pairs], now)
        rings: list[tuple[Waiting, str, str]] = []
        for (session, agent_id), won in zip(pairs, claimed, strict=True):
            if won:  # lost ones were taken by another instance meanwhile: the next pass retries
                channel_id = f"acd-{uuid.uuid4().hex[:16]}"
                session.ringing[channel_id] = agent_id
                self.legs[channel_id] = session.entry.call_id
                rings.append((session, agent_id, channel_id))
        return rings

    async def _ring(self, session: Waiting, agent_id: str, channel_id: str) -> None:
        try:
            await self.ari.create_channel(
                self.agents[agent_id].endpoint,
                app=self.app,
                channel_id=channel_id,
                app_args=f"{AGENT_LEG},{session.entry.call_id}",
                originator=session.entry.call_id,
            )
        except (AriError, AriUnavailable) as exc:
            log.warning(
                "cannot create agent %s's channel: %s", agent_id, exc, extra={"call": session.entry.call_id}
            )
            self._dial_status[channel_id] = "CHANUNAVAIL"
            await self._leg_gone(channel_id)

    async def _dial(self, channel_id: str) -> None:
        """The agent's channel is in our app: now it may be dialled (earlier gives 409)."""
        session = self._session_of_leg(channel_id)
        if session is None or channel_id not in session.ringing:
            await self._hangup(channel_id)
            return
        queue = self.queues[session.entry.queue]
        agent_id = session.ringing[channel_id]
        try:
            await self.ari.dial(
                channel_id, caller=session.entry.call_id, timeout_s=round(queue.ring_timeout_s)
            )
        except (AriError, AriUnavailable) as exc:
            log.warning("dialling agent %s failed: %s", agent_id, exc)
            return  # the channel's destruction follows and is handled as a miss
        await self._record(EventKind.AGENT_OFFERED, session, agent=agent_id)

    # --- outcomes -------------------------------------------------------------------------
    async def _answered(self, channel_id: str) -> None:
        session = self._session_of_leg(channel_id)
        if session is None:
            await self._hangup(channel_id)
            return
        async with session.lock:
            agent_id = session.ringing.pop(channel_id, None)
            if agent_id is None or session.bridge_id is not None or session.done:
                await self._hangup(channel_id)  # another agent was faster (ringall), or the caller left
                return
            now = self.clock()
            session.agent, session.agent_channel, session.answered_at = agent_id, channel_id, now
            await self._agent(agent_id, Command.ANSWER, now, call_id=session.entry.call_id)
            await self._record(
                EventKind.AGENT_ANSWERED, session, agent=agent_id, data={"wait_s": session.entry.wait_s(now)}
            )
            await self._cancel_ringing(session)
            await self._leave_queue(session)
            if session.moh is not None and not session.moh.done():
                session.moh.cancel()  # still in its grace period: no music to stop
            elif session.moh is not None:
                with contextlib.suppress(AriNotFound):
                    await self.ari.stop_channel_moh(session.entry.call_id)
            bridge = await self.ari.create_bridge(
                f"acd-{session.entry.call_id}", name=f"acd {session.entry.queue}"
            )
            session.bridge_id = bridge.id
            # The caller may hang up just as the agent answers: Asterisk then answers 400
            # "Channel not found", and the caller's StasisEnd finishes the session (by caller).
            with contextlib.suppress(AriNotFound, AriBadRequest):
                await self.ari.add_channel(bridge.id, [session.entry.call_id, channel_id])

    async def _leg_gone(self, channel_id: str) -> None:
        session = self._session_of_leg(channel_id)
        self.legs.pop(channel_id, None)
        status = self._dial_status.pop(channel_id, "")
        if session is None:
            return
        if channel_id == session.agent_channel:
            await self._finish(session, by="agent")
            return
        agent_id = session.ringing.pop(channel_id, None)
        if agent_id is None:
            return  # a leg we cancelled ourselves
        queue = self.queues[session.entry.queue]
        now = self.clock()
        await self._agent(agent_id, Command.RING_NO_ANSWER, now, auto_pause_after=queue.auto_pause_after)
        await self._record(EventKind.RING_NO_ANSWER, session, agent=agent_id, data={"dialstatus": status})
        self._spawn(self.dispatch())

    async def _caller_gone(self, call_id: str) -> None:
        session = self.calls.get(call_id)
        if session is None:
            return
        async with session.lock:
            if session.bridge_id is not None:
                await self._finish(session, by="caller")
                return
            if session.done:
                return
            session.done = True
            now = self.clock()
            data = {"wait_s": session.entry.wait_s(now), "position": session.position}
            await self._record(EventKind.ABANDONED, session, data=data)
            await self._cancel_ringing(session)
            await self._leave_queue(session)
            self.calls.pop(call_id, None)

    async def _finish(self, session: Waiting, by: str) -> None:
        """The conversation ended: tidy up both legs, the agent goes to wrap-up."""
        if session.done:
            return
        session.done = True
        now = self.clock()
        talk_s = now - (session.answered_at or now)
        await self._record(
            EventKind.COMPLETED, session, agent=session.agent, data={"by": by, "talk_s": talk_s}
        )
        for channel in (session.entry.call_id, session.agent_channel):
            if channel:
                await self._hangup(channel)
        if session.bridge_id:
            with contextlib.suppress(AriNotFound):
                await self.ari.destroy_bridge(session.bridge_id)
        self.calls.pop(session.entry.call_id, None)
        if session.agent:
            await self._agent(session.agent, Command.HANG_UP, now)
            await self.state.record_call(session.agent, talk_s)
            self._spawn(self._wrap_up(session, session.agent))

    async def _wrap_up(self, session: Waiting, agent_id: str) -> None:
        wrapup_s = self.queues[session.entry.queue].wrapup_s
        await asyncio.sleep(wrapup_s)
        await self._agent(agent_id, Command.WRAPUP_DONE, self.clock())
        await self._record(EventKind.WRAPUP_ENDED, session, agent=agent_id, data={"wrapup_s": wrapup_s})
        await self.dispatch()

    async def _max_wait(self, session: Waiting, queue: QueueConfig) -> None:
        await asyncio.sleep(queue.max_wait_s)
        async with session.lock:
            if session.bridge_id is None and not session.done:
                await self._cancel_ringing(session)
                await self._leave_queue(session, keep_timer=True)
                await self._exit(session, queue, "max_wait")

    async def _leave_empty(self, session: Waiting) -> None:
        async with session.lock:
            if session.bridge_id is None and not session.done and not session.ringing:
                await self._leave_queue(session)
                await self._exit(session, self.queues[session.entry.queue], "empty")

    async def _exit(self, session: Waiting, queue: QueueConfig, reason: str) -> None:
        """The caller may not wait here (full, empty, waited too long): overflow, or end the wait.

        Like app_queue, which leaves the queue with EXITEMPTY or EXITWITHTIMEOUT and continues
        in the dialplan: without an overflow target the wait ends as ``timed_out`` (a miss for
        the three-ring rate, neither answered nor abandoned for SL2) and the call is hung up.
        """
        if queue.overflow:
            await self._record(
                EventKind.OVERFLOWED, session, data={"target": queue.overflow, "reason": reason}
            )
            session.entry = Entry(session.entry.call_id, queue.overflow, self.clock(), session.entry.priority)
            await self._join(session, self.queues[queue.overflow])
            return
        session.done = True
        data = {"wait_s": session.entry.wait_s(self.clock()), "reason": reason}
        await self._record(EventKind.TIMED_OUT, session, data=data)
        self.calls.pop(session.entry.call_id, None)
        await self._hangup(session.entry.call_id)

    # --- helpers --------------------------------------------------------------------------
    async def _cancel_ringing(self, session: Waiting) -> None:
        legs, session.ringing = dict(session.ringing), {}
        for channel_id, agent_id in legs.items():
            self.legs.pop(channel_id, None)
            await self._hangup(channel_id)
            await self._agent(agent_id, Command.CANCEL, self.clock())
            await self._record(EventKind.OFFER_CANCELED, session, agent=agent_id)

    async def _leave_queue(self, session: Waiting, keep_timer: bool = False) -> None:
        await self.state.dequeue(session.entry)
        if session.timer is not None and not keep_timer:
            session.timer.cancel()

    async def _agent(self, agent_id: str, command: Command, now: float, **options: Any) -> None:
        try:
            change = await self.state.transition(agent_id, command, now, **options)
        except (StaleAgentState, AgentStateError) as exc:
            log.warning("agent %s: %s not applied: %s", agent_id, command, exc)
            return
        await self.outbox.record(agent_state_event(change))

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(AriNotFound):
            await self.ari.hangup(channel_id)

    def _session_of_leg(self, channel_id: str) -> Waiting | None:
        call_id = self.legs.get(channel_id)
        return self.calls.get(call_id) if call_id else None

    async def _record(
        self,
        kind: EventKind,
        session: Waiting,
        *,
        agent: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        event = CallEvent(
            kind,
            datetime.fromtimestamp(self.clock(), UTC),
            session.entry.call_id,
            queue=session.entry.queue,
            agent=agent,
            caller_number=session.caller_number,
            data=data or {},
        )
        await self.outbox.record(event)
        details = {k: round(v, 3) if isinstance(v, float) else v for k, v in (data or {}).items()}
        log.info(
            "acd: %s",
            kind.value,
            extra={"channel": event.call_id, "queue": event.queue, "agent": agent, **details},
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
