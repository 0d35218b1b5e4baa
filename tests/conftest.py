"""Shared test policy: a service a test needs but cannot reach fails the run under CI, and no
test has a timing threshold (hypothesis's per-example deadline is one: a busy 2-core CI machine
would fail a correct property)."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import pytest
import uvloop
from hypothesis import settings

settings.register_profile("cti", deadline=None)
settings.load_profile("cti")


def in_ci() -> bool:
    """The one rule for "in CI", read at each use: ``CI=true`` (any case), which ``.ci/run``
    sets itself and most CI services set too. Under it nothing the suite needs may be missing."""
    return os.environ.get("CI", "").lower() == "true"


def service_missing(what: str) -> NoReturn:
    """Fail under CI=true (CI must test the real stack); skip on a developer's partial setup."""
    message = f"{what} (run `make test`, which starts it)"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)  # outside CI only


T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    within_s: float = 30,
    every_s: float = 0.1,
    what: str | Callable[[T], str] = "the expected state",
) -> T:
    """Poll ``probe`` until ``until`` holds for what it returned, and return that value.

    Tests wait for the thing they expect, never for a guessed time: the deadline is generous (a
    busy 2-core CI machine is slow, not wrong) and only stops a test that would otherwise hang;
    it then fails saying ``what`` was not seen (a function of the last value, to show it)."""
    deadline = time.monotonic() + within_s
    while True:
        value = probe()
        found: T = await value if inspect.isawaitable(value) else value  # type: ignore[assignment]
        if until(found):
            return found
        if time.monotonic() >= deadline:
            said = what(found) if callable(what) else f"{what}; last seen: {found!r}"
            raise AssertionError(f"not seen within {within_s:g}s: {said}")
        await asyncio.sleep(every_s)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests run on the loop the service runs on (``cti.cli``): uvloop."""
    return {"uvloop": uvloop.new_event_loop}
