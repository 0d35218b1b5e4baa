"""One running instance per ARI app name: a heartbeat key in Redis with a short TTL.

Asterisk gives an app name to the last websocket that asks for it and tells the previous one
``ApplicationReplaced``, so a second instance started by mistake would steal every call of
the first. Before it connects, an instance takes ``<prefix>:instance:<app>`` (SET NX PX) and
renews it every third of its TTL. A key held by someone else is waited on for one TTL: the
heartbeat of an instance that died (kill -9, a crash) lapses within it, and the restart goes
on; a live holder keeps renewing, and the newcomer refuses to start (``AppInUse``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cti.cancellation import raise_if_cancelling
from cti.errors import AppInUse, ServiceUnavailable

log = logging.getLogger(__name__)

# KEYS[1] the lease; ARGV: token, ttl ms. Renew our lease, or take it when free (Redis lost it
# in a restart without persistence; a turn lease nobody holds); never take it from a live holder.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV[1] token. Let go of the lease only if it is ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(prefix: str, app: str) -> str:
    """The heartbeat key of the instance serving ``app``: while it exists, that instance lives."""
    return f"{prefix}:instance:{app}"


def holder_token() -> str:
    """Who holds a lease, as its key shows it to a person looking (host, process) and unique."""
    return f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"


class InstanceLease:
    def __init__(self, redis: aioredis.Redis, prefix: str, app: str, *, ttl_s: float = 3.0) -> None:
        self.redis = redis
        self.app = app
        self.key = lease_key(prefix, app)
        self.ttl_s = ttl_s
        self.token = holder_token()
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self.held = False  # what ``/ready`` reports

    async def acquire(self) -> None:
        """Take the lease, waiting up to one TTL for a dead holder's to lapse; else ``AppInUse``."""
        deadline = time.monotonic() + self.ttl_s + 0.5
        waited = False
        while not await self._take():
            if time.monotonic() > deadline:
                raise AppInUse(self.app, str(await self.redis.get(self.key) or "gone meanwhile"))
            if not waited:
                log.info(
                    "ARI app %s: another instance's heartbeat is here; waiting for it to lapse", self.app
                )
                waited = True
            await asyncio.sleep(self.ttl_s / 10)
        self.held = True

    async def _take(self) -> bool:
        try:
            return bool(await self.redis.set(self.key, self.token, nx=True, px=self._ttl_ms))
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"Redis did not answer while taking {self.key}: {exc}") from exc

    async def keep(self) -> None:
        """Renew until cancelled. Redis trouble is retried; losing the lease to a live holder is
        logged loudly (it can only happen if Redis was away for longer than the TTL)."""
        while True:
            raise_if_cancelling()  # a library may have swallowed the cancel
            await asyncio.sleep(self.ttl_s / 3)
            try:
                self.held = bool(await self._renew(keys=[self.key], args=[self.token, self._ttl_ms]))
                if not self.held:
                    log.error("ARI app %s: another instance took the heartbeat key", self.app)
            except (RedisError, OSError) as exc:
                log.warning("ARI app %s: heartbeat not renewed: %s", self.app, exc)

    async def release(self) -> None:
        self.held = False
        with contextlib.suppress(RedisError, OSError):
            await self._release(keys=[self.key], args=[self.token])

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)


class TurnLease:
    """Which one of the instances does a job that must be done by one at a time (the wallboard's
    publishing): the one whose token is in ``key``. Unlike ``InstanceLease`` nobody waits for it
    nor refuses to start: every instance asks at each turn, and ``hold`` takes the key when it
    is free or renews it when it is ours, in one round trip (the heartbeat's script). A holder
    that stops asking (it died) loses the key after ``ttl_s``, and the next to ask takes it; one
    that stops cleanly lets go (``release``), and another takes over at its next turn."""

    def __init__(self, redis: aioredis.Redis, key: str, ttl_s: float) -> None:
        self.key = key
        self.ttl_s = ttl_s
        self.token = holder_token()
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self.held = False  # as the last turn found it (``/metrics``)

    async def hold(self) -> bool:
        """Take or keep the key for ``ttl_s`` more; whether this instance holds it now."""
        self.held = bool(await self._renew(keys=[self.key], args=[self.token, int(self.ttl_s * 1000)]))
        return self.held

    async def release(self) -> None:
        """Let go of the key if it is ours (Redis away: it lapses by itself)."""
        self.held = False
        with contextlib.suppress(RedisError, OSError):
            await self._release(keys=[self.key], args=[self.token])
