"""A task in a process of its own, with its own event loop, started, kept and stopped from the
main loop.

For work that runs long stretches of Python and needs nothing of the service's memory (the
outbox's drainer: each stored batch recomputes its calls' KPI facts). On a thread of its own
(``cti.loop_thread``) such work still shares the interpreter with the call-handling loop: in
a burst of calls, when it is busiest, it takes the interpreter in slices of
``sys.getswitchinterval()`` between the loop's turns, and every ringing agent's screen-pop
waits behind it. A process shares nothing but the machine's cores, which the kernel hands out
in far finer slices.

The process is spawned (a clean interpreter: no inherited sockets, event loop or threads) and
configures its logging as the service does. It leaves by itself once the service is gone, even
one killed outright, which cannot stop it (``exit_with_parent``). One that dies is started again
a second later, and the log says so. A stop asks the work to end with SIGTERM (in the process,
its stopping event is set; not a shared ``multiprocessing.Event``, which a process killed while
waiting on it leaves unusable) and waits for it: the drainer stores what the last moments
recorded. Ctrl-C at a terminal reaches the whole process group: the process leaves SIGINT to
the service, which stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from multiprocessing.context import SpawnProcess
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import uvloop

from cti.logs import configure_logging

log = logging.getLogger(__name__)

PARENT_CHECK_S = 1.0  # how often a child looks whether the service that started it is gone
RESTART_AFTER_S = 1.0  # a process that died is started again this long after
#: The work: a module-level coroutine function (it is pickled by name), run until the event it
#: is given is set, with the arguments it was given (picklable too).
Work = Callable[..., Coroutine[Any, Any, None]]

_context = multiprocessing.get_context("spawn")


def exit_with_parent(parent: int) -> None:
    """Leave this process once ``parent`` is gone: a service killed outright (SIGKILL, the OOM
    killer) cannot stop its children, and they would go on, or wait for work, forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def shared_count() -> Synchronized[int]:
    """A count the service and its processes share (an unsigned 64-bit integer, with a lock)."""
    return _context.Value("Q", 0)


class LoopProcess:
    def __init__(self, name: str, work: Work, *args: Any, log_level: str, json_lines: bool) -> None:
        self.name = name
        self._work = work
        self._args = args
        self._logging = (log_level, json_lines)
        self._stopping = False
        self._process: SpawnProcess | None = None
        self._keeper: asyncio.Task[None] | None = None
        self.starts = 0  # how many times it was started (1: it never died)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the process, and keep it: one that dies is started again."""
        self._spawn()
        self._keeper = asyncio.create_task(self._keep(), name=f"{self.name}-keeper")

    def _spawn(self) -> None:
        process = _context.Process(
            target=_child,
            args=(self._work, self._args, os.getpid(), self._logging),
            name=self.name,
            daemon=False,  # it must be able to stop on its own terms (the drainer flushes)
        )
        process.start()
        self._process = process
        self.starts += 1

    async def _keep(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RESTART_AFTER_S)
            process = self._process
            if process is None or process.is_alive() or self._stopping:
                continue
            log.error("%s: its process ended (exit code %s); starting it again", self.name, process.exitcode)
            process.close()
            self._spawn()

    async def stop(self, within_s: float) -> None:
        """Ask the work to end and wait up to ``within_s`` for it; then kill what is left."""
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
        await asyncio.to_thread(process.join, within_s)
        if process.is_alive():
            log.warning("%s: not ended within %.0f s; killed", self.name, within_s)
            process.kill()
            await asyncio.to_thread(process.join)
        process.close()
        self._process = None


def _child(work: Work, args: tuple[Any, ...], parent: int, logging_setup: tuple[str, bool]) -> None:
    """The process's life: its logging, its way out with the service, the work on its loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(*logging_setup)
    exit_with_parent(parent)
    uvloop.run(_run(work, args))


async def _run(work: Work, args: tuple[Any, ...]) -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await work(stopping, *args)
