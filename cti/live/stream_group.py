"""One consumer of a Redis stream's consumer group, where several groups read one stream.

The outbox stream has two readers, each its own consumer group: the store's drainer
(``store``) and the agent desktop's publisher (``desk``). Each instance is one consumer of
each group, so every event is handled once per group, at least once. A consumer reads its own
unacknowledged entries first (it was killed, or failed, while handling them), then a dead
consumer's (idle longer than ``claim_idle_ms``), then new ones. Both looks cost a round trip:
its own are looked for only while it may have some (at the start, after a read it did not
acknowledge), a dead one's only every ``claim_idle_ms / 4``; a new event waits for neither
(the screen-pop's latency is a few round trips in all).

An entry may leave the stream only once *every* group has acknowledged it: a reader that
deleted what it acknowledged (XDEL) would take it from the others before they read it.
``acknowledge`` therefore trims instead (one Lua script, atomic): up to the oldest entry some
group still needs, its oldest pending one or, with none pending, the first it has not read.
A group whose consumers are all gone holds the stream back; the stream's own cap (the
producer's MAXLEN) still bounds it. One group, the ``keeper`` (the store's), must read every
entry: while it does not exist (the store was away when the service started, or Redis lost the
groups) nothing is trimmed, so another group's acknowledgements cannot take events it never read.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]

#: XTRIM MINID to the oldest id any group of the stream still needs (see the module's doc).
_TRIM_ACKNOWLEDGED = """
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local oldest_ms, oldest_seq = nil, nil
local keeper_found = false
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local fields = {}
  for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
  if fields['name'] == ARGV[1] then keeper_found = true end
  local ms, seq
  if tonumber(fields['pending']) > 0 then
    ms, seq = parse(redis.call('XPENDING', KEYS[1], fields['name'])[2])
  else
    ms, seq = parse(fields['last-delivered-id'])
    seq = seq + 1
  end
  if oldest_ms == nil or ms < oldest_ms or (ms == oldest_ms and seq < oldest_seq) then
    oldest_ms, oldest_seq = ms, seq
  end
end
if oldest_ms == nil or not keeper_found then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', oldest_ms, oldest_seq))
"""


class GroupReader:
    """One consumer (``consumer``) of ``group`` on ``stream``.

    ``start_id`` is where a created group starts: ``0`` for a reader that must see everything
    still in the stream (the store), ``$`` for one to which old events are of no use (a screen
    pop of a call long over). The group is created again, there, when Redis lost it (a restart
    without its data: ``NOGROUP``). ``keeper``: the group that must read every entry (nothing is
    trimmed while it does not exist).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        keeper: str,
        start_id: str = "0",
        batch: int = 500,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.keeper = keeper
        self.start_id = start_id
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._ready = False
        self._unacknowledged = True  # it may hold pending entries of its own (at the start: a crash)
        self._reading: set[str] = set()  # the ids it read last and has not acknowledged
        self._claimed_at = -math.inf  # monotonic: when it last looked for a dead consumer's

    async def ensure_group(self) -> None:
        """Create the group once; again after Redis lost it (``read``)."""
        if self._ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._ready = True

    async def read(self) -> list[Entry]:
        """The next entries to handle (none: nothing came within ``block_ms``)."""
        await self.ensure_group()
        try:
            return await self._read()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning(
                "%s: the consumer group is gone (Redis restarted?); creating %s again",
                self.stream,
                self.group,
            )
            self._ready = False
            return []

    async def _read(self) -> list[Entry]:
        if self._unacknowledged:
            own: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: "0"}, count=self.batch
            )
            if entries := _stream_entries(own):
                return self._handed(entries)
            self._unacknowledged = False
        if time.monotonic() - self._claimed_at >= self.claim_idle_ms / 4000:
            claim: Any = await self.redis.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=self.batch
            )
            self._claimed_at = time.monotonic()
            if entries := [entry for entry in claim[1] if entry[1] is not None]:
                return self._handed(entries)
        fresh: Any = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        return self._handed(_stream_entries(fresh))

    def _handed(self, entries: list[Entry]) -> list[Entry]:
        self._reading = {entry_id for entry_id, _ in entries}
        self._unacknowledged = bool(entries)
        return entries

    async def acknowledge(self, ids: list[str], along: Callable[[Any], None] | None = None) -> list[Any]:
        """Acknowledge ``ids`` and trim what every group is done with, in one transaction with
        what ``along`` queues first on its pipeline (the drainer's dead letters, the desk's
        pushes: one round trip in all); the replies to what ``along`` queued."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if along is not None:
                along(pipe)
            pipe.xack(self.stream, self.group, *ids)
            # EVAL, not a registered script: redis-py asks SCRIPT EXISTS before every pipeline
            # holding one (a round trip more); Redis caches the compiled script either way.
            pipe.eval(_TRIM_ACKNOWLEDGED, 1, self.stream, self.keeper)
            replies: list[Any] = await pipe.execute()
        self._reading -= set(ids)
        self._unacknowledged = bool(self._reading)
        return replies[:-2]


def _stream_entries(reply: Any) -> list[Entry]:
    """The entries of a one-stream XREADGROUP reply (RESP2: [[stream, entries]])."""
    if not reply:
        return []
    return [entry for entry in reply[0][1] if entry[1] is not None]
