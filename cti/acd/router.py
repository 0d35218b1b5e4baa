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
- the maximum wait passes: ``overflowed`` into the overflow queue, or ``timed_out``;
- the caller presses the queue's callback key: ``callback_requested`` (and a lead), the line is
  cleared and the entry keeps its place in Redis; when it reaches the front, any instance takes
  it, rings an agent, and once the agent answers dials the customer, exactly once
  (``mark_dialled``), and bridges them: ``callback_served``, ``customer_answered``.

What the waiting caller hears (music, announcements, the callback confirmation) is ``Lobby``'s.

One instance routes only the calls its own Stasis app holds; agents are shared through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from redis.exceptions import RedisError

from cti.acd.adoption import reconcile
from cti.acd.agents import AgentStateError, AgentStatus, Command, StateChange, agent_state_event
from cti.acd.lobby import Lobby
from cti.acd.model import AcdConfig, AgentSnapshot, AgentState, Entry, QueueConfig
from cti.acd.recovery import LiveAgent, Recall, rebuilt_agents
from cti.acd.session import AGENT_LEG, CUSTOMER_LEG, Waiting
from cti.acd.strategies import RoundRobinMemory, leaving_empty, match, refusal
from cti.ari.client import AriClient
from cti.ari.events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelStateChange,
    Dial,
    Event,
    PlaybackFinished,
    Resynced,
    StasisEnd,
    StasisStart,
)
from cti.ari.models import Channel
from cti.cancellation import raise_if_cancelling
from cti.errors import AriBadRequest, AriError, AriNotFound, AriUnavailable
from cti.events import CallEvent, EventKind, fit_caller_number
from cti.live.acd_state import AcdState, StaleAgentState
from cti.live.outbox import EventOutbox
from cti.live.owned import OwnedCalls, Reconciled
from cti.tts.renderer import Prompts

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: A number a callback may dial: digits, maybe a leading +. Caller ids can be forged; anything
#: else would go into a dial string (toll fraud).
CALLABLE_NUMBER = re.compile(r"\+?\d{3,20}")
#: How long a taken callback is this instance's before another may take it over (an instance
#: that died between taking and dialling); far longer than an agent's ring timeout.
CALLBACK_LEASE_S = 120.0
ESCALATION_MARGIN_S = 0.02
REBUILD_CLAIM_S = 30.0  # one instance rebuilds; if it dies doing so, another may after this
EARLY_CREATE_MAX = 4  # a pass with at most this many offers creates channels before the claim answers
CLOSING_CHECK_S = 0.5  # the change listener looks this often whether the router is closing
CUSTOMER_RING_S = 40  # ring the customer this long before giving the callback up
ARI_AWAY_PAUSE_S = 1.0  # Asterisk could not be reached to ring: routing pauses this long


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
        prompts: Prompts | None = None,
        recall: Callable[[], Awaitable[Recall]] | None = None,
        observe_routing: Callable[[float], None] | None = None,
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
        self.customer_legs: dict[str, str] = {}  # a callback's customer channel id -> call id
        self._dial_status: dict[str, str] = {}
        self._claims: dict[str, asyncio.Future[bool]] = {}  # agent channel id -> its claim, under way
        self._memory = RoundRobinMemory()
        self._matching = asyncio.Lock()
        self._dirty = False
        self._joining: list[Waiting] = []  # arrived since the last routing pass began
        self._view: _View | None = None  # agents and callbacks as last read; None: stale
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.lobby = Lobby(ari, state, config, prompts, self._spawn)
        self.recall = recall  # what the store remembers; None: no rebuild (tests, benches)
        self._epoch: str | None = None
        self.owned = OwnedCalls(state.redis, state.prefix, app, "acd")  # what a restart adopts
        self._in_stasis: set[str] = set()  # agent and customer legs whose StasisStart we saw
        #: Routing latency, for /metrics: seconds from the start of the pass that offered a
        #: call to the agent's dial being accepted (``_pass_started``: agent channel -> start).
        self.observe_routing = observe_routing or (lambda seconds: None)
        self._pass_started: dict[str, float] = {}
        self._ari_away_until = 0.0  # monotonic: no routing pass before (``_not_reached``)
        self._after_pause: asyncio.Task[None] | None = None

    # --- entry points ---------------------------------------------------------------------
    async def enqueue(
        self, caller: Channel, queue_name: str, priority: int = 0, language: str = "zh"
    ) -> None:
        """Put a caller (already in our Stasis app) in line for ``queue_name``; announcements
        are spoken in ``language``."""
        queue = self.queues.get(queue_name)
        if queue is None:
            raise ValueError(f"no queue {queue_name!r}; configured: {sorted(self.queues)}")
        session = Waiting(
            Entry(caller.id, queue_name, self.clock(), priority),
            fit_caller_number(caller.caller.number) or None,
            0,
            language,
        )
        self.calls[caller.id] = session
        await self._join(session, queue)

    async def handle(self, event: Event) -> bool:
        """Carry an ARI event forward; True if it concerned the ACD."""
        if isinstance(event, StasisStart) and event.args[:1] == (AGENT_LEG,):
            self._in_stasis.add(event.channel.id)
            await self._dial(event.channel.id)
        elif isinstance(event, StasisStart) and event.args[:1] == (CUSTOMER_LEG,):
            self._in_stasis.add(event.channel.id)
            await self._dial_customer(event.channel.id)
        elif _channel_of(event) in self.customer_legs:
            await self._customer_event(event)
        elif isinstance(event, PlaybackFinished):
            return await self.lobby.handle(event)
        elif isinstance(event, ChannelDtmfReceived) and event.channel.id in self.calls:
            await self._key(self.calls[event.channel.id], event.digit)
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
        """Follow the changes every instance makes; also re-match now and then, from a fresh
        view, in case a notice was missed (pub/sub does not replay what a reconnecting
        subscriber missed)."""
        self._spawn(self._on_changes())
        self._spawn(self._every(safety_pass_s))

    async def _on_changes(self) -> None:
        """Each notice makes the view of the agents stale; an agent who became ready, or a
        callback that may be served, also starts a routing pass (callers here, or callbacks
        anywhere).

        Messages are read with a timeout and ``_closing`` is checked between reads: cancelling
        a task blocked in redis-py's ``PubSub.listen()`` was seen to be swallowed (the task
        stayed "cancelling", waiting for data, and ``aclose`` never returned).
        """
        while not self._closing:  # a Redis restart drops the subscription: subscribe again
            try:
                async with self.state.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.state.changes_channel)
                    self._changed()  # whatever was said while not subscribed was missed
                    while not self._closing:
                        message = await pubsub.get_message(True, timeout=CLOSING_CHECK_S)
                        if message is None:
                            continue
                        self._changed()
                        if not str(message["data"]).startswith("agent "):
                            await self.dispatch()
            except (RedisError, OSError) as exc:
                log.warning("acd: change notices lost (%s); subscribing again", exc)
                await asyncio.sleep(1)
            except Exception:  # a routing bug must not end the listening for good
                log.exception("acd: dispatch on a change notice failed")

    def _changed(self) -> None:
        """The agents or the callbacks changed (a notice, or this instance's own write): the
        next pass reads them again."""
        self._view = None

    async def _every(self, period_s: float) -> None:
        while True:
            raise_if_cancelling()  # a library may have swallowed the cancel
            await asyncio.sleep(period_s)
            try:
                await self.recover()
                self._changed()  # the safety pass reads afresh
                await self.dispatch()  # also with no caller here: callbacks wait in Redis
            except (RedisError, OSError) as exc:  # Redis away: try again next pass
                log.warning("acd: routing pass skipped: %s", exc)
            except Exception:  # nor may a bug end the safety passes
                log.exception("acd: routing pass failed")

    async def recover(self) -> None:
        """Rebuild the live state if Redis lost it (at start, then at every safety pass).

        One instance (``claim_rebuild``) rebuilds the shared part: agents from the store and its
        own calls, pending callbacks from the store (``cti.acd.recovery``). Only then does it
        start a new epoch, on which every other instance puts its own waiting callers back in
        line and its own ringing and talking agents back to busy: after the rebuild, so the
        rebuild never overwrites them. A rebuild that fails is retried at the next pass.
        """
        if self.recall is None:
            return
        current = await self.state.epoch()
        if current is not None and current == self._epoch:
            return
        if current is None:
            if not await self.state.claim_rebuild(self.app, REBUILD_CLAIM_S):
                return  # another instance is rebuilding: its epoch will come
            try:
                recall = await self.recall()
            except Exception as exc:  # the store is away: rebuild at a later pass, calls go on
                log.error("acd: live state not rebuilt, the store did not answer: %s", exc)
                await self.state.release_rebuild(self.app)
                return
            await self._rebuild_shared(recall)
            current = uuid.uuid4().hex
            await self.state.start_epoch(current)
        elif self._epoch is None:  # this instance starts on a live state: nothing was lost
            self._epoch = current
            return
        for session in list(self.calls.values()):
            if session.waiting and not session.serving_callback:
                await self.state.enqueue(session.entry, owner=self.app)
        await self.state.restore_agents(
            AgentStatus(agent_id, live.state, self.clock(), "rebuilt", live.call_id, owner=self.app)
            for agent_id, live in self._live_agents().items()
        )
        lost = self._epoch is not None  # at this instance's first start, an empty Redis is no news
        self._epoch = current
        (log.warning if lost else log.info)(
            "acd: live state rebuilt", extra={"waiting": len(self.calls), "epoch": current, "lost": lost}
        )

    async def _rebuild_shared(self, recall: Recall) -> None:
        ids = [agent.id for agent in self.config.agents]
        await self.state.restore_agents(
            rebuilt_agents(ids, recall.agents, self._live_agents(), self.clock(), self.app)
        )
        for pending in recall.callbacks:
            if pending.entry.queue in self.queues:
                await self.state.enqueue(pending.entry, owner="")
                await self.state.request_callback(pending.entry, pending.number, pending.lead_id)
                await self.state.publish_callback(pending.entry.call_id)  # its caller left long ago

    def _live_agents(self) -> dict[str, LiveAgent]:
        """The agents this instance is ringing or talking to."""
        live: dict[str, LiveAgent] = {}
        for session in self.calls.values():
            for agent_id in session.ringing.values():
                live[agent_id] = LiveAgent(AgentState.RINGING, session.entry.call_id)
            if session.agent is not None and session.bridge_id is not None and not session.done:
                live[session.agent] = LiveAgent(AgentState.ON_CALL, session.entry.call_id)
        return live

    async def aclose(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- after a reconnect or a restart: what Asterisk holds is the truth --------------------
    async def reconcile(self, notice: Resynced) -> Reconciled:
        """Catch up with what the events did not say while away, adopt the calls this app held
        before a restart; never take a channel out of a bridge (``cti.acd.adoption``)."""
        return await reconcile(self, notice)

    # --- queueing -------------------------------------------------------------------------
    async def _join(self, session: Waiting, queue: QueueConfig) -> None:
        """Into line: the next routing pass puts the entry in Redis, in the same round trip as
        its reads, and records ``queue_entered`` beside its claims (see ``dispatch``)."""
        if queue.max_len or not queue.join_empty:  # the lean path skips these reads
            agents, length = await asyncio.gather(
                self.state.snapshots(self.config.agents), self.state.queue_length(queue.name)
            )
            reason = refusal(queue, agents, length)
            if reason is not None:
                await self._exit(session, queue, reason)
                return
        session.in_line = False
        await self._own(session)
        self._joining.append(session)
        self.lobby.enter(session, queue)
        session.timer = self._spawn(self._max_wait(session, queue))
        if len(queue.escalation) > 1:
            session.escalation = self._spawn(self._escalate(session, queue))
        await self.dispatch()

    async def dispatch(self) -> None:
        """Offer waiting callers to free agents; call it after every change.

        A pass matches from a view of the agents and the callbacks in line, read in the same
        round trip that puts the callers who arrived since the last pass in line. The view stays
        fresh until a change notice (``AcdState.changes_channel``) or this instance's own write:
        while it is, a pass skips that read, and the newcomers go in line in the claim's round
        trip instead. So a caller who finds an idle agent costs one Redis round trip before
        ringing starts, two when the view is stale; a claim that loses (the view was stale)
        makes the pass run again from a fresh read. Ringing (HTTP to Asterisk) starts at once
        for the pass's offers, while the next pass runs. Passes are coalesced: a change that
        arrives while a pass runs only marks it dirty, and the pass runs again, so a burst of 50
        callers costs a few passes, not 50.
        """
        self._dirty = True
        if self._matching.locked():
            return  # the pass under way will run again and see this change
        if time.monotonic() < self._ari_away_until:
            self._pass_after_pause()
            return
        async with self._matching:
            while self._dirty:
                self._dirty = False
                rings, entered = await self._claim_offers()
                now = self.clock()  # newcomers' queue_entered and the claims' agent state changes
                changes = [
                    StateChange(a, AgentState.RINGING, "offered", now, s.entry.call_id) for s, a, _ in rings
                ]
                if entered or changes:
                    self._spawn(self._record_events([*entered, *map(agent_state_event, changes)]))

    async def _claim_offers(self) -> tuple[list[tuple[Waiting, str, str]], list[CallEvent]]:
        """One routing pass: the rings to start, and ``queue_entered`` for the callers it put in line."""
        now, started = self.clock(), time.monotonic()
        joining, self._joining = self._joining, []
        entered: list[CallEvent] = []
        if self._view is None:
            # Held before the read: a notice during it drops this view, so the next pass reads again.
            self._view = view = _View()
            positions, view.agents, view.callback_ids = await self.state.join_and_read(
                [session.entry for session in joining], self.app, self.config.agents
            )
            entered += self._in_line(joining, positions)
            joining, agents, callback_ids = [], view.agents, view.callback_ids
        else:
            agents, callback_ids = self._view.agents, self._view.callback_ids
        pending = await self.state.callbacks_of(callback_ids, now, CALLBACK_LEASE_S)
        newcomers = {session.entry.call_id for session in joining}
        waiting = [
            s.entry
            for s in self.calls.values()
            if s.waiting and (s.in_line or s.entry.call_id in newcomers) and not s.ringing
        ]
        callbacks = {
            entry.call_id: (entry, number, lead_id)
            for entry, number, lead_id in pending
            if entry.call_id not in self.calls
        }
        waiting += [entry for entry, _, _ in callbacks.values()]
        for entry in leaving_empty(self.queues, agents, waiting):
            waiting.remove(entry)
            if entry.call_id in newcomers:  # not in line yet: the next pass, when it is
                self._dirty = True
            elif entry.call_id in self.calls:  # a callback has no line to clear: it waits for staff
                self._spawn(self._leave_empty(self.calls[entry.call_id]))
        offers = match(self.queues, agents, waiting, now, self._memory, self.rng)
        for offer in offers:
            if offer.entry.call_id in callbacks:
                await self._take_callback(*callbacks[offer.entry.call_id], now)
        legs = [
            (self.calls[offer.entry.call_id], agent_id, f"acd-{uuid.uuid4().hex[:16]}")
            for offer in offers
            if offer.entry.call_id in self.calls
            for agent_id in offer.agents
        ]
        self._pass_started.update((channel_id, started) for _, _, channel_id in legs)
        rings, positions = await self._claim(legs, joining, now)
        entered += self._in_line(joining, positions)
        for session in {s.entry.call_id: s for s, _, _ in legs}.values():
            if session.serving_callback and session.waiting and not session.ringing:
                await self._give_back(session)  # its agent went elsewhere: back to the line
        return rings, entered

    async def _claim(
        self, legs: list[tuple[Waiting, str, str]], joining: list[Waiting], now: float
    ) -> tuple[list[tuple[Waiting, str, str]], list[int]]:
        """Claim the matched agents and put the newcomers in line, in one round trip; return
        the rings (claims won) and the newcomers' positions.

        A pass with a few offers (the usual case: a caller arrives, an agent is idle) creates
        the agents' channels while the claim is under way (see ``_ring``): the request overlaps
        the round trip. A burst's pass claims first: fifty requests' worth of work on the event
        loop would hold up the claim's answer, and every dial waits for it.
        """
        early = len(legs) <= EARLY_CREATE_MAX
        for session, agent_id, channel_id in legs:
            self.legs[channel_id] = session.entry.call_id
            self._claims[channel_id] = asyncio.get_running_loop().create_future()
            if early:
                self._spawn(self._ring(session, agent_id, channel_id))
        try:
            claimed, positions = await self.state.claim_and_join(
                [
                    (agent_id, s.entry.call_id, now + self.queues[s.entry.queue].ring_timeout_s)
                    for s, agent_id, _ in legs
                ],
                now,
                [session.entry for session in joining],
                self.app,
            )
        except BaseException:  # no answer: channels created early are hung up, never dialled
            for _, _, channel_id in legs:
                self.legs.pop(channel_id, None)
                self._claims.pop(channel_id).set_result(False)
            raise
        if legs:
            self._changed()  # this pass's claims: the view is stale
        rings = self._settle_claims(legs, claimed, now)
        if not early:
            for session, agent_id, channel_id in rings:
                self._spawn(self._ring(session, agent_id, channel_id))
        return rings, positions

    def _settle_claims(
        self, legs: list[tuple[Waiting, str, str]], claimed: list[bool], now: float
    ) -> list[tuple[Waiting, str, str]]:
        """The claims' answers: a won one rings (``_dial`` waits for it), a lost one reads the
        agents again; either way the created channel learns whether to dial."""
        rings = []
        for (session, agent_id, channel_id), won in zip(legs, claimed, strict=True):
            if won and session.waiting and channel_id in self.legs:
                session.ringing[channel_id] = agent_id
                rings.append((session, agent_id, channel_id))
            elif won:  # the caller left, was answered, or the channel died meanwhile: free the agent
                self.legs.pop(channel_id, None)
                self._spawn(self._agent(agent_id, Command.CANCEL, now))
            else:  # the agent changed since the view was read (another instance): read again
                log.info("acd: agent %s changed meanwhile; matching again", agent_id)
                self.legs.pop(channel_id, None)
                self._dirty = True
            self._claims.pop(channel_id).set_result(channel_id in session.ringing)
            if channel_id not in session.ringing:
                self._pass_started.pop(channel_id, None)
        return rings

    def _in_line(self, joining: list[Waiting], positions: list[int]) -> list[CallEvent]:
        """The pass put these callers in line: their ``queue_entered``, stamped with the entry's
        own time (it may follow the caller's ``abandoned`` into the outbox; the time orders them).
        One who left meanwhile is taken out again."""
        entered = []
        for session, position in zip(joining, positions, strict=True):
            session.position, session.in_line = position, True
            data = {"position": position, "priority": session.entry.priority}
            entered.append(
                self._event(EventKind.QUEUE_ENTERED, session, data=data, at=session.entry.entered_at)
            )
            if not session.waiting:
                self._spawn(self.state.dequeue(session.entry))
        return entered

    async def _take_callback(self, entry: Entry, number: str, lead_id: str, now: float) -> None:
        """Serve a callback that reached the front, unless another instance took it first."""
        if await self.state.take_callback(entry.call_id, self.app, now, CALLBACK_LEASE_S):
            session = Waiting(
                entry, number, 0, callback_number=number, serving_callback=True, lead_id=lead_id, in_line=True
            )
            self.calls[entry.call_id] = session
            await self._own(session)

    async def _not_dialled(self, session: Waiting, agent_id: str, channel_id: str, now: float) -> None:
        """The agent answered a callback this instance no longer holds (its lease ran out and
        another instance took it, or it was dialled): free the agent, call nobody."""
        log.warning("acd: callback not ours to dial any more", extra={"channel": session.entry.call_id})
        session.done = True
        await self._forget(session)
        self.legs.pop(channel_id, None)
        await self.ari.hangup(channel_id, missing_ok=True)
        await self._agent(agent_id, Command.CANCEL, now)
        await self._record(EventKind.OFFER_CANCELED, session, agent=agent_id)
        await self._cancel_ringing(session)

    async def publish_callback(self, call_id: str, retry_s: float = 1.0, within_s: float = 600) -> None:
        """Any instance may now serve the callback; while Redis is away this is tried again
        every ``retry_s`` (a booked callback must outlast a Redis restart or freeze)."""
        try:
            await self.state.publish_callback(call_id)
            return
        except (RedisError, OSError) as exc:
            log.warning("acd: callback not published yet (%s); trying again", exc, extra={"channel": call_id})

        async def again() -> None:
            deadline = time.monotonic() + within_s
            while time.monotonic() < deadline:
                await asyncio.sleep(retry_s)
                with contextlib.suppress(RedisError, OSError):
                    await self.state.publish_callback(call_id)
                    log.warning("acd: callback published after all", extra={"channel": call_id})
                    return
            log.error("acd: callback never published: Redis away too long", extra={"channel": call_id})

        self._spawn(again())

    async def _give_back(self, session: Waiting) -> None:
        """A callback this instance took but cannot ring now: any instance may serve it."""
        await self._forget(session)
        await self.state.release_callback(session.entry.call_id)

    async def _ring(self, session: Waiting, agent_id: str, channel_id: str) -> None:
        """Create the agent's channel, maybe while the claim is under way (``_claim``): a created
        channel does not ring the agent (a Local channel runs no dialplan, a PJSIP one sends no
        INVITE, before the dial), and ``_dial`` dials it only once the claim is won. A lost
        claim costs a channel created and hung up."""
        try:
            await self.ari.create_channel(
                self.agents[agent_id].endpoint,
                app=self.app,
                channel_id=channel_id,
                app_args=f"{AGENT_LEG},{session.entry.call_id}",
                originator=None if session.serving_callback else session.entry.call_id,
            )
        except AriUnavailable as exc:  # Asterisk out of reach: not the agent's miss
            log.warning(
                "cannot reach Asterisk to ring agent %s: %s",
                agent_id,
                exc,
                extra={"call": session.entry.call_id},
            )
            if channel_id in self._claims:
                await self._claims[channel_id]
            await self._not_reached(session, agent_id, channel_id)
        except AriError as exc:
            log.warning(
                "cannot create agent %s's channel: %s", agent_id, exc, extra={"call": session.entry.call_id}
            )
            self._dial_status[channel_id] = "CHANUNAVAIL"
            if channel_id in self._claims:  # settle the claim first: a won one ends as a miss
                await self._claims[channel_id]
            await self._leg_gone(channel_id)

    def _pass_after_pause(self) -> None:
        """One routing pass once the pause for an unreachable Asterisk is over."""
        if self._after_pause is not None and not self._after_pause.done():
            return

        async def later() -> None:
            await asyncio.sleep(max(0.0, self._ari_away_until - time.monotonic()))
            await self.dispatch()

        self._after_pause = self._spawn(later())

    async def _not_reached(self, session: Waiting, agent_id: str, channel_id: str) -> None:
        """Asterisk could not be reached to ring the agent (its ARI is away): the claim is given
        back, with no miss counted (a few in a row would auto-pause a blameless agent), and the
        caller stays in line for a pass after a short pause: at once, the claim given back would
        start the next pass and spin while Asterisk is away."""
        self._ari_away_until = time.monotonic() + ARI_AWAY_PAUSE_S
        self.legs.pop(channel_id, None)
        self._pass_started.pop(channel_id, None)
        async with session.lock:
            if session.ringing.pop(channel_id, None) is None:
                return  # the claim was lost, or the ringing was cancelled meanwhile
            await self._agent(agent_id, Command.CANCEL, self.clock())
            if session.serving_callback and not session.ringing and session.agent is None:
                await self._give_back(session)

    async def _dial(self, channel_id: str) -> None:
        """The agent's channel is in our app: now it may be dialled (earlier gives 409), once
        the agent is claimed (``_ring``)."""
        if channel_id in self._claims:
            await self._claims[channel_id]
        started = self._pass_started.pop(channel_id, None)
        session = self._session_of_leg(channel_id)
        if session is None or channel_id not in session.ringing:
            await self.ari.hangup(channel_id, missing_ok=True)
            return
        queue = self.queues[session.entry.queue]
        agent_id = session.ringing[channel_id]
        try:
            await self.ari.dial(
                channel_id,
                caller=None if session.serving_callback else session.entry.call_id,
                timeout_s=round(queue.ring_timeout_s),
            )
        except (AriError, AriUnavailable) as exc:
            log.warning("dialling agent %s failed: %s", agent_id, exc)
            return  # the channel's destruction follows and is handled as a miss
        if started is not None:
            self.observe_routing(time.monotonic() - started)
        if channel_id in session.ringing:  # not cancelled while dialling (ringall: another answered)
            await self._record(EventKind.AGENT_OFFERED, session, agent=agent_id)

    # --- outcomes -------------------------------------------------------------------------
    async def _answered(self, channel_id: str) -> None:
        session = self._session_of_leg(channel_id)
        if session is None:
            await self.ari.hangup(channel_id, missing_ok=True)
            return
        async with session.lock:
            agent_id = session.ringing.pop(channel_id, None)
            if agent_id is None or session.agent is not None or session.done:
                # another agent was faster (ringall), or the caller left
                await self.ari.hangup(channel_id, missing_ok=True)
                return
            now = self.clock()
            # Answered from now on, before any await: a routing pass running meanwhile must not
            # see a callback with no agent and nobody ringing, and give it back to the line.
            session.agent, session.agent_channel, session.answered_at = agent_id, channel_id, now
            if session.serving_callback and not await self.state.mark_dialled(session.entry, self.app, now):
                await self._not_dialled(session, agent_id, channel_id, now)
                return
            await self._agent(agent_id, Command.ANSWER, now, call_id=session.entry.call_id)
            # Stamped at ``now``, the instant its wait was measured at: the agent's ring time
            # (offered -> answered stamps) ends where the caller's wait does.
            wait = {"wait_s": session.entry.wait_s(now)}
            await self._record_events(
                [self._event(EventKind.AGENT_ANSWERED, session, agent=agent_id, data=wait, at=now)]
            )
            await self._cancel_ringing(session)
            if not session.serving_callback:  # a callback left the line when it was marked dialled
                await self._leave_queue(session)
            await self.lobby.leave(session)
            bridge = await self.ari.create_bridge(
                f"acd-{session.entry.call_id}", name=f"acd {session.entry.queue}"
            )
            session.bridge_id = bridge.id
            if session.serving_callback:
                await self._call_customer(session, channel_id)
                return
            # The caller may hang up just as the agent answers: Asterisk then answers 400
            # "Channel not found", and the caller's StasisEnd finishes the session (by caller).
            with contextlib.suppress(AriNotFound, AriBadRequest):
                await self.ari.add_channel(bridge.id, [session.entry.call_id, channel_id])
            await self._own(session)  # bridged first, remembered after

    async def _leg_gone(self, channel_id: str) -> None:
        session = self._session_of_leg(channel_id)
        self.legs.pop(channel_id, None)
        self._in_stasis.discard(channel_id)
        self._pass_started.pop(channel_id, None)
        status = self._dial_status.pop(channel_id, "")
        if session is None:
            return
        async with session.lock:  # not while another leg's answer is being carried out
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
            if session.serving_callback and not session.ringing and session.agent is None:
                await self._give_back(session)
        self._spawn(self.dispatch())

    async def _caller_gone(self, call_id: str) -> None:
        session = self.calls.get(call_id)
        if session is None or session.serving_callback:
            return  # a callback being served has no caller channel: a late event of the old one
        async with session.lock:
            if session.bridge_id is not None:
                await self._finish(session, by="caller")
                return
            if session.done:
                return
            session.done = True
            await self.lobby.leave(session)
            await self._forget(session)
            if session.callback_number is not None:  # the line is clear after a callback request:
                await self.publish_callback(call_id)  # now any instance may call back
                return
            now = self.clock()
            data = {"wait_s": session.entry.wait_s(now), "position": session.position}
            await self._record(EventKind.ABANDONED, session, data=data)
            await self._cancel_ringing(session)
            await self._leave_queue(session)

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
        await self.lobby.leave(session)
        for channel in (session.entry.call_id, session.agent_channel, session.customer_channel):
            if channel:
                await self.ari.hangup(channel, missing_ok=True)
        self.customer_legs.pop(session.customer_leg, None)
        if session.bridge_id:
            with contextlib.suppress(AriNotFound):
                await self.ari.destroy_bridge(session.bridge_id)
        await self._forget(session)
        if session.agent:
            wrapup_s = self.queues[session.entry.queue].wrapup_s
            await self._agent(session.agent, Command.HANG_UP, now, until=now + wrapup_s)
            await self.state.record_call(session.agent, talk_s)
            self._spawn(self._wrap_up(session, session.agent, wrapup_s))

    async def _wrap_up(self, session: Waiting, agent_id: str, wrapup_s: float) -> None:
        """End the wrap-up on time. The deadline is also in Redis with the agent: if this
        instance dies first, another one's sweeper ends it (``cti.acd.sweeper``); whichever
        applies ``wrapup_done`` records the end, once."""
        await asyncio.sleep(wrapup_s)
        if await self._agent(agent_id, Command.WRAPUP_DONE, self.clock()):
            await self._record(EventKind.WRAPUP_ENDED, session, agent=agent_id, data={"wrapup_s": wrapup_s})
        await self.dispatch()

    async def _max_wait(self, session: Waiting, queue: QueueConfig) -> None:
        # From the entry's arrival, not from now: an adopted caller has waited already.
        await asyncio.sleep(max(0.0, queue.max_wait_s - session.entry.wait_s(self.clock())))
        async with session.lock:
            if session.bridge_id is None and not session.done:
                await self._cancel_ringing(session)
                await self._leave_queue(session, keep_timer=True)
                await self._exit(session, queue, "max_wait")

    async def _escalate(self, session: Waiting, queue: QueueConfig) -> None:
        """Match again the moment the wait reaches each escalation step (more agents qualify)."""
        for step in queue.escalation[1:]:
            delay = step.after_s - session.entry.wait_s(self.clock())
            if delay > 0:
                # The entry's clock is wall time, asyncio's is monotonic: a little margin, so the
                # pass runs just after the step, never just before it.
                await asyncio.sleep(delay + ESCALATION_MARGIN_S)
            if session.waiting:
                await self.dispatch()

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
        await self.lobby.leave(session)
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
        await self._forget(session)
        await self.ari.hangup(session.entry.call_id, missing_ok=True)

    # --- callbacks: keep the place, call back once -------------------------------------------
    async def _key(self, session: Waiting, digit: str) -> None:
        """A key from a waiting caller: the queue's callback key books a callback."""
        queue = self.queues[session.entry.queue]
        if digit != queue.callback_key or not session.waiting or session.serving_callback:
            return
        number = session.caller_number or ""
        if not CALLABLE_NUMBER.fullmatch(number):  # anonymous, or not a number: nothing to dial
            log.info("acd: callback key ignored: no number to call", extra={"channel": session.entry.call_id})
            return
        async with session.lock:
            if not session.waiting or session.entry.queue != queue.name:
                return
            lead_id = uuid.uuid4().hex
            if not await self.state.request_callback(session.entry, number, lead_id):
                log.warning("acd: callback not booked: the entry left the line", extra={"channel": number})
                return
            session.callback_number, session.lead_id = number, lead_id
            await self._cancel_ringing(session)
            for task in (session.timer, session.escalation):
                if task is not None:
                    task.cancel()
            wait_s = session.entry.wait_s(self.clock())
            data = {"position": session.position, "wait_s": wait_s, "priority": session.entry.priority}
            await self._record(EventKind.CALLBACK_REQUESTED, session, data=data, lead_id=lead_id)
            await self._record(
                EventKind.LEAD_CREATED, session, data={"source": "queue_callback"}, lead_id=lead_id
            )
            await self._own(session)  # a restart during the confirmation must know it was booked
        await self.lobby.confirm_callback(session)  # outside the lock: it may render speech

    async def _call_customer(self, session: Waiting, agent_channel: str) -> None:
        """The agent answered a callback (dialled-once flag already set): call the customer."""
        with contextlib.suppress(AriNotFound, AriBadRequest):
            await self.ari.add_channel(session.bridge_id or "", [agent_channel])
        endpoint = self.config.callback_dial.format(number=session.callback_number)
        self.customer_legs[session.customer_leg] = session.entry.call_id
        session.customer_channel = session.customer_leg
        await self._own(session)
        await self._record(
            EventKind.DIAL_STARTED,
            session,
            agent=session.agent,
            data={"to": "customer"},
            lead_id=session.lead_id,
        )
        try:
            await self.ari.create_channel(
                endpoint,
                app=self.app,
                channel_id=session.customer_leg,
                app_args=f"{CUSTOMER_LEG},{session.entry.call_id}",
            )
        except (AriError, AriUnavailable) as exc:
            log.warning(
                "acd: cannot call the customer back: %s", exc, extra={"channel": session.entry.call_id}
            )
            await self._finish(session, by="customer_unreachable")

    async def _dial_customer(self, channel_id: str) -> None:
        if channel_id not in self.customer_legs:
            await self.ari.hangup(channel_id, missing_ok=True)
            return
        try:
            await self.ari.dial(channel_id, timeout_s=CUSTOMER_RING_S)
        except (AriError, AriUnavailable) as exc:  # its destruction ends the callback as not answered
            log.warning("acd: dialling the customer failed: %s", exc, extra={"channel": channel_id})
            await self.ari.hangup(channel_id, missing_ok=True)

    async def _customer_event(self, event: Event) -> None:
        session = self.calls.get(self.customer_legs.get(_channel_of(event) or "", ""))
        if session is None:
            return
        async with session.lock:
            await self._on_customer_leg(session, event)

    async def _on_customer_leg(self, session: Waiting, event: Event) -> None:
        if session.done:
            return
        if (
            isinstance(event, ChannelStateChange)
            and event.channel.state == "Up"
            and not session.customer_answered
        ):
            session.customer_answered = True
            wait = {"wait_s": session.entry.wait_s(self.clock())}
            await self._record(
                EventKind.CALLBACK_SERVED, session, agent=session.agent, data=wait, lead_id=session.lead_id
            )
            await self._record(
                EventKind.CUSTOMER_ANSWERED, session, agent=session.agent, lead_id=session.lead_id
            )
            with contextlib.suppress(AriNotFound, AriBadRequest):
                await self.ari.add_channel(session.bridge_id or "", [event.channel.id])
            await self._own(session)
        elif isinstance(event, ChannelDestroyed):
            self.customer_legs.pop(event.channel.id, None)
            self._in_stasis.discard(event.channel.id)
            session.customer_channel = None
            await self._finish(session, by="customer" if session.customer_answered else "customer_no_answer")

    # --- helpers --------------------------------------------------------------------------
    async def _cancel_ringing(self, session: Waiting) -> None:
        legs, session.ringing = dict(session.ringing), {}
        for channel_id, agent_id in legs.items():
            self.legs.pop(channel_id, None)
            await self.ari.hangup(channel_id, missing_ok=True)
            await self._agent(agent_id, Command.CANCEL, self.clock())
            await self._record(EventKind.OFFER_CANCELED, session, agent=agent_id)

    async def _leave_queue(self, session: Waiting, keep_timer: bool = False) -> None:
        await self.state.dequeue(session.entry)
        if session.timer is not None and not keep_timer:
            session.timer.cancel()
        if session.escalation is not None:
            session.escalation.cancel()

    async def _agent(self, agent_id: str, command: Command, now: float, **options: Any) -> bool:
        """Apply ``command`` to the agent and record the change; False if it no longer applied."""
        # Stale from now on, not from the reply: the change's notice may arrive, and a pass read
        # the agents afresh on it, before the reply does.
        self._changed()
        try:
            change = await self.state.transition(agent_id, command, now, **options)
        except (StaleAgentState, AgentStateError) as exc:
            log.warning("agent %s: %s not applied: %s", agent_id, command, exc)
            return False
        await self.outbox.try_record(agent_state_event(change))
        return True

    async def _own(self, session: Waiting) -> None:
        """Remember the call in Redis for the next start (best effort: the call goes on without)."""
        try:
            await self.owned.save(session.entry.call_id, session.record())
        except (RedisError, OSError) as exc:
            log.warning(
                "acd: call not remembered for a restart: %s", exc, extra={"channel": session.entry.call_id}
            )

    async def _forget(self, session: Waiting) -> None:
        """The call left the ACD (or this instance): nothing to adopt any more."""
        self.calls.pop(session.entry.call_id, None)
        try:
            await self.owned.drop(session.entry.call_id)
        except (RedisError, OSError) as exc:
            log.warning("acd: call record not dropped: %s", exc, extra={"channel": session.entry.call_id})

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
        lead_id: str | None = None,
    ) -> None:
        await self._record_events([self._event(kind, session, agent=agent, data=data, lead_id=lead_id)])

    def _event(
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
            lead_id=lead_id,
            caller_number=session.caller_number,
            data=data or {},
        )

    async def _record_events(self, events: list[CallEvent]) -> None:
        if not events:
            return
        await self.outbox.try_record(*events)  # held in the process while Redis is away
        for event in events:
            details = {k: round(v, 3) if isinstance(v, float) else v for k, v in event.data.items()}
            log.info(
                "acd: %s",
                event.kind.value,
                extra={"channel": event.call_id, "queue": event.queue, "agent": event.agent, **details},
            )

    def _spawn(self, coroutine: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        """Forget a finished task, and say if it failed (a failure in a wrap-up timer would
        otherwise leave an agent in wrap-up without a word)."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("acd: task failed", exc_info=task.exception())


@dataclass
class _View:
    """What a routing pass matches from: the agents and the callbacks in line, as last read."""

    agents: list[AgentSnapshot] = field(default_factory=list)
    callback_ids: list[str] = field(default_factory=list)


def _channel_of(event: Event) -> str | None:
    """The channel an ARI event is about, if any."""
    channel = getattr(event, "channel", None)
    return channel.id if isinstance(channel, Channel) else None
