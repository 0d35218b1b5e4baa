"""Holds of a conversation's channels become hold_started/hold_ended of its call; others are ignored."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from cti.acd.model import Entry
from cti.acd.session import Waiting
from cti.ari.events import ChannelHold, ChannelUnhold, parse_event
from cti.calls.holds import HoldRecorder
from cti.events import CallEvent, EventKind
from cti.live.outbox import EventOutbox

NOW = 1_780_000_000.0


@dataclass
class Acd:
    calls: dict[str, Waiting] = field(default_factory=dict)
    legs: dict[str, str] = field(default_factory=dict)
    customer_legs: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = lambda: NOW


class Outbox:
    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    async def try_record(self, *events: CallEvent) -> None:
        self.events += events


def acd_with_a_conversation(*, bridged: bool = True, done: bool = False) -> Acd:
    session = Waiting(Entry("caller-1", "sales", NOW - 30), "13800000001", 1, agent="1001")
    session.agent_channel, session.bridge_id, session.done = "agent-leg", "br" if bridged else None, done
    return Acd(
        calls={"caller-1": session}, legs={"agent-leg": "caller-1"}, customer_legs={"cust-leg": "caller-1"}
    )


def hold_event(kind: str, channel: str) -> Any:
    return parse_event({"type": kind, "channel": {"id": channel}, "musicclass": "default"})


def run(acd: Acd, event: Any) -> tuple[bool, list[CallEvent]]:
    outbox = Outbox()
    handled = asyncio.run(HoldRecorder(acd, cast(EventOutbox, outbox)).handle(event))
    return handled, outbox.events


def test_the_hold_events_are_typed() -> None:
    assert isinstance(hold_event("ChannelHold", "x"), ChannelHold)
    assert isinstance(hold_event("ChannelUnhold", "x"), ChannelUnhold)


@pytest.mark.parametrize(
    ("ari_type", "channel", "kind", "side"),
    [
        ("ChannelHold", "agent-leg", EventKind.HOLD_STARTED, "agent"),
        ("ChannelUnhold", "agent-leg", EventKind.HOLD_ENDED, "agent"),
        ("ChannelHold", "caller-1", EventKind.HOLD_STARTED, "caller"),
        ("ChannelHold", "cust-leg", EventKind.HOLD_STARTED, "customer"),
    ],
)
def test_given_a_bridged_call_when_a_channel_holds_then_its_call_records_it(
    ari_type: str, channel: str, kind: EventKind, side: str
) -> None:
    handled, events = run(acd_with_a_conversation(), hold_event(ari_type, channel))
    assert handled
    [event] = events
    assert (event.kind, event.call_id, event.queue, event.agent) == (kind, "caller-1", "sales", "1001")
    assert event.data == {"channel": channel, "side": side}
    assert event.at.timestamp() == NOW


@pytest.mark.parametrize(
    ("acd", "channel"),
    [
        (acd_with_a_conversation(bridged=False), "caller-1"),  # still waiting in the queue
        (acd_with_a_conversation(done=True), "agent-leg"),  # the conversation is over
        (acd_with_a_conversation(), "somebody-else"),  # a channel the ACD does not know (the IVR's)
    ],
)
def test_given_no_conversation_then_a_hold_is_not_handling_time(acd: Acd, channel: str) -> None:
    assert run(acd, hold_event("ChannelHold", channel)) == (True, [])


def test_other_events_are_not_its_business() -> None:
    event = parse_event({"type": "StasisEnd", "channel": {"id": "caller-1"}})
    assert run(acd_with_a_conversation(), event) == (False, [])
