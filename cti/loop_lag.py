"""How late the event loop wakes a timer: the delay every call step (a DTMF, a ring, the ARI
websocket's heartbeat) suffers on top of its own work. Measured all the time, cheaply: a task
sleeps ``interval_s`` again and again and reports how much later than asked it woke."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

INTERVAL_S = 0.1


async def watch_loop_lag(observe: Callable[[float], None], interval_s: float = INTERVAL_S) -> None:
    """Report each wake-up's lateness (seconds) to ``observe``, until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        observe(max(0.0, loop.time() - asked))
