"""The call-event vocabulary: what every producer (IVR, ACD, dialer, queue_log import) records.

Events are append-only facts. Each has an ``event_id`` chosen by its producer, so a replayed
event (a retry, a re-import, an outbox drained twice after a crash) is stored once. KPIs are
computed from these events, never from counters (docs/kpi.md). This module is pure: no I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class EventKind(StrEnum):
    """What happened. Names are stable: they are stored, exported and reported."""

    CALL_STARTED = "call_started"  # a call reached the service (inbound) or was placed (outbound)
    CALL_ENDED = "call_ended"
    IVR_NODE_ENTERED = "ivr_node_entered"
    IVR_KEY_PRESSED = "ivr_key_pressed"
    QUEUE_ENTERED = "queue_entered"  # data: position, priority
    AGENT_OFFERED = "agent_offered"  # the agent's phone started ringing
    AGENT_ANSWERED = "agent_answered"  # the agent picked up: caller and agent connected
    RING_NO_ANSWER = "ring_no_answer"  # data: ring_s
    OFFER_CANCELED = "offer_canceled"  # ringing stopped: the caller left or another agent answered
    ABANDONED = "abandoned"  # the caller hung up while waiting; data: position, wait_s
    OVERFLOWED = "overflowed"  # data: target
    TIMED_OUT = "timed_out"  # maximum wait reached
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_SERVED = "callback_served"
    TRANSFERRED = "transferred"  # data: target
    COMPLETED = "completed"  # the conversation ended; data: by (caller|agent), talk_s, hold_s
    HOLD_STARTED = "hold_started"  # a channel of the conversation put it on hold; data: channel
    HOLD_ENDED = "hold_ended"  # that channel took it off hold; data: channel
    WRAPUP_ENDED = "wrapup_ended"  # data: wrapup_s
    DISPOSITION = "disposition"  # data: code, resolved (bool)
    APPOINTMENT_BOOKED = "appointment_booked"
    AGENT_STATE_CHANGED = "agent_state_changed"  # data: state, reason
    LEAD_CREATED = "lead_created"  # data: source
    DIAL_STARTED = "dial_started"  # an outbound attempt for lead_id started dialling
    CUSTOMER_ANSWERED = "customer_answered"  # the lead's customer answered an outbound attempt
    DIAL_RESULT = "dial_result"  # how an outbound attempt ended; data: result (busy, no_answer, ...)
    DIAL_REFUSED = "dial_refused"  # a dial the rules did not allow; data: rule, reason
    OUTBOUND_ABANDONED = "outbound_abandoned"  # an answered customer got no agent in time
    FUNNEL_STAGE = "funnel_stage"  # data: stage (see kpi.definitions.FUNNEL_STAGES)
    FUNNEL_LOST = "funnel_lost"  # data: stage, reason


#: The longest text the store keeps in each field of ``call_events`` (``cti.store.models``
#: declares its columns with these numbers): an event is checked when it is made, so a value
#: that would not fit fails where it was produced, not later in a batch with others.
FIELD_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "event_id": 64,
        "call_id": 64,
        "queue": 64,
        "agent": 64,
        "lead_id": 64,
        "caller_number": 32,
        "source": 16,
    }
)


def fit_caller_number(number: str | None) -> str | None:
    """A caller id as the events keep it: a forged or odd one (any text, any length, from the
    network) is cut to what the store holds rather than refused, so the call goes on."""
    return number[: FIELD_LIMITS["caller_number"]] if number else number


@dataclass(frozen=True)
class CallEvent:
    """One fact about a call, an agent or a lead, at a wall-clock time (timezone-aware)."""

    kind: EventKind
    at: datetime
    call_id: str = ""
    queue: str | None = None
    agent: str | None = None
    lead_id: str | None = None
    caller_number: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "cti"
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"event {self.kind} at {self.at}: the time must carry a timezone")
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(
                    f"event {self.kind.value} of call {self.call_id[:64]!r}: {name} is {len(value)} "
                    f"characters, the store keeps at most {limit}"
                )

    def number(self, key: str, default: float = 0.0) -> float:
        """A numeric ``data`` field (seconds, positions), ``default`` when absent."""
        value = self.data.get(key, default)
        return float(value) if value is not None else default


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch: how the store and the KPI facts keep times (exact, no
    float rounding; cheap to compare, subtract and read back)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def event_to_json(event: CallEvent) -> str:
    """The event as JSON (the outbox's wire format)."""
    return json.dumps(
        {
            "event_id": event.event_id,
            "kind": event.kind.value,
            "at": event.at.isoformat(),
            "call_id": event.call_id,
            "queue": event.queue,
            "agent": event.agent,
            "lead_id": event.lead_id,
            "caller_number": event.caller_number,
            "data": dict(event.data),
            "source": event.source,
        },
        ensure_ascii=False,
    )


def event_from_json(text: str) -> CallEvent:
    fields = json.loads(text)
    return CallEvent(
        kind=EventKind(fields["kind"]),
        at=datetime.fromisoformat(fields["at"]),
        call_id=fields["call_id"],
        queue=fields["queue"],
        agent=fields["agent"],
        lead_id=fields["lead_id"],
        caller_number=fields["caller_number"],
        data=fields["data"],
        source=fields["source"],
        event_id=fields["event_id"],
    )
