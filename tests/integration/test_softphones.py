"""The ACD end to end with real SIP softphones (issue 4): baresip agents registered over PJSIP.

The simulated agents of test_acd_router.py prove the routing; these tests prove what they
cannot: that an agent's real SIP phone rings with the caller's number, that answering it on the
phone bridges caller and agent in Asterisk, and that hanging up on the phone ends the call as
``completed`` by the agent. Callers stay simulated (Local channels): only the agent side is SIP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import pytest

from cti.acd import QueueConfig, Strategy
from cti.ari.models import Bridge
from cti.events import CallEvent, EventKind
from cti.kpi import derive_facts
from cti.sim import Softphone, place_simulated_call
from tests.conftest import eventually
from tests.integration.conftest import PHONES, Acd, MakeAcd
from tests.integration.conftest import sales as sales_queue

RING_S = 1.0  # how long a phone rings before the test accepts, like an agent reaching for it

MakeSoftphoneAcd = Callable[[QueueConfig], Awaitable[Acd]]


@pytest.fixture
def softphone_acd(make_acd: MakeAcd) -> MakeSoftphoneAcd:
    """Conftest's ``make_acd``, but the agents' endpoints are their phones: PJSIP/<ext>."""

    async def make(queue: QueueConfig) -> Acd:
        return await make_acd((queue,), agent_ids=list(PHONES), endpoint=lambda ext: f"PJSIP/{ext}")

    return make


sales = partial(sales_queue, ring_timeout_s=15)


async def call(acd: Acd, number: str) -> str:
    """A simulated caller with its own number, straight into the ACD's sales queue."""
    channel = await place_simulated_call(
        acd.ari, app=acd.app, app_args="caller,sales", caller_number=number, hold_s=60
    )
    return channel.id


def kinds(events: list[CallEvent], call_id: str) -> list[tuple[str, str | None]]:
    return [
        (e.kind.value, e.agent)
        for e in events
        if e.call_id == call_id and e.kind is not EventKind.AGENT_STATE_CHANGED
    ]


def count(kind: EventKind, n: int) -> Callable[[list[CallEvent]], bool]:
    return lambda events: sum(e.kind is kind for e in events) >= n


async def answer_after_ring(phone: Softphone) -> str:
    """Wait for the phone to ring, let it ring RING_S, accept; the caller's number it showed."""
    incoming = await phone.wait_event("CALL_INCOMING", within_s=15)
    await asyncio.sleep(RING_S)
    await phone.accept()
    await phone.wait_event("CALL_ESTABLISHED", within_s=5)
    return str(incoming["peeruri"])


async def bridged(acd: Acd, caller: str, within_s: float = 30) -> tuple[Bridge, str]:
    """The caller's bridge once it holds caller and agent (the router bridges just after
    recording ``agent_answered``), and the agent's channel id."""

    async def pair() -> tuple[Bridge, str] | None:
        session = acd.router.calls.get(caller)
        if session is not None and session.bridge_id and session.agent_channel:
            bridge = await acd.ari.get_bridge(session.bridge_id)
            if set(bridge.channels) == {caller, session.agent_channel}:
                return bridge, session.agent_channel
        return None

    # eventually() returns the first pair found (not None)
    return await eventually(pair, within_s=within_s, what=f"caller {caller} bridged with an agent")  # type: ignore[return-value]


