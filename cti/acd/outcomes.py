"""How an offer ends, and how a conversation ends: the outcomes the router carries out.

- the agent answers: other ringing legs are cancelled, caller and agent share a mixing bridge;
  ``agent_answered`` (wait); a callback's customer is called then (``CallbackDesk``);
- the agent's leg ends before answering: ``ring_no_answer``, the agent may be auto-paused, the
  caller is offered to the next agent;
- the caller hangs up while waiting: ``abandoned`` (wait, position); ringing legs are cancelled;
- the conversation ends from either side: ``completed`` (by, talk), the agent goes to wrap-up
  and, ``wrapup_s`` later, back to ready (``wrapup_ended``), unless its queue requires a
  disposition that is not in yet (then the disposition ends the wrap-up).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from cti.acd.agents import Command
from cti.acd.books import Books
from cti.acd.callbacks import CallbackDesk
from cti.acd.lobby import Lobby
from cti.acd.model import AgentState
from cti.acd.session import Waiting
from cti.errors import AriBadRequest, AriNotFound
from cti.events import EventKind


class Outcomes:
    def __init__(
        self,
        books: Books,
        lobby: Lobby,
        callbacks: CallbackDesk,
        route: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self.books = books
        self.lobby = lobby
        self.callbacks = callbacks
        self.route = route  # a routing pass (``QueueRouter.dispatch``)

    async def answered(self, channel_id: str) -> None:
        books = self.books
        session = books.session_of_leg(channel_id)
        if session is None:
            await books.ari.hangup(channel_id, missing_ok=True)
            return
        async with session.lock:
            agent_id = session.ringing.pop(channel_id, None)
            if agent_id is None or session.agent is not None or session.done:
                # another agent was faster (ringall), or the caller left
                await books.ari.hangup(channel_id, missing_ok=True)
                return
            now = books.clock()
            # Answered from now on, before any await: a routing pass running meanwhile must not
            # see a callback with no agent and nobody ringing, and give it back to the line.
            session.agent, session.agent_channel, session.answered_at = agent_id, channel_id, now
            if session.serving_callback and not await books.state.mark_dialled(session.entry, books.app, now):
                await self.callbacks.not_dialled(session, agent_id, channel_id, now)
                return
            await books.agent(agent_id, Command.ANSWER, now, call_id=session.entry.call_id)
            # Stamped at ``now``, the instant its wait was measured at: the agent's ring time
            # (offered -> answered stamps) ends where the caller's wait does.
            wait = {"wait_s": session.entry.wait_s(now), "offer": channel_id}
            await books.record_events(
                [books.event(EventKind.AGENT_ANSWERED, session, agent=agent_id, data=wait, at=now)]
            )
            await books.cancel_ringing(session)
            if not session.serving_callback:  # a callback left the line when it was marked dialled
                await books.leave_queue(session)
            await self.lobby.leave(session)
            bridge = await books.ari.create_bridge(
                f"acd-{session.entry.call_id}", name=f"acd {session.entry.queue}"
            )
            session.bridge_id = bridge.id
            if session.serving_callback:
                await self.callbacks.call_customer(session, channel_id)
                return
            # The caller may hang up just as the agent answers: Asterisk then answers 400
            # "Channel not found", and the caller's StasisEnd finishes the session (by caller).
            with contextlib.suppress(AriNotFound, AriBadRequest):
                await books.ari.add_channel(bridge.id, [session.entry.call_id, channel_id])
            await books.own(session)  # bridged first, remembered after

    async def leg_gone(self, channel_id: str) -> None:
        books = self.books
        session = books.session_of_leg(channel_id)
        books.legs.pop(channel_id, None)
        books.in_stasis.discard(channel_id)
        books.pass_started.pop(channel_id, None)
        status = books.dial_status.pop(channel_id, "")
        if session is None:
            return
        async with session.lock:  # not while another leg's answer is being carried out
            if channel_id == session.agent_channel:
                await self.finish(session, "agent")
                return
            agent_id = session.ringing.pop(channel_id, None)
            if agent_id is None:
                return  # a leg we cancelled ourselves
            queue = books.queues[session.entry.queue]
            now = books.clock()
            await books.agent(agent_id, Command.RING_NO_ANSWER, now, auto_pause_after=queue.auto_pause_after)
            missed = {"dialstatus": status, "offer": channel_id}
            await books.record(EventKind.RING_NO_ANSWER, session, agent=agent_id, data=missed)
            if session.serving_callback and not session.ringing and session.agent is None:
                await self.callbacks.give_back(session)
        books.spawn(self.route())

    async def caller_gone(self, call_id: str) -> None:
        books = self.books
        session = books.calls.get(call_id)
        if session is None or session.serving_callback:
            return  # a callback being served has no caller channel: a late event of the old one
        async with session.lock:
            if session.bridge_id is not None:
                await self.finish(session, "caller")
                return
            if session.done:
                return
            session.done = True
            await self.lobby.leave(session)
            await books.forget(session)
            if session.callback_number is not None:  # the line is clear after a callback request:
                await self.callbacks.publish(call_id)  # now any instance may call back
                return
            now = books.clock()
            data = {"wait_s": session.entry.wait_s(now), "position": session.position}
            await books.record(EventKind.ABANDONED, session, data=data)
            await books.cancel_ringing(session)
            await books.leave_queue(session)

    async def finish(self, session: Waiting, by: str) -> None:
        """The conversation ended: tidy up both legs, the agent goes to wrap-up."""
        books = self.books
        if session.done:
            return
        session.done = True
        now = books.clock()
        talk_s = now - (session.answered_at or now)
        await books.record(
            EventKind.COMPLETED, session, agent=session.agent, data={"by": by, "talk_s": talk_s}
        )
        await self.lobby.leave(session)
        for channel in (session.entry.call_id, session.agent_channel, session.customer_channel):
            if channel:
                await books.ari.hangup(channel, missing_ok=True)
        books.customer_legs.pop(session.customer_leg, None)
        if session.bridge_id:
            with contextlib.suppress(AriNotFound):
                await books.ari.destroy_bridge(session.bridge_id)
        await books.forget(session)
        if session.agent:
            queue = books.queues[session.entry.queue]
            await books.agent(
                session.agent,
                Command.HANG_UP,
                now,
                until=now + queue.wrapup_s,
                disposition_required=queue.wrapup_requires_disposition,
            )
            await books.state.record_call(session.agent, talk_s)
            books.spawn(self._wrap_up(session, session.agent, queue.wrapup_s))

    async def _wrap_up(self, session: Waiting, agent_id: str, wrapup_s: float) -> None:
        """End the wrap-up on time. The deadline is also in Redis with the agent: if this
        instance dies first, another one's sweeper ends it (``cti.acd.sweeper``); whichever
        applies ``wrapup_done`` records the end, once.

        Only this call's wrap-up: the agent may have ended it early (``cti.desk.agent_control``)
        and be in another call's by now. A call still waiting for its required disposition
        is left in wrap-up: the disposition makes the agent ready (the deadline has passed)."""
        await asyncio.sleep(wrapup_s)
        status, version = await self.books.state.agent(agent_id)
        if (
            status.state is AgentState.WRAP_UP
            and status.call_id == session.entry.call_id
            and not status.undisposed
            and await self.books.agent(
                agent_id, Command.WRAPUP_DONE, self.books.clock(), expect_version=version
            )
        ):
            await self.books.record(
                EventKind.WRAPUP_ENDED, session, agent=agent_id, data={"wrapup_s": wrapup_s}
            )
        await self.route()
