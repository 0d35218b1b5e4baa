"""The callbacks' part of the ACD's live state: entries that keep their place in line with
no caller on it.

A callback has no caller on the line: once published, any instance may *take* it (a lease),
and the one that dials it marks it dialled in the same atomic step that takes it out of line,
so it is never dialled twice. ``AcdState`` inherits these operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from cti.acd.model import Entry
from cti.live import acd_scripts as lua
from cti.live.acd_keys import AcdKeys

#: How long a dialled callback's entry is kept to refuse a second dial (then Redis drops it).
DIALLED_TOMBSTONE_S = 7 * 24 * 3600


class AcdCallbacks(AcdKeys):
    def __init__(self, redis: aioredis.Redis, prefix: str = "cti:acd") -> None:
        super().__init__(redis, prefix)
        self._request_callback = redis.register_script(lua.REQUEST_CALLBACK)
        self._take_callback = redis.register_script(lua.TAKE_CALLBACK)
        self._mark_dialled = redis.register_script(lua.MARK_DIALLED)

    async def request_callback(self, entry: Entry, number: str, lead_id: str) -> bool:
        """Turn ``entry`` into a callback that keeps its place in line; False if it is no longer
        in line (Redis lost it). Nobody serves it until ``publish_callback``: the caller is still
        on the line, hearing the confirmation."""
        done = await self._request_callback(keys=[self.entry_key(entry.call_id)], args=[number, lead_id])
        return bool(done)

    async def publish_callback(self, call_id: str) -> None:
        """The caller's line is clear: any instance may now serve the callback."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.callbacks_key, call_id)
            pipe.publish(self.changes_channel, f"callback {call_id}")
            await pipe.execute()

    async def callbacks(self, now: float, lease_s: float) -> list[tuple[Entry, str, str]]:
        """Callbacks waiting in line that no instance is serving: (entry, number, lead id)."""
        members = await self.redis.smembers(self.callbacks_key)
        return await self.callbacks_of(sorted(str(member) for member in members), now, lease_s)

    async def callbacks_of(
        self, call_ids: Sequence[str], now: float, lease_s: float
    ) -> list[tuple[Entry, str, str]]:
        """Of these callbacks in line (``join_and_read`` lists them), the ones no instance is
        serving: (entry, number, lead id). No round trip when there are none."""
        if not call_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for call_id in call_ids:
                pipe.hgetall(self.entry_key(call_id))
            rows = await pipe.execute()
        found: list[tuple[Entry, str, str]] = []
        for call_id, fields in zip(call_ids, rows, strict=True):
            if "queue" not in fields or "entered_at" not in fields:  # dialled, or lost with Redis
                await self.redis.srem(self.callbacks_key, call_id)
                continue
            number = fields.get("callback_number")
            taken = fields.get("taken_by") and float(fields.get("taken_at", 0)) > now - lease_s
            if number is None or "dialled_at" in fields or taken:
                continue
            entry = Entry(
                call_id, fields["queue"], float(fields["entered_at"]), int(fields.get("priority", 0))
            )
            found.append((entry, number, fields.get("lead_id", "")))
        return found

    async def take_callback(self, call_id: str, instance: str, now: float, lease_s: float) -> bool:
        """Serve this callback; False if it was dialled or another instance is serving it."""
        taken = await self._take_callback(keys=[self.entry_key(call_id)], args=[instance, repr(now), lease_s])
        return bool(taken)

    async def release_callback(self, call_id: str) -> None:
        """Give the callback back to the line (its agent did not answer): any instance may serve it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.entry_key(call_id), "taken_by", "taken_at")
            pipe.publish(self.changes_channel, f"callback {call_id}")
            await pipe.execute()

    async def mark_dialled(self, entry: Entry, instance: str, now: float) -> bool:
        """Take the callback out of line to dial it, if ``instance`` still holds it and nobody
        dialled it; False otherwise. One atomic step: never dialled twice. The entry stays a
        while as a tombstone, so a late second holder finds it dialled."""
        done = await self._mark_dialled(
            keys=[self.entry_key(entry.call_id), self.queue_key(entry.queue), self.callbacks_key],
            args=[instance, repr(now), DIALLED_TOMBSTONE_S, entry.call_id],
        )
        return bool(done)
