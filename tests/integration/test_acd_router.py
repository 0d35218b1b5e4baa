"""The ACD on the real Asterisk with simulated agents (Local/<id>@agent-sim ringing set times)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cti.acd import AcdConfig, AgentConfig, AgentState, Command, QueueConfig, Strategy
from cti.acd.router import QueueRouter
from cti.ari import AriClient, Dispatcher, Event, EventStream
from cti.ari.events import StasisStart
from cti.events import CallEvent, EventKind, event_from_json
from cti.live import AcdState, EventOutbox, connect_redis
from cti.sim import place_simulated_call, set_agent_timing, sim_agent_endpoint

AGENT_IDS = ["1201", "1202", "1203"]


def agents(ids: list[str] = AGENT_IDS) -> tuple[AgentConfig, ...]:
    return tuple(
        AgentConfig(id=i, name=f"Agent {i}", endpoint=sim_agent_endpoint(i), skills={"sales": 3}) for i in ids
    )


@dataclass
class Acd:
    ari: AriClient
    app: str
    router: QueueRouter
    state: AcdState
    outbox: EventOutbox

    async def recorded(self) -> list[CallEvent]:
        entries = await self.outbox.redis.xrange(self.outbox.stream)
        return [event_from_json(fields["e"]) for _, fields in entries]

    async def wait_for(
        self, predicate: Callable[[list[CallEvent]], bool], within_s: float = 15
    ) -> list[CallEvent]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            events = await self.recorded()
            if predicate(events):
                return events
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"not seen within {within_s}s: {[(e.kind.value, e.agent) for e in await self.recorded()]}"
        )

    async def call(self, queue: str = "sales", hold_s: float = 30, delay_s: float = 0) -> str:
        channel = await place_simulated_call(
            self.ari, app=self.app, app_args=f"caller,{queue}", hold_s=hold_s, delay_s=delay_s
        )
        return channel.id


MakeAcd = Callable[..., Awaitable[Acd]]


def kinds(events: list[CallEvent], call_id: str) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.agent) for e in events if e.call_id == call_id]


@pytest.fixture
async def make_acd(ari: AriClient, redis_url: str) -> AsyncIterator[MakeAcd]:
    prefix = f"test:acd:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    made: list[tuple[QueueRouter, Dispatcher]] = []

    async def make(
        queues: tuple[QueueConfig, ...], agent_ids: list[str] = AGENT_IDS, login: bool = True
    ) -> Acd:
        app = f"acd-{uuid.uuid4().hex[:8]}"
        config = AcdConfig(agents=agents(agent_ids), queues=queues)
        state = AcdState(redis, prefix)
        outbox = EventOutbox(redis, f"{prefix}:events:{app}")
        router = QueueRouter(ari, app, config, state, outbox)
        router.start()

        async def handle(event: Event) -> None:
            if isinstance(event, StasisStart) and event.args[:1] == ("caller",):
                await router.enqueue(event.channel, event.args[1])
            else:
                await router.handle(event)

        dispatcher = Dispatcher(handle)
        stream = EventStream(ari, app)
        connected = asyncio.Event()

        async def pump() -> None:
            async for event in stream:
                connected.set()  # the first event is always the Resynced of the connect
                dispatcher.submit(event)

        tasks.append(asyncio.create_task(pump()))
        streams.append(stream)
        made.append((router, dispatcher))
        await asyncio.wait_for(connected.wait(), 10)
        if login:
            for agent_id in agent_ids:
                await state.transition(agent_id, Command.LOGIN, time.time())
        return Acd(ari, app, router, state, outbox)

    tasks: list[asyncio.Task[None]] = []
    streams: list[EventStream] = []
    yield make
    for stream in streams:
        await stream.close()
    for task in tasks:
        task.cancel()
    for router, dispatcher in made:
        await dispatcher.aclose()
        await router.aclose()
    await _forget(redis, prefix)


async def _forget(redis: Any, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def sales(**options: object) -> QueueConfig:
    return QueueConfig.model_validate({"name": "sales", "ring_timeout_s": 3, "wrapup_s": 1, **options})


async def test_caller_and_agent_share_a_bridge_and_the_agent_wraps_up(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(strategy=Strategy.LINEAR),))
    await set_agent_timing(acd.ari, "1201", ring_s=2, talk_s=30)
    caller = await acd.call(hold_s=6)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev))
    answered = next(e for e in events if e.kind is EventKind.AGENT_ANSWERED)
    assert answered.agent == "1201"
    assert 1.9 <= answered.data["wait_s"] < 5  # the agent rang 2 s
    session = acd.router.calls[caller]
    bridge = await acd.ari.get_bridge(session.bridge_id or "")
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
    await acd.ari.hangup(caller)


async def test_a_caller_who_hangs_up_while_waiting_is_an_abandon(make_acd: MakeAcd) -> None:
    acd = await make_acd((sales(),), login=False)  # nobody is logged in
    caller = await acd.call(hold_s=2)
    events = await acd.wait_for(lambda ev: any(e.kind is EventKind.ABANDONED for e in ev))
    abandoned = next(e for e in events if e.kind is EventKind.ABANDONED)
    assert abandoned.call_id == caller
    assert abandoned.data["position"] == 1
    assert 1.5 <= abandoned.data["wait_s"] < 6
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
    assert [(e.kind.value, e.queue) for e in events if e.call_id == caller][:4] == [
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
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        events = await first.recorded() + await second.recorded()
        if {e.call_id for e in events if e.kind is EventKind.AGENT_ANSWERED} == set(callers):
            return events
        await asyncio.sleep(0.2)
    raise AssertionError("not every caller was answered")
