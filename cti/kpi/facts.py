"""From call events to the facts the KPIs count: queue stays, agent offers, calls, leads.

Pure: events in, facts out. A *queue stay* is one call's time in one queue, from
``queue_entered`` to the outcome that ends it (answered, abandoned, overflowed, timed out,
callback), as Asterisk's queue_log counts them: a call overflowed from A to B is a miss in A and
a new offer in B. Events may arrive in any order; each call's events are sorted by time first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from cti.events import CallEvent, EventKind


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


@dataclass(frozen=True)
class QueueStay:
    call_id: str
    queue: str
    entered_at: datetime
    outcome: Outcome = Outcome.WAITING
    wait_s: float | None = None
    agent: str | None = None
    caller_number: str | None = None
    talk_s: float | None = None
    hold_s: float = 0.0
    wrapup_s: float | None = None
    resolved: bool | None = None


@dataclass(frozen=True)
class AgentOffer:
    call_id: str
    agent: str
    queue: str | None
    rang_at: datetime
    answered: bool = False
    ring_s: float | None = None


@dataclass(frozen=True)
class InboundCall:
    """A call that reached the center; ``queue`` and ``agent``: its first queue and who answered."""

    call_id: str
    at: datetime
    caller_number: str | None
    queue: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class Contact:
    """A call on which a person was reached (an agent answered inbound, a customer outbound)."""

    call_id: str
    at: datetime
    queue: str | None
    agent: str | None
    booked_appointment: bool = False


@dataclass(frozen=True)
class Lead:
    lead_id: str
    created_at: datetime
    queue: str | None = None
    first_dial_at: datetime | None = None
    answered_at: datetime | None = None
    stages: frozenset[str] = frozenset()
    lost: tuple[tuple[str, str], ...] = ()  # (stage, reason)


@dataclass(frozen=True)
class Facts:
    stays: tuple[QueueStay, ...] = ()
    offers: tuple[AgentOffer, ...] = ()
    calls: tuple[InboundCall, ...] = ()
    leads: tuple[Lead, ...] = ()
    contacts: tuple[Contact, ...] = ()


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _close_stay(stay: QueueStay, event: CallEvent) -> QueueStay:
    # A producer's own wait (monotonic clock) beats the difference of two wall-clock stamps.
    wait = event.number("wait_s") if "wait_s" in event.data else _seconds(stay.entered_at, event.at)
    return replace(
        stay,
        outcome=_OUTCOME_OF[event.kind],
        wait_s=wait,
        agent=event.agent if event.kind is EventKind.AGENT_ANSWERED else None,
    )


def _after_answer(stay: QueueStay, event: CallEvent) -> QueueStay:
    if event.kind is EventKind.COMPLETED:
        return replace(stay, talk_s=event.number("talk_s"), hold_s=event.number("hold_s"))
    if event.kind is EventKind.WRAPUP_ENDED:
        return replace(stay, wrapup_s=event.number("wrapup_s"))
    if event.kind is EventKind.DISPOSITION:
        return replace(stay, resolved=bool(event.data.get("resolved", False)))
    return stay


def _stays_of_call(events: Sequence[CallEvent]) -> list[QueueStay]:
    stays: list[QueueStay] = []
    open_stay: QueueStay | None = None
    for event in events:
        if event.kind is EventKind.QUEUE_ENTERED:
            if open_stay is not None:
                stays.append(open_stay)  # re-entered without an outcome: the first stay stays open
            open_stay = QueueStay(
                event.call_id, event.queue or "", event.at, caller_number=event.caller_number
            )
        elif event.kind in _OUTCOME_OF and open_stay is not None:
            stays.append(_close_stay(open_stay, event))
            open_stay = None
        elif stays and stays[-1].outcome is Outcome.ANSWERED:
            stays[-1] = _after_answer(stays[-1], event)
    if open_stay is not None:
        stays.append(open_stay)
    return stays


def _offers_of_call(events: Sequence[CallEvent]) -> list[AgentOffer]:
    offers: list[AgentOffer] = []
    ringing: dict[str, AgentOffer] = {}
    for event in events:
        agent = event.agent or ""
        if event.kind is EventKind.AGENT_OFFERED:
            ringing[agent] = AgentOffer(event.call_id, agent, event.queue, event.at)
        elif event.kind in (EventKind.AGENT_ANSWERED, EventKind.RING_NO_ANSWER, EventKind.OFFER_CANCELED):
            offer = ringing.pop(agent, None)
            if offer is not None:
                answered = event.kind is EventKind.AGENT_ANSWERED
                offers.append(replace(offer, answered=answered, ring_s=_seconds(offer.rang_at, event.at)))
    offers.extend(ringing.values())
    return offers


@dataclass
class _LeadDraft:
    created_at: datetime | None = None
    queue: str | None = None
    first_dial_at: datetime | None = None
    answered_at: datetime | None = None
    stages: set[str] = field(default_factory=set)
    lost: list[tuple[str, str]] = field(default_factory=list)


def _note_lead_event(draft: _LeadDraft, event: CallEvent) -> None:
    kind = event.kind
    if kind is EventKind.LEAD_CREATED:
        draft.created_at, draft.queue = event.at, event.queue
    elif kind is EventKind.DIAL_STARTED and (draft.first_dial_at is None or event.at < draft.first_dial_at):
        draft.first_dial_at = event.at
    elif kind is EventKind.CUSTOMER_ANSWERED and (draft.answered_at is None or event.at < draft.answered_at):
        draft.answered_at = event.at
        draft.stages.add("contacted")
    elif kind is EventKind.FUNNEL_STAGE:
        draft.stages.add(str(event.data.get("stage", "")))
    elif kind is EventKind.FUNNEL_LOST:
        draft.lost.append((str(event.data.get("stage", "")), str(event.data.get("reason", "unknown"))))


def _leads(events: Iterable[CallEvent]) -> list[Lead]:
    drafts: dict[str, _LeadDraft] = defaultdict(_LeadDraft)
    for event in events:
        if event.lead_id:
            _note_lead_event(drafts[event.lead_id], event)
    return [
        Lead(
            lead_id, d.created_at, d.queue, d.first_dial_at, d.answered_at, frozenset(d.stages), tuple(d.lost)
        )
        for lead_id, d in drafts.items()
        if d.created_at is not None
    ]


def _call_facts(call_id: str, events: Sequence[CallEvent], stays: Sequence[QueueStay]) -> Facts:
    """The inbound call and contacts of one call, given its time-ordered events and stays."""
    first_queue = stays[0].queue if stays else None
    answering = next((s.agent for s in stays if s.outcome is Outcome.ANSWERED), None)
    booked = any(e.kind is EventKind.APPOINTMENT_BOOKED for e in events)
    calls: list[InboundCall] = []
    contacts: list[Contact] = []
    for event in events:
        if event.kind is EventKind.CALL_STARTED and event.data.get("direction", "inbound") == "inbound":
            calls.append(InboundCall(call_id, event.at, event.caller_number, first_queue, answering))
        elif event.kind in (EventKind.AGENT_ANSWERED, EventKind.CUSTOMER_ANSWERED) and not contacts:
            contacts.append(Contact(call_id, event.at, event.queue or first_queue, event.agent, booked))
    return Facts(calls=tuple(calls), contacts=tuple(contacts))


def derive_facts(events: Iterable[CallEvent]) -> Facts:
    """All facts in ``events`` (any order)."""
    by_call: dict[str, list[CallEvent]] = defaultdict(list)
    everything: list[CallEvent] = []
    for event in events:
        everything.append(event)
        if event.call_id:
            by_call[event.call_id].append(event)
    stays: list[QueueStay] = []
    offers: list[AgentOffer] = []
    calls: list[InboundCall] = []
    contacts: list[Contact] = []
    for call_id, call_events in by_call.items():
        call_events.sort(key=lambda e: e.at)
        call_stays = _stays_of_call(call_events)
        stays.extend(call_stays)
        offers.extend(_offers_of_call(call_events))
        per_call = _call_facts(call_id, call_events, call_stays)
        calls.extend(per_call.calls)
        contacts.extend(per_call.contacts)
    return Facts(tuple(stays), tuple(offers), tuple(calls), tuple(_leads(everything)), tuple(contacts))
