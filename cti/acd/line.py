"""A caller's time in line: joining a queue, its limits, and leaving it without an agent.

``Line`` puts a caller in line (or refuses: full, empty), starts the caller's timers (the
maximum wait, the escalation steps that wake the matcher), and ends a wait that may not go on:
overflow into another queue, or ``timed_out``. Who rings is the routing passes' business
(``cti.acd.routing``); what the caller hears is ``Lobby``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from cti.acd.books import Books
from cti.acd.lobby import Lobby
from cti.acd.model import Entry, QueueConfig
from cti.acd.session import Waiting
from cti.acd.strategies import refusal
from cti.events import EventKind

ESCALATION_MARGIN_S = 0.02


class Line:
    def __init__(self, books: Books, lobby: Lobby, route: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.books = books
        self.lobby = lobby
        self.route = route  # a routing pass (``QueueRouter.dispatch``)

    async def join(self, session: Waiting, queue: QueueConfig) -> None:
        """Into line: the next routing pass puts the entry in Redis, in the same round trip as
        its reads, and records ``queue_entered`` beside its claims (see ``Routing.dispatch``)."""
        books = self.books
        if queue.max_len or not queue.join_empty:  # the lean path skips these reads
            agents, length = await asyncio.gather(
                books.state.snapshots(books.config.agents), books.state.queue_length(queue.name)
            )
            reason = refusal(queue, agents, length)
            if reason is not None:
                await self.exit(session, queue, reason)
                return
        session.in_line = False
        await books.own(session)
        books.joining.append(session)
        self.lobby.enter(session, queue)
        self.start_timers(session, queue)
        await self.route()

    def start_timers(self, session: Waiting, queue: QueueConfig) -> None:
        """The maximum wait, and a wake-up at each escalation step (a caller joining, or adopted)."""
        session.timer = self.books.spawn(self._max_wait(session, queue))
        if len(queue.escalation) > 1:
            session.escalation = self.books.spawn(self._escalate(session, queue))

    async def _max_wait(self, session: Waiting, queue: QueueConfig) -> None:
        # From the entry's arrival, not from now: an adopted caller has waited already.
        await asyncio.sleep(max(0.0, queue.max_wait_s - session.entry.wait_s(self.books.clock())))
        async with session.lock:
            if session.bridge_id is None and not session.done:
                await self.books.cancel_ringing(session)
                await self.books.leave_queue(session, keep_timer=True)
                await self.exit(session, queue, "max_wait")

    async def _escalate(self, session: Waiting, queue: QueueConfig) -> None:
        """Match again the moment the wait reaches each escalation step (more agents qualify)."""
        for step in queue.escalation[1:]:
            delay = step.after_s - session.entry.wait_s(self.books.clock())
            if delay > 0:
                # The entry's clock is wall time, asyncio's is monotonic: a little margin, so the
                # pass runs just after the step, never just before it.
                await asyncio.sleep(delay + ESCALATION_MARGIN_S)
            if session.waiting:
                await self.route()

    async def leave_empty(self, session: Waiting) -> None:
        async with session.lock:
            if session.bridge_id is None and not session.done and not session.ringing:
                await self.books.leave_queue(session)
                await self.exit(session, self.books.queues[session.entry.queue], "empty")

    async def exit(self, session: Waiting, queue: QueueConfig, reason: str) -> None:
        """The caller may not wait here (full, empty, waited too long): overflow, or end the wait.

        Like app_queue, which leaves the queue with EXITEMPTY or EXITWITHTIMEOUT and continues
        in the dialplan: without an overflow target the wait ends as ``timed_out`` (a miss for
        the three-ring rate, neither answered nor abandoned for SL2) and the call is hung up.
        """
        books = self.books
        await self.lobby.leave(session)
        if queue.overflow:
            await books.record(
                EventKind.OVERFLOWED, session, data={"target": queue.overflow, "reason": reason}
            )
            session.entry = Entry(
                session.entry.call_id, queue.overflow, books.clock(), session.entry.priority
            )
            await self.join(session, books.queues[queue.overflow])
            return
        session.done = True
        data = {"wait_s": session.entry.wait_s(books.clock()), "reason": reason}
        await books.record(EventKind.TIMED_OUT, session, data=data)
        await books.forget(session)
        await books.ari.hangup(session.entry.call_id, missing_ok=True)
