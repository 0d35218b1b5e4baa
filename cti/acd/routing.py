"""The routing passes: view, match, claim, ring.

A pass reads the agents and the callbacks in line (the view), lets ``strategies.match`` pair
waiting callers with free agents, claims the matched agents in Redis, and rings the ones it
won: it creates each agent's channel, waits for its StasisStart, then dials it with the
caller's id and the queue's ring timeout (``agent_offered``). ``Routing`` runs those passes;
what happens once a leg answers or ends is ``Outcomes``'s.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping

from cti.acd.agents import Command, StateChange, agent_state_event
from cti.acd.books import Books, View
from cti.acd.callbacks import CALLBACK_LEASE_S, CallbackDesk
from cti.acd.line import Line
from cti.acd.model import AgentState, Entry, Strategy
from cti.acd.outcomes import Outcomes
from cti.acd.session import AGENT_LEG, Waiting
from cti.acd.strategies import Reservation, RoundRobinMemory, blend, leaving_empty
from cti.errors import AriError, AriUnavailable
from cti.events import CallEvent, EventKind

log = logging.getLogger("cti.acd.router")

EARLY_CREATE_MAX = 4  # a pass with at most this many offers creates channels before the claim answers
ARI_AWAY_PAUSE_S = 1.0  # Asterisk could not be reached to ring: routing pauses this long

#: One agent's ring for one caller: (the caller's session, agent id, the agent's channel id).
Leg = tuple[Waiting, str, str]


class Routing:
    def __init__(
        self,
        books: Books,
        line: Line,
        outcomes: Outcomes,
        callbacks: CallbackDesk,
        rng: random.Random,
        observe_routing: Callable[[float], None],
    ) -> None:
        self.books = books
        self.line = line
        self.outcomes = outcomes
        self.callbacks = callbacks
        self.rng = rng
        self.observe_routing = observe_routing
        self._claims: dict[str, asyncio.Future[bool]] = {}  # agent channel id -> its claim, under way
        #: Round-robin queues: their memory is read with the view and saved with the claims.
        self._rotating = [q.name for q in books.config.queues if q.strategy is Strategy.RRMEMORY]
        self._matching = asyncio.Lock()
        self._dirty = False
        self._ari_away_until = 0.0  # monotonic: no routing pass before (``_not_reached``)
        self._after_pause: asyncio.Task[None] | None = None
        #: Outbound work asking for an agent (``reserve``), by call id: the reservation, how long
        #: the claimed agent is held (its ringing state's deadline), and the agent once claimed.
        self._reservations: dict[str, tuple[Reservation, float, asyncio.Future[str]]] = {}

    def reserve(self, reservation: Reservation, hold_s: float) -> asyncio.Future[str]:
        """Ask for an agent of the reservation's queue for outbound work: the next routing passes
        claim one (after every inbound caller, ``strategies.blend``) and the future gets its id.
        The agent is then *ringing* for ``reservation.entry.call_id`` for at most ``hold_s``
        (the sweeper frees it after); ``withdraw`` gives the request up."""
        if reservation.entry.queue not in self.books.queues:
            raise ValueError(f"no queue {reservation.entry.queue!r}; configured: {sorted(self.books.queues)}")
        agent: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reservations[reservation.entry.call_id] = (reservation, hold_s, agent)
        return agent

    def withdraw(self, call_id: str) -> None:
        """Give up a reservation not claimed yet (an agent claimed meanwhile is freed)."""
        reservation = self._reservations.pop(call_id, None)
        if reservation is not None:
            reservation[2].cancel()

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
                rings, recorded = await self._claim_offers()
                now = self.books.clock()  # newcomers' queue_entered and the claims' agent state changes
                changes = [
                    StateChange(a, AgentState.RINGING, "offered", now, s.entry.call_id) for s, a, _ in rings
                ]
                if recorded or changes:
                    self.books.spawn(self.books.record_events([*recorded, *map(agent_state_event, changes)]))

    async def _claim_offers(self) -> tuple[list[Leg], list[CallEvent]]:
        """One routing pass: the rings to start, and the events to record: ``queue_entered`` for
        the callers it put in line, the state changes of the agents it reserved."""
        books = self.books
        now, started = books.clock(), time.monotonic()
        joining, books.joining = books.joining, []
        entered: list[CallEvent] = []
        view = books.view
        if view is None:
            # Held before the read: a notice during it drops this view, so the next pass reads again.
            books.view = view = View()
            positions, view.agents, view.callback_ids = await books.state.join_and_read(
                [session.entry for session in joining],
                books.app,
                books.config.agents,
                self._rotating,
                view.rotation,
            )
            entered += self._in_line(joining, positions)
            joining = []
        newcomers = {session.entry.call_id for session in joining}
        waiting, callbacks = await self._waiting(view, newcomers, now)
        # A copy: what this pass's match remembers counts once saved with its claims, and a
        # claim makes the view (the memory with it) stale, so the next pass reads them again.
        memory = RoundRobinMemory(dict(view.rotation.last))
        asking = [reservation for reservation, _, _ in self._reservations.values()]
        offers, outbound = blend(books.queues, view.agents, waiting, asking, now, memory, self.rng)
        reserved = [  # (agent, call id, held until), before any await: a withdrawal may follow
            (o.agents[0], o.entry.call_id, now + self._reservations[o.entry.call_id][1]) for o in outbound
        ]
        for offer in offers:
            if offer.entry.call_id in callbacks:
                await self.callbacks.take(*callbacks[offer.entry.call_id], now)
        offers = [offer for offer in offers if offer.entry.call_id in books.calls]
        legs = [
            (books.calls[offer.entry.call_id], agent_id, f"acd-{uuid.uuid4().hex[:16]}")
            for offer in offers
            for agent_id in offer.agents
        ]
        rotated = {o.entry.queue: o.agents[0] for o in offers if o.entry.queue in self._rotating}
        books.pass_started.update((channel_id, started) for _, _, channel_id in legs)
        rings, positions, won = await self._claim(legs, joining, now, rotated, reserved)
        entered += self._in_line(joining, positions)
        entered += [agent_state_event(StateChange(a, AgentState.RINGING, "offered", now, c)) for a, c in won]
        for session in {s.entry.call_id: s for s, _, _ in legs}.values():
            if session.serving_callback and session.waiting and not session.ringing:
                await self.callbacks.give_back(session)  # its agent went elsewhere: back to the line
        return rings, entered

    async def _waiting(
        self, view: View, newcomers: set[str], now: float
    ) -> tuple[list[Entry], dict[str, tuple[Entry, str, str]]]:
        """Whom a pass may offer: the callers here in line (or going in line in this pass's
        round trip, ``newcomers``) and not ringing already, and the callbacks in line that no
        instance serves (by call id: entry, number, lead id). A caller whose ``leave_empty``
        queue has nobody left is taken out (and, once in line, out of the queue)."""
        books = self.books
        pending = await books.state.callbacks_of(view.callback_ids, now, CALLBACK_LEASE_S)
        waiting = [
            s.entry
            for s in books.calls.values()
            if s.waiting and (s.in_line or s.entry.call_id in newcomers) and not s.ringing
        ]
        callbacks = {
            entry.call_id: (entry, number, lead_id)
            for entry, number, lead_id in pending
            if entry.call_id not in books.calls
        }
        waiting += [entry for entry, _, _ in callbacks.values()]
        for entry in leaving_empty(books.queues, view.agents, waiting):
            waiting.remove(entry)
            if entry.call_id in newcomers:  # not in line yet: the next pass, when it is
                self._dirty = True
            elif entry.call_id in books.calls:  # a callback has no line to clear: it waits for staff
                books.spawn(self.line.leave_empty(books.calls[entry.call_id]))
        return waiting, callbacks

    async def _claim(
        self,
        legs: list[Leg],
        joining: list[Waiting],
        now: float,
        rotated: dict[str, str],
        reserved: list[tuple[str, str, float]],
    ) -> tuple[list[Leg], list[int], list[tuple[str, str]]]:
        """Claim the matched agents (the inbound callers' and the ``reserved`` ones of outbound
        work: the same claim) and put the newcomers in line, in one round trip; return the rings
        (claims won), the newcomers' positions and the reservations won (agent, call id). The
        round-robin queues' memory (``rotated``: queue -> agent offered last) is saved in the
        same round trip.

        A pass with a few offers (the usual case: a caller arrives, an agent is idle) creates
        the agents' channels while the claim is under way (see ``ring``): the request overlaps
        the round trip. A burst's pass claims first: fifty requests' worth of work on the event
        loop would hold up the claim's answer, and every dial waits for it.
        """
        books = self.books
        early = len(legs) <= EARLY_CREATE_MAX
        for session, agent_id, channel_id in legs:
            books.legs[channel_id] = session.entry.call_id
            self._claims[channel_id] = asyncio.get_running_loop().create_future()
            if early:
                books.spawn(self.ring(session, agent_id, channel_id))
        try:
            claimed, positions = await books.state.claim_and_join(
                [
                    *(
                        (agent_id, s.entry.call_id, now + books.queues[s.entry.queue].ring_timeout_s)
                        for s, agent_id, _ in legs
                    ),
                    *reserved,
                ],
                now,
                [session.entry for session in joining],
                books.app,
                rotated,
            )
        except BaseException:  # no answer: channels created early are hung up, never dialled
            for _, _, channel_id in legs:
                books.legs.pop(channel_id, None)
                self._claims.pop(channel_id).set_result(False)
            raise
        if legs or reserved:
            books.changed()  # this pass's claims: the view is stale
        rings = self._settle_claims(legs, claimed[: len(legs)], now)
        if not early:
            for session, agent_id, channel_id in rings:
                books.spawn(self.ring(session, agent_id, channel_id))
        return rings, positions, self._settle_reservations(reserved, claimed[len(legs) :], now)

    def _settle_reservations(
        self, reserved: list[tuple[str, str, float]], claimed: list[bool], now: float
    ) -> list[tuple[str, str]]:
        """The reservations' claims: a won one hands its agent over (or frees it, when the
        request was withdrawn meanwhile), a lost one makes the pass run again."""
        won = []
        for (agent_id, call_id, _), claim in zip(reserved, claimed, strict=True):
            if not claim:
                self._dirty = True
                continue
            won.append((agent_id, call_id))
            asked = self._reservations.pop(call_id, None)
            if asked is not None and not asked[2].done():
                asked[2].set_result(agent_id)
            else:
                self.books.spawn(self.books.agent(agent_id, Command.CANCEL, now))
        return won

    def _settle_claims(self, legs: list[Leg], claimed: list[bool], now: float) -> list[Leg]:
        """The claims' answers: a won one rings (``dial`` waits for it), a lost one reads the
        agents again; either way the created channel learns whether to dial."""
        books = self.books
        rings = []
        for (session, agent_id, channel_id), won in zip(legs, claimed, strict=True):
            if won and session.waiting and channel_id in books.legs:
                session.ringing[channel_id] = agent_id
                rings.append((session, agent_id, channel_id))
            elif won:  # the caller left, was answered, or the channel died meanwhile: free the agent
                books.legs.pop(channel_id, None)
                books.spawn(books.agent(agent_id, Command.CANCEL, now))
            else:  # the agent changed since the view was read (another instance): read again
                log.info("acd: agent %s changed meanwhile; matching again", agent_id)
                books.legs.pop(channel_id, None)
                self._dirty = True
            self._claims.pop(channel_id).set_result(channel_id in session.ringing)
            if channel_id not in session.ringing:
                books.pass_started.pop(channel_id, None)
        return rings

    def _in_line(self, joining: list[Waiting], positions: list[int]) -> list[CallEvent]:
        """The pass put these callers in line: their ``queue_entered``, stamped with the entry's
        own time (it may follow the caller's ``abandoned`` into the outbox; the time orders them).
        One who left meanwhile is taken out again."""
        entered = []
        for session, position in zip(joining, positions, strict=True):
            session.position, session.in_line = position, True
            data: dict[str, object] = {"position": position, "priority": session.entry.priority}
            if session.context is not None:  # what the IVR collected, for the agent's screen-pop
                data["ivr"] = dict(session.context)
            entered.append(
                self.books.event(EventKind.QUEUE_ENTERED, session, data=data, at=session.entry.entered_at)
            )
            if not session.waiting:
                self.books.spawn(self.books.state.dequeue(session.entry))
        return entered

    # --- ringing ------------------------------------------------------------------------------
    async def ring(
        self, session: Waiting, agent_id: str, channel_id: str, variables: Mapping[str, str] | None = None
    ) -> None:
        """Create the agent's channel, maybe while the claim is under way (``_claim``): a created
        channel does not ring the agent (a Local channel runs no dialplan, a PJSIP one sends no
        INVITE, before the dial), and ``dial`` dials it only once the claim is won. A lost
        claim costs a channel created and hung up. ``variables`` are set on the channel (an
        outbound call's auto-answer headers, ``PJSIP_HEADER(add,...)``)."""
        books = self.books
        try:
            await books.ari.create_channel(
                books.agents[agent_id].endpoint,
                app=books.app,
                channel_id=channel_id,
                app_args=f"{AGENT_LEG},{session.entry.call_id}",
                originator=None if session.serving_callback else session.entry.call_id,
                variables=variables,
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
            books.dial_status[channel_id] = "CHANUNAVAIL"
            if channel_id in self._claims:  # settle the claim first: a won one ends as a miss
                await self._claims[channel_id]
            await self.outcomes.leg_gone(channel_id)

    def _pass_after_pause(self) -> None:
        """One routing pass once the pause for an unreachable Asterisk is over."""
        if self._after_pause is not None and not self._after_pause.done():
            return

        async def later() -> None:
            await asyncio.sleep(max(0.0, self._ari_away_until - time.monotonic()))
            await self.dispatch()

        self._after_pause = self.books.spawn(later())

    async def _not_reached(self, session: Waiting, agent_id: str, channel_id: str) -> None:
        """Asterisk could not be reached to ring the agent (its ARI is away): the claim is given
        back, with no miss counted (a few in a row would auto-pause a blameless agent), and the
        caller stays in line for a pass after a short pause: at once, the claim given back would
        start the next pass and spin while Asterisk is away."""
        books = self.books
        self._ari_away_until = time.monotonic() + ARI_AWAY_PAUSE_S
        books.legs.pop(channel_id, None)
        books.pass_started.pop(channel_id, None)
        async with session.lock:
            if session.ringing.pop(channel_id, None) is None:
                return  # the claim was lost, or the ringing was cancelled meanwhile
            await books.agent(agent_id, Command.CANCEL, books.clock())
            if session.serving_callback and not session.ringing and session.agent is None:
                await self.callbacks.give_back(session)

    async def dial(self, channel_id: str) -> None:
        """The agent's channel is in our app: now it may be dialled (earlier gives 409), once
        the agent is claimed (``ring``)."""
        books = self.books
        if channel_id in self._claims:
            await self._claims[channel_id]
        started = books.pass_started.pop(channel_id, None)
        session = books.session_of_leg(channel_id)
        if session is None or channel_id not in session.ringing:
            await books.ari.hangup(channel_id, missing_ok=True)
            return
        queue = books.queues[session.entry.queue]
        agent_id = session.ringing[channel_id]
        # The offer is recorded while the agent is dialled, not after: its screen-pop is on its
        # way as the phone starts ringing (the dial's reply comes once it rings). The outbox
        # keeps the call's events in order, so the offer's end (answered, cancelled, missed)
        # is never recorded before it; a dial that fails ends in a miss like any other.
        books.spawn(
            books.record(EventKind.AGENT_OFFERED, session, agent=agent_id, data={"offer": channel_id})
        )
        try:
            await books.ari.dial(
                channel_id,
                caller=None if session.serving_callback else session.entry.call_id,
                timeout_s=round(queue.ring_timeout_s),
            )
        except (AriError, AriUnavailable) as exc:
            log.warning("dialling agent %s failed: %s", agent_id, exc)
            return  # the channel's destruction follows and is handled as a miss
        if started is not None:
            self.observe_routing(time.monotonic() - started)
