"""Building call events for KPI tests: times are seconds after T0 (UTC)."""

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cti.events import CallEvent, EventKind

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, 17:00 in Shanghai


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: EventKind, t: float, call_id: str = "", **fields: Any) -> CallEvent:
    data = fields.pop("data", {})
    return CallEvent(kind=kind, at=at(t), call_id=call_id, data=data, **fields)


def answered_call(
    call_id: str,
    wait_s: float,
    *,
    queue: str = "sales",
    agent: str = "1001",
    start: float = 0,
    talk_s: float = 60,
) -> list[CallEvent]:
    """A call that entered ``queue`` at ``start`` and was answered ``wait_s`` later, then talked."""
    number = f"1380000{zlib.crc32(call_id.encode()) % 10000:04d}"
    return [
        ev(EventKind.CALL_STARTED, start, call_id, caller_number=number),
        ev(EventKind.QUEUE_ENTERED, start, call_id, queue=queue, caller_number=number),
        ev(EventKind.AGENT_OFFERED, start, call_id, queue=queue, agent=agent),
        ev(EventKind.AGENT_ANSWERED, start + wait_s, call_id, queue=queue, agent=agent),
        ev(
            EventKind.COMPLETED,
            start + wait_s + talk_s,
            call_id,
            queue=queue,
            agent=agent,
            data={"talk_s": talk_s},
        ),
    ]


def unanswered_call(
    call_id: str, kind: EventKind, wait_s: float, *, queue: str = "sales", start: float = 0
) -> list[CallEvent]:
    return [
        ev(EventKind.CALL_STARTED, start, call_id, caller_number="13900000000"),
        ev(EventKind.QUEUE_ENTERED, start, call_id, queue=queue),
        ev(kind, start + wait_s, call_id, queue=queue),
    ]
