"""The dialer on the real Asterisk, Redis and SQL: leads dialled, answered, bridged, retried,
abandoned. Customers are ``[customer-sim]`` numbers (``cti.sim.customers``), agents
``[agent-sim]``; the ACD is a router on the test's own Stasis app, the store a migrated
database, and the dialer sees every event first, as in the service (``CallTracker``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import AcdConfig, Command
from cti.acd.model import AgentState
from cti.acd.router import QueueRouter
from cti.ari import AriClient, Dispatcher, Event, EventStream
from cti.ari.models import Bridge
from cti.errors import AriNotFound
from cti.events import CallEvent, EventKind, event_from_json
from cti.live import AcdState, EventOutbox, connect_redis
from cti.outbound.attempts import DialAttempts
from cti.outbound.campaign_checks import new_campaign
from cti.outbound.campaign_store import CampaignStore
from cti.outbound.campaigns import CampaignStatus, CenterLimits
from cti.outbound.dial_records import take_due
from cti.outbound.dialer import Dialer, DialerParts
from cti.outbound.guard import DialGuard
from cti.outbound.numbers import NumberPolicy
from cti.outbound.rules import CallingRules
from cti.settings import OutboundSettings
from cti.sim import Customer, acd_entry, customer_number, place_simulated_call, set_agent_timing
from cti.store import make_engine
from cti.store.models import DialAttemptRow, DncNumberRow, LeadRow
from cti.tts import PromptRenderer
from tests.conftest import eventually
from tests.integration.conftest import agents, sales
from tests.integration.hotline import FAST_SPEECH

OUTBOUND = OutboundSettings(  # any hour: the tests run at any hour (but those of the hours)
    trunk="Local/{national}@customer-sim",
    caller_id="4000",
    queue="sales",
    poll_s=0.2,
    calling_hours="00:00-24:00",
)
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_clock(hour: int, minute: int) -> Callable[[], float]:
    """A clock that reads ``hour:minute`` in Beijing now, and runs on from there."""
    today = datetime.now(BEIJING).date()
    offset = datetime.combine(today, dtime(hour, minute), tzinfo=BEIJING).timestamp() - time.time()
    return lambda: time.time() + offset


@dataclass
class Outbound:
    ari: AriClient
    app: str
    router: QueueRouter
    dialer: Dialer
    state: AcdState
    outbox: EventOutbox
    engine: AsyncEngine

    async def campaign(self, name: str, **fields: Any) -> CampaignStore:
        """A draft campaign of the sales queue (``fields``: its other fields, its settings)."""
        store = self.dialer.parts.campaigns
        limits = CenterLimits.of(OutboundSettings())
        campaign = {"name": name, "title": name, "kind": "survey", "queue": "sales", **fields}
        await store.create(new_campaign(campaign, limits), by="test")
        return store

    async def lead(self, number: str, *, deadline_in_s: float = 60, campaign: str | None = None) -> str:
        lead_id = uuid.uuid4().hex
        now_us = int(time.time() * 1e6)
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(LeadRow).values(
                    lead_id=lead_id,
                    source="web",
                    phone_number=number if number.startswith("+") else f"+86{number}",
                    created_at_us=now_us,
                    status="new",
                    name="张三",
                    campaign=campaign,
                    deadline_at_us=now_us + int(deadline_in_s * 1e6),
                    data={},
                    attempts=0,
                )
            )
        return lead_id

    async def row(self, lead_id: str) -> LeadRow:
        async with self.engine.connect() as connection:
            return (await connection.execute(select(LeadRow).where(LeadRow.lead_id == lead_id))).one()  # type: ignore[return-value]

    async def attempts(self, lead_id: str) -> list[DialAttemptRow]:
        async with self.engine.connect() as connection:
            query = select(DialAttemptRow).where(DialAttemptRow.lead_id == lead_id)
            return list((await connection.execute(query)).all())  # type: ignore[arg-type]

    async def recorded(self) -> list[CallEvent]:
        entries = await self.outbox.redis.xrange(self.outbox.stream)
        return [event_from_json(fields["e"]) for _, fields in entries]

    async def events(self, lead_id: str) -> list[CallEvent]:
        """The lead's events and those of its calls (agent offered, answered, completed)."""
        every = await self.recorded()
        calls = {e.call_id for e in every if e.lead_id == lead_id and e.call_id}
        return [e for e in every if e.lead_id == lead_id or (e.call_id in calls and e.call_id)]

    async def until(
        self, lead_id: str, predicate: Callable[[list[CallEvent]], bool], within_s: float = 30
    ) -> list[CallEvent]:
        return await eventually(
            lambda: self.events(lead_id),
            predicate,
            within_s=within_s,
            what=lambda events: f"events so far: {[(e.kind.value, e.agent) for e in events]}",
        )


