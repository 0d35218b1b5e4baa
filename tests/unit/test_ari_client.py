"""Decision logic of the ARI client that needs no Asterisk: parameter checks, backoff, errors."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.ari import routes
from cti.ari.client import _query_pairs
from cti.ari.stream import Backoff
from cti.errors import (
    AriAuthError,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnprocessable,
    ari_error_for,
)


def test_query_values_are_encoded_for_ari() -> None:
    pairs = _query_pairs(routes.CHANNEL_PLAY, {"media": ["sound:a", "sound:b"], "lang": None, "skipms": 3000})
    assert pairs == [("media", "sound:a,sound:b"), ("skipms", "3000")]  # Asterisk splits on commas
    assert _query_pairs(routes.APPLICATION_SUBSCRIBE, {"eventSource": "channel:x"}) == [
        ("eventSource", "channel:x")
    ]


def test_an_undeclared_parameter_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="no such query parameter"):
        _query_pairs(routes.CHANNEL_ANSWER, {"force": True})


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AriAuthError),
        (403, AriAuthError),
        (404, AriNotFound),
        (409, AriConflict),
        (422, AriUnprocessable),
        (500, AriServerError),
        (503, AriServerError),
        (418, AriError),
    ],
)
def test_error_statuses_become_typed_errors(status: int, kind: type[AriError]) -> None:
    error = ari_error_for(status, "Channel not found", "GET", "/channels/x")
    assert type(error) is kind
    assert str(error) == f"ARI GET /channels/x -> {status}: Channel not found"


@given(attempt=st.integers(min_value=0, max_value=10_000), seed=st.integers())
def test_backoff_is_jittered_and_capped(attempt: int, seed: int) -> None:
    backoff = Backoff(base_s=0.1, cap_s=5.0)
    delay = backoff.delay(attempt, random.Random(seed))
    ceiling = min(5.0, 0.1 * 2 ** min(attempt, 30))
    assert ceiling / 2 <= delay <= ceiling <= 5.0


def test_backoff_grows_then_stays_near_the_cap() -> None:
    backoff = Backoff(base_s=0.1, cap_s=5.0)
    rng = random.Random(1)
    assert backoff.delay(0, rng) <= 0.1
    assert all(2.5 <= backoff.delay(n, rng) <= 5.0 for n in range(6, 50))


def test_every_route_is_declared_once() -> None:
    keys = [(route.method, route.path) for route in routes.ALL_ROUTES]
    assert len(keys) == len(set(keys))
    assert routes.CHANNEL_DIAL in routes.ALL_ROUTES
