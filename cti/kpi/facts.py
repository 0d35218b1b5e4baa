"""From call events to the facts the KPIs count: queue stays, agent offers, calls, leads.

Pure: events in, facts out. A *queue stay* is one call's time in one queue, from
``queue_entered`` to the outcome that ends it (answered, abandoned, overflowed, timed out,
callback), as Asterisk's queue_log counts them: a call overflowed from A to B is a miss in A and
a new offer in B. Events may arrive in any order; each call's events are sorted by time first
(events at the same instant keep the order they were stored in).

A call's facts depend on that call's events only, and a lead's on that lead's: so the store keeps
them per call and lead (``cti.store.projection``), recomputed whenever one of their events
arrives, and a report reads facts instead of events. Change how a fact is derived -> change
``FACTS_VERSION``: ``cti db upgrade`` then recomputes the stored facts from the event log.

Durations are measured one way for every fact (``_elapsed``): the producer's own figure when it
gave one (``wait_s``, ``ring_s``: its clock), else the difference of the two events' stamps,
rounded to the millisecond. So a queue stay (queue entered -> agent answered) and an agent offer
(phone ringing -> answered) ending on the same answer end at the same instant, and meet the
same three-ring limit the same way. A producer that sends ``null`` says it does not know: the
fact's duration is ``None`` (unknown), never 0 s.

Hold: ``hold_started``/``hold_ended`` (ARI ``ChannelHold``/``ChannelUnhold``) of any channel
of an answered call; the call is on hold while at least one channel holds it, up to its
completion. The hold seconds are taken out of the producer's ``talk_s`` (the router measures talk
from answer to hang-up) unless the completion names its own ``hold_s``.

Facts are named tuples with times in microseconds since the epoch (``*_us``, as the store keeps
them): a month's report reads some 400k of them, and a frozen dataclass holding a datetime costs
several times more to build than a tuple holding an int.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from cti.events import CallEvent, EventKind, to_us

FACTS_VERSION = "kpi-facts/2026-12-05.1"


class Outcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    TIMED_OUT = "timed_out"
    CALLBACK = "callback"
    WAITING = "waiting"  # no outcome recorded (yet)


_OUTCOME_OF = {
    EventKind.AGENT_ANSWERED: Outcome.ANSWERED,
    EventKind.ABANDONED: Outcome.ABANDONED,
    EventKind.OVERFLOWED: Outcome.OVERFLOWED,
    EventKind.TIMED_OUT: Outcome.TIMED_OUT,
    EventKind.CALLBACK_REQUESTED: Outcome.CALLBACK,
}


class QueueStay(NamedTuple):
    call_id: str
    queue: str
    entered_us: int
    outcome: Outcome = Outcome.WAITING
    wait_s: float | None = None
    agent: str | None = None
    caller_number: str | None = None
    talk_s: float | None = None
    hold_s: float = 0.0
    wrapup_s: float | None = None
    resolved: bool | None = None


class AgentOffer(NamedTuple):
    call_id: str
    agent: str
    queue: str | None
    rang_us: int
    answered: bool = False
    ring_s: float | None = None


class InboundCall(NamedTuple):
    """A call that reached the center; ``queue`` and ``agent``: its first queue and who answered."""

    call_id: str
    at_us: int
    caller_number: str | None
    queue: str | None = None
    agent: str | None = None


class Contact(NamedTuple):
    """A call on which a person was reached (an agent answered inbound, a customer outbound)."""

    call_id: str
    at_us: int
    queue: str | None
    agent: str | None
    booked_appointment: bool = False


class Lead(NamedTuple):
    lead_id: str
    created_us: int
    queue: str | None = None
    first_dial_us: int | None = None
    answered_us: int | None = None
    source: str | None = None  # insurer, web, ivr_callback, queue_callback, campaign...
    stages: frozenset[str] = frozenset()
    lost: tuple[tuple[str, str], ...] = ()  # (stage, reason)


@dataclass(frozen=True)
class Facts:
    stays: tuple[QueueStay, ...] = ()
    offers: tuple[AgentOffer, ...] = ()
    calls: tuple[InboundCall, ...] = ()
    leads: tuple[Lead, ...] = ()
    contacts: tuple[Contact, ...] = ()


def _elapsed(start_us: int, end: CallEvent, key: str) -> float | None:
    """Seconds from ``start_us`` to ``end``: the producer's own ``data[key]`` if it gave one (its
    clock beats the difference of two wall-clock stamps; ``null``: unknown), else the stamps'
    difference; rounded to the millisecond, the same for every duration a KPI compares."""
    if key in end.data:
        value = end.data[key]
        return None if value is None else round(float(value), 3)
    return round((to_us(end.at) - start_us) / 1_000_000, 3)


def _close_stay(stay: QueueStay, event: CallEvent) -> QueueStay:
    return stay._replace(
        outcome=_OUTCOME_OF[event.kind],
        wait_s=_elapsed(stay.entered_us, event, "wait_s"),
        agent=event.agent if event.kind is EventKind.AGENT_ANSWERED else None,
    )


class _Holds:
    """The hold time of one answered conversation: on hold while any of its channels holds it."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.since_us = 0
        self.total_us = 0

    def note(self, event: CallEvent) -> None:
        channel, at_us = str(event.data.get("channel", "")), to_us(event.at)
        if event.kind is EventKind.HOLD_STARTED:
            if not self.held:
                self.since_us = at_us
            self.held.add(channel)
        elif channel in self.held:
            self.held.discard(channel)
            if not self.held:
                self.total_us += at_us - self.since_us

    def seconds(self, until_us: int) -> float:
        """The hold seconds up to ``until_us`` (a hold never taken off ends there)."""
        open_us = until_us - self.since_us if self.held else 0
        return round((self.total_us + max(0, open_us)) / 1_000_000, 3)