MakeOutbound = Callable[..., Awaitable[Outbound]]


def kinds(events: list[CallEvent]) -> list[str]:
    return [e.kind.value for e in events if e.kind is not EventKind.AGENT_STATE_CHANGED]


def ended(kind: EventKind) -> Callable[[list[CallEvent]], bool]:
    return lambda events: any(e.kind is kind for e in events)


@pytest.fixture
async def make_outbound(ari: AriClient, redis_url: str, store: AsyncEngine) -> AsyncIterator[MakeOutbound]:
    prefix = f"test:outbound:{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    made: list[tuple[QueueRouter, Dialer, Dispatcher, EventStream, asyncio.Task[None]]] = []

    async def make(clock: Callable[[], float] = time.time, **outbound: Any) -> Outbound:
        """A router with agent 1001 in the sales queue, and a dialer with ``OUTBOUND``'s
        settings, or ``outbound``'s where it names some, on ``clock``."""
        app = f"out-{uuid.uuid4().hex[:8]}"
        config = AcdConfig(agents=agents(["1001"]), queues=(sales(),))
        state = AcdState(redis, prefix)
        outbox = EventOutbox(redis, f"{prefix}:events:{app}")
        settings = OUTBOUND.model_copy(update=outbound)
        guard = DialGuard(
            NumberPolicy.of(settings.region, settings.allowed_regions, settings.allowed_types),
            CallingRules.from_settings(settings, BEIJING.key),
            store,
            DialAttempts(redis, f"{prefix}:dialled:{app}"),
            outbox,
        )
        router = QueueRouter(ari, app, config, state, outbox, guard=guard)
        router.start()
        prompts = PromptRenderer.from_settings(FAST_SPEECH)
        dialer = Dialer(
            DialerParts(
                ari,
                app,
                router.outbound,
                config,
                state,
                store,
                outbox,
                settings,
                prompts,
                guard,
                CampaignStore(store, tz=BEIJING),
                clock,
            )
        )
        entry = acd_entry(router)

        async def handle(event: Event) -> None:
            if not await dialer.handle(event):
                await entry(event)

        dispatcher = Dispatcher(handle)
        stream = EventStream(ari, app)
        connected = asyncio.Event()

        async def pump() -> None:
            async for event in stream:
                connected.set()
                dispatcher.submit(event)

        task = asyncio.create_task(pump())
        made.append((router, dialer, dispatcher, stream, task))
        await asyncio.wait_for(connected.wait(), 10)
        return Outbound(ari, app, router, dialer, state, outbox, store)

    yield make
    for router, dialer, dispatcher, stream, task in made:
        await stream.close()
        task.cancel()
        await dialer.aclose()
        await dispatcher.aclose()
        await router.aclose()
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def login(out: Outbound, agent_id: str) -> None:
    await out.state.transition(agent_id, Command.LOGIN, time.time())


async def test_given_a_free_agent_when_a_lead_is_due_then_it_is_dialled_answered_and_bridged(
    make_outbound: MakeOutbound, ari: AriClient
) -> None:
    out = await make_outbound()
    await set_agent_timing(ari, "1001", ring_s=1)
    await login(out, "1001")
    lead_id = await out.lead(customer_number(Customer.ANSWERS, ring_s=2, stay_s=4))

    assert await out.dialer.tick() == 1
    talking = await out.until(lead_id, ended(EventKind.AGENT_ANSWERED))
    answered = next(e for e in talking if e.kind is EventKind.AGENT_ANSWERED)
    session = out.router.calls[answered.call_id]

    async def bridge() -> Bridge | None:
        """The conversation's bridge once both are in it (``agent_answered`` is recorded a
        moment before the bridge is made)."""
        if session.bridge_id is None:
            return None
        with contextlib.suppress(AriNotFound):
            found = await ari.get_bridge(session.bridge_id)
            return found if len(found.channels) == 2 else None
        return None

    bridged = await eventually(bridge, what="the customer and the agent bridged")
    assert bridged is not None
    assert set(bridged.channels) == {answered.call_id, session.agent_channel}

    events = await out.until(lead_id, ended(EventKind.DIAL_RESULT))
    assert kinds(events) == [
        "dial_started",
        "customer_answered",
        "agent_offered",
        "agent_answered",
        "completed",
        "dial_result",
    ]
    assert answered.agent == "1001"
    assert answered.lead_id == lead_id
    assert answered.caller_number == f"+86{customer_number(Customer.ANSWERS, ring_s=2, stay_s=4)}"
    assert events[-1].data["result"] == "answered"
    row = await eventually(lambda: out.row(lead_id), lambda r: r.status == "contacted")
    assert row.attempts == 1
    assert row.last_result == "answered"
    attempts = await out.attempts(lead_id)
    assert [(a.result, a.agent) for a in attempts] == [("answered", "1001")]


