"""Call events as ``call_events`` rows and back; times as integer microseconds since the epoch.

Shared by the event reads and writes (``events``) and the KPI projection (``projection``), which
reads a call's stored events back to recompute its facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cti.events import CallEvent, EventKind, from_us, to_us
from cti.store.models import CallEventRow

EVENT_COLUMNS = (
    CallEventRow.event_id,
    CallEventRow.kind,
    CallEventRow.at_us,
    CallEventRow.call_id,
    CallEventRow.queue,
    CallEventRow.agent,
    CallEventRow.lead_id,
    CallEventRow.caller_number,
    CallEventRow.source,
    CallEventRow.data,
)


def to_row(event: CallEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind.value,
        "at_us": to_us(event.at),
        "call_id": event.call_id,
        "queue": event.queue,
        "agent": event.agent,
        "lead_id": event.lead_id,
        "caller_number": event.caller_number,
        "source": event.source,
        "data": dict(event.data),
    }


def from_row(row: Sequence[Any]) -> CallEvent:
    """An event from a row of ``EVENT_COLUMNS``."""
    event_id, kind, at_us, call_id, queue, agent, lead_id, number, source, data = row
    return CallEvent(
        kind=EventKind(kind),
        at=from_us(at_us),
        call_id=call_id,
        queue=queue,
        agent=agent,
        lead_id=lead_id,
        caller_number=number,
        data=data or {},
        source=source,
        event_id=event_id,
    )
