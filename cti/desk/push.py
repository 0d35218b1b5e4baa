"""The push topics in Redis: what every instance's websockets deliver, numbered, replayable.

Each topic (``agent:1001``, ``wallboard``) is a stream ``<prefix>:push:<topic>`` whose entry
ids are the topic's sequence numbers (``<seq>-1``), with a counter ``<prefix>:push:<topic>:seq``.
One Lua script numbers an event, appends it (capped at ``replay_max``, approximately) and
PUBLISHes it on ``<prefix>:push`` as ``{"topic","seq","event"}``, atomically: an event is never
published without being kept, nor kept under a number another event also got. Instances
forward what is published to their local sockets; a socket that missed numbers (a reconnect,
a pub/sub hiccup) reads them back from the stream (``replay``), or gets a snapshot once they
have been trimmed away.

The agents' open screen-pops live beside (``<prefix>:pops:<agent>``: offer -> pop body), so a
snapshot carries them. Whether an offer's pop is open is also kept per offer
(``<prefix>:offer:<offer>``: ``open`` or ``closed``), so that publishing is idempotent and
order-proof: an event handled twice (redelivered after a crash) publishes once, and a
withdrawal handled before its pop (two instances' publishers racing) leaves no pop behind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis

POP_TTL_S = 6 * 3600  # an open pop nobody closed (a lost event) is forgotten after this


class PopChange(StrEnum):
    """What publishing an event does to the agent's open pops."""

    NONE = ""
    OPEN = "open"  # a pop: published only if the offer was never opened nor closed
    CLOSE = "close"  # a withdrawal: published only if the offer's pop is open
    DROP = "drop"  # the pop's work is over (wrap-up ended): closed, nothing published


#: KEYS: stream, counter, pops hash, offer state. ARGV: channel, topic, event JSON, replay_max,
#: pop change, offer, pop body JSON, ttl. Returns the event's seq, 0 when nothing was published.
_PUBLISH = """
local change = ARGV[5]
if change == 'open' then
  if not redis.call('SET', KEYS[4], 'open', 'NX', 'EX', ARGV[8]) then return 0 end
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
elseif change == 'close' or change == 'drop' then
  local prior = redis.call('GET', KEYS[4])
  redis.call('SET', KEYS[4], 'closed', 'EX', ARGV[8])
  if prior ~= 'open' then return 0 end
  redis.call('HDEL', KEYS[3], ARGV[6])
  if change == 'drop' then return 0 end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], seq .. '-1', 'e', ARGV[3])
redis.call('PUBLISH', ARGV[1],
  '{"topic":' .. cjson.encode(ARGV[2]) .. ',"seq":' .. seq .. ',"event":' .. ARGV[3] .. '}')
return seq
"""


@dataclass(frozen=True)
class Push:
    """Tell ``topic`` ``event`` (None: tell nothing), changing the agent's pop ``offer`` so."""

    topic: str
    event: Mapping[str, Any] | None
    change: PopChange = PopChange.NONE
    agent: str = ""
    offer: str = ""
    pop: Mapping[str, Any] = field(default_factory=dict)


def agent_topic(agent_id: str) -> str:
    return f"agent:{agent_id}"


@dataclass(frozen=True)
class Numbered:
    """An event of a topic with its sequence number."""

    topic: str
    seq: int
    event: Mapping[str, Any]


class PushTopics:
    """The topics of one center (``prefix``), shared by every instance."""

    def __init__(self, redis: aioredis.Redis, prefix: str, replay_max: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.replay_max = replay_max
        self.channel = f"{prefix}:push"

    def stream(self, topic: str) -> str:
        return f"{self.prefix}:push:{topic}"

    def pops_key(self, agent_id: str) -> str:
        return f"{self.prefix}:pops:{agent_id}"

    async def publish(self, topic: str, event: Mapping[str, Any]) -> int:
        """Number, keep and publish ``event`` on ``topic``; its seq."""
        return (await self.publish_all([Push(topic, event)]))[0]

    async def publish_all(self, pushes: Sequence[Push]) -> list[int]:
        """Carry out ``pushes`` in order, in one round trip; each one's seq, 0 where its pop
        change leaves nothing to publish (a pop opened or closed already, a withdrawal of no
        open pop, a pop dropped)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            self.queue_all(pipe, pushes)
            return [int(seq) for seq in await pipe.execute()]

    def queue_all(self, pipe: Any, pushes: Sequence[Push]) -> None:
        """Queue ``pushes`` on ``pipe`` (``publish_all``'s, or a caller's with more in it). EVAL,
        not a registered script: redis-py asks SCRIPT EXISTS before every pipeline holding one
        (a round trip more); Redis caches the compiled script either way."""
        for push in pushes:
            keys = self._keys(push)
            pipe.eval(_PUBLISH, len(keys), *keys, *self._args(push))

    def _keys(self, push: Push) -> list[str]:
        stream = self.stream(push.topic)
        return [stream, f"{stream}:seq", self.pops_key(push.agent), f"{self.prefix}:offer:{push.offer}"]

    def _args(self, push: Push) -> list[str | int]:
        return [
            self.channel,
            push.topic,
            json.dumps(push.event or {}, ensure_ascii=False),
            self.replay_max,
            push.change.value,
            push.offer,
            json.dumps(push.pop, ensure_ascii=False),
            POP_TTL_S,
        ]

    async def seq(self, topic: str) -> int:
        """The topic's last number (0: nothing published yet)."""
        return int(await self.redis.get(f"{self.stream(topic)}:seq") or 0)

    async def replay(self, topic: str, after_seq: int) -> list[Numbered] | None:
        """The events after ``after_seq``, in order; None when some of them are gone (trimmed,
        or a Redis that lost its data, or a number from the future): a snapshot is needed."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(f"{self.stream(topic)}:seq")
            pipe.xrange(self.stream(topic), "-", "+", count=1)
            pipe.xrange(self.stream(topic), f"{after_seq + 1}-1", "+")
            last, oldest, entries = await pipe.execute()
        last = int(last or 0)
        if after_seq == last:
            return []
        if after_seq > last or not oldest or _seq_of(oldest[0][0]) > after_seq + 1:
            return None
        return [Numbered(topic, _seq_of(entry_id), json.loads(fields["e"])) for entry_id, fields in entries]

    async def latest(self, topic: str) -> Numbered | None:
        """The topic's newest kept event (the wallboard's snapshot is its last body)."""
        entries: Any = await self.redis.xrevrange(self.stream(topic), count=1)
        if not entries:
            return None
        entry_id, fields = entries[0]
        return Numbered(topic, _seq_of(entry_id), json.loads(fields["e"]))

    async def open_pops(self, agent_id: str) -> list[dict[str, Any]]:
        """The agent's open pop bodies, oldest ring first."""
        bodies: Any = await self.redis.hvals(self.pops_key(agent_id))
        return sorted((json.loads(body) for body in bodies), key=lambda pop: str(pop.get("rang_at", "")))


def _seq_of(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])
