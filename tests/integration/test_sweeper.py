"""No state outlives its owner: the sweeper, on the real Redis and Asterisk.

An instance that dies (kill -9) leaves agents ringing, talking or in wrap-up and callers in
line; its process timers died with it. The deadlines are in Redis with the agent and every
instance's heartbeat is a key with a TTL, so another instance's sweeper (or the same app's next
start) ends what is over, and leaves alone a conversation Asterisk still has.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
import redis
from redis.asyncio import Redis

from cti.acd.agents import Command
from cti.acd.model import AcdConfig, AgentConfig, AgentState, Entry, QueueConfig
from cti.acd.sweeper import Sweeper
from cti.ari import AriClient, EventStream
from cti.events import EventKind, event_from_json
from cti.live import AcdState, EventOutbox, connect_redis
from cti.live.lease import lease_key
from cti.live.owned import OwnedCalls
from cti.sim import place_simulated_call
from tests.conftest import eventually
from tests.integration.conftest import OpenEventLog
from tests.integration.hotline import Hotline
from tests.integration.processes import ServiceProcesses, until_resynced

DEAD, LIVE = "dead-app", "live-app"
AGENTS = ("ring", "wrap", "talk-here", "talk-gone", "talk-live", "callback-talk")


@pytest.fixture
async def shared(redis_url: str, app_name: str) -> AsyncIterator[tuple[Redis, AcdState, EventOutbox]]:
    client = connect_redis(redis_url)
    prefix = f"test:{app_name}"
    try:
        yield client, AcdState(client, f"{prefix}:acd"), EventOutbox(client, f"{prefix}:events")
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_the_sweeper_frees_what_a_dead_instance_left_and_leaves_live_calls_alone(
    ari: AriClient,
    app_name: str,
    open_event_log: OpenEventLog,
    shared: tuple[Redis, AcdState, EventOutbox],
) -> None:
    client, state, outbox = shared
    await open_event_log(EventStream(ari, app_name))  # holds the live channels in Stasis
    live_caller = await place_simulated_call(ari, hold_s=60, app=app_name)
    customer = await place_simulated_call(ari, hold_s=60, app=app_name)
    await client.set(lease_key(state.prefix, LIVE), "alive", px=60_000)
    config = AcdConfig(
        agents=tuple(AgentConfig(id=a, name=a, endpoint=f"Local/{a}@agent-sim") for a in AGENTS),
        queues=(QueueConfig(name="sales", ring_timeout_s=15, wrapup_s=10),),
    )
    now = time.time()
    for agent in AGENTS:
        await state.transition(agent, Command.LOGIN, now - 100)
    calls = {
        "ring": "gone-1",
        "wrap": "gone-2",
        "talk-here": live_caller.id,
        "talk-gone": "gone-3",
        "talk-live": "gone-4",
        "callback-talk": "gone-5",
    }
    for agent, call in calls.items():
        owner = LIVE if agent == "talk-live" else DEAD
        assert await state.claim_and_join([(agent, call, now - 40)], now - 60, [], owner)
        if agent != "ring":
            await state.transition(agent, Command.ANSWER, now - 50, call_id=call)
    await state.transition("wrap", Command.HANG_UP, now - 20, until=now - 10)
    await OwnedCalls(client, state.prefix, DEAD, "acd").save(
        "gone-5", {"agent_channel": "gone-leg", "customer_channel": customer.id}
    )
    here, gone = Entry(live_caller.id, "sales", now - 30), Entry("gone-6", "sales", now - 20)
    await state.claim_and_join([], now, [here, gone], DEAD)
    callback = Entry("gone-7", "sales", now - 25)
    await state.enqueue(callback, owner=DEAD)
    assert await state.request_callback(callback, "13900139000", "")
    await state.publish_callback(callback.call_id)
    assert await state.take_callback(callback.call_id, DEAD, now, lease_s=600)

    plan = await Sweeper(ari, state, outbox, config).sweep_once()

    after = {status.agent: status.state for status, _ in await state.agents(AGENTS)}
    assert after == {
        "ring": AgentState.READY,
        "wrap": AgentState.READY,
        "talk-here": AgentState.ON_CALL,  # Asterisk still has the conversation
        "talk-gone": AgentState.READY,
        "talk-live": AgentState.ON_CALL,  # its instance lives: the owner decides
        "callback-talk": AgentState.ON_CALL,  # the customer leg is still talking
    }
    assert [entry.call_id for entry in plan.leave_line] == ["gone-6"]
    assert await state.waiting(["sales"]) == [here, callback]
    assert plan.release == ("gone-7",)
    assert [found for found, _, _ in await state.callbacks(time.time(), lease_s=600)] == [callback]
    recorded = [event_from_json(fields["e"]) for _, fields in await client.xrange(outbox.stream)]
    wrapups = [e for e in recorded if e.kind is EventKind.WRAPUP_ENDED]
    assert [(e.call_id, e.agent) for e in wrapups] == [("gone-2", "wrap")]
    assert wrapups[0].data["wrapup_s"] >= 20  # it lasted from its start until the sweep

    again = await Sweeper(ari, state, outbox, config).sweep_once()
    assert not again, "a second sweep finds nothing more to end"


async def test_a_sweep_decided_on_a_stale_read_changes_nothing(
    ari: AriClient, shared: tuple[Redis, AcdState, EventOutbox]
) -> None:
    client, state, outbox = shared
    config = AcdConfig(
        agents=(AgentConfig(id="a1", name="a1", endpoint="Local/a1@agent-sim"),),
        queues=(QueueConfig(name="sales", wrapup_s=10),),
    )
    now = time.time()
    await state.transition("a1", Command.LOGIN, now - 100)
    assert await state.claim_and_join([("a1", "gone", now - 40)], now - 60, [], DEAD)

    class Racing(Sweeper):
        async def _line(self) -> list:  # type: ignore[type-arg]
            # the owner answers between the sweep's read of the agents and its fix
            await state.transition("a1", Command.ANSWER, time.time(), call_id="gone")
            return await super()._line()

    await Racing(ari, state, outbox, config).sweep_once()
    status, _ = await state.agent("a1")
    assert status.state is AgentState.ON_CALL  # not cancelled on the strength of the old read
    assert not await client.exists(outbox.stream) or all(
        event_from_json(f["e"]).data.get("reason") != "offer-canceled"
        for _, f in await client.xrange(outbox.stream)
    )


async def test_an_agent_in_wrap_up_when_its_instance_is_killed_is_ready_again_after_the_restart(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient, redis_url: str
) -> None:
    first = service_processes.start()
    await until_resynced(service_processes, 0)
    caller = await hotline_of.call()
    events = await hotline_of.wait_for(caller, lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    agent = next(e.agent for e in events if e.kind is EventKind.AGENT_ANSWERED)
    await ari.hangup(caller.id)
    key = f"{service_processes.env['CTI_ACD_REDIS_PREFIX']}:agent:{agent}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await eventually(
            lambda: client.hget(key, "state") == AgentState.WRAP_UP.value, what="the agent in wrap-up"
        )
        until = float(client.hget(key, "until") or 0)
        assert until > time.time(), "the wrap-up's deadline is in Redis with the agent"
        os.kill(first.pid, signal.SIGKILL)  # its wrap-up timer dies with it
        first.wait(10)

        service_processes.start()
        await until_resynced(service_processes, 1)
        await eventually(
            lambda: client.hget(key, "state") == AgentState.READY.value,
            within_s=60,
            what="the agent ready after the dead owner's wrap-up",
        )
        assert time.time() >= until, "not before the wrap-up was over"
    finally:
        client.close()
    ended = await hotline_of.wait_for(
        caller, lambda ev: any(e.kind is EventKind.WRAPUP_ENDED for e in ev), within_s=10
    )
    await asyncio.sleep(1.0)  # a duplicate would be drained by now
    assert [e.kind for e in await hotline_of.events(caller)].count(EventKind.WRAPUP_ENDED) == 1, ended
