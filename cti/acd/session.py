"""One caller's time in the ACD, as the router keeps it (imperative shell; no I/O here)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.acd.model import Entry

AGENT_LEG = "acd-agent"  # Stasis args of an agent's channel: acd-agent,<caller channel id>
CUSTOMER_LEG = "acd-customer"  # Stasis args of a callback's customer leg: acd-customer,<call id>


@dataclass
class Waiting:
    """One caller in the ACD, from enqueue to the end of the conversation.

    A callback is a ``Waiting`` too: ``callback_number`` is set when the caller asked to be
    called back (the line is then cleared, the entry keeps its place in Redis), and a session
    serving a callback has no caller channel until the customer's leg (``customer_channel``)
    is dialled, after the agent answered.
    """

    entry: Entry
    caller_number: str | None
    position: int
    language: str = "zh"
    ringing: dict[str, str] = field(default_factory=dict)  # agent channel id -> agent id
    agent: str | None = None
    agent_channel: str | None = None
    answered_at: float | None = None
    bridge_id: str | None = None
    in_line: bool = False  # its entry is in Redis (a routing pass puts a new caller there)
    done: bool = False
    callback_number: str | None = None
    lead_id: str | None = None  # the callback's lead: its dial and answer feed the one-minute KPI
    serving_callback: bool = False
    customer_channel: str | None = None
    customer_answered: bool = False
    timer: asyncio.Task[None] | None = None  # the maximum wait
    escalation: asyncio.Task[None] | None = None  # wakes the matcher at each escalation step
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: What the IVR handed over with the caller ({"flow", "values"}): ``queue_entered`` carries
    #: it to the agent's screen-pop, and a restart's adoption keeps it.
    context: Mapping[str, Any] | None = None

    @property
    def waiting(self) -> bool:
        """In line for an agent: not talking, not finished, not a caller gone for a callback
        (a callback being served is in line again)."""
        return (
            self.agent is None  # set the moment an agent answers, before the bridge exists
            and not self.done
            and (self.callback_number is None or self.serving_callback)
        )

    @property
    def customer_leg(self) -> str:
        """The channel id of a callback's customer leg (known before it is created)."""
        return f"{self.entry.call_id}-cb"

    def record(self) -> dict[str, Any]:
        """What a restart needs to adopt this call (kept in Redis by ``cti.live.owned``)."""
        entry = self.entry
        return {
            "queue": entry.queue,
            "entered_at": entry.entered_at,
            "priority": entry.priority,
            "caller_number": self.caller_number,
            "language": self.language,
            "agent": self.agent,
            "agent_channel": self.agent_channel,
            "answered_at": self.answered_at,
            "bridge": self.bridge_id,
            "callback_number": self.callback_number,
            "lead_id": self.lead_id,
            "serving_callback": self.serving_callback,
            "customer_channel": self.customer_channel,
            "customer_answered": self.customer_answered,
            "context": None if self.context is None else dict(self.context),
        }

    @classmethod
    def from_record(cls, call_id: str, record: Mapping[str, Any]) -> Waiting:
        """The session a record describes; raises ``ValueError`` for one that cannot be read."""
        try:
            entry = Entry(
                call_id, str(record["queue"]), float(record["entered_at"]), int(record.get("priority") or 0)
            )
            answered_at = record.get("answered_at")
            return cls(
                entry,
                _text(record.get("caller_number")),
                0,
                str(record.get("language") or "zh"),
                agent=_text(record.get("agent")),
                agent_channel=_text(record.get("agent_channel")),
                answered_at=None if answered_at is None else float(answered_at),
                bridge_id=_text(record.get("bridge")),
                in_line=True,
                callback_number=_text(record.get("callback_number")),
                lead_id=_text(record.get("lead_id")),
                serving_callback=bool(record.get("serving_callback")),
                customer_channel=_text(record.get("customer_channel")),
                customer_answered=bool(record.get("customer_answered")),
                context=_mapping(record.get("context")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"call {call_id}: unreadable ACD record: {exc!r}") from exc


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _mapping(value: object) -> Mapping[str, Any] | None:
    """A record's IVR context: a mapping, or none (older records have no such key)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"context is {type(value).__name__}, not a mapping")
    return value
