"""Hold time: ARI ``ChannelHold``/``ChannelUnhold`` of a conversation's channels, as call events.

Asterisk sends them for a channel in our app whose device puts the call on hold or takes it off
(a SIP re-INVITE, a phone's hold key). While the ACD bridges a caller (or a callback's customer)
to an agent, each becomes ``hold_started``/``hold_ended`` of that call, naming the channel and
its side; the KPI facts turn them into hold seconds (``cti.kpi.facts``), which AHT includes.
A hold outside a conversation (a caller in the IVR or waiting in a queue) is no handling time
and is not recorded. The ACD's state is only read here, through ``Conversations``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from cti.acd.session import Waiting
from cti.ari.events import ChannelHold, ChannelUnhold, Event
from cti.events import CallEvent, EventKind
from cti.live.outbox import EventOutbox

log = logging.getLogger(__name__)


class Conversations(Protocol):
    """What the ACD knows of its calls (``QueueRouter`` has these)."""

    calls: dict[str, Waiting]  # caller channel id -> session
    legs: dict[str, str]  # agent channel id -> caller channel id
    customer_legs: dict[str, str]  # a callback's customer channel id -> call id
    clock: Callable[[], float]


def conversation_of(acd: Conversations, channel_id: str) -> tuple[Waiting, str] | None:
    """The bridged session ``channel_id`` takes part in, and its side (agent, caller, customer)."""
    sides: Mapping[str, str | None] = {
        "agent": acd.legs.get(channel_id),
        "customer": acd.customer_legs.get(channel_id),
        "caller": channel_id,
    }
    for side, call_id in sides.items():
        session = acd.calls.get(call_id) if call_id else None
        if session is not None and session.bridge_id is not None and not session.done:
            return session, side
    return None


class HoldRecorder:
    def __init__(self, acd: Conversations, outbox: EventOutbox) -> None:
        self.acd = acd
        self.outbox = outbox

    async def handle(self, event: Event) -> bool:
        """Record a hold or unhold of a conversation; True if the event was one (of any channel)."""
        if not isinstance(event, ChannelHold | ChannelUnhold):
            return False
        found = conversation_of(self.acd, event.channel.id)
        if found is None:
            log.debug("hold outside a conversation ignored", extra={"channel": event.channel.id})
            return True
        session, side = found
        kind = EventKind.HOLD_STARTED if isinstance(event, ChannelHold) else EventKind.HOLD_ENDED
        await self.outbox.try_record(
            CallEvent(
                kind,
                datetime.fromtimestamp(self.acd.clock(), UTC),
                session.entry.call_id,
                queue=session.entry.queue,
                agent=session.agent,
                caller_number=session.caller_number,
                data={"channel": event.channel.id, "side": side},
            )
        )
        log.info("%s by the %s", kind.value, side, extra={"channel": session.entry.call_id})
        return True
