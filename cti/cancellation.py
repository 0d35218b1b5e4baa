"""A cancelled task must stop, even when a library swallowed its ``CancelledError``.

redis-py sends each command inside ``asyncio.wait_for``; on Python 3.11 a cancel that arrives
as the send completes is swallowed there (``wait_for`` returns the result instead of raising),
and the command returns normally. A loop that runs until cancelled (a heartbeat, a sweeper,
a safety pass) then goes round again and never ends: a SIGTERM'd service waited for its
heartbeat for ever (seen in ``bench/drills.py``: the task "cancelling", asleep in its loop).
Since Python 3.11 the request to cancel stays on the task (``Task.cancelling()``) until it is
handled; such loops call ``raise_if_cancelling()`` at the head of every round.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop (and the error was lost)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
