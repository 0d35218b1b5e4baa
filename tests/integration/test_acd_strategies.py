"""Each strategy's choice, skills escalation and priorities, on the real Asterisk.

Simulated agents (``Local/<id>@agent-sim``) answer at once unless told otherwise. Each scenario
is built so that the strategy under test picks a different agent from the others: logins at
different times (``idle_since`` starts at login), call counts and talk times seeded through
``AcdState.record_call`` (what the router itself calls when a conversation ends), agents paused
or without the skill level.
"""

import asyncio
import contextlib
import random
import time

from cti.acd import AgentState, Command, QueueConfig, SkillStep, Strategy
from cti.ari import AriClient
from cti.errors import AriNotFound
from cti.events import CallEvent, EventKind
from cti.sim import set_agent_timing
from tests.integration.conftest import Acd, MakeAcd
from tests.integration.conftest import sales as sales_queue

AGENTS = ["1301", "1302", "1303"]  # not the router tests' ids: their ring times are globals


def sales(strategy: Strategy, **options: object) -> QueueConfig:
    return sales_queue(strategy=strategy, wrapup_s=0, **options)


async def agents_answer(ari: AriClient, ids: list[str], ring_s: float = 0) -> None:
    for agent_id in ids:
        await set_agent_timing(ari, agent_id, ring_s=ring_s, talk_s=20)


async def log_in(acd: Acd, oldest_first: list[str]) -> None:
    """Log agents in 10 s apart, in the past: the first has been idle longest."""
    start = time.time() - 10 * len(oldest_first)
    for n, agent_id in enumerate(oldest_first):
        await acd.state.transition(agent_id, Command.LOGIN, start + 10 * n)


def of_call(events: list[CallEvent], caller: str, kind: EventKind) -> list[CallEvent]:
    return [e for e in events if e.call_id == caller and e.kind is kind]


def bridged(acd: Acd, caller: str) -> bool:
    session = acd.router.calls.get(caller)
    return session is not None and session.bridge_id is not None


async def served_by(acd: Acd, caller: str) -> str:
    """The agent who answered ``caller``, who must also be the only one offered the call.

    Returns once caller and agent share a bridge, so the next call of a scenario finds the
    agent on a call.
    """
    events = await acd.wait_for(
        lambda ev: bool(of_call(ev, caller, EventKind.AGENT_ANSWERED)) and bridged(acd, caller)
    )
    offered = [e.agent for e in of_call(events, caller, EventKind.AGENT_OFFERED)]
    answered = of_call(events, caller, EventKind.AGENT_ANSWERED)[0].agent
    assert answered is not None
    assert offered == [answered], f"{caller}: offered to {offered}, answered by {answered}"
    return answered


async def hang_up(acd: Acd, *callers: str) -> None:
    """Callers hang up; return once the router is done with them (agents' legs hung up too)."""
    for caller in callers:
        with contextlib.suppress(AriNotFound):
            await acd.ari.hangup(caller)
    await acd.wait_for(lambda _: not set(callers) & set(acd.router.calls))


async def finish(acd: Acd, caller: str) -> None:
    """The caller hangs up; return once the agent is ready again (``wrapup_s`` = 0)."""
    await hang_up(acd, caller)
    await acd.wait_for(lambda ev: bool(of_call(ev, caller, EventKind.WRAPUP_ENDED)))


async def one_by_one(acd: Acd, calls: int) -> list[str]:
    """Agents who served ``calls`` callers in turn, each call over before the next."""
    served = []
    for _ in range(calls):
        caller = await acd.call()
        served.append(await served_by(acd, caller))
        await finish(acd, caller)
    return served


async def ring_all(make_acd: MakeAcd) -> tuple[Acd, str, list[CallEvent]]:
    """Three eligible agents ringing 2, 0.5 and 1.5 s and a paused one; one caller, answered."""
    acd = await make_acd((sales(Strategy.RINGALL),), agent_ids=[*AGENTS, "1304"])
    await acd.state.transition("1304", Command.PAUSE, time.time(), reason="break")  # not eligible
    for agent_id, ring_s in (("1301", 2), ("1302", 0.5), ("1303", 1.5), ("1304", 0)):
        await set_agent_timing(acd.ari, agent_id, ring_s=ring_s, talk_s=20)
    caller = await acd.call()
    events = await acd.wait_for(lambda ev: len(of_call(ev, caller, EventKind.OFFER_CANCELED)) == 2)
    return acd, caller, events


