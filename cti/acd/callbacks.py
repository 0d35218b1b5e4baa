"""The callback desk: keep the caller's place, call back once.

A waiting caller who presses the queue's callback key books a callback (``callback_requested``
and a lead): the line is cleared and the entry keeps its place in Redis. When it reaches the
front, any instance takes it (a lease, ``take``), rings an agent, and once the agent answers
(the entry marked dialled, so exactly once) dials the customer and bridges them
(``callback_served``, ``customer_answered``). ``CallbackDesk`` carries all of that out, and
follows the customer's leg to its end.

Caller ids can be forged: the number goes through the dial guard (``cti.outbound.guard``, the
dialer's too) three times. When the key is pressed (``admit``): a number that may not be called
books nothing, the caller hears so and keeps waiting. When the callback reaches the front
(``admit`` again: the do-not-call list, the calling hours and the limits may say otherwise by
then), before any agent is rung: refused, it leaves the line (its lead's ``dial_refused`` says
why and when it may be tried again); a guard that could not check keeps the lease, so the
callback is looked at again when the lease runs out. Just before the dial (``take``, which counts
the call): refused, the callback ends (``completed``, by ``dial_refused``) and its agent is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from redis.exceptions import RedisError

from cti.acd.agents import Command
from cti.acd.books import Books
from cti.acd.lobby import Lobby
from cti.acd.model import Entry
from cti.acd.session import CUSTOMER_LEG, Waiting
from cti.ari.events import ChannelDestroyed, ChannelStateChange, Event
from cti.errors import AriBadRequest, AriError, AriNotFound, AriUnavailable
from cti.events import EventKind
from cti.outbound.guard import DialGuard
from cti.outbound.refusal import Refusal, Rule

log = logging.getLogger("cti.acd.router")

#: How long a taken callback is this instance's before another may take it over (an instance
#: that died between taking and dialling); far longer than an agent's ring timeout.
CALLBACK_LEASE_S = 120.0


def _moment(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class CallbackDesk:
    def __init__(
        self,
        books: Books,
        lobby: Lobby,
        finish: Callable[[Waiting, str], Awaitable[None]],
        route: Callable[[], Awaitable[None]],
        guard: DialGuard,
    ) -> None:
        self.books = books
        self.lobby = lobby
        self.finish = finish  # the conversation ended (``Outcomes.finish``)
        self.route = route  # a routing pass (``QueueRouter.dispatch``)
        self.guard = guard

    async def key(self, session: Waiting, digit: str) -> None:
        """A key from a waiting caller: the queue's callback key books a callback."""
        books = self.books
        queue = books.queues[session.entry.queue]
        if digit != queue.callback_key or not session.waiting or session.serving_callback:
            return
        number = session.caller_number or ""
        if not number:  # anonymous: nothing to call back
            log.info("acd: callback key ignored: no number to call", extra={"channel": session.entry.call_id})
            return
        async with session.lock:
            if not session.waiting or session.entry.queue != queue.name:
                return
            verdict = await self.guard.admit(
                number, lead_id=None, campaign=None, now=_moment(books.clock()), call_id=session.entry.call_id
            )
            refused = isinstance(verdict, Refusal)
            if not refused:
                await self._book(session, number)
        if refused:  # outside the lock, as the confirmation: it may render speech
            await self.lobby.refuse_callback(session)
        elif session.callback_number is not None:
            await self.lobby.confirm_callback(session)

    async def _book(self, session: Waiting, number: str) -> None:
        """The caller's place in line becomes a callback to ``number`` (and a lead)."""
        books = self.books
        lead_id = uuid.uuid4().hex
        if not await books.state.request_callback(session.entry, number, lead_id):
            log.warning(
                "acd: callback not booked: the entry left the line", extra={"channel": session.entry.call_id}
            )
            return
        session.callback_number, session.lead_id = number, lead_id
        await books.cancel_ringing(session)
        for task in (session.timer, session.escalation):
            if task is not None:
                task.cancel()
        wait_s = session.entry.wait_s(books.clock())
        data = {"position": session.position, "wait_s": wait_s, "priority": session.entry.priority}
        await books.record(EventKind.CALLBACK_REQUESTED, session, data=data, lead_id=lead_id)
        lead = {"source": "queue_callback"}
        await books.record(EventKind.LEAD_CREATED, session, data=lead, lead_id=lead_id)
        await books.own(session)  # a restart during the confirmation must know it was booked

    async def publish(self, call_id: str, retry_s: float = 1.0, within_s: float = 600) -> None:
        """Any instance may now serve the callback; while Redis is away this is tried again
        every ``retry_s`` (a booked callback must outlast a Redis restart or freeze)."""
        try:
            await self.books.state.publish_callback(call_id)
            return
        except (RedisError, OSError) as exc:
            log.warning("acd: callback not published yet (%s); trying again", exc, extra={"channel": call_id})

        async def again() -> None:
            deadline = time.monotonic() + within_s
            while time.monotonic() < deadline:
                await asyncio.sleep(retry_s)
                with contextlib.suppress(RedisError, OSError):
                    await self.books.state.publish_callback(call_id)
                    log.warning("acd: callback published after all", extra={"channel": call_id})
                    return
            log.error("acd: callback never published: Redis away too long", extra={"channel": call_id})

        self.books.spawn(again())

    # --- serving: taken, given back, or no longer ours --------------------------------------------
    async def take(self, entry: Entry, number: str, lead_id: str, now: float) -> None:
        """Serve a callback that reached the front, unless another instance took it first."""
        books = self.books
        if await books.state.take_callback(entry.call_id, books.app, now, CALLBACK_LEASE_S):
            verdict = await self.guard.admit(
                number, lead_id=lead_id or None, campaign=None, now=_moment(now), call_id=entry.call_id
            )
            if isinstance(verdict, Refusal):
                await self._refused_in_line(entry, verdict)
                return
            session = Waiting(
                entry, number, 0, callback_number=number, serving_callback=True, lead_id=lead_id, in_line=True
            )
            books.calls[entry.call_id] = session
            await books.own(session)

    async def _refused_in_line(self, entry: Entry, refusal: Refusal) -> None:
        """The guard refused a callback that reached the front: it leaves the line, no agent is
        rung. Unless the guard could not check at all: then the lease is kept, and the callback
        is looked at again once it runs out (not at every routing pass meanwhile)."""
        if refusal.rule is Rule.UNCHECKED:
            log.warning("acd: callback held: %s", refusal.reason, extra={"channel": entry.call_id})
            return
        await self.books.state.dequeue(entry)
        self.books.changed()
        log.warning(
            "acd: callback refused, out of line: %s", refusal.rule.value, extra={"channel": entry.call_id}
        )
        await self.route()  # the agent it was matched with serves the next in line (the pass runs again)

    async def not_dialled(self, session: Waiting, agent_id: str, channel_id: str, now: float) -> None:
        """The agent answered a callback this instance no longer holds (its lease ran out and
        another instance took it, or it was dialled): free the agent, call nobody."""
        books = self.books
        log.warning("acd: callback not ours to dial any more", extra={"channel": session.entry.call_id})
        session.done = True
        await books.forget(session)
        books.legs.pop(channel_id, None)
        await books.ari.hangup(channel_id, missing_ok=True)
        await books.agent(agent_id, Command.CANCEL, now)
        await books.record(EventKind.OFFER_CANCELED, session, agent=agent_id, data={"offer": channel_id})
        await books.cancel_ringing(session)

    async def give_back(self, session: Waiting) -> None:
        """A callback this instance took but cannot ring now: any instance may serve it."""
        await self.books.forget(session)
        await self.books.state.release_callback(session.entry.call_id)

    # --- the customer's leg -----------------------------------------------------------------------
    async def call_customer(self, session: Waiting, agent_channel: str) -> None:
        """The agent answered a callback (dialled-once flag already set): call the customer."""
        books = self.books
        verdict = await self.guard.take(
            session.callback_number or "",
            lead_id=session.lead_id,
            campaign=None,
            now=_moment(books.clock()),
            call_id=session.entry.call_id,
        )
        if isinstance(verdict, Refusal):  # the guard recorded why; the agent is freed
            await self.finish(session, "dial_refused")
            return
        with contextlib.suppress(AriNotFound, AriBadRequest):
            await books.ari.add_channel(session.bridge_id or "", [agent_channel])
        endpoint = books.config.callback_dial.format(number=verdict.e164, national=verdict.national)
        books.customer_legs[session.customer_leg] = session.entry.call_id
        session.customer_channel = session.customer_leg
        await books.own(session)
        await books.record(
            EventKind.DIAL_STARTED,
            session,
            agent=session.agent,
            data={"to": "customer"},
            lead_id=session.lead_id,
        )
        try:
            await books.ari.create_channel(
                endpoint,
                app=books.app,
                channel_id=session.customer_leg,
                app_args=f"{CUSTOMER_LEG},{session.entry.call_id}",
            )
        except (AriError, AriUnavailable) as exc:
            log.warning(
                "acd: cannot call the customer back: %s", exc, extra={"channel": session.entry.call_id}
            )
            await self.finish(session, "customer_unreachable")

    async def dial_customer(self, channel_id: str) -> None:
        books = self.books
        if channel_id not in books.customer_legs:
            await books.ari.hangup(channel_id, missing_ok=True)
            return
        try:
            await books.ari.dial(channel_id, timeout_s=books.config.callback_ring_s)
        except (AriError, AriUnavailable) as exc:  # its destruction ends the callback as not answered
            log.warning("acd: dialling the customer failed: %s", exc, extra={"channel": channel_id})
            await books.ari.hangup(channel_id, missing_ok=True)

    async def customer_event(self, channel_id: str, event: Event) -> None:
        books = self.books
        session = books.calls.get(books.customer_legs.get(channel_id, ""))
        if session is None:
            return
        async with session.lock:
            await self._on_customer_leg(session, event)

    async def _on_customer_leg(self, session: Waiting, event: Event) -> None:
        books = self.books
        if session.done:
            return
        if (
            isinstance(event, ChannelStateChange)
            and event.channel.state == "Up"
            and not session.customer_answered
        ):
            session.customer_answered = True
            wait = {"wait_s": session.entry.wait_s(books.clock())}
            await books.record(
                EventKind.CALLBACK_SERVED, session, agent=session.agent, data=wait, lead_id=session.lead_id
            )
            await books.record(
                EventKind.CUSTOMER_ANSWERED, session, agent=session.agent, lead_id=session.lead_id
            )
            with contextlib.suppress(AriNotFound, AriBadRequest):
                await books.ari.add_channel(session.bridge_id or "", [event.channel.id])
            await books.own(session)
        elif isinstance(event, ChannelDestroyed):
            books.customer_legs.pop(event.channel.id, None)
            books.in_stasis.discard(event.channel.id)
            session.customer_channel = None
            await self.finish(session, "customer" if session.customer_answered else "customer_no_answer")
