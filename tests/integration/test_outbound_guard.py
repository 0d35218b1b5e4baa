"""The dial guard on the real Redis and SQL store: the limits hold across instances, every
refusal is an event with its rule and a log line without the number, the do-not-call list."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.events import CallEvent, EventKind, event_from_json
from cti.live import EventOutbox, connect_redis
from cti.outbound.attempts import DialAttempts
from cti.outbound.dnc import add_numbers
from cti.outbound.guard import DialGuard
from cti.outbound.numbers import Dialable
from cti.outbound.refusal import Refusal, Rule
from cti.settings import OutboundSettings, Settings
from cti.store import make_engine

MOBILE = "+8613800138000"
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client whose test keys (``test:guard:*``) are removed after the test."""
    client = connect_redis(redis_url)
    yield client
    keys = [key async for key in client.scan_iter("test:guard:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def prefix() -> str:
    return f"test:guard:{uuid.uuid4().hex[:8]}"


async def test_many_concurrent_takers_on_two_instances_count_exactly_the_limit(
    redis: Redis, redis_url: str
) -> None:
    other = connect_redis(redis_url)  # a second instance: its own connections
    key = prefix()
    instances = [DialAttempts(redis, key), DialAttempts(other, key)]
    try:
        takes = await asyncio.gather(
            *(instances[i % 2].take(MOBILE, NOON, max_24h=5, max_5min=3) for i in range(40))
        )
        assert sum(taken.counted for taken in takes) == 3
        assert all(len(taken.calls) == 3 for taken in takes if not taken.counted)
        later = NOON + timedelta(minutes=10)  # the 5 minutes passed: two more fit in 24 h
        takes = await asyncio.gather(
            *(instances[i % 2].take(MOBILE, later, max_24h=5, max_5min=3) for i in range(40))
        )
        assert sum(taken.counted for taken in takes) == 2
        recent, abandoned = await instances[0].recent(MOBILE, later)
        assert (len(recent), abandoned) == (5, None)
        assert await redis.pttl(f"{key}:{MOBILE}:calls") > 23 * 3600 * 1000  # forgotten a day later
    finally:
        await other.aclose()


async def test_calls_a_day_old_leave_the_count(redis: Redis) -> None:
    attempts = DialAttempts(redis, prefix())
    for minutes in (0, 10, 20, 30, 40):
        assert (await attempts.take(MOBILE, NOON + timedelta(minutes=minutes), max_24h=5, max_5min=3)).counted
    assert not (await attempts.take(MOBILE, NOON + timedelta(hours=23), max_24h=5, max_5min=3)).counted
    assert (await attempts.take(MOBILE, NOON + timedelta(hours=24), max_24h=5, max_5min=3)).counted


async def test_an_abandon_is_remembered_for_the_lockout_and_the_latest_wins(redis: Redis) -> None:
    key = prefix()
    attempts = DialAttempts(redis, key)
    await attempts.note_abandoned(MOBILE, NOON, timedelta(hours=72))
    await attempts.note_abandoned(MOBILE, NOON - timedelta(hours=1), timedelta(hours=72))  # late news
    assert (await attempts.recent(MOBILE, NOON))[1] == NOON
    assert 71 * 3600 * 1000 < await redis.pttl(f"{key}:{MOBILE}:abandoned") <= 72 * 3600 * 1000


# --- the guard --------------------------------------------------------------------------------
class Guarded:
    def __init__(self, guard: DialGuard, outbox: EventOutbox, store: AsyncEngine) -> None:
        self.guard, self.outbox, self.store = guard, outbox, store

    async def recorded(self) -> list[CallEvent]:
        entries = await self.outbox.redis.xrange(self.outbox.stream)
        return [event_from_json(fields["e"]) for _, fields in entries]


def make_guard(settings: Settings, store: AsyncEngine, redis: Redis, **outbound: object) -> Guarded:
    key = prefix()
    outbox = EventOutbox(redis, f"{key}:events")
    changed = settings.model_copy(
        update={
            "outbound": OutboundSettings.model_validate(outbound),
            "acd": settings.acd.model_copy(update={"redis_prefix": key}),
        }
    )
    return Guarded(DialGuard.from_settings(changed, store, redis, outbox), outbox, store)


async def test_admit_reads_checks_and_counts_nothing_take_counts(
    store: AsyncEngine, redis: Redis, settings: Settings
) -> None:
    guarded = make_guard(settings, store, redis)
    guard = guarded.guard
    for _ in range(5):
        admitted = await guard.admit("138 0013 8000", lead_id="lead-1", campaign=None, now=NOON)
        assert admitted == Dialable(MOBILE, "CN", "13800138000", "mobile")
    taken = [
        await guard.take("13800138000", lead_id="lead-1", campaign="renewals", now=NOON) for _ in range(4)
    ]
    assert [isinstance(verdict, Dialable) for verdict in taken] == [True, True, True, False]
    refused = taken[-1]
    assert isinstance(refused, Refusal)
    assert refused.rule is Rule.RATE_5MIN
    assert refused.retry_at == NOON + timedelta(minutes=5)
    admitted = await guard.admit("13800138000", lead_id="lead-1", campaign=None, now=NOON)
    assert isinstance(admitted, Refusal)
    assert admitted.rule is Rule.RATE_5MIN
    (event, _) = [e for e in await guarded.recorded() if e.kind is EventKind.DIAL_REFUSED]
    assert (event.lead_id, event.at, dict(event.data)) == (
        "lead-1",
        NOON,
        {
            "rule": "rate_5min",
            "reason": "3 calls to this number in the last 5 minutes (at most 3)",
            "campaign": "renewals",
            "retry_at": (NOON + timedelta(minutes=5)).isoformat(),
        },
    )


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("110", Rule.EMERGENCY),
        ("+12125551234", Rule.INTERNATIONAL),
        ("4008123123", Rule.PREMIUM),
        ("1" * 20, Rule.BAD_NUMBER),
        ("13900000009", Rule.DNC),
    ],
)
async def test_every_refusal_is_recorded_with_its_rule_and_logged_without_the_number(
    store: AsyncEngine,
    redis: Redis,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    raw: str,
    rule: Rule,
) -> None:
    guarded = make_guard(settings, store, redis)
    await add_numbers(store, ["+8613900000009"], source="api", now=NOON)
    with caplog.at_level(logging.INFO, logger="cti.outbound.guard"):
        verdict = await guarded.guard.take(raw, lead_id="lead-2", campaign="c1", now=NOON, call_id="call-9")
    assert isinstance(verdict, Refusal)
    assert verdict.rule is rule
    (event,) = await guarded.recorded()
    assert (event.kind, event.call_id, event.lead_id, event.data["rule"], event.data["campaign"]) == (
        EventKind.DIAL_REFUSED,
        "call-9",
        "lead-2",
        rule.value,
        "c1",
    )
    (line,) = [r for r in caplog.records if r.name == "cti.outbound.guard"]
    shown = f"{line.getMessage()} {line.__dict__['number']}"
    assert rule.value in shown
    assert raw not in shown
    assert raw not in event.data["reason"]