def _after_answer(stay: QueueStay, event: CallEvent, holds: _Holds) -> QueueStay:
    if event.kind is EventKind.COMPLETED:
        if "hold_s" in event.data:  # the producer's talk and hold, apart
            return stay._replace(talk_s=event.number("talk_s"), hold_s=event.number("hold_s"))
        hold = holds.seconds(to_us(event.at))
        return stay._replace(talk_s=max(0.0, round(event.number("talk_s") - hold, 3)), hold_s=hold)
    if event.kind in (EventKind.HOLD_STARTED, EventKind.HOLD_ENDED):
        holds.note(event)
    elif event.kind is EventKind.WRAPUP_ENDED:
        return stay._replace(wrapup_s=event.number("wrapup_s"))
    elif event.kind is EventKind.DISPOSITION:
        return stay._replace(resolved=bool(event.data.get("resolved", False)))
    return stay


def _stays_of_call(events: Sequence[CallEvent]) -> list[QueueStay]:
    stays: list[QueueStay] = []
    open_stay: QueueStay | None = None
    holds = _Holds()
    for event in events:
        if event.kind is EventKind.QUEUE_ENTERED:
            if open_stay is not None:
                stays.append(open_stay)  # re-entered without an outcome: the first stay stays open
            open_stay = QueueStay(
                event.call_id, event.queue or "", to_us(event.at), caller_number=event.caller_number
            )
        elif event.kind in _OUTCOME_OF and open_stay is not None:
            stays.append(_close_stay(open_stay, event))
            open_stay, holds = None, _Holds()
        elif stays and stays[-1].outcome is Outcome.ANSWERED:
            stays[-1] = _after_answer(stays[-1], event, holds)
    if open_stay is not None:
        stays.append(open_stay)
    return stays


def _offers_of_call(events: Sequence[CallEvent]) -> list[AgentOffer]:
    offers: list[AgentOffer] = []
    ringing: dict[str, AgentOffer] = {}
    for event in events:
        agent = event.agent or ""
        if event.kind is EventKind.AGENT_OFFERED:
            ringing[agent] = AgentOffer(event.call_id, agent, event.queue, to_us(event.at))
        elif event.kind in (EventKind.AGENT_ANSWERED, EventKind.RING_NO_ANSWER, EventKind.OFFER_CANCELED):
            offer = ringing.pop(agent, None)
            if offer is not None:
                answered = event.kind is EventKind.AGENT_ANSWERED
                ring_s = _elapsed(offer.rang_us, event, "ring_s")
                offers.append(offer._replace(answered=answered, ring_s=ring_s))
    offers.extend(ringing.values())
    return offers


