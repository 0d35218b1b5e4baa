"""Hands events to a handler: in order within one call, concurrently across calls.

Each ordering key (a channel id, a bridge, or "" for app-wide notices; see ``event_key``)
gets its own FIFO and, while it has events, one task draining it. So a slow handler for one
call delays only that call's later events, and a failing handler is logged, not fatal. Keys
hold no task while idle, so ten thousand finished calls cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from cti.ari.events import Event, event_key

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


class Dispatcher:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._queues: dict[str, deque[Event]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, event: Event) -> None:
        """Queue ``event`` behind earlier events of the same key; never blocks."""
        key = event_key(event)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            task = asyncio.create_task(self._drain(key, queue), name=f"ari-dispatch:{key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.append(event)

    @property
    def busy_keys(self) -> int:
        return len(self._queues)

    async def _drain(self, key: str, queue: deque[Event]) -> None:
        try:
            while queue:
                event = queue.popleft()
                try:
                    await self._handler(event)
                except Exception:
                    log.exception("handler failed on %s", type(event).__name__, extra={"key": key})
        finally:
            # No await between the empty check and this line: a new event for the key
            # either landed in this queue before it, or will start a fresh drain after it.
            del self._queues[key]

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def aclose(self) -> None:
        """Cancel the handlers still running and wait for them to end; drop what is queued."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._queues.clear()  # a drain cancelled before it started never ran its finally
