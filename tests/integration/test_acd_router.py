"""The ACD on the real Asterisk with simulated agents (Local/<id>@agent-sim ringing set times)."""

import asyncio
import itertools
import logging
import time

import pytest

from cti.acd import AgentState, Command, QueueConfig, Strategy
from cti.events import CallEvent, EventKind
from cti.sim import set_agent_timing
from tests.conftest import eventually
from tests.integration.conftest import AGENT_IDS, Acd, MakeAcd, Relayed, sales


def kinds(events: list[CallEvent], call_id: str) -> list[tuple[str, str | None]]:
    return [
        (e.kind.value, e.agent)
        for e in events
        if e.call_id == call_id and e.kind is not EventKind.AGENT_STATE_CHANGED
    ]


async def until_listening(acd: Acd) -> None:
    """Wait until the router's listener has subscribed to the change notices."""
    channel = acd.state.changes_channel
    await eventually(
        lambda: acd.state.redis.pubsub_numsub(channel),
        lambda subscribers: dict(subscribers).get(channel),
        every_s=0.01,
        what="the router subscribed to its change notices",
    )


async def test_caller_and_agent_share_a_bridge_and_the_agent_wraps_up(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(strategy=Strategy.LINEAR),))
    await set_agent_timing(acd.ari, "1201", ring_s=2, talk_s=30)
    caller = await acd.call(hold_s=6)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    answered = next(e for e in events if e.kind is EventKind.AGENT_ANSWERED)
    assert answered.agent == "1201"
    assert answered.data["wait_s"] >= 1.9  # the agent rang 2 s
    session = acd.router.calls[caller]
    # agent_answered is recorded just before the bridge is made
    bridge_id = await eventually(lambda: session.bridge_id, what="the caller's bridge")
    bridge = await acd.ari.get_bridge(bridge_id)
    assert set(bridge.channels) == {caller, session.agent_channel}
    status, _ = await acd.state.agent("1201")
    assert status.state is AgentState.ON_CALL

    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.WRAPUP_ENDED for e in ev))
    assert kinds(events, caller) == [
        ("queue_entered", None),
        ("agent_offered", "1201"),
        ("agent_answered", "1201"),
        ("completed", "1201"),
        ("wrapup_ended", "1201"),
    ]
    completed = next(e for e in events if e.kind is EventKind.COMPLETED)
    assert completed.data["by"] == "caller"
    status, _ = await acd.state.agent("1201")
    assert status.state is AgentState.READY


async def test_ring_no_answer_rolls_over_and_auto_pauses(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(strategy=Strategy.LINEAR, auto_pause_after=1),))
    await set_agent_timing(acd.ari, "1201", ring_s=30)
    await set_agent_timing(acd.ari, "1202", ring_s=1, talk_s=30)
    caller = await acd.call(hold_s=15)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    assert kinds(events, caller) == [
        ("queue_entered", None),
        ("agent_offered", "1201"),
        ("ring_no_answer", "1201"),
        ("agent_offered", "1202"),
        ("agent_answered", "1202"),
    ]
    status, _ = await acd.state.agent("1201")
    assert (status.state, status.reason) == (AgentState.PAUSED, "auto:no-answer")
    changes = [
        (e.data["state"], e.data["reason"])
        for e in events
        if e.kind is EventKind.AGENT_STATE_CHANGED and e.agent == "1201"
    ]
    assert changes == [("ringing", "offered"), ("paused", "auto:no-answer")]
    await acd.ari.hangup(caller)


