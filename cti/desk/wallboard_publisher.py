"""The push channel's ``wallboard`` topic: what every supervisor's board shows, published by one
instance at a time.

Every instance runs a ``WallboardPublisher``. Once a second each one asks for the wallboard's
turn (``TurnLease`` on ``<prefix>:wallboard:publisher``); the holder reads the body
(``WallboardSource.body_if_ready``: the live state, two pipelines sent at once; today's KPIs
from their cache, never waited for: a turn must not outlast the lease) and publishes it when a
board would draw it differently from the last one published, or when ``keepalive_s`` passed (a
board's "updated at" shows it is alive). So a caller joining a queue is on every board within
about a second, and an idle center costs one small event every ``keepalive_s``. The others
cost a round trip a second.

A holder that dies stops renewing: within ``LEASE_TTL_S`` the next to ask takes over. One that
stops lets go, and another takes over at its next turn. A new holder first reads the topic's
last body, so a takeover publishes nothing that is not news.

The body is read whether anybody watches or not: a board may be on any instance (the hub knows
its own sockets only), and the reading is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from cti.desk.push import PushTopics
from cti.desk.wallboard import TOPIC, as_event, body_of, worth_publishing
from cti.live.lease import TurnLease

log = logging.getLogger(__name__)

EVERY_S = 1.0  # how often a body is read: how late a board may be
KEEPALIVE_S = 30.0  # an unchanged body goes out again after this
LEASE_TTL_S = 2.5  # a dead holder's turn lapses after this (renewed every EVERY_S)


class BodySource(Protocol):
    """Where the body is read (``cti.desk.wallboard_feed.WallboardSource``)."""

    async def body_if_ready(self, now: datetime) -> dict[str, Any] | None: ...


def wallboard_lease(redis: aioredis.Redis, prefix: str, ttl_s: float = LEASE_TTL_S) -> TurnLease:
    """The turn of one center's (``prefix``) instances to publish its wallboard."""
    return TurnLease(redis, f"{prefix}:wallboard:publisher", ttl_s)


class WallboardPublisher:
    def __init__(
        self,
        source: BodySource,
        topics: PushTopics,
        lease: TurnLease,
        *,
        every_s: float = EVERY_S,
        keepalive_s: float = KEEPALIVE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.topics = topics
        self.lease = lease
        self.every_s = every_s
        self.keepalive_s = keepalive_s
        self.clock = clock
        self.published = 0  # bodies this instance published, for /metrics and tests
        self._last: Mapping[str, Any] | None = None  # the topic's last body, while we hold the turn
        self._known = False  # whether ``_last`` is the topic's (not after a turn of another's)

    @property
    def leading(self) -> bool:
        """Whether this instance held the turn at its last ask."""
        return self.lease.held

    async def turn(self) -> bool:
        """Ask for the turn and, holding it, publish the body if it is news; whether it went out."""
        if not await self.lease.hold():
            self._known = False  # another publishes meanwhile
            return False
        if not self._known:
            latest = await self.topics.latest(TOPIC)
            self._last, self._known = (body_of(latest.event) if latest else None), True
        body = await self.source.body_if_ready(self.clock())
        if body is None:  # today's first figures are being computed: the next turn has them
            return False
        try:
            news = worth_publishing(self._last, body, self.keepalive_s)
        except (KeyError, TypeError, ValueError):  # the last body is of another shape (a test's)
            news = True
        if news:
            self._known = False  # until it is known to be out
            await self.topics.publish(TOPIC, as_event(body))
            self._last, self._known = body, True
            self.published += 1
        return news

    async def run(self, stopping: asyncio.Event) -> None:
        """A turn every ``every_s`` until ``stopping`` is set, then let go of the turn. Trouble
        (Redis away, the store's figures failing) is retried at the next turn, logged when it
        starts and when it ends."""
        failing = False
        try:
            while not stopping.is_set():
                started = time.monotonic()
                try:
                    await self.turn()
                except Exception as exc:
                    if not failing:
                        log.error("wallboard publisher failing, retrying every turn: %s", exc, exc_info=True)
                    failing = True
                else:
                    if failing:
                        log.warning("wallboard publisher publishing again")
                    failing = False
                left = self.every_s - (time.monotonic() - started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), max(0.0, left))
        finally:
            await self.lease.release()