async def test_ringall_rings_every_eligible_agent_and_the_first_to_answer_wins(make_acd: MakeAcd) -> None:
    acd, caller, events = await ring_all(make_acd)
    mine = [e for e in events if e.call_id == caller and e.kind is not EventKind.AGENT_STATE_CHANGED]
    kinds = [e.kind for e in mine]
    assert kinds[:5] == [EventKind.QUEUE_ENTERED, *[EventKind.AGENT_OFFERED] * 3, EventKind.AGENT_ANSWERED]
    assert {e.agent for e in mine[1:4]} == set(AGENTS)  # all at once, not the paused 1304
    assert mine[4].agent == "1302"  # it rang 0.5 s, the others 1.5 s and 2 s
    assert {e.agent for e in of_call(events, caller, EventKind.OFFER_CANCELED)} == {"1301", "1303"}
    status, _ = await acd.state.agent("1302")
    assert status.state is AgentState.ON_CALL
    await hang_up(acd, caller)


async def test_after_ringall_the_other_agents_are_ready_and_the_caller_is_not_offered_again(
    make_acd: MakeAcd,
) -> None:
    acd, caller, _ = await ring_all(make_acd)
    await asyncio.sleep(2)  # 1301's phone would have rung out by now (2 s)
    events = await acd.recorded()
    assert len(of_call(events, caller, EventKind.AGENT_OFFERED)) == 3
    for agent_id, state in (("1301", "ready"), ("1303", "ready"), ("1304", "paused")):
        status, _ = await acd.state.agent(agent_id)
        assert status.state is AgentState(state), agent_id
    await hang_up(acd, caller)


async def test_longest_idle_serves_the_agent_idle_longest(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.LONGEST_IDLE),), agent_ids=AGENTS, login=False)
    await agents_answer(acd.ari, AGENTS)
    await log_in(acd, ["1302", "1303", "1301"])
    first = await acd.call()
    assert await served_by(acd, first) == "1302"
    second = await acd.call()
    assert await served_by(acd, second) == "1303"
    await finish(acd, first)  # 1302 is idle again, then 1303: 1301 has now waited longest
    await finish(acd, second)
    third = await acd.call()
    assert await served_by(acd, third) == "1301"
    fourth = await acd.call()
    assert await served_by(acd, fourth) == "1302"
    await hang_up(acd, third, fourth)


async def test_round_robin_resumes_after_the_agent_served_last(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.RRMEMORY),), agent_ids=AGENTS, login=False)
    await agents_answer(acd.ari, AGENTS)
    await log_in(acd, ["1303", "1302", "1301"])  # longest-idle would start with 1303
    assert await one_by_one(acd, 4) == ["1301", "1302", "1303", "1301"]


async def test_fewest_calls_serves_the_agent_with_fewest_completed_calls(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.FEWEST_CALLS),), agent_ids=AGENTS)
    await agents_answer(acd.ari, AGENTS)
    for agent_id, calls in (("1301", 3), ("1302", 1)):  # 1303: none yet
        for _ in range(calls):
            await acd.state.record_call(agent_id, 10)
    # 1303 (0 calls); then 1302 and 1303 have one each, the tie goes to configuration order;
    # then 1303 again (1 against 2 and 3): the router counted the calls it completed.
    assert await one_by_one(acd, 3) == ["1303", "1302", "1303"]


async def test_least_talk_time_serves_the_agent_who_talked_least(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.LEAST_TALK_TIME),), agent_ids=AGENTS)
    await agents_answer(acd.ari, AGENTS)
    for agent_id, talks in (("1301", [100]), ("1302", [4]), ("1303", [1, 1, 1])):
        for talk_s in talks:
            await acd.state.record_call(agent_id, talk_s)
    caller = await acd.call()
    assert await served_by(acd, caller) == "1303"  # 3 s in three calls; fewest-calls would say 1301
    await asyncio.sleep(1.5)  # the conversation lasts 1.5 s
    await finish(acd, caller)  # 1303 has now talked 4.5 s or more: more than 1302's 4 s
    assert await one_by_one(acd, 1) == ["1302"]


async def test_random_only_ever_picks_eligible_agents(make_acd: MakeAcd) -> None:
    ids = [*AGENTS, "1304"]
    queue = sales(Strategy.RANDOM, escalation=[SkillStep(after_s=0, min_level=2)])
    acd = await make_acd((queue,), agent_ids=ids, skills={"1304": {"sales": 1}}, rng=random.Random(5))
    await agents_answer(acd.ari, ids)
    await acd.state.transition("1302", Command.PAUSE, time.time(), reason="break")
    served = await one_by_one(acd, 6)
    assert set(served) == {"1301", "1303"}  # never the paused 1302 nor 1304 (level 1 of 2)


async def test_linear_always_takes_the_first_free_agent_in_configured_order(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.LINEAR),), agent_ids=AGENTS, login=False)
    await agents_answer(acd.ari, AGENTS)
    await log_in(acd, ["1303", "1302", "1301"])  # longest-idle would start with 1303
    first = await acd.call()
    assert await served_by(acd, first) == "1301"
    second = await acd.call()
    assert await served_by(acd, second) == "1302"
    await finish(acd, first)
    third = await acd.call()
    assert await served_by(acd, third) == "1301"  # round robin would go on to 1303
    await hang_up(acd, second, third)


