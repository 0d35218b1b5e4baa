"""Where the ACD's live state sits in Redis: the keys' layout and the change notices.

``AcdKeys`` is the base of ``AcdState`` (agents, claims, lines) and ``AcdCallbacks``; the
sweeper reads the line directly through it.
"""

from __future__ import annotations

import redis.asyncio as aioredis


class AcdKeys:
    def __init__(self, redis: aioredis.Redis, prefix: str = "cti:acd") -> None:
        self.redis = redis
        self.prefix = prefix

    def agent_key(self, agent_id: str) -> str:
        return f"{self.prefix}:agent:{agent_id}"

    def queue_key(self, queue: str) -> str:
        return f"{self.prefix}:queue:{queue}"

    @property
    def callbacks_key(self) -> str:
        return f"{self.prefix}:callbacks"

    def entry_key(self, call_id: str) -> str:
        return f"{self.prefix}:entry:{call_id}"

    def rotation_key(self, queue: str) -> str:
        """A round-robin queue's memory: the agent offered last, shared by every instance."""
        return f"{self.prefix}:rotation:{queue}"

    @property
    def changes_channel(self) -> str:
        """Pub/sub channel on which every change to an agent or to the callbacks in line is
        announced, in the same step as the change: ``ready <agent>`` (wakes every instance's
        router), ``agent <agent>`` (any other change), ``callback <call>`` (one may be served).
        A router's view of the agents is fresh until the next notice."""
        return f"{self.prefix}:changes"
