"""The hopper: which leads are to be dialled now, the most urgent first, in Redis, shared by
every instance. SQL is the truth (``cti.outbound.lead_store``); the hopper is an index of it,
and ``refill`` rebuilds it from there: a Redis that lost everything loses no lead.

Keys, under the prefix given (``<prefix>:...``):

- ``waiting``: sorted set, lead -> when it is due (epoch seconds);
- ``ready:<pool>``: sorted set, lead -> urgency (lower is more urgent: a lead's contact
  deadline, a list line's due time), the due leads of one pool; a pool is a campaign, and
  ``-`` the leads of none;
- ``leased``: sorted set, lead -> when its lease ends; ``holder``: hash, lead -> instance;
- ``pool``, ``urgency``: hashes, lead -> its pool and urgency; a lead is in the hopper while
  ``pool`` names it;
- ``gone``: sorted set, lead -> when it was done: ``refill`` read its SQL rows a moment before
  and must not bring back a lead done meanwhile.

``take`` is one Lua script: leases that ran out come back (their instance died mid-dial), due
leads move from ``waiting`` to their pool, and the most urgent are leased to the caller and
taken out of the pool, all at once: no two instances take one lead.

The dialer's order of writes: SQL first (``LeadStore.mark``), then the hopper (``done``,
``later``); so a crash in between leaves SQL right and the hopper to be corrected by the lease
running out or by ``refill``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from cti.outbound.lead_store import LeadStore

log = logging.getLogger(__name__)

LEASE_S = 120.0  # far longer than a dial: ring time (40 s) plus the answer and the bridge
GONE_S = 600.0  # how long a lead done is kept from a refill that read SQL before it was done
NO_POOL = "-"  # the pool of the leads of no campaign
MOVE_MAX = 1000  # leads a take moves between sets at most (the script stays short)

# KEYS: waiting, leased, holder, pool, urgency; ARGV: now, lease until, instance, count, pool,
# ready key prefix, move max. Returns the leads taken, most urgent first.
_TAKE = """
local now, lease_end = tonumber(ARGV[1]), ARGV[2]
local count, move = tonumber(ARGV[4]), tonumber(ARGV[7])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, move)
for _, lead in ipairs(expired) do
  redis.call('ZREM', KEYS[2], lead)
  redis.call('HDEL', KEYS[3], lead)
  redis.call('ZADD', KEYS[1], now, lead)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, move)
for _, lead in ipairs(due) do
  redis.call('ZREM', KEYS[1], lead)
  local pool = redis.call('HGET', KEYS[4], lead)
  if pool then
    redis.call('ZADD', ARGV[6] .. pool, redis.call('HGET', KEYS[5], lead) or now, lead)
  end
end
local ready = ARGV[6] .. ARGV[5]
local taken = redis.call('ZRANGE', ready, 0, count - 1)
for _, lead in ipairs(taken) do
  redis.call('ZREM', ready, lead)
  redis.call('ZADD', KEYS[2], lease_end, lead)
  redis.call('HSET', KEYS[3], lead, ARGV[3])
end
return taken
"""

# KEYS: waiting, leased, pool, urgency, gone; ARGV: lead, due at, urgency, pool, ready prefix,
# only if absent (1/0), now, gone horizon. A leased lead is left alone (it is being dialled);
# with only-if-absent, so is one in the hopper or done lately (a refill). Returns 1 if put.
_PUT = """
local lead = ARGV[1]
if redis.call('ZSCORE', KEYS[2], lead) then return 0 end
if ARGV[6] == '1' then
  if redis.call('HEXISTS', KEYS[3], lead) == 1 then return 0 end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[8])
  if redis.call('ZSCORE', KEYS[5], lead) then return 0 end