async def test_given_a_softphone_agent_when_a_caller_queues_then_the_phone_answers_and_hangs_up(
    phones: dict[str, Softphone], softphone_acd: MakeSoftphoneAcd
) -> None:
    acd = await softphone_acd(sales(strategy=Strategy.LINEAR))  # 1001 first
    caller = await call(acd, "13800000001")

    shown = await answer_after_ring(phones["1001"])
    assert shown.startswith("sip:13800000001@")
    events = await acd.wait_for(count(EventKind.AGENT_ANSWERED, 1))
    answered = next(e for e in events if e.kind is EventKind.AGENT_ANSWERED)
    assert (answered.call_id, answered.agent) == (caller, "1001")
    assert answered.data["wait_s"] >= RING_S
    _, agent_channel = await bridged(acd, caller)
    assert (await acd.ari.get_channel(agent_channel)).name.startswith("PJSIP/1001-")

    await phones["1001"].hangup()
    await phones["1001"].wait_event("CALL_CLOSED", within_s=5)
    events = await acd.wait_for(count(EventKind.COMPLETED, 1))
    completed = next(e for e in events if e.kind is EventKind.COMPLETED)
    assert (completed.agent, completed.data["by"]) == ("1001", "agent")
    assert kinds(events, caller) == [
        ("queue_entered", None),
        ("agent_offered", "1001"),
        ("agent_answered", "1001"),
        ("completed", "1001"),
    ]
    assert not [e for e in phones["1002"].events if e["type"] == "CALL_INCOMING"]


async def test_given_two_softphone_agents_when_two_callers_queue_then_each_talks_in_its_own_bridge(
    phones: dict[str, Softphone], softphone_acd: MakeSoftphoneAcd
) -> None:
    acd = await softphone_acd(sales())
    numbers = {"13800000001": await call(acd, "13800000001"), "13800000002": await call(acd, "13800000002")}

    shown = await asyncio.gather(*(answer_after_ring(phones[ext]) for ext in PHONES))
    events = await acd.wait_for(count(EventKind.AGENT_ANSWERED, 2))
    answered = {e.call_id: e.agent for e in events if e.kind is EventKind.AGENT_ANSWERED}
    bridges = set()
    for ext, uri in zip(PHONES, shown, strict=True):
        number = uri.removeprefix("sip:").split("@")[0]
        caller = numbers[number]  # the phone showed one of our callers' numbers...
        assert answered[caller] == ext  # ...and it is that caller the router gave this agent
        bridge, agent_channel = await bridged(acd, caller)
        assert (await acd.ari.get_channel(agent_channel)).name.startswith(f"PJSIP/{ext}-")
        bridges.add(bridge.id)
    assert len(bridges) == 2

    for ext in PHONES:
        await phones[ext].hangup()
    events = await acd.wait_for(count(EventKind.COMPLETED, 2))
    assert {(e.agent, e.data["by"]) for e in events if e.kind is EventKind.COMPLETED} == {
        ("1001", "agent"),
        ("1002", "agent"),
    }


async def test_given_a_conversation_when_the_agent_holds_on_the_phone_then_hold_time_is_recorded_and_in_aht(
    phones: dict[str, Softphone], softphone_acd: MakeSoftphoneAcd
) -> None:
    """The agent's phone puts the call on hold and resumes it (SIP re-INVITEs): Asterisk reports
    ChannelHold/ChannelUnhold for the agent's channel, recorded as hold_started/hold_ended; the
    facts count the hold in AHT and not in talk."""
    acd = await softphone_acd(sales(strategy=Strategy.LINEAR))
    caller = await call(acd, "13800000003")
    await answer_after_ring(phones["1001"])
    _, agent_channel = await bridged(acd, caller)

    await phones["1001"].command("hold")
    started = await acd.wait_for(count(EventKind.HOLD_STARTED, 1))
    await asyncio.sleep(2.0)
    await phones["1001"].command("resume")
    await acd.wait_for(count(EventKind.HOLD_ENDED, 1))
    await phones["1001"].hangup()
    events = await acd.wait_for(count(EventKind.COMPLETED, 1))

    held = next(e for e in started if e.kind is EventKind.HOLD_STARTED)
    assert (held.call_id, held.agent, held.data) == (
        caller,
        "1001",
        {"channel": agent_channel, "side": "agent"},
    )
    [stay] = derive_facts([e for e in events if e.call_id == caller]).stays
    completed = next(e for e in events if e.kind is EventKind.COMPLETED)
    assert 1.5 <= stay.hold_s <= completed.data["talk_s"]
    assert stay.talk_s == pytest.approx(completed.data["talk_s"] - stay.hold_s, abs=0.002)
