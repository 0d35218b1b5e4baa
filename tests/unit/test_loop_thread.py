"""A task on a thread of its own: it runs on another loop, ends when stopped, and a failing one
is logged, not raised into the service."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from cti.loop_thread import LoopThread


async def test_the_work_runs_on_its_own_thread_and_loop_until_stopped() -> None:
    seen: dict[str, object] = {}

    async def work(stopping: asyncio.Event) -> None:
        seen["thread"], seen["loop"] = threading.get_ident(), asyncio.get_running_loop()
        await stopping.wait()
        seen["stopped"] = True

    runner = LoopThread("test-work", work)
    runner.start()
    await runner.stop()
    assert seen["thread"] != threading.get_ident()
    assert seen["loop"] is not asyncio.get_running_loop()
    assert seen["stopped"] is True


async def test_a_failing_work_is_logged_and_stopping_it_still_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def work(stopping: asyncio.Event) -> None:
        raise ConnectionError("no Redis")

    runner = LoopThread("test-failing", work)
    with caplog.at_level(logging.ERROR, logger="cti.loop_thread"):
        runner.start()
        await runner.stop()
    assert "test-failing: its work failed" in caplog.text
