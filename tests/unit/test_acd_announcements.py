"""What a waiting caller is told: position, expected wait, the callback offer."""

from __future__ import annotations

import pytest

from cti.acd.announcements import (
    DEFAULT_HANDLE_S,
    callback_confirmation,
    callback_refused,
    expected_wait_s,
    position_announcement,
    serving,
)
from cti.acd.model import AgentSnapshot, AgentState, QueueConfig


@pytest.mark.parametrize(
    ("position", "staffed", "handle_s", "expected"),
    [
        (1, 1, 120.0, 120.0),  # next in line, one agent: one handle time
        (3, 1, 120.0, 360.0),
        (3, 2, 120.0, 240.0),  # two agents: the third caller waits two handle times
        (4, 2, 120.0, 240.0),
        (1, 0, 120.0, 120.0),  # nobody logged in: as if one agent, never a division by zero
        (2, 1, 0.0, 2 * DEFAULT_HANDLE_S),  # no call handled yet: the default handle time
    ],
)
def test_expected_wait_is_a_handle_time_per_round_of_agents(
    position: int, staffed: int, handle_s: float, expected: float
) -> None:
    assert expected_wait_s(position, staffed, handle_s) == expected


def agent(id_: str, state: AgentState, level: int, calls: int = 0, talk_s: float = 0.0) -> AgentSnapshot:
    return AgentSnapshot(id_, state, {"sales": level}, 0, calls_taken=calls, talk_time_s=talk_s)


def test_serving_counts_present_skilled_agents_and_their_mean_handle_time() -> None:
    agents = [
        agent("a", AgentState.ON_CALL, 3, calls=2, talk_s=200),
        agent("b", AgentState.WRAP_UP, 1, calls=1, talk_s=100),
        agent("c", AgentState.PAUSED, 5, calls=10, talk_s=9000),  # on a break: not serving
        agent("d", AgentState.LOGGED_OUT, 5),
        agent("e", AgentState.READY, 0),  # no sales skill
    ]
    assert serving(QueueConfig(name="sales"), agents) == (2, 100.0)
    assert serving(QueueConfig(name="sales"), []) == (0, 0.0)


def test_the_announcement_says_callers_ahead_and_rounds_the_wait_up_to_minutes() -> None:
    said = position_announcement(3, 121.0, "en", None)
    assert said == "There are 2 callers ahead of you. The expected wait is about 3 minutes."
    assert position_announcement(3, 10.0, "zh", None) == "您前面还有2位客户，预计等待约1分钟。"


def test_the_next_caller_hears_so_and_the_callback_offer_names_the_key() -> None:
    assert position_announcement(1, 300.0, "en", "*") == (
        "You are next in line. Please hold. "
        "To be called back instead, keeping your place in line, press star."
    )
    assert position_announcement(2, 60.0, "zh", "1").endswith(
        "请按1，我们将为您保留排队位置，轮到您时给您回电。"
    )


def test_an_unknown_language_is_spoken_in_english() -> None:
    assert position_announcement(1, 0.0, "fr", None) == "You are next in line. Please hold."


def test_the_callback_confirmation_reads_the_number_digit_by_digit() -> None:
    assert "1 3 8 0 0 1 3 8 0 0 0" in callback_confirmation("13800138000", "en")


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("zh", "抱歉，我们无法回拨您的号码，请继续等候。"),
        ("en", "Sorry, we cannot call your number back. Please stay on the line."),
        ("fr", "Sorry, we cannot call your number back. Please stay on the line."),
    ],
)
def test_a_refused_callback_is_said_and_the_caller_asked_to_stay(language: str, said: str) -> None:
    assert callback_refused(language) == said