async def test_given_a_busy_customer_when_dialled_then_the_lead_is_retried_by_the_rule(
    make_outbound: MakeOutbound, ari: AriClient
) -> None:
    out = await make_outbound()
    await login(out, "1001")
    lead_id = await out.lead(customer_number(Customer.BUSY, ring_s=1, line=2))
    before = time.time()

    assert await out.dialer.tick() == 1
    events = await out.until(lead_id, ended(EventKind.DIAL_RESULT))
    assert kinds(events) == ["dial_started", "dial_result"]
    assert events[-1].data["result"] == "busy"
    row = await eventually(lambda: out.row(lead_id), lambda r: r.status == "retry")
    assert row.attempts == 1
    assert row.last_result == "busy"
    assert row.next_attempt_at_us is not None
    assert row.next_attempt_at_us >= (before + 120) * 1e6
    await eventually(lambda: out.state.agent("1001"), lambda s: s[0].state is AgentState.READY)
    assert await take_due(out.engine, time.time(), 10, [None]) == []  # not before the rule's 2 minutes


async def test_given_no_free_agent_when_the_customer_answers_then_the_message_plays_and_it_is_abandoned(
    make_outbound: MakeOutbound, ari: AriClient
) -> None:
    out = await make_outbound()  # nobody logged in
    lead_id = await out.lead(customer_number(Customer.ANSWERS, ring_s=1, stay_s=30, line=3))
    (lead,) = await take_due(out.engine, time.time(), 1, [None])

    await out.dialer.dial(lead, reserve=False)  # dialled ahead of agents, as predictive pacing does
    events = await out.until(lead_id, ended(EventKind.DIAL_RESULT), within_s=60)
    assert kinds(events) == ["dial_started", "customer_answered", "outbound_abandoned", "dial_result"]
    abandoned = events[2]
    assert abandoned.number("wait_s") >= OUTBOUND.no_agent_s
    assert events[-1].data["result"] == "abandoned"
    heard_s = (events[-1].at - abandoned.at).total_seconds()
    assert heard_s >= 1.0, f"hung up {heard_s} s after the abandon: the message was not played"
    row = await eventually(lambda: out.row(lead_id), lambda r: r.status == "retry")
    assert row.last_result == "abandoned"


async def test_given_a_number_the_rules_refuse_when_its_lead_is_due_then_it_is_never_dialled(
    make_outbound: MakeOutbound,
) -> None:
    out = await make_outbound()
    await login(out, "1001")
    lead_id = await out.lead("+14155550123")  # the center calls China only

    assert await out.dialer.tick() == 1
    row = await eventually(lambda: out.row(lead_id), lambda r: r.status == "refused")
    assert row.last_result == "international"
    (refused,) = await out.events(lead_id)
    assert refused.kind is EventKind.DIAL_REFUSED
    assert refused.data["rule"] == "international"
    assert await out.attempts(lead_id) == []
    status, _ = await out.state.agent("1001")
    assert status.state is AgentState.READY  # no agent was reserved for it


async def test_given_a_campaign_when_it_runs_then_its_leads_are_dialled_with_its_retry_rules(
    make_outbound: MakeOutbound,
) -> None:
    out = await make_outbound()
    await login(out, "1001")
    busy = {"retries": {"busy": {"after_s": 900, "max_attempts": 2}}}
    store = await out.campaign("renewals", settings=busy)
    lead_id = await out.lead(customer_number(Customer.BUSY, ring_s=1, line=9), campaign="renewals")

    assert await out.dialer.tick() == 0  # a draft dials nothing
    await store.set_status("renewals", CampaignStatus.RUNNING, by="test")
    before = time.time()
    assert await out.dialer.tick() == 1
    await out.until(lead_id, ended(EventKind.DIAL_RESULT))
    row = await eventually(lambda: out.row(lead_id), lambda r: r.status == "retry")
    assert row.next_attempt_at_us is not None
    assert before + 900 <= row.next_attempt_at_us / 1e6 < time.time() + 900  # its rule, not 120 s
    await store.set_status("renewals", CampaignStatus.PAUSED, by="test")
    await eventually(lambda: out.state.agent("1001"), lambda s: s[0].state is AgentState.READY)
    async with out.engine.begin() as connection:  # due again now: a paused campaign still waits
        await connection.execute(update(LeadRow).values(next_attempt_at_us=None))
    assert await out.dialer.tick() == 0