@dataclass
class _LeadDraft:
    created_us: int | None = None
    queue: str | None = None
    first_dial_us: int | None = None
    answered_us: int | None = None
    source: str | None = None
    stages: set[str] = field(default_factory=set)
    lost: list[tuple[str, str]] = field(default_factory=list)


def _earliest(known: int | None, event: CallEvent) -> int:
    at_us = to_us(event.at)
    return at_us if known is None else min(known, at_us)


def _note_lead_event(draft: _LeadDraft, event: CallEvent) -> None:
    kind = event.kind
    if kind is EventKind.LEAD_CREATED:
        draft.created_us, draft.queue = to_us(event.at), event.queue
        draft.source = str(event.data["source"]) if event.data.get("source") else None
    elif kind is EventKind.DIAL_STARTED:
        draft.first_dial_us = _earliest(draft.first_dial_us, event)
    elif kind is EventKind.CUSTOMER_ANSWERED:
        draft.answered_us = _earliest(draft.answered_us, event)
        draft.stages.add("contacted")
    elif kind is EventKind.FUNNEL_STAGE:
        draft.stages.add(str(event.data.get("stage", "")))
    elif kind is EventKind.FUNNEL_LOST:
        draft.lost.append((str(event.data.get("stage", "")), str(event.data.get("reason", "unknown"))))


def lead_facts(lead_id: str, events: Iterable[CallEvent]) -> Lead | None:
    """One lead from its events, in the order they were stored (``None``: its creation is unknown).

    Not sorted by time: the loss reasons keep the order they were recorded in.
    """
    draft = _LeadDraft()
    for event in events:
        _note_lead_event(draft, event)
    if draft.created_us is None:
        return None
    return Lead(
        lead_id,
        draft.created_us,
        draft.queue,
        draft.first_dial_us,
        draft.answered_us,
        draft.source,
        frozenset(draft.stages),
        tuple(draft.lost),
    )


def call_facts(call_id: str, events: Iterable[CallEvent]) -> Facts:
    """The queue stays, agent offers, inbound call and contact of one call, from all its events.

    The events are taken in time order; events at the same instant keep the order given (the
    store gives them in the order it stored them).
    """
    ordered = sorted(events, key=lambda e: e.at)
    stays = _stays_of_call(ordered)
    first_queue = stays[0].queue if stays else None
    answering = next((s.agent for s in stays if s.outcome is Outcome.ANSWERED), None)
    booked = any(e.kind is EventKind.APPOINTMENT_BOOKED for e in ordered)
    calls: list[InboundCall] = []
    contacts: list[Contact] = []
    for event in ordered:
        if event.kind is EventKind.CALL_STARTED and event.data.get("direction", "inbound") == "inbound":
            calls.append(InboundCall(call_id, to_us(event.at), event.caller_number, first_queue, answering))
        elif event.kind in (EventKind.AGENT_ANSWERED, EventKind.CUSTOMER_ANSWERED) and not contacts:
            contacts.append(
                Contact(call_id, to_us(event.at), event.queue or first_queue, event.agent, booked)
            )
    return Facts(tuple(stays), tuple(_offers_of_call(ordered)), tuple(calls), (), tuple(contacts))


def derive_facts(events: Iterable[CallEvent]) -> Facts:
    """All facts in ``events``: the reference the store's projection (``cti.store.projection``)
    must equal, fed the event log in the order it was stored."""
    by_call: dict[str, list[CallEvent]] = defaultdict(list)
    by_lead: dict[str, list[CallEvent]] = defaultdict(list)
    for event in events:
        if event.call_id:
            by_call[event.call_id].append(event)
        if event.lead_id:
            by_lead[event.lead_id].append(event)
    per_call = [call_facts(call_id, call_events) for call_id, call_events in by_call.items()]
    leads = (lead_facts(lead_id, lead_events) for lead_id, lead_events in by_lead.items())
    return Facts(
        stays=tuple(stay for facts in per_call for stay in facts.stays),
        offers=tuple(offer for facts in per_call for offer in facts.offers),
        calls=tuple(call for facts in per_call for call in facts.calls),
        leads=tuple(lead for lead in leads if lead is not None),
        contacts=tuple(contact for facts in per_call for contact in facts.contacts),
    )
