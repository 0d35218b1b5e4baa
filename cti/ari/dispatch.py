"""Hands events to a handler: in order within one call, concurrently across calls.

Each ordering key (a channel id, a bridge, or "" for app-wide notices; see ``event_key``)
gets its own FIFO and, while it has events, one task draining it. So a slow handler for one
call delays only that call's later events, and a failing handler is logged, not fatal. Keys
hold no task while idle, so ten thousand finished calls cost nothing.

A ``Resynced`` notice is a barrier: the events that arrive after it are handled only once it
has been. Its channel list is a snapshot taken at the connect; a call that starts while the
owners reconcile from it must not be judged by it (it would look gone, and be closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cti.ari.events import Event, Resynced, event_key

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class _Queued:
    event: Event
    after: asyncio.Event | None  # the resync this event waits for (None: none pending)
    opens: asyncio.Event | None = None  # a resync's own gate, set once it is handled


class Dispatcher:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._queues: dict[str, deque[_Queued]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._resync: asyncio.Event | None = None  # the gate of the latest Resynced

    def submit(self, event: Event) -> None:
        """Queue ``event`` behind earlier events of the same key; never blocks."""
        key = event_key(event)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            task = asyncio.create_task(self._drain(key, queue), name=f"ari-dispatch:{key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if isinstance(event, Resynced):
            gate = asyncio.Event()
            queue.append(_Queued(event, self._resync, gate))
            self._resync = gate
        else:
            queue.append(_Queued(event, self._resync))

    @property
    def busy_keys(self) -> int:
        return len(self._queues)

    async def _drain(self, key: str, queue: deque[_Queued]) -> None:
        try:
            while queue:
                queued = queue.popleft()
                if queued.after is not None:
                    await queued.after.wait()
                try:
                    await self._handler(queued.event)
                except Exception:
                    name = type(queued.event).__name__
                    log.exception("handler failed on %s", name, extra={"key": key})
                finally:
                    if queued.opens is not None:
                        queued.opens.set()
        finally:
            # No await between the empty check and this line: a new event for the key
            # either landed in this queue before it, or will start a fresh drain after it.
            del self._queues[key]

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Let the handlers under way finish for up to ``grace_s`` (a step half carried out,
        such as an agent claimed but not yet rung, is worse than one not begun), then cancel
        what still runs and wait for it to end; drop what is queued."""
        if grace_s > 0 and self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=grace_s)
            if late:
                log.warning("stopping: %d event handlers cut short after %.1f s", len(late), grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._queues.clear()  # a drain cancelled before it started never ran its finally