end
local old = redis.call('HGET', KEYS[3], lead)
if old then redis.call('ZREM', ARGV[5] .. old, lead) end
redis.call('ZREM', KEYS[5], lead)
redis.call('HSET', KEYS[3], lead, ARGV[4])
redis.call('HSET', KEYS[4], lead, ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], lead)
return 1
"""

# KEYS: waiting, leased, holder, pool, urgency, gone; ARGV: lead, ready prefix, now, gone horizon.
_DONE = """
local lead = ARGV[1]
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[4])
local pool = redis.call('HGET', KEYS[4], lead)
if pool then redis.call('ZREM', ARGV[2] .. pool, lead) end
redis.call('ZREM', KEYS[1], lead)
redis.call('ZREM', KEYS[2], lead)
redis.call('HDEL', KEYS[3], lead)
redis.call('HDEL', KEYS[4], lead)
redis.call('HDEL', KEYS[5], lead)
redis.call('ZADD', KEYS[6], ARGV[3], lead)
return pool and 1 or 0
"""

# KEYS: waiting, leased, holder, pool; ARGV: lead, due at, ready prefix. Back to waiting, in its
# pool with its urgency; 0 if the hopper no longer holds it (done, or Redis lost it).
_LATER = """
local lead = ARGV[1]
local pool = redis.call('HGET', KEYS[4], lead)
if not pool then return 0 end
redis.call('ZREM', ARGV[3] .. pool, lead)
redis.call('ZREM', KEYS[2], lead)
redis.call('HDEL', KEYS[3], lead)
redis.call('ZADD', KEYS[1], ARGV[2], lead)
return 1
"""


class Hopper:
    """The leads to dial, shared by the instances; ``instance`` names the holder of a lease."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, instance: str = "cti", *, lease_s: float = LEASE_S
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.instance = instance
        self.lease_s = lease_s
        self._take = redis.register_script(_TAKE)
        self._put = redis.register_script(_PUT)
        self._done = redis.register_script(_DONE)
        self._later = redis.register_script(_LATER)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    @property
    def _ready(self) -> str:
        """The prefix of the pools' sorted sets (the pool's name follows)."""
        return self._key("ready:")

    async def put(self, lead_id: str, due_at: float, urgency: float, *, campaign: str | None = None) -> bool:
        """Hold ``lead_id`` to be dialled from ``due_at`` on, in its campaign's pool (None: the
        leads of no campaign), by ``urgency``; put again, it takes the new values. A lead
        leased (being dialled) is left alone: False."""
        return await self._put_one(lead_id, due_at, urgency, campaign, only_if_absent=False, now=0.0)

    async def offer(
        self, lead_id: str, due_at: float, urgency: float, campaign: str | None, *, now: float
    ) -> bool:
        """``put``, unless the hopper holds the lead already or it was done lately (a refill's
        SQL read may be older than its ``done``): True when put."""
        return await self._put_one(lead_id, due_at, urgency, campaign, only_if_absent=True, now=now)

    async def _put_one(
        self,
        lead_id: str,
        due_at: float,
        urgency: float,
        campaign: str | None,
        *,
        only_if_absent: bool,
        now: float,
    ) -> bool:
        keys = [self._key(name) for name in ("waiting", "leased", "pool", "urgency", "gone")]
        args = [lead_id, repr(due_at), repr(urgency), campaign or NO_POOL, self._ready]
        args += ["1" if only_if_absent else "0", repr(now), repr(now - GONE_S)]
        return bool(await self._put(keys=keys, args=args))

    async def take(self, count: int, now: float, *, campaign: str | None = None) -> list[str]:
        """Up to ``count`` due leads of ``campaign``'s pool (None: the leads of no campaign),
        the most urgent first, leased to this instance for ``lease_s``: no other instance gets
        them; if this one dies, they come back when the lease ends."""
        if count <= 0:
            return []
        keys = [self._key(name) for name in ("waiting", "leased", "holder", "pool", "urgency")]
        pool = campaign or NO_POOL
        args = [
            repr(now),
            repr(now + self.lease_s),
            self.instance,
            str(count),
            pool,
            self._ready,
            str(MOVE_MAX),
        ]
        taken = await self._take(keys=keys, args=args)
        return [str(lead) for lead in taken]

    async def done(self, lead_id: str, now: float | None = None) -> None:
        """The lead leaves the hopper (contacted, exhausted, refused...: SQL says so first)."""
        keys = [self._key(name) for name in ("waiting", "leased", "holder", "pool", "urgency", "gone")]
        moment = now if now is not None else datetime.now(UTC).timestamp()
        await self._done(keys=keys, args=[lead_id, self._ready, repr(moment), repr(moment - GONE_S)])

    async def later(self, lead_id: str, due_at: float) -> bool:
        """Dial the lead again from ``due_at`` on (a retry); its lease ends. False when the
        hopper no longer holds it (a refill brings it back, from SQL's next attempt time)."""
        keys = [self._key(name) for name in ("waiting", "leased", "holder", "pool")]
        return bool(await self._later(keys=keys, args=[lead_id, repr(due_at), self._ready]))

    async def refill(self, leads: LeadStore, now: float, limit: int = 1000) -> int:
        """Put the leads SQL says are due and the hopper does not hold (Redis lost them, or
        they became due since): how many were put. Safe to run from every instance at once."""
        due = await leads.due(datetime.fromtimestamp(now, UTC), limit)
        put = 0
        for lead in due:
            due_at, urgency = lead.hopper_place()
            put += await self.offer(lead.lead_id, due_at, urgency, lead.campaign, now=now)
        if put:
            log.info("hopper: %d due leads put in from the store", put)
        return put

    async def holds(self, lead_id: str) -> bool:
        """Whether the hopper holds the lead (waiting, ready or leased)."""
        return bool(await self.redis.hexists(self._key("pool"), lead_id))

    async def keep_filled(self, leads: LeadStore, stopping: asyncio.Event, every_s: float = 5.0) -> None:
        """``refill`` every ``every_s`` until ``stopping`` is set: leads that became due (an
        after-hours callback at opening time) or that a Redis restart lost come (back) in.
        Redis or SQL trouble is tried again, never fatal, and logged when it starts and ends."""
        failing = False
        while not stopping.is_set():
            try:
                await self.refill(leads, datetime.now(UTC).timestamp())
            except (RedisError, SQLAlchemyError, OSError) as exc:
                if not failing:
                    log.warning("hopper: refill failing, trying again every %gs: %s", every_s, exc)
                failing = True
            else:
                if failing:
                    log.warning("hopper: refilling again")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_s)