async def test_calling_hours_and_the_lockout_through_the_guard(
    store: AsyncEngine, redis: Redis, settings: Settings
) -> None:
    guard = make_guard(settings, store, redis).guard
    late = NOON.replace(hour=21, minute=1)
    refused = await guard.take(MOBILE, lead_id=None, campaign=None, now=late)
    assert isinstance(refused, Refusal)
    assert refused.rule is Rule.CALLING_HOURS
    assert refused.retry_at == NOON.replace(day=8, hour=8, minute=0)
    assert isinstance(
        await guard.take(MOBILE, lead_id=None, campaign=None, now=late - timedelta(minutes=2)), Dialable
    )
    await guard.note_abandoned(MOBILE, NOON)
    refused = await guard.admit(MOBILE, lead_id=None, campaign=None, now=NOON + timedelta(hours=71))
    assert isinstance(refused, Refusal)
    assert refused.rule is Rule.ABANDON_LOCKOUT
    assert refused.retry_at == NOON + timedelta(hours=72)


async def test_a_store_that_cannot_answer_refuses_the_dial_as_unchecked(
    redis: Redis, settings: Settings, tmp_path: Path
) -> None:
    empty = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-schema.sqlite3'}")  # no dnc_numbers table
    try:
        guarded = make_guard(settings, empty, redis)
        refused = await guarded.guard.take(MOBILE, lead_id="l", campaign=None, now=NOON)
        assert isinstance(refused, Refusal)
        assert refused.rule is Rule.UNCHECKED
        assert refused.retry_at == NOON + timedelta(seconds=60)
        assert not (await guarded.guard.attempts.recent(MOBILE, NOON))[0]  # nothing counted
    finally:
        await empty.dispose()


async def test_refusal_times_are_the_clocks_whatever_its_zone(
    store: AsyncEngine, redis: Redis, settings: Settings
) -> None:
    guarded = make_guard(settings, store, redis, calling_hours="09:00-17:00")
    utc_now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 18:00 in Beijing: closed
    refused = await guarded.guard.admit(MOBILE, lead_id=None, campaign=None, now=utc_now)
    assert isinstance(refused, Refusal)
    assert refused.retry_at == datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


async def test_a_campaigns_own_calling_hours_narrow_the_centers(
    store: AsyncEngine, redis: Redis, settings: Settings
) -> None:
    guard = make_guard(settings, store, redis).guard
    evening = NOON.replace(hour=19)
    assert isinstance(await guard.admit(MOBILE, lead_id=None, campaign="c", now=evening), Dialable)
    refused = await guard.take(MOBILE, lead_id=None, campaign="c", now=evening, calling_hours="09:00-18:00")
    assert isinstance(refused, Refusal)
    assert (refused.rule, refused.retry_at) == (Rule.CALLING_HOURS, NOON.replace(day=8, hour=9))
    assert not (await guard.attempts.recent(MOBILE, evening))[0]  # refused: nothing counted


async def test_two_service_instances_taking_one_number_at_once_dial_it_the_limit_times(
    store: AsyncEngine, redis: Redis, redis_url: str, settings: Settings
) -> None:
    other_redis = connect_redis(redis_url)
    try:
        first = make_guard(settings, store, redis)
        second = DialGuard(
            first.guard.policy,
            first.guard.rules,
            store,
            DialAttempts(other_redis, first.guard.attempts.prefix),  # the same counts, another client
            EventOutbox(other_redis, first.outbox.stream),
        )
        guards = (first.guard, second)
        verdicts = await asyncio.gather(
            *(guards[i % 2].take(MOBILE, lead_id=f"lead-{i}", campaign=None, now=NOON) for i in range(20))
        )
        assert sum(isinstance(verdict, Dialable) for verdict in verdicts) == 3
        rules = {verdict.rule for verdict in verdicts if isinstance(verdict, Refusal)}
        assert rules == {Rule.RATE_5MIN}
        refused = [e for e in await first.recorded() if e.kind is EventKind.DIAL_REFUSED]
        assert len(refused) == 17  # every refusal recorded, by whichever instance refused it
    finally:
        await other_redis.aclose()
