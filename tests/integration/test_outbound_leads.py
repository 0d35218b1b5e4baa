"""Leads in the store and the hopper on the real SQL databases and Redis: one lead per key under
concurrency, a shared hopper no two instances take one lead from, leases that run out, and a
hopper rebuilt from SQL after Redis lost it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.live import connect_redis
from cti.outbound.hopper import Hopper
from cti.outbound.lead_store import LeadConflict, LeadStore
from cti.outbound.leads import LeadRules, LeadStatus, read_lead
from cti.outbound.numbers import NumberPolicy
from tests.conftest import eventually

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
RULES = LeadRules(NumberPolicy(), 60.0, ZoneInfo("Asia/Shanghai"))


def request(key: str, phone: str = "13800000001", moment: datetime = NOW, **body: Any) -> Any:
    return read_lead({"phone": phone, "source": "insurer", **body}, key, RULES, moment)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect_redis(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: aioredis.Redis) -> AsyncIterator[str]:
    name = f"test:hopper:{uuid.uuid4().hex[:8]}"
    yield name
    await forget(redis, name)


async def forget(redis: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


# --- the store ----------------------------------------------------------------------------------


async def test_a_lead_is_stored_new_with_its_deadline_and_read_back(store: AsyncEngine) -> None:
    leads = LeadStore(store)
    asked = request("case-1", name="王芳", vehicle={"plate": "沪A12345"})
    lead, created = await leads.create(asked)
    assert created
    assert (lead.lead_id, lead.status, lead.phone_number, lead.name) == (
        asked.lead_id,
        LeadStatus.NEW,
        "+8613800000001",
        "王芳",
    )
    assert lead.deadline_at == NOW + timedelta(seconds=60)
    assert lead.data["vehicle"] == {"plate": "沪A12345"}
    assert await leads.get(asked.lead_id) == lead


async def test_two_concurrent_requests_with_one_key_make_one_lead(store: AsyncEngine) -> None:
    leads = LeadStore(store)
    made = await asyncio.gather(*(leads.create(request("case-2")) for _ in range(8)))
    assert len({lead.lead_id for lead, _ in made}) == 1
    assert sorted(created for _, created in made) == [False] * 7 + [True]
    assert len(await leads.find()) == 1


async def test_a_retry_is_the_first_lead_and_another_request_with_its_key_a_conflict(
    store: AsyncEngine,
) -> None:
    leads = LeadStore(store)
    first, _ = await leads.create(request("case-3"))
    retried = request("case-3", phone="+86 138 0000 0001", moment=NOW + timedelta(seconds=5))
    again, created = await leads.create(retried)
    assert (again, created) == (first, False)
    with pytest.raises(LeadConflict, match="another lead"):
        await leads.create(request("case-3", phone="13800000002"))


async def test_due_leads_are_the_waiting_ones_whose_time_came_most_urgent_first(store: AsyncEngine) -> None:
    leads = LeadStore(store)
    late, _ = await leads.create(request("a", deadline="2026-12-07T10:05"))
    soon, _ = await leads.create(request("b", deadline="2026-12-07T10:02"))
    tomorrow, _ = await leads.create(request("c", due_on="2026-12-08"))
    called, _ = await leads.create(request("d"))
    assert await leads.mark(called.lead_id, LeadStatus.CONTACTED, result="answered", now=NOW)
    assert [lead.lead_id for lead in await leads.due(NOW, 10)] == [soon.lead_id, late.lead_id]
    next_day = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert tomorrow.lead_id in [lead.lead_id for lead in await leads.due(next_day, 10)]


async def test_marking_dialing_counts_an_attempt_and_only_one_racer_wins(store: AsyncEngine) -> None:
    leads = LeadStore(store)
    lead, _ = await leads.create(request("e"))
    won = await asyncio.gather(
        *(leads.mark(lead.lead_id, LeadStatus.DIALING, only_from={LeadStatus.NEW}) for _ in range(4))
    )
    assert sorted(won) == [False, False, False, True]
    retry_at = NOW + timedelta(minutes=10)
    await leads.mark(lead.lead_id, LeadStatus.RETRY, result="busy", next_attempt_at=retry_at)
    stored = await leads.get(lead.lead_id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.last_result, stored.next_attempt_at) == (
        LeadStatus.RETRY,
        1,
        "busy",
        retry_at,
    )
    assert [found.lead_id for found in await leads.find(status=LeadStatus.RETRY)] == [lead.lead_id]
    assert await leads.find(campaign="renewals") == []


# --- the hopper ---------------------------------------------------------------------------------


async def test_the_most_urgent_due_leads_are_taken_first_and_not_before_due(
    redis: aioredis.Redis, prefix: str
) -> None:
    hopper = Hopper(redis, prefix, "i1")
    now = NOW.timestamp()
    await hopper.put("late", now, now + 60)
    await hopper.put("soon", now - 5, now + 10)
    await hopper.put("in-a-minute", now + 60, now + 120)
    await hopper.put("list-line", now - 3600, now - 3600, campaign="renewals")
    assert await hopper.take(5, now) == ["soon", "late"]
    assert await hopper.take(5, now) == []
    assert await hopper.take(5, now, campaign="renewals") == ["list-line"]
    assert await hopper.take(5, now + 60) == ["in-a-minute"]  # the others are still leased


async def test_two_instances_taking_at_once_never_get_one_lead(
    redis: aioredis.Redis, prefix: str, redis_url: str
) -> None:
    now = NOW.timestamp()
    first = Hopper(redis, prefix, "i1")
    for n in range(200):
        await first.put(f"lead-{n}", now, now + n)
    instances = [Hopper(connect_redis(redis_url), prefix, f"i{n}") for n in range(4)]  # own clients
    batches = await asyncio.gather(*(h.take(7, now) for h in instances for _ in range(10)))
    taken = [lead for batch in batches for lead in batch]
    assert len(taken) == len(set(taken)) == 200
    for hopper in instances:
        await hopper.redis.aclose()


async def test_a_lease_that_runs_out_gives_the_lead_back(redis: aioredis.Redis, prefix: str) -> None:
    now = NOW.timestamp()
    dead, alive = Hopper(redis, prefix, "dead", lease_s=30), Hopper(redis, prefix, "alive", lease_s=30)
    await dead.put("L1", now, now + 60)
    assert await dead.take(1, now) == ["L1"]
    assert await alive.take(1, now + 29) == []
    assert await alive.take(1, now + 31) == ["L1"]
    assert await redis.hget(f"{prefix}:holder", "L1") == "alive"


async def test_done_and_later(redis: aioredis.Redis, prefix: str) -> None:
    now = NOW.timestamp()
    hopper = Hopper(redis, prefix, "i1")
    await hopper.put("L1", now, now + 60)
    await hopper.put("L2", now, now + 61)
    assert await hopper.take(2, now) == ["L1", "L2"]
    assert await hopper.put("L1", now, now) is False  # leased: being dialled, left alone
    await hopper.done("L1", now)
    assert await hopper.later("L2", now + 600)
    assert not await hopper.holds("L1")
    assert await hopper.take(2, now + 599) == []
    assert await hopper.take(2, now + 600) == ["L2"]
    assert await hopper.later("L1", now) is False


async def test_refill_after_redis_lost_the_hopper_loses_no_lead(
    store: AsyncEngine, redis: aioredis.Redis, prefix: str
) -> None:
    leads, hopper = LeadStore(store), Hopper(redis, prefix, "i1")
    made = [(await leads.create(request(f"k{n}", deadline=f"2026-12-07T10:0{n + 1}")))[0] for n in range(3)]
    later, _ = await leads.create(request("k-later", due_on="2026-12-08"))
    for lead in made:
        due_at, urgency = lead.hopper_place()
        await hopper.put(lead.lead_id, due_at, urgency)
    await forget(redis, prefix)  # Redis lost everything under the prefix
    now = NOW.timestamp()
    assert await hopper.take(5, now) == []
    assert await hopper.refill(leads, now) == 3
    assert await hopper.refill(leads, now) == 0  # held already
    assert await hopper.take(5, now) == [lead.lead_id for lead in made]
    assert not await hopper.holds(later.lead_id)


async def test_refill_does_not_bring_back_a_lead_done_after_it_read_sql(
    store: AsyncEngine, redis: aioredis.Redis, prefix: str
) -> None:
    leads, hopper = LeadStore(store), Hopper(redis, prefix, "i1")
    lead, _ = await leads.create(request("k1"))
    now = NOW.timestamp()
    due_at, urgency = lead.hopper_place()
    await hopper.put(lead.lead_id, due_at, urgency)
    assert await hopper.take(1, now) == [lead.lead_id]
    read_before = await leads.due(NOW, 10)  # a refill's read, then the dialer finishes the lead
    await leads.mark(lead.lead_id, LeadStatus.CONTACTED, result="answered")
    await hopper.done(lead.lead_id, now)
    assert [found.lead_id for found in read_before] == [lead.lead_id]
    assert not await hopper.offer(lead.lead_id, due_at, urgency, None, now=now + 1)
    assert await hopper.take(1, now + 1) == []


async def test_the_service_keeps_the_hopper_filled_after_redis_lost_it(
    store: AsyncEngine, redis: aioredis.Redis, prefix: str
) -> None:
    leads, hopper = LeadStore(store), Hopper(redis, prefix, "i1")
    lead, _ = await leads.create(request("k1", moment=datetime.now(UTC)))
    stopping = asyncio.Event()
    filling = asyncio.create_task(hopper.keep_filled(leads, stopping, every_s=0.1))
    try:
        await eventually(lambda: hopper.holds(lead.lead_id), what="the lead put in from SQL")
        await forget(redis, prefix)
        await eventually(lambda: hopper.holds(lead.lead_id), what="the lead put back after Redis lost it")
    finally:
        stopping.set()
        await filling