async def test_asterisk_out_of_reach_when_an_agent_frees_up_is_no_miss_and_the_caller_is_served_after(
    make_acd: MakeAcd, relayed: Relayed
) -> None:
    """The router's requests go through a relay that refuses connections (its events still
    arrive): ringing cannot start, which is not the agent's miss (no auto-pause), and the
    router pauses between tries instead of spinning; once Asterisk answers the caller is served."""
    acd = await make_acd(
        (sales(auto_pause_after=1),), agent_ids=["1201"], login=False, router_ari=relayed.ari
    )
    await set_agent_timing(acd.ari, "1201", ring_s=0, talk_s=30)
    caller = await acd.call(hold_s=30)
    await acd.wait_for(lambda ev: any(e.kind is EventKind.QUEUE_ENTERED for e in ev))
    relayed.proxy.refuse(True)
    relayed.proxy.drop_connections()
    await acd.state.transition("1201", Command.LOGIN, time.time())  # free: a pass rings
    events = await acd.wait_for(lambda ev: given_back(ev) >= 2)  # two tries failed
    assert agent_states(events).count("ringing") <= 3  # one try per pause, not a spin
    status, _ = await acd.state.agent("1201")
    assert status.state is AgentState.READY  # not auto-paused
    relayed.proxy.refuse(False)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    assert ("agent_answered", "1201") in kinds(events, caller)
    assert ("ring_no_answer", "1201") not in kinds(events, caller)
    await acd.ari.hangup(caller)


def agent_states(events: list[CallEvent]) -> list[str]:
    return [e.data["state"] for e in events if e.kind is EventKind.AGENT_STATE_CHANGED]


def given_back(events: list[CallEvent]) -> int:
    """Rings that never started: the agent went from ringing straight back to ready."""
    return sum(1 for pair in itertools.pairwise(agent_states(events)) if pair == ("ringing", "ready"))


async def test_a_caller_who_hangs_up_while_waiting_is_an_abandon(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(),), login=False)  # nobody is logged in
    caller = await acd.call(hold_s=2)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.ABANDONED for e in ev))
    abandoned = next(e for e in events if e.kind is EventKind.ABANDONED)
    assert abandoned.call_id == caller
    assert abandoned.data["position"] == 1
    assert abandoned.data["wait_s"] >= 1.5  # the caller held on 2 s
    assert acd.router.calls == {}


async def test_after_the_maximum_wait_the_caller_overflows_to_another_queue(make_acd: MakeAcd) -> None:
    queues = (
        sales(max_wait_s=2, overflow="general", skill="nobody-has-this"),
        QueueConfig(name="general", skill="sales", ring_timeout_s=3, wrapup_s=1),
    )
    acd = await make_acd(queues, agent_ids=["1203"])
    await set_agent_timing(acd.ari, "1203", ring_s=0, talk_s=30)
    caller = await acd.call(hold_s=10)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    assert [(e.kind.value, e.queue) for e in events if e.call_id == caller and e.queue][:4] == [
        ("queue_entered", "sales"),
        ("overflowed", "sales"),
        ("queue_entered", "general"),
        ("agent_offered", "general"),
    ]
    await acd.ari.hangup(caller)


async def test_two_routing_instances_never_offer_one_agent_two_calls(make_acd: MakeAcd) -> None:
    queue = sales(strategy=Strategy.LONGEST_IDLE)
    first = await make_acd((queue,))
    second = await make_acd((queue,), login=False)  # same Redis, same agents, another app
    for agent_id in AGENT_IDS:
        await set_agent_timing(first.ari, agent_id, ring_s=1, talk_s=2)
    callers = [await acd.call(hold_s=20) for acd in (first, second) * 3]
    assert len(callers) == 6
    both = await _all_answered(first, second, callers)
    offers = sorted(
        (
            (e.at, e.kind, e.agent, e.call_id)
            for e in both
            if e.kind in (EventKind.AGENT_OFFERED, EventKind.WRAPUP_ENDED)
        ),
        key=lambda item: item[0],
    )
    busy: dict[str, str] = {}
    for _, kind, agent, call in offers:
        assert agent is not None
        if kind is EventKind.AGENT_OFFERED:
            assert agent not in busy, f"agent {agent} offered {call} while busy with {busy.get(agent)}"
            busy[agent] = call
        else:
            busy.pop(agent, None)


