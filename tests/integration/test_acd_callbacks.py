"""Waiting in the ACD on the real Asterisk: spoken announcements, and the callback that keeps
the caller's place and is dialled exactly once, also with two routing instances."""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import partial
from pathlib import Path

from cti.acd import AgentState, Command, Entry, Strategy, agent_state_event
from cti.acd.announcements import position_announcement
from cti.ari import AriClient, EventStream
from cti.ari.events import PlaybackFinished, PlaybackStarted
from cti.events import CallEvent, EventKind
from cti.sim import place_simulated_call, set_agent_timing
from cti.store import insert_events, make_engine, schema
from cti.store.acd_history import recall_acd
from cti.tts import PromptRenderer
from tests.conftest import eventually
from tests.integration.conftest import Acd, MakeAcd, OpenEventLog
from tests.integration.conftest import sales as sales_queue
from tests.integration.hotline import FAST_SPEECH

CUSTOMER = "13800138000"  # the simulated callers' number: the callback dials Local/<it>@agent-sim


sales = partial(sales_queue, strategy=Strategy.LINEAR, ring_timeout_s=5)


def of(events: list[CallEvent], call_id: str) -> list[str]:
    return [
        e.kind.value for e in events if e.call_id == call_id and e.kind is not EventKind.AGENT_STATE_CHANGED
    ]


def first(events: list[CallEvent], call_id: str, kind: EventKind) -> CallEvent:
    return next(e for e in events if e.call_id == call_id and e.kind is kind)


async def test_a_waiting_caller_hears_position_and_wait_and_stays_in_line(
    make_acd: MakeAcd, open_event_log: OpenEventLog, ari: AriClient
) -> None:
    renderer = PromptRenderer.from_settings(FAST_SPEECH)
    acd = await make_acd(
        (sales(announce_every_s=1, callback_key="1"),), ["1201"], login=False, prompts=renderer
    )
    observer = f"observer-{uuid.uuid4().hex[:8]}"
    log = await open_event_log(EventStream(ari, observer))
    caller = await acd.call(hold_s=15)  # nobody is logged in: the caller waits
    await ari.subscribe(observer, f"channel:{caller}")
    started = await log.wait_for(
        lambda e: isinstance(e, PlaybackStarted) and e.playback.id.startswith("acd-say-"), within_s=10
    )
    assert isinstance(started, PlaybackStarted)
    spoken = renderer.path_for(position_announcement(1, 0.0, "zh", "1"), "zh")  # next in line
    assert started.playback.media_uri == f"sound:{spoken.with_suffix('')}"
    await log.wait_for(lambda e: isinstance(e, PlaybackFinished) and e.playback.id == started.playback.id)
    assert caller in acd.router.calls  # still waiting, music back on
    await ari.hangup(caller)


async def busy_agent(acd: Acd) -> str:
    """Agent 1201 answers a first caller at once and stays on that call until it hangs up."""
    await set_agent_timing(acd.ari, "1201", ring_s=0, talk_s=120)
    talking = await acd.call(hold_s=8)
    await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    return talking


