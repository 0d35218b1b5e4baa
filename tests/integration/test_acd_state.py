"""The ACD's live state on real Redis: one agent is never offered two calls, even across instances."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from cti.acd import AcdConfig, AgentConfig, AgentState, AgentStatus, Command, Entry
from cti.app import _login_all
from cti.live import AcdState, StaleAgentState, connect_redis
from cti.live.outbox import EventOutbox

AGENTS = [
    AgentConfig(id=f"{1100 + i}", name=f"A{i}", endpoint=f"Local/{1100 + i}@agent-sim", skills={"sales": 3})
    for i in range(20)
]


@pytest.fixture
async def instances(redis_url: str) -> AsyncIterator[tuple[AcdState, AcdState]]:
    """Two service instances: separate Redis connections, one shared state."""
    prefix = f"test:acd:{uuid.uuid4().hex[:8]}"
    first, second = connect_redis(redis_url), connect_redis(redis_url)
    yield AcdState(first, prefix), AcdState(second, prefix)
    keys = [key async for key in first.scan_iter(f"{prefix}:*")]
    if keys:
        await first.delete(*keys)
    await first.aclose()
    await second.aclose()


async def test_two_instances_racing_never_claim_one_agent_twice(instances: tuple[AcdState, AcdState]) -> None:
    one, two = instances
    for agent in AGENTS:
        await one.transition(agent.id, Command.LOGIN, 0.0)
    attempts = [(state, agent.id, f"call-{n}") for n in range(10) for agent in AGENTS for state in (one, two)]
    gate = asyncio.Semaphore(50)  # many in flight at once, within the connection pools

    async def claim(state: AcdState, agent_id: str, call: str) -> bool:
        async with gate:
            return await state.claim(agent_id, call, 1.0)

    results = await asyncio.gather(*(claim(state, agent_id, call) for state, agent_id, call in attempts))
    winners = [(agent_id, call) for (_, agent_id, call), won in zip(attempts, results, strict=True) if won]
    assert sorted(agent_id for agent_id, _ in winners) == sorted(a.id for a in AGENTS)  # each exactly once
    for agent_id, call in winners:
        status, _ = await one.agent(agent_id)
        assert (status.state, status.call_id) == (AgentState.RINGING, call)


async def test_a_stale_writer_cannot_overwrite_a_newer_state(instances: tuple[AcdState, AcdState]) -> None:
    one, two = instances
    await one.transition("1100", Command.LOGIN, 0.0)
    assert await two.claim("1100", "c1", 1.0)
    assert not await one.claim("1100", "c2", 1.1)  # already ringing
    original = one.agent

    async def read_before_the_answer(agent_id: str) -> tuple[AgentStatus, int]:
        seen = await original(agent_id)
        await two.transition("1100", Command.ANSWER, 2.0)  # lands between our read and our write
        return seen

    one.agent = read_before_the_answer  # type: ignore[method-assign]
    with pytest.raises(StaleAgentState):
        await one.transition("1100", Command.RING_NO_ANSWER, 3.0)
    status, _ = await two.agent("1100")
    assert status.state is AgentState.ON_CALL


async def test_snapshots_and_call_counts(instances: tuple[AcdState, AcdState]) -> None:
    one, _ = instances
    await one.transition("1101", Command.LOGIN, 5.0)
    await one.transition("1102", Command.LOGIN, 6.0)
    await one.transition("1102", Command.PAUSE, 7.0, reason="training")
    await one.record_call("1101", 120.5)
    snapshots = {s.id: s for s in await one.snapshots(AGENTS[:4])}
    assert snapshots["1100"].state is AgentState.LOGGED_OUT
    assert (snapshots["1101"].state, snapshots["1101"].idle_since, snapshots["1101"].calls_taken) == (
        AgentState.READY,
        5.0,
        1,
    )
    assert snapshots["1101"].talk_time_s == 120.5
    assert snapshots["1102"].state is AgentState.PAUSED
    assert [s.order for s in await one.snapshots(AGENTS[:4])] == [0, 1, 2, 3]


async def test_queue_positions_follow_priority_then_arrival(instances: tuple[AcdState, AcdState]) -> None:
    one, two = instances
    first = Entry("c1", "sales", entered_at=10.0)
    assert await one.enqueue(first, owner="app-1") == 1
    assert await two.enqueue(Entry("c2", "sales", entered_at=11.0), owner="app-2") == 2
    assert await one.enqueue(Entry("vip", "sales", entered_at=12.0, priority=5), owner="app-1") == 1
    assert [e.call_id for e in await one.waiting(["sales"], owner="app-1")] == ["c1", "vip"]
    await one.dequeue(first)
    assert await two.position(Entry("c2", "sales", entered_at=11.0)) == 2  # behind the VIP
    assert {e.call_id for e in await two.waiting(["sales"])} == {"c2", "vip"}


async def test_every_change_to_an_agent_or_a_callback_is_announced(
    instances: tuple[AcdState, AcdState],
) -> None:
    one, two = instances
    heard: list[str] = []
    async with two.redis.pubsub() as pubsub:
        await pubsub.subscribe(two.changes_channel)
        await one.transition("1100", Command.LOGIN, 0.0)
        await one.claim("1100", "c1", 1.0)
        await one.transition("1100", Command.ANSWER, 2.0)
        await one.record_call("1100", 30.0)
        await one.restore_agents([AgentStatus("1101", AgentState.PAUSED, 3.0, "lunch")])
        await one.publish_callback("c2")
        await one.release_callback("c2")
        for _ in range(100):  # None for the subscription's own confirmation, or a quiet second
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                heard.append(message["data"])
            if len(heard) == 7:
                break
    assert heard == [
        "ready 1100",
        f"agent {one.prefix}:agent:1100",  # the claim names the agent's key
        "agent 1100",
        "agent 1100",
        "agent 1101",
        "callback c2",
        "callback c2",
    ]


async def test_one_round_trip_claims_agents_and_puts_new_callers_in_line(
    instances: tuple[AcdState, AcdState],
) -> None:
    one, _ = instances
    for agent in AGENTS[:2]:
        await one.transition(agent.id, Command.LOGIN, 0.0)
    waiting = Entry("early", "sales", 10.0, 0)
    await one.enqueue(waiting, owner="app")
    newcomers = [Entry("late", "sales", 12.0, 0), Entry("vip", "sales", 13.0, 5)]
    claimed, positions = await one.claim_and_join(
        [("1100", "late", 29.0), ("1100", "vip", 29.0), ("1101", "vip", 30.0)], 14.0, newcomers, "app"
    )
    assert claimed == [True, False, True]  # 1100 was taken by the first claim
    ringing = [status for status, _ in await one.agents(["1100", "1101"])]
    # each claim is the claimer's, with its ring deadline, for the sweeper to judge
    assert [(s.call_id, s.owner, s.until) for s in ringing] == [("late", "app", 29.0), ("vip", "app", 30.0)]
    assert positions == [2, 1]  # priority first, then arrival
    assert [e.call_id for e in await one.waiting(["sales"])] == ["early", "late", "vip"]

    more = [Entry("later", "sales", 15.0, 0)]
    positions, agents, callback_ids = await one.join_and_read(more, "app", AGENTS[:3])
    assert positions == [4]
    assert [(a.id, a.state) for a in agents] == [
        ("1100", AgentState.RINGING),
        ("1101", AgentState.RINGING),
        ("1102", AgentState.LOGGED_OUT),
    ]
    assert callback_ids == []
    assert await one.claim_and_join([], 16.0, [], "app") == ([], [])


async def test_two_instances_logging_the_demo_agents_in_at_once_both_start(
    instances: tuple[AcdState, AcdState],
) -> None:
    """``[acd] auto_login`` on two instances started together: each agent is logged in once, and
    neither start fails on an agent the other logged in between its read and its write."""
    first, second = instances
    config = AcdConfig(
        agents=tuple(AgentConfig(id=f"a{n}", name=f"A{n}", endpoint=f"Local/{n}@x") for n in range(30))
    )
    outbox = EventOutbox(first.redis, f"{first.prefix}:events")
    await asyncio.gather(_login_all(config, first, outbox), _login_all(config, second, outbox))
    states = await first.agents([agent.id for agent in config.agents])
    assert {status.state for status, _ in states} == {AgentState.READY}
    logins = await first.redis.xlen(f"{first.prefix}:events")
    assert logins == len(config.agents)
