"""Shared test policy: a service a test needs but cannot reach fails the run under CI, and no
test has a timing threshold (hypothesis's per-example deadline is one: a busy 2-core CI machine
would fail a correct property)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import NoReturn

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


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests run on the loop the service runs on (``cti.cli``): uvloop."""
    return {"uvloop": uvloop.new_event_loop}
