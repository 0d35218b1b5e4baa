"""What the agents' desktops are told about a call event (pure: no I/O).

The publisher (``cti.desk.publisher``) reads every call event once and asks ``pushes`` what to
publish, given the call's journey so far (its earlier events). The answer names the agent
topic, the push event, and what it does to the agent's open pops (``PopChange``); whether a pop
is really open is the push store's to check (``cti.desk.push``), so that an event handled twice,
or two instances' publishers racing, still shows each offer once.

An offer is one agent's ring for one call; its key, ``<call_id>:<offer id>`` (the offer id is
the agent's channel id, data "offer" of the ACD's events), names its pop everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cti.desk.push import PopChange, Push, agent_topic
from cti.events import CallEvent, EventKind

#: Why a pop is withdrawn (``pop_withdrawn`` "reason").
ANSWERED_ELSEWHERE = "answered_elsewhere"
ABANDONED = "abandoned"
ROLLED_OVER = "rolled_over"
CANCELED = "canceled"

#: The conversation's state for each event that changes it (``call`` "state").
_CALL_STATES = {
    EventKind.AGENT_ANSWERED: "talking",
    EventKind.HOLD_STARTED: "held",
    EventKind.HOLD_ENDED: "talking",
    EventKind.COMPLETED: "ended",
}


def offer_key(event: CallEvent) -> str | None:
    """The key of the offer an ACD event is about; None for an event that names none."""
    offer = event.data.get("offer")
    return f"{event.call_id}:{offer}" if offer else None


def in_journey(event: CallEvent) -> bool:
    """Whether the call's journey keeps ``event`` (an agent's state change is the agent's)."""
    return bool(event.call_id) and event.kind is not EventKind.AGENT_STATE_CHANGED


def pushes(event: CallEvent, journey: Sequence[CallEvent], pop: Mapping[str, Any] | None) -> list[Push]:
    """What to publish for ``event``, the call's ``journey`` being its events before this one;
    ``pop`` is the pop body built for an ``agent_offered`` (None for any other event)."""
    key = offer_key(event)
    kind = event.kind
    if kind is EventKind.AGENT_STATE_CHANGED and event.agent:
        return [Push(agent_topic(event.agent), _agent_state(event))]
    if kind is EventKind.AGENT_OFFERED and key and event.agent and pop is not None:
        body = {"kind": "pop", **pop}
        return [Push(agent_topic(event.agent), body, PopChange.OPEN, event.agent, key, pop)]
    if kind is EventKind.RING_NO_ANSWER and key and event.agent:
        return [_withdrawal(event.agent, key, event.call_id, ROLLED_OVER)]
    if kind is EventKind.OFFER_CANCELED and key and event.agent:
        return [_withdrawal(event.agent, key, event.call_id, _cancel_reason(event, journey))]
    if kind is EventKind.ABANDONED:
        ringing = _ringing(journey)
        return [_withdrawal(agent, offer, event.call_id, ABANDONED) for offer, agent in ringing.items()]
    if kind is EventKind.AGENT_ANSWERED and key and event.agent:
        others = {offer: agent for offer, agent in _ringing(journey).items() if offer != key}
        elsewhere = [_withdrawal(a, offer, event.call_id, ANSWERED_ELSEWHERE) for offer, a in others.items()]
        return [_call(event, key), *elsewhere]
    if kind in _CALL_STATES and event.agent and (answered := _answered(journey, event.agent)):
        return [_call(event, answered)]
    if kind is EventKind.WRAPUP_ENDED and event.agent and (answered := _answered(journey, event.agent)):
        return [Push(agent_topic(event.agent), None, PopChange.DROP, event.agent, answered)]
    return []


def _withdrawal(agent: str, offer: str, call_id: str, reason: str) -> Push:
    body = {"kind": "pop_withdrawn", "offer": offer, "call_id": call_id, "reason": reason}
    return Push(agent_topic(agent), body, PopChange.CLOSE, agent, offer)


def _call(event: CallEvent, offer: str) -> Push:
    body = {
        "kind": "call",
        "call_id": event.call_id,
        "offer": offer,
        "state": _CALL_STATES[event.kind],
        "since": event.at.isoformat(),
    }
    return Push(agent_topic(event.agent or ""), body)


def _agent_state(event: CallEvent) -> dict[str, Any]:
    """The change as the desktop's agent view holds it (``GET /api/agents/me``'s keys): times
    in ISO 8601, the deadline (``until``, recorded in epoch seconds) too."""
    data = event.data
    until = data.get("until")
    return {
        "kind": "agent_state",
        "state": data.get("state"),
        "reason": data.get("reason", ""),
        "since": event.at.isoformat(),
        "until": datetime.fromtimestamp(float(until), UTC).isoformat() if until else None,
        "call_id": event.call_id or None,
        "by": data.get("by", "auto"),
        "wrapup_requires_disposition": bool(data.get("disposition_required")),
    }


def _cancel_reason(event: CallEvent, journey: Sequence[CallEvent]) -> str:
    """Ringing stopped because another agent answered, or the caller left, or otherwise (a
    callback no longer this instance's to serve)."""
    for earlier in reversed(journey):
        if earlier.kind is EventKind.AGENT_ANSWERED and earlier.agent != event.agent:
            return ANSWERED_ELSEWHERE
        if earlier.kind is EventKind.ABANDONED:
            return ABANDONED
    return CANCELED


def _ringing(journey: Sequence[CallEvent]) -> dict[str, str]:
    """The offers still ringing after ``journey``: offer key -> agent."""
    ringing: dict[str, str] = {}
    for event in journey:
        key = offer_key(event)
        if event.kind is EventKind.ABANDONED:
            ringing.clear()
        elif key is None:
            continue
        elif event.kind is EventKind.AGENT_OFFERED and event.agent:
            ringing[key] = event.agent
        elif event.kind in (EventKind.RING_NO_ANSWER, EventKind.OFFER_CANCELED, EventKind.AGENT_ANSWERED):
            ringing.pop(key, None)
    return ringing


def _answered(journey: Sequence[CallEvent], agent: str) -> str | None:
    """The offer ``agent`` answered in ``journey`` (the latest), if any."""
    for event in reversed(journey):
        if event.kind is EventKind.AGENT_ANSWERED and event.agent == agent:
            return offer_key(event)
    return None
