import asyncio
import logging

import pytest

from cti.ari.dispatch import Dispatcher
from cti.ari.events import Event, Resynced, UnknownEvent, parse_event
from tests.conftest import eventually


def dtmf(channel: str, digit: str) -> Event:
    return parse_event({"type": "ChannelDtmfReceived", "digit": digit, "channel": {"id": channel}})


def digit_of(event: Event) -> str:
    return str(getattr(event, "digit", ""))


async def test_events_of_one_call_are_handled_in_order() -> None:
    seen: list[str] = []

    async def handler(event: Event) -> None:
        await asyncio.sleep(0.001 * (5 - len(seen) % 5))  # later events finish faster if run concurrently
        seen.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    for digit in "0123456789":
        dispatcher.submit(dtmf("c1", digit))
    await dispatcher.join()
    assert seen == list("0123456789")


async def test_a_slow_call_never_stalls_another() -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if digit_of(event) == "slow":
            await release.wait()
        handled.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    dispatcher.submit(dtmf("c1", "slow"))
    dispatcher.submit(dtmf("c1", "after-slow"))
    dispatcher.submit(dtmf("c2", "fast"))
    await eventually(lambda: handled, what="c2's event handled while c1's is stuck")
    assert handled == ["fast"]
    release.set()
    await dispatcher.join()
    assert handled == ["fast", "slow", "after-slow"]


async def test_a_failing_handler_is_logged_and_the_next_event_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if digit_of(event) == "boom":
            raise RuntimeError("handler bug")
        handled.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    with caplog.at_level(logging.ERROR):
        dispatcher.submit(dtmf("c1", "boom"))
        dispatcher.submit(dtmf("c1", "next"))
        await dispatcher.join()
    assert handled == ["next"]
    assert "handler failed" in caplog.text


async def test_idle_calls_hold_no_task() -> None:
    async def handler(event: Event) -> None:
        return None

    dispatcher = Dispatcher(handler)
    for channel in range(100):
        dispatcher.submit(dtmf(f"c{channel}", "1"))
    dispatcher.submit(UnknownEvent(type="X", raw={}))
    await dispatcher.join()
    assert dispatcher.busy_keys == 0


async def test_aclose_cancels_running_handlers() -> None:
    started = asyncio.Event()

    async def handler(event: Event) -> None:
        started.set()
        await asyncio.sleep(3600)

    dispatcher = Dispatcher(handler)
    dispatcher.submit(dtmf("c1", "1"))
    await started.wait()
    await asyncio.wait_for(dispatcher.aclose(), 1)
    assert dispatcher.busy_keys == 0


async def test_after_aclose_new_events_are_handled_again() -> None:
    handled: list[str] = []

    async def handler(event: Event) -> None:
        handled.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    dispatcher.submit(dtmf("c1", "1"))  # its drain task has not started yet
    await dispatcher.aclose()
    dispatcher.submit(dtmf("c1", "2"))
    await dispatcher.join()
    assert handled == ["2"]


async def test_events_after_a_resync_wait_until_it_is_handled() -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if isinstance(event, Resynced):
            await release.wait()  # the owners are reconciling from the snapshot
            handled.append("resynced")
        else:
            handled.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    dispatcher.submit(dtmf("c1", "before"))
    dispatcher.submit(Resynced(app="cti", first=False, restarted=False, startup_time=""))
    dispatcher.submit(dtmf("c2", "after"))
    await eventually(lambda: handled, what="the event before the resync handled")
    assert handled == ["before"]
    release.set()
    await dispatcher.join()
    assert handled == ["before", "resynced", "after"]


async def test_a_failed_resync_still_lets_the_events_after_it_run(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[str] = []

    async def handler(event: Event) -> None:
        if isinstance(event, Resynced):
            raise RuntimeError("reconcile bug")
        handled.append(digit_of(event))

    dispatcher = Dispatcher(handler)
    dispatcher.submit(Resynced(app="cti", first=True, restarted=False, startup_time=""))
    dispatcher.submit(dtmf("c1", "after"))
    await dispatcher.join()
    assert handled == ["after"]
    assert "handler failed on Resynced" in caplog.text
