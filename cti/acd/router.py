"""Routing queued callers to agents over ARI: the ACD's imperative shell, and its entry.

What to do is decided by ``strategies.match`` and ``agents.apply``; the router carries it out
on Asterisk and records every step as a call event (through the outbox). ``QueueRouter`` is
the entry: it takes callers in (``enqueue``), hands each ARI event to the room that owns it,
follows the changes other instances make, runs the safety passes, and rebuilds the live state
when Redis lost it. The rooms, each sharing the router's ``Books``:

- ``cti.acd.line``: joining a queue (``queue_entered``), the maximum wait and escalation, leaving
  without an agent (``overflowed``, ``timed_out``);
- ``cti.acd.routing``: the routing passes: view, match, claim in Redis, ring (``agent_offered``);
- ``cti.acd.outcomes``: answered, ring no answer, abandoned, completed, wrap-up;
- ``cti.acd.callbacks``: the callback key, taking and serving callbacks, the customer's leg;
- ``cti.acd.adoption``: what Asterisk holds after a reconnect or a restart.

What the waiting caller hears (music, announcements, the callback confirmation) is ``Lobby``'s.

One instance routes only the calls its own Stasis app holds; agents are shared through Redis.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from redis.exceptions import RedisError

from cti.acd.adoption import reconcile
from cti.acd.agents import AgentStatus
from cti.acd.books import Books
from cti.acd.callbacks import CallbackDesk
from cti.acd.line import Line
from cti.acd.lobby import Lobby
from cti.acd.model import AcdConfig, AgentState, Entry
from cti.acd.outcomes import Outcomes
from cti.acd.recovery import LiveAgent, Recall, rebuilt_agents
from cti.acd.routing import Routing
from cti.acd.session import AGENT_LEG, CUSTOMER_LEG, Waiting
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
from cti.events import fit_caller_number
from cti.live.acd_state import AcdState
from cti.live.outbox import EventOutbox
from cti.live.owned import Reconciled
from cti.outbound.guard import DialGuard
from cti.tts.renderer import Prompts

log = logging.getLogger(__name__)

REBUILD_CLAIM_S = 30.0  # one instance rebuilds; if it dies doing so, another may after this
CLOSING_CHECK_S = 0.5  # the change listener looks this often whether the router is closing


class QueueRouter:
    """The ACD of one instance: its calls' entry, the rooms that carry them, and the loops that
    follow the other instances (change notices, safety passes, rebuilds)."""

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
        guard: DialGuard,
    ) -> None:
        self.books = books = Books(ari, app, config, state, outbox, clock)
        self.ari, self.app, self.config, self.state, self.clock = ari, app, config, state, clock
        self.outbox = outbox
        # The books' registries, by the names the call tracker, adoption and tests read.
        self.queues, self.agents, self.owned = books.queues, books.agents, books.owned
        self.calls, self.legs, self.customer_legs = books.calls, books.legs, books.customer_legs
        self.lobby = Lobby(ari, state, config, prompts, books.spawn, guard.dialable_at_all)
        # The rooms reach the routing pass and the end of a conversation through these two
        # methods: the rooms that hold them are built last, as they call on the others.
        self.line = Line(books, self.lobby, self.dispatch)
        self.callbacks = CallbackDesk(books, self.lobby, self._finish, self.dispatch, guard)
        self.outcomes = Outcomes(books, self.lobby, self.callbacks, self.dispatch)
        self.routing = Routing(
            books,
            self.line,
            self.outcomes,
            self.callbacks,
            rng or random.Random(),
            observe_routing or (lambda seconds: None),
        )
        self.recall = recall  # what the store remembers; None: no rebuild (tests, benches)
        self._epoch: str | None = None
        self._closing = False

    # --- entry points ---------------------------------------------------------------------
    async def enqueue(
        self,
        caller: Channel,
        queue_name: str,
        priority: int = 0,
        language: str = "zh",
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Put a caller (already in our Stasis app) in line for ``queue_name``; announcements
        are spoken in ``language``. ``context``: what the IVR collected ({"flow", "values"}),
        carried by ``queue_entered`` to the agent's screen-pop."""
        queue = self.queues.get(queue_name)
        if queue is None:
            raise ValueError(f"no queue {queue_name!r}; configured: {sorted(self.queues)}")
        session = Waiting(
            Entry(caller.id, queue_name, self.clock(), priority),
            fit_caller_number(caller.caller.number) or None,
            0,
            language,
            context=context,
        )
        self.calls[caller.id] = session
        await self.line.join(session, queue)

    async def handle(self, event: Event) -> bool:
        """Carry an ARI event forward to the room it concerns; True if it concerned the ACD."""
        books, channel_id = self.books, _channel_of(event)
        if isinstance(event, StasisStart) and event.args[:1] == (AGENT_LEG,):
            books.in_stasis.add(event.channel.id)
            await self.routing.dial(event.channel.id)
        elif isinstance(event, StasisStart) and event.args[:1] == (CUSTOMER_LEG,):
            books.in_stasis.add(event.channel.id)
            await self.callbacks.dial_customer(event.channel.id)
        elif channel_id is not None and channel_id in self.customer_legs:
            await self.callbacks.customer_event(channel_id, event)
        elif isinstance(event, PlaybackFinished):
            return await self.lobby.handle(event)
        elif isinstance(event, ChannelDtmfReceived) and event.channel.id in self.calls:
            await self.callbacks.key(self.calls[event.channel.id], event.digit)
        elif isinstance(event, Dial) and event.peer.id in self.legs:
            books.dial_status[event.peer.id] = event.dialstatus
        elif (
            isinstance(event, ChannelStateChange)
            and event.channel.id in self.legs
            and event.channel.state == "Up"
        ):
            await self.outcomes.answered(event.channel.id)
        elif isinstance(event, ChannelDestroyed) and event.channel.id in self.legs:
            await self.outcomes.leg_gone(event.channel.id)
        elif isinstance(event, StasisEnd | ChannelDestroyed) and event.channel.id in self.calls:
            await self.outcomes.caller_gone(event.channel.id)
        else:
            return False
        return True

    def start(self, safety_pass_s: float = 5.0) -> None:
        """Follow the changes every instance makes; also re-match now and then, from a fresh
        view, in case a notice was missed (pub/sub does not replay what a reconnecting
        subscriber missed)."""
        self.books.spawn(self._on_changes())
        self.books.spawn(self._every(safety_pass_s))

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
                    self.books.changed()  # whatever was said while not subscribed was missed
                    while not self._closing:
                        message = await pubsub.get_message(True, timeout=CLOSING_CHECK_S)
                        if message is None:
                            continue
                        self.books.changed()
                        if not str(message["data"]).startswith("agent "):
                            await self.dispatch()
            except (RedisError, OSError) as exc:
                log.warning("acd: change notices lost (%s); subscribing again", exc)
                await asyncio.sleep(1)
            except Exception:  # a routing bug must not end the listening for good
                log.exception("acd: dispatch on a change notice failed")

    async def dispatch(self) -> None:
        """A routing pass (``Routing.dispatch``); call it after every change."""
        await self.routing.dispatch()

    async def _finish(self, session: Waiting, by: str) -> None:
        await self.outcomes.finish(session, by)

    async def _every(self, period_s: float) -> None:
        while True:
            raise_if_cancelling()  # a library may have swallowed the cancel
            await asyncio.sleep(period_s)
            try:
                await self.recover()
                self.books.changed()  # the safety pass reads afresh
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
        await self.books.aclose()

    # --- after a reconnect or a restart: what Asterisk holds is the truth --------------------
    async def reconcile(self, notice: Resynced) -> Reconciled:
        """Catch up with what the events did not say while away, adopt the calls this app held
        before a restart; never take a channel out of a bridge (``cti.acd.adoption``)."""
        return await reconcile(self, notice)


def _channel_of(event: Event) -> str | None:
    """The channel an ARI event is about, if any."""
    channel = getattr(event, "channel", None)
    return channel.id if isinstance(channel, Channel) else None