async def test_a_callback_keeps_the_callers_place_and_is_dialled_once(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(callback_key="1"),), ["1201"])
    talking = await busy_agent(acd)
    leaving = await acd.call(digits="1", delay_s=3, hold_s=30)  # keys 1 three seconds into the wait
    await acd.wait_for(lambda ev: EventKind.QUEUE_ENTERED.value in of(ev, leaving))
    staying = await acd.call(hold_s=60)  # behind, and still waiting when the other leaves the line
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.CALLBACK_REQUESTED for e in ev))
    assert EventKind.QUEUE_ENTERED.value in of(events, staying)

    events = await acd.wait_for(  # the first call ends, the agent wraps up, the callback is served
        lambda ev: any(e.kind is EventKind.CUSTOMER_ANSWERED for e in ev), within_s=30
    )
    assert of(events, leaving) == [
        "queue_entered",
        "callback_requested",
        "lead_created",
        "agent_offered",
        "agent_answered",
        "dial_started",
        "callback_served",
        "customer_answered",
    ]
    assert "abandoned" not in of(events, leaving)  # the caller's line was cleared, not lost
    assert of(events, staying) == ["queue_entered"]  # still waiting: the callback went first
    lead = first(events, leaving, EventKind.LEAD_CREATED)
    assert (lead.lead_id, lead.data["source"]) == (
        first(events, leaving, EventKind.DIAL_STARTED).lead_id,
        "queue_callback",
    )
    bridge = await acd.ari.get_bridge(acd.router.calls[leaving].bridge_id or "")
    assert set(bridge.channels) == {f"{leaving}-cb", acd.router.calls[leaving].agent_channel}

    await acd.ari.hangup(f"{leaving}-cb")  # the customer ends the call back
    events = await acd.wait_for(lambda ev: EventKind.AGENT_ANSWERED.value in of(ev, staying), within_s=20)
    assert first(events, leaving, EventKind.COMPLETED).data["by"] == "customer"
    assert sum(e.kind is EventKind.DIAL_STARTED for e in events) == 1
    for call in (talking, staying):
        assert "abandoned" not in of(events, call)


async def test_two_instances_serve_one_callback_once(make_acd: MakeAcd) -> None:
    first_acd = await make_acd((sales(callback_key="1"),), ["1201"])
    second_acd = await make_acd((sales(callback_key="1"),), ["1201"], login=False)  # same agent, same Redis
    await busy_agent(first_acd)
    leaving = await first_acd.call(digits="1", delay_s=1, hold_s=30)
    await first_acd.wait_for(lambda ev: any(e.kind is EventKind.CALLBACK_REQUESTED for e in ev))

    async def dialled() -> int:
        recorded = await first_acd.recorded() + await second_acd.recorded()
        return sum(e.kind is EventKind.DIAL_STARTED and e.call_id == leaving for e in recorded)

    # both instances hear the agent free up and both see the callback
    await eventually(dialled, what="the callback dialled")
    await asyncio.sleep(3)  # room for a second, wrong dial
    assert await dialled() == 1
    await first_acd.ari.hangup(f"{leaving}-cb")


async def test_the_callback_claim_is_atomic_across_instances(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(callback_key="1"),), ["1201"], login=False)
    call_id = f"cb-{uuid.uuid4().hex[:8]}"
    entry = Entry(call_id, "sales", 1000.0)
    assert not await acd.state.request_callback(entry, CUSTOMER, "lead-1")  # not in line: nothing
    await acd.state.enqueue(entry, owner=acd.app)
    assert await acd.state.request_callback(entry, CUSTOMER, "lead-1")
    assert await acd.state.callbacks(2000.0, 120) == []  # the caller still hears the confirmation
    await acd.state.publish_callback(call_id)
    assert [(e.call_id, n, lead) for e, n, lead in await acd.state.callbacks(2000.0, 120)] == [
        (call_id, CUSTOMER, "lead-1")
    ]
    takes = await asyncio.gather(*(acd.state.take_callback(call_id, f"i{i}", 2000.0, 120) for i in range(10)))
    assert sum(takes) == 1
    assert await acd.state.callbacks(2000.0, 120) == []  # taken: hidden from the others
    holder = next(f"i{i}" for i, took in enumerate(takes) if took)
    assert await acd.state.take_callback(call_id, "late", 2200.0, 120)  # the lease ran out: taken over
    assert not await acd.state.mark_dialled(entry, holder, 2201.0)  # no longer the holder's to dial
    assert await acd.state.mark_dialled(entry, "late", 2201.0)
    assert not await acd.state.mark_dialled(entry, "late", 2202.0)  # never twice
    assert not await acd.state.take_callback(call_id, "later", 9999.0, 120)  # dialled: no one again
    assert await acd.state.callbacks(9999.0, 120) == []
    assert await acd.state.queue_length("sales") == 0  # out of line the moment it was dialled


