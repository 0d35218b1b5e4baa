"""One caller's time in the ACD, as the router keeps it (imperative shell; no I/O here)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cti.acd.model import Entry


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
