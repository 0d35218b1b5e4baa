"""Slowing down guessed passwords: failed sign-ins counted per login and per client address.

The first few failures in a window cost nothing (people mistype); after that each failure makes
the next attempt wait, twice as long each time, up to a cap. An address gets many more free
failures than a login, because a whole call center often signs in from one address (NAT). The
counters live in Redis, under ``<prefix>:login:``, so every instance sees the same ones and they
expire by themselves. A good password clears its login's counter, not the address's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cti.desk.users import LOGIN_PATTERN
from cti.errors import ServiceUnavailable

WINDOW_S = 15 * 60  # failures are counted over this long (and as long again after a wait)
LOGIN_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 50
FIRST_WAIT_S = 30
MAX_WAIT_S = 15 * 60


def wait_after(failures: int, free: int) -> int:
    """Seconds the next attempt waits after the ``failures``-th failure in the window: none for
    the first ``free - 1``, then 30 s, doubling, at most 15 min."""
    if failures < free:
        return 0
    return min(FIRST_WAIT_S << min(failures - free, 16), MAX_WAIT_S)


@dataclass(frozen=True)
class _Counter:
    failures: str  # key of the count
    wait: str  # key that exists while attempts must wait
    free: int


class LoginThrottle:
    """The Redis side: how long a sign-in must wait, and what a failure or a success changes."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:login"

    def _counters(self, login: str, address: str) -> list[_Counter]:
        counters = [
            _Counter(
                f"{self._prefix}:fail:addr:{address}",
                f"{self._prefix}:wait:addr:{address}",
                ADDRESS_FREE_FAILURES,
            )
        ]
        if LOGIN_PATTERN.fullmatch(login):  # any other text is no login: count the address only
            counters.append(
                _Counter(
                    f"{self._prefix}:fail:user:{login}",
                    f"{self._prefix}:wait:user:{login}",
                    LOGIN_FREE_FAILURES,
                )
            )
        return counters

    async def wait_s(self, login: str, address: str) -> int:
        """Whole seconds before ``login`` may be tried from ``address`` again (0: now)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for counter in self._counters(login, address):
                    pipe.pttl(counter.wait)
                remaining_ms = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(f"Redis did not answer the sign-in throttle: {exc}") from exc
        return math.ceil(max([0, *(int(ms) for ms in remaining_ms)]) / 1000)  # -2: no key

    async def failed(self, login: str, address: str) -> None:
        """Count a failure; past the free ones, make the next attempts wait."""
        try:
            for counter in self._counters(login, address):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.set(counter.failures, 0, ex=WINDOW_S, nx=True)
                    pipe.incr(counter.failures)
                    _, failures = await pipe.execute()
                wait = wait_after(int(failures), counter.free)
                if wait:
                    async with self._redis.pipeline(transaction=True) as pipe:
                        pipe.set(counter.wait, 1, ex=wait)
                        pipe.expire(counter.failures, wait + WINDOW_S)
                        await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(f"Redis did not answer the sign-in throttle: {exc}") from exc

    async def succeeded(self, login: str) -> None:
        """A good password: its login starts afresh."""
        keys = [f"{self._prefix}:fail:user:{login}", f"{self._prefix}:wait:user:{login}"]
        try:
            await self._redis.delete(*keys)
        except RedisError as exc:
            raise ServiceUnavailable(f"Redis did not answer the sign-in throttle: {exc}") from exc