async def forget_live_state(acd: Acd) -> None:
    """What a Redis restart without persistence does to the ACD's keys (the event log aside)."""
    keys = [key async for key in acd.state.redis.scan_iter(f"{acd.state.prefix}:*") if ":events:" not in key]
    await acd.state.redis.delete(*keys)


async def test_after_redis_lost_the_live_state_it_is_rebuilt_from_the_calls_and_the_store(
    make_acd: MakeAcd, tmp_path: Path
) -> None:
    acd = await make_acd((sales(callback_key="1"),), ["1201", "1202", "1203"])
    now = time.time()
    for agent_id, command, reason in (("1202", Command.LOGOUT, ""), ("1203", Command.PAUSE, "lunch")):
        await acd.outbox.record(
            agent_state_event(await acd.state.transition(agent_id, command, now, reason=reason))
        )
    talking = await busy_agent(acd)  # 1201 on a call
    leaving = await acd.call(digits="1", delay_s=1, hold_s=30)  # a callback waits...
    await acd.wait_for(lambda ev: any(e.kind is EventKind.CALLBACK_REQUESTED for e in ev))
    staying = await acd.call(hold_s=60)  # ...and a caller behind it
    await acd.wait_for(lambda ev: EventKind.QUEUE_ENTERED.value in of(ev, staying))

    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"  # the store the drainer fills
    schema.upgrade(url)
    engine = make_engine(url)
    await insert_events(engine, await acd.recorded())
    acd.router.recall = lambda: recall_acd(engine)
    await acd.router.recover()  # at start: a Redis that never held this state is rebuilt too
    await forget_live_state(acd)
    await acd.router.recover()  # the safety pass notices the loss

    statuses = {agent_id: (await acd.state.agent(agent_id))[0] for agent_id in ("1201", "1202", "1203")}
    assert (statuses["1201"].state, statuses["1201"].call_id) == (AgentState.ON_CALL, talking)  # Asterisk
    assert statuses["1202"].state is AgentState.LOGGED_OUT  # the store
    assert (statuses["1203"].state, statuses["1203"].reason) == (AgentState.PAUSED, "lunch")
    session = acd.router.calls[staying]
    assert await acd.state.position(session.entry) == 2  # behind the callback, as before
    assert [entry.call_id for entry, _, _ in await acd.state.callbacks(time.time(), 120)] == [leaving]

    await acd.ari.hangup(talking)  # 1201 frees up: the callback is served first, from the rebuilt line
    events = await acd.wait_for(lambda ev: EventKind.DIAL_STARTED.value in of(ev, leaving), within_s=20)
    assert EventKind.AGENT_OFFERED.value not in of(events, staying)
    await engine.dispose()
    await acd.ari.hangup(f"{leaving}-cb")


async def test_a_customer_who_does_not_answer_rings_callback_ring_s_then_the_callback_ends(
    make_acd: MakeAcd,
) -> None:
    number = f"1390{uuid.uuid4().int % 10**7:07d}"  # its own ring time (a global): nobody else's customer
    acd = await make_acd(
        (sales(callback_key="1"),), ["1291"], login=False, acd_options={"callback_ring_s": 5}
    )
    await set_agent_timing(acd.ari, "1291", ring_s=0, talk_s=120)
    await set_agent_timing(acd.ari, number, ring_s=60)  # the customer would answer after a minute
    caller = await place_simulated_call(
        acd.ari, app=acd.app, app_args="caller,sales", caller_number=number, digits="1", hold_s=30
    )
    await acd.wait_for(lambda ev: EventKind.CALLBACK_REQUESTED.value in of(ev, caller.id))
    await acd.state.transition("1291", Command.LOGIN, time.time())  # an agent for the callback
    events = await acd.wait_for(lambda ev: EventKind.COMPLETED.value in of(ev, caller.id), within_s=30)
    dialled = first(events, caller.id, EventKind.DIAL_STARTED)
    completed = first(events, caller.id, EventKind.COMPLETED)
    assert completed.data["by"] == "customer_no_answer"
    assert 4.5 <= (completed.at - dialled.at).total_seconds() < 8  # 5 s, not the default 40