async def test_escalation_offers_a_lower_skill_level_once_the_wait_reaches_the_step(
    make_acd: MakeAcd,
) -> None:
    steps = [SkillStep(after_s=0, min_level=4), SkillStep(after_s=3, min_level=2)]
    acd = await make_acd(
        (sales(Strategy.LINEAR, escalation=steps),),
        agent_ids=["1301", "1302"],
        skills={"1301": {"sales": 1}, "1302": {"sales": 2}},
    )
    await agents_answer(acd.ari, ["1301", "1302"])
    caller = await acd.call()
    events = await acd.wait_for(lambda ev: bool(of_call(ev, caller, EventKind.AGENT_OFFERED)))
    entered = of_call(events, caller, EventKind.QUEUE_ENTERED)[0]
    offered = of_call(events, caller, EventKind.AGENT_OFFERED)
    assert [e.agent for e in offered] == ["1302"]  # level 2; 1301 (level 1) never qualifies
    assert (offered[0].at - entered.at).total_seconds() >= 3
    assert await served_by(acd, caller) == "1302"
    await hang_up(acd, caller)


async def test_escalation_offers_the_caller_when_the_step_is_reached(make_acd: MakeAcd) -> None:
    steps = [SkillStep(after_s=0, min_level=4), SkillStep(after_s=1, min_level=2)]
    # No safety pass within the test: only a pass the router times for the step can offer the caller.
    acd = await make_acd(
        (sales(Strategy.LINEAR, escalation=steps),), agent_ids=["1301"], safety_pass_s=3600
    )  # 1301: level 3
    await agents_answer(acd.ari, ["1301"])
    caller = await acd.call()
    events = await acd.wait_for(lambda ev: bool(of_call(ev, caller, EventKind.AGENT_OFFERED)))
    entered = of_call(events, caller, EventKind.QUEUE_ENTERED)[0]
    offered = of_call(events, caller, EventKind.AGENT_OFFERED)[0]
    assert (offered.at - entered.at).total_seconds() >= 1  # not before the step
    await hang_up(acd, caller)


async def test_a_higher_priority_caller_who_came_later_is_served_first(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(Strategy.LINEAR),), agent_ids=["1301"])
    await agents_answer(acd.ari, ["1301"])
    busy = await acd.call()
    await served_by(acd, busy)
    ordinary = await acd.call()
    await acd.wait_for(lambda ev: bool(of_call(ev, ordinary, EventKind.QUEUE_ENTERED)))
    vip = await acd.call(priority=5)
    events = await acd.wait_for(lambda ev: bool(of_call(ev, vip, EventKind.QUEUE_ENTERED)))
    assert of_call(events, vip, EventKind.QUEUE_ENTERED)[0].data["position"] == 1  # ahead in line
    await finish(acd, busy)
    assert await served_by(acd, vip) == "1301"
    assert not of_call(await acd.recorded(), ordinary, EventKind.AGENT_OFFERED)
    await hang_up(acd, vip, ordinary)


async def test_an_agent_in_two_queues_takes_the_higher_priority_queue_first(make_acd: MakeAcd) -> None:
    vip = QueueConfig(name="vip", skill="sales", priority=10, ring_timeout_s=3, wrapup_s=0)
    acd = await make_acd((sales(Strategy.LINEAR), vip), agent_ids=["1301"])
    await agents_answer(acd.ari, ["1301"])
    busy = await acd.call()
    await served_by(acd, busy)
    ordinary = await acd.call("sales")
    await acd.wait_for(lambda ev: bool(of_call(ev, ordinary, EventKind.QUEUE_ENTERED)))
    important = await acd.call("vip")
    await acd.wait_for(lambda ev: bool(of_call(ev, important, EventKind.QUEUE_ENTERED)))
    await finish(acd, busy)
    assert await served_by(acd, important) == "1301"
    assert not of_call(await acd.recorded(), ordinary, EventKind.AGENT_OFFERED)
    await hang_up(acd, important, ordinary)


async def test_two_instances_rotate_one_round_robin_together(make_acd: MakeAcd) -> None:
    """The round-robin memory lives in Redis: calls taken in turn by two instances (two
    routers, one Redis) go round the agents once, not once per instance."""
    ids = ["1311", "1312", "1313"]  # not the other strategy tests' ids: ring times are globals
    first = await make_acd((sales(Strategy.RRMEMORY),), agent_ids=ids, login=False)
    second = await make_acd((sales(Strategy.RRMEMORY),), agent_ids=ids, login=False)  # same Redis
    await agents_answer(first.ari, ids)
    await log_in(first, ["1313", "1312", "1311"])
    served = []
    for acd in (first, second, first, second):
        caller = await acd.call()
        served.append(await served_by(acd, caller))
        await finish(acd, caller)
    assert served == ["1311", "1312", "1313", "1311"]  # each instance alone would say 1311, 1311, 1312...
