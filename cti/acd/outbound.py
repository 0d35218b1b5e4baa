"""The ACD's side of outbound work: an offer of kind ``outbound``, through the one claim path.

The dialer (``cti.outbound.dialer``) never keeps its own idea of who is free. It asks here for
an agent (``reserve``): the routing passes claim one in the same atomic Redis step, over the same
view, as inbound callers, and after them (``strategies.blend``: inbound wins an agent free for
both). The reserved agent is *ringing* for the outbound call in the one agent state machine,
with a deadline the sweeper enforces if this instance dies. Once the customer answers, the
dialer hands the customer's channel over (``connect``): it becomes a session like an inbound
caller's whose one offer is the reserved agent, and from there the ACD's own rooms carry it
(the agent's leg rung with the customer's number, ``agent_offered`` and so the screen-pop,
``agent_answered``, the bridge, ``completed``, wrap-up). A customer who gets no agent in time,
or hangs up first, is taken back (``give_up``); a customer never reached frees the agent
(``release``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping

from cti.acd.agents import Command
from cti.acd.books import Books
from cti.acd.model import Entry
from cti.acd.routing import Routing
from cti.acd.session import Waiting
from cti.acd.strategies import Reservation


class OutboundDesk:
    def __init__(self, books: Books, routing: Routing) -> None:
        self.books = books
        self.routing = routing

    async def reserve(self, call_id: str, queue: str, urgency: float, hold_s: float) -> asyncio.Future[str]:
        """Ask for an agent of ``queue`` for the outbound call ``call_id`` (lower ``urgency``
        first); the future gets the claimed agent's id. A routing pass starts at once."""
        entry = Entry(call_id, queue, self.books.clock())
        agent = self.routing.reserve(Reservation(entry, urgency), hold_s)
        self.books.spawn(self.routing.dispatch())
        return agent

    def withdraw(self, call_id: str) -> None:
        """No agent is wanted any more for ``call_id`` (one claimed meanwhile is freed)."""
        self.routing.withdraw(call_id)

    async def release(self, agent_id: str) -> None:
        """The customer was not reached: the reserved agent is free again."""
        await self.books.agent(agent_id, Command.CANCEL, self.books.clock())
        self.books.spawn(self.routing.dispatch())

    async def connect(
        self,
        customer_channel: str,
        queue: str,
        agent_id: str,
        *,
        number: str,
        lead_id: str | None,
        sip_headers: Mapping[str, str] | None = None,
    ) -> Waiting:
        """The customer answered: ring the reserved agent for them (with the customer's number,
        so the agent's phone and screen-pop show it). ``customer_channel`` is the call's id, the
        one the agent was reserved for. ``sip_headers`` go on a SIP agent's INVITE (auto-answer:
        the customer is waiting already)."""
        books = self.books
        session = Waiting(Entry(customer_channel, queue, books.clock()), number, 0, lead_id=lead_id)
        books.calls[customer_channel] = session
        channel_id = f"acd-{uuid.uuid4().hex[:16]}"
        books.legs[channel_id] = customer_channel
        session.ringing[channel_id] = agent_id
        endpoint = books.agents[agent_id].endpoint
        variables = (
            {f"PJSIP_HEADER(add,{name})": value for name, value in (sip_headers or {}).items()}
            if endpoint.startswith("PJSIP/")
            else None
        )
        books.spawn(self.routing.ring(session, agent_id, channel_id, variables))
        return session

    async def give_up(self, customer_channel: str) -> bool:
        """No agent for this customer after all (none answered in time, or the customer hung
        up): stop ringing the agent and forget the session. False if an agent answered
        meanwhile: the conversation is the ACD's (its end is ``completed``, as any call's)."""
        books = self.books
        session = books.calls.get(customer_channel)
        if session is None:
            return True
        async with session.lock:
            if session.agent is not None:
                return False
            session.done = True
            await books.cancel_ringing(session)
            await books.forget(session)
        books.spawn(self.routing.dispatch())
        return True
