"""A stop that overruns says why: the tasks still pending, with where each one waits.

A graceful stop is promised within ``STOP_DEADLINE_S`` (README, "Faults a call survives"). When a library
swallows a cancel or a peer never answers, the process would otherwise sit there with nothing
in its log; a supervisor then kills it and nobody learns which step hung.
"""

from __future__ import annotations

import asyncio
import io
import logging

log = logging.getLogger(__name__)

STOP_DEADLINE_S = 10.0


def pending_stacks(exclude: asyncio.Task[object] | None = None) -> str:
    """Every pending task of the running loop, each with the stack it is waiting in."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is exclude or task.done():
            continue
        out.write(f"--- {task.get_name()} ({task.get_coro()!r})\n")
        task.print_stack(limit=12, file=out)
    return out.getvalue()


async def watch_stop(deadline_s: float = STOP_DEADLINE_S) -> None:
    """Sleep ``deadline_s``; if still running then (the stop overran), log what is pending."""
    await asyncio.sleep(deadline_s)
    log.error(
        "stopping takes longer than %.0f s; still pending:\n%s",
        deadline_s,
        pending_stacks(exclude=asyncio.current_task()),
    )