async def test_given_a_number_on_the_do_not_call_list_when_its_lead_is_due_then_it_is_never_dialled(
    make_outbound: MakeOutbound,
) -> None:
    out = await make_outbound()
    await login(out, "1001")
    number = customer_number(Customer.ANSWERS, ring_s=1, stay_s=5, line=6)
    lead_id = await out.lead(number)
    async with out.engine.begin() as connection:
        row = {"number": f"+86{number}", "source": "customer", "added_at_us": int(time.time() * 1e6)}
        await connection.execute(insert(DncNumberRow).values(**row))

    assert await out.dialer.tick() == 1
    lead = await eventually(lambda: out.row(lead_id), lambda r: r.status == "refused")
    assert lead.last_result == "dnc"
    (refused,) = await out.events(lead_id)
    assert (refused.kind, refused.data["rule"]) == (EventKind.DIAL_REFUSED, "dnc")
    assert await out.attempts(lead_id) == []


async def test_given_hours_to_21_00_when_leads_are_due_at_20_59_and_21_01_then_the_second_waits_for_08_00(
    make_outbound: MakeOutbound, ari: AriClient
) -> None:
    await set_agent_timing(ari, "1001", ring_s=1)
    before = await make_outbound(clock=beijing_clock(20, 59), calling_hours="08:00-21:00")
    await login(before, "1001")
    dialled = await before.lead(customer_number(Customer.ANSWERS, ring_s=1, stay_s=1, line=7))
    assert await before.dialer.tick() == 1
    await before.until(dialled, ended(EventKind.DIAL_STARTED))
    await before.until(dialled, ended(EventKind.DIAL_RESULT), within_s=60)
    await eventually(lambda: before.state.agent("1001"), lambda s: s[0].state is AgentState.READY)

    after = await make_outbound(clock=beijing_clock(21, 1), calling_hours="08:00-21:00")
    held = await after.lead(customer_number(Customer.ANSWERS, ring_s=1, stay_s=1, line=8))
    assert await after.dialer.tick() == 1
    row = await eventually(lambda: after.row(held), lambda r: r.status == "retry")
    (refused,) = await after.events(held)
    assert (refused.kind, refused.data["rule"]) == (EventKind.DIAL_REFUSED, "calling_hours")
    opens = datetime.combine(datetime.now(BEIJING).date() + timedelta(days=1), dtime(8), tzinfo=BEIJING)
    assert row.next_attempt_at_us == int(opens.timestamp() * 1e6)  # held until the window opens
    assert await after.attempts(held) == []


async def test_given_a_caller_waiting_when_an_agent_is_free_for_both_then_the_caller_gets_the_agent(
    make_outbound: MakeOutbound, ari: AriClient
) -> None:
    out = await make_outbound(reserve_wait_s=60)  # the lead keeps asking for an agent throughout
    await set_agent_timing(ari, "1001", ring_s=1)
    await login(out, "1001")
    await out.state.transition("1001", Command.PAUSE, time.time(), reason="break")
    lead_id = await out.lead(customer_number(Customer.ANSWERS, ring_s=1, stay_s=5, line=4))
    (lead,) = await take_due(out.engine, time.time(), 1, [None])
    dialling = asyncio.create_task(out.dialer.dial(lead))  # asks for an agent: none is free
    await eventually(lambda: out.dialer._asking, what="the reservation asked")
    caller = await place_simulated_call(ari, app=out.app, app_args="caller,sales", hold_s=30)
    await eventually(lambda: caller.id in out.router.calls and out.router.calls[caller.id].in_line)

    await out.state.transition("1001", Command.UNPAUSE, time.time())
    every = await eventually(
        lambda: out.recorded(), lambda ev: any(e.kind is EventKind.AGENT_ANSWERED for e in ev)
    )
    assert [(e.call_id, e.agent) for e in every if e.kind is EventKind.AGENT_ANSWERED] == [
        (caller.id, "1001")
    ]
    assert not dialling.done()  # the lead still waits for an agent: nothing was dialled
    assert [e for e in await out.events(lead_id) if e.kind is EventKind.DIAL_STARTED] == []
    dialling.cancel()
    await asyncio.gather(dialling, return_exceptions=True)
    assert out.dialer._asking == set()
    await ari.hangup(caller.id)


async def test_given_two_instances_when_both_take_due_leads_then_no_lead_is_taken_twice(
    make_outbound: MakeOutbound, migrated_database: str
) -> None:
    out = await make_outbound()
    leads = {await out.lead(customer_number(Customer.ANSWERS, line=10 + i)) for i in range(12)}
    other = make_engine(migrated_database)  # a second instance: its own engine and connections
    try:
        batches = await asyncio.gather(
            *(take_due(engine, time.time(), 12, [None]) for engine in (out.engine, other, out.engine, other))
        )
    finally:
        await other.dispose()
    taken = [lead.lead_id for batch in batches for lead in batch]
    assert sorted(taken) == sorted(leads)  # every lead once, whichever instance took it