async def _all_answered(first: Acd, second: Acd, callers: list[str]) -> list[CallEvent]:
    async def both() -> list[CallEvent]:
        return await first.recorded() + await second.recorded()

    def answered(events: list[CallEvent]) -> set[str]:
        return {e.call_id for e in events if e.kind is EventKind.AGENT_ANSWERED}

    return await eventually(
        both,
        lambda events: answered(events) == set(callers),
        within_s=60,
        what=lambda events: f"every caller answered; answered: {sorted(answered(events))}",
    )


async def test_a_full_queue_sends_the_caller_on_or_ends_the_wait(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(max_len=1),), login=False)  # nobody answers: callers pile up
    first = await acd.call(hold_s=10)
    await acd.wait_for(lambda ev: any(e.kind is EventKind.QUEUE_ENTERED for e in ev))
    second = await acd.call(hold_s=10)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.TIMED_OUT for e in ev))
    timed_out = next(e for e in events if e.kind is EventKind.TIMED_OUT)
    assert (timed_out.call_id, timed_out.data["reason"]) == (second, "full")
    assert second not in acd.router.calls
    assert first in acd.router.calls  # still waiting
    await acd.ari.hangup(first)


async def test_join_empty_off_refuses_and_leave_empty_sends_waiting_callers_away(make_acd: MakeAcd) -> None:
    acd = await make_acd(
        (
            sales(join_empty=False, overflow="general"),
            QueueConfig(name="general", skill="sales", leave_empty=True),
        ),
        agent_ids=["1201"],
    )
    await acd.state.transition("1201", Command.PAUSE, 1.0, reason="training")  # nobody to answer
    caller = await acd.call(hold_s=20)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.TIMED_OUT for e in ev), within_s=10)
    assert [
        (e.kind.value, e.queue, e.data.get("reason")) for e in events if e.call_id == caller and e.queue
    ] == [
        ("overflowed", "sales", "empty"),  # refused at the door of sales, on to general
        ("queue_entered", "general", None),
        ("timed_out", "general", "empty"),  # general empties on the next pass: nobody can answer
    ]


async def test_a_claim_lost_to_a_stale_view_is_retried_at_once(
    make_acd: MakeAcd, caplog: pytest.LogCaptureFixture
) -> None:
    """The router matches from the agents as last read until a change notice says otherwise. An
    agent changed without one (a notice lost with a Redis restart) makes the claim fail; the
    pass reads again and rings the next agent, without waiting for a safety pass."""
    acd = await make_acd((sales(strategy=Strategy.LINEAR),), safety_pass_s=3600)
    await until_listening(acd)
    await asyncio.sleep(0.3)  # the router hears the logins' notices
    await acd.router.dispatch()  # nobody waiting: the pass reads the agents, the view is fresh
    await acd.state.redis.hset(f"{acd.state.prefix}:agent:1201", "state", "paused")  # no notice
    with caplog.at_level(logging.INFO, logger="cti.acd.router"):
        caller = await acd.call(hold_s=10)
        events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_OFFERED for e in ev))
    assert kinds(events, caller) == [("queue_entered", None), ("agent_offered", "1202")]
    assert "acd: agent 1201 changed meanwhile; matching again" in caplog.messages
    # 1201's channel, created while the claim was under way, is never dialled but hung up
    await eventually(
        acd.ari.list_channels,
        lambda channels: not any(c.name.startswith("Local/1201@") for c in channels),
        what="the channel created for the lost claim hung up",
    )


async def test_closing_the_router_ends_its_listening(make_acd: MakeAcd) -> None:
    """A router closes while change notices pour in (a blocked redis-py listen() once swallowed
    the cancellation and close never returned)."""
    for turn in range(5):
        acd = await make_acd((sales(),), agent_ids=["1201"], login=turn == 0)
        await until_listening(acd)
        for _ in range(50):
            await acd.state.redis.publish(acd.state.changes_channel, "ready 1201")
        await asyncio.wait_for(acd.router.aclose(), 10)  # a guard against a hang, not a timing
