"""A task on a thread of its own, with its own event loop, started and stopped from the main loop.

For work that must not wait for the call-handling loop's turns: in a burst of calls that loop
runs fifty calls' callbacks between two turns of any one task, so a task with a chain of round
trips (the desk's publisher: read, journeys, publish) would wait that long at every step. On a
loop of its own it shares the interpreter in slices: a thread that wants it gets it within
``sys.getswitchinterval()`` (5 ms), or as soon as the other waits for I/O. Work that runs long
stretches of Python goes to a process instead (``cti.loop_process``). Its clients (Redis, the
database engine) are its own: asyncio connections belong to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

log = logging.getLogger(__name__)

#: The work: runs until the event it is given is set, on the thread's loop.
Work = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class LoopThread:
    def __init__(self, name: str, work: Work) -> None:
        self.name = name
        self._work = work
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()  # the loop and its stopping event exist
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> None:
        self._thread.start()

    async def stop(self) -> None:
        """Ask the work to end (its stopping event is set) and wait, off the caller's loop, for
        the thread to finish."""
        await asyncio.to_thread(self._started.wait)
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the work is over
                self._loop.call_soon_threadsafe(self._stopping.set)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            uvloop.run(self._main())
        except BaseException:  # the work failed: said here, the service goes on without it
            log.exception("%s: its work failed", self.name)
        finally:
            self._started.set()  # a failure before the loop ran must not hold up stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._started.set()
        await self._work(self._stopping)
