"""A loop that runs until cancelled stops, even if a call inside it swallowed the cancel."""

from __future__ import annotations

import asyncio

import pytest

from cti.cancellation import raise_if_cancelling


async def swallowing_call(inside: asyncio.Event) -> None:
    """What Python 3.11's ``wait_for`` (inside redis-py) does when the cancel races the result:
    the result comes back and the ``CancelledError`` is gone. ``inside``: set once it waits."""
    inside.set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return


async def loop_until_cancelled(
    checks: bool, inside: asyncio.Event, stop: asyncio.Event | None = None
) -> None:
    while stop is None or not stop.is_set():
        if checks:
            raise_if_cancelling()
        await swallowing_call(inside)


async def test_a_cancelled_loop_stops_although_its_call_swallowed_the_cancel() -> None:
    inside, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(loop_until_cancelled(checks=True, inside=inside, stop=stop))
    await inside.wait()  # the cancel lands in the swallowing call
    task.cancel()
    # A guard against a hang, not a timing: wait_for would hang on a loop that lost its cancel.
    done, _ = await asyncio.wait({task}, timeout=5)
    stop.set()  # without the check the loop would go on: let it end after the test
    assert done, "the loop went on after its cancel"
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_without_the_check_the_loop_would_go_on() -> None:
    stop = asyncio.Event()
    inside = asyncio.Event()
    task = asyncio.create_task(loop_until_cancelled(checks=False, inside=inside, stop=stop))
    await inside.wait()  # the cancel lands in the swallowing call
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.5)
    assert not done, "the cancel was lost: this is the fault raise_if_cancelling exists for"
    stop.set()
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done()
