"""What the dialing rules count, per number, in Redis: the times of the recent calls and the last
abandoned call, shared by every instance of the service.

Counting is one atomic step (a Lua script given the limits): the calls of the last 24 h and 5
minutes are counted and, if both are under their limits, the new call is added, all before any
other instance's step. Two instances dialling the same number at the same moment can therefore
never make a sixth call in 24 h or a fourth in 5 minutes. Keys expire on their own: a number's
calls 24 h after its last one, its abandon mark when the lock-out ends. Times are whole
milliseconds since the epoch (exact in Redis's scores and in Lua's numbers).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from cti.outbound.rules import DAY, FIVE_MINUTES

# KEYS[1]: the number's calls (sorted set, score: ms). ARGV: now_ms, day_ms, max_day, five_ms,
# max_five, member. Forgets calls older than a day, counts those after now - day and after
# now - 5 min; under both limits adds the call. Returns {1 if added else 0, the day's call times}.
TAKE = """
local now = tonumber(ARGV[1])
local day, five = tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - day)
local in_day = redis.call('ZCOUNT', KEYS[1], '(' .. (now - day), '+inf')
local in_five = redis.call('ZCOUNT', KEYS[1], '(' .. (now - five), '+inf')
local added = 0
if in_day < tonumber(ARGV[3]) and in_five < tonumber(ARGV[5]) then
  redis.call('ZADD', KEYS[1], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[1], day)
  added = 1
end
local reply = {added}
local flat = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - day), '+inf', 'WITHSCORES')
for i = 2, #flat, 2 do reply[#reply + 1] = tonumber(flat[i]) end
return reply
"""

# KEYS[1]: the number's last abandon (ms). ARGV: at_ms, ttl_ms. Keeps the latest of the two.
NOTE_ABANDONED = """
local known = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > known then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _moment(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class Taken:
    """The outcome of ``DialAttempts.take``: whether the call was counted, and the number's calls
    of the last 24 h (the new one included when it was)."""

    counted: bool
    calls: tuple[datetime, ...]


class DialAttempts:
    """Per number, under ``prefix``: ``<prefix>:<e164>:calls`` and ``<prefix>:<e164>:abandoned``."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(TAKE)
        self._note_abandoned = redis.register_script(NOTE_ABANDONED)

    def _calls_key(self, number: str) -> str:
        return f"{self.prefix}:{number}:calls"

    def _abandoned_key(self, number: str) -> str:
        return f"{self.prefix}:{number}:abandoned"

    async def recent(self, number: str, now: datetime) -> tuple[list[datetime], datetime | None]:
        """The number's calls of the 24 h before ``now``, and its last abandoned call (if its
        lock-out has not expired)."""
        since = f"({_ms(now - DAY)}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(self._calls_key(number), since, "+inf", withscores=True)
            pipe.get(self._abandoned_key(number))
            calls, abandoned = await pipe.execute()
        last_abandoned = None if abandoned is None else _moment(float(abandoned))
        return [_moment(score) for _, score in calls], last_abandoned

    async def take(self, number: str, now: datetime, *, max_24h: int, max_5min: int) -> Taken:
        """Count a call to ``number`` at ``now`` unless it would make more than ``max_24h`` in
        24 h or ``max_5min`` in 5 minutes; atomic across every instance."""
        reply = await self._take(
            keys=[self._calls_key(number)],
            args=[
                _ms(now),
                _ms(now) - _ms(now - DAY),
                max_24h,
                _ms(now) - _ms(now - FIVE_MINUTES),
                max_5min,
                f"{_ms(now)}:{uuid.uuid4().hex[:12]}",
            ],
        )
        return Taken(bool(int(reply[0])), tuple(_moment(float(ms)) for ms in reply[1:]))

    async def note_abandoned(self, number: str, at: datetime, lockout: timedelta) -> None:
        """An answered call to ``number`` was abandoned at ``at``: remembered for ``lockout``."""
        if lockout <= timedelta(0):
            return
        ttl_ms = max(1, round(lockout.total_seconds() * 1000))
        await self._note_abandoned(keys=[self._abandoned_key(number)], args=[_ms(at), ttl_ms])
