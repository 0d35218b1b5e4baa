"""The wallboard body and the agent's own view, from configuration and statuses; which bodies
are news for the boards (pure)."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cti.acd import AcdConfig, AgentConfig, AgentState, AgentStatus, QueueConfig
from cti.desk.agent_view import agent_body
from cti.desk.dispositions import load_dispositions
from cti.desk.wallboard import wallboard_body, worth_publishing

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
CONFIG = AcdConfig(
    agents=(
        AgentConfig(id="1", name="Wang Fang", endpoint="PJSIP/1", skills={"sales": 3, "service": 2}),
        AgentConfig(id="2", name="Li Wei", endpoint="PJSIP/2", skills={"service": 4}),
    ),
    queues=(QueueConfig(name="sales"), QueueConfig(name="service")),
)


def test_queues_count_the_agents_serving_them_by_state_with_todays_figures_or_no_data() -> None:
    statuses = [
        AgentStatus("1", AgentState.READY, 100.0, "login", queues=("sales",)),
        AgentStatus("2", AgentState.PAUSED, 200.0, "lunch"),
    ]
    today = {
        "sales": {
            "offered": 4,
            "answered": 3,
            "three_ring_rate": 0.5,
            "service_level": 0.75,
            "abandon_rate": 0.25,
            "asa_s": 9,
        }
    }
    body = wallboard_body(AT, CONFIG, statuses, {"sales": (2, 31.26)}, today)
    sales, service = body["queues"]
    assert (sales["waiting"], sales["longest_wait_s"]) == (2, 31.3)
    assert sales["agents"] == {
        "logged_out": 0,
        "ready": 1,
        "ringing": 0,
        "on_call": 0,
        "wrap_up": 0,
        "paused": 0,
    }
    assert sales["today"] == {
        "offered": 4,
        "answered": 3,
        "three_ring_rate": 0.5,
        "service_level": 0.75,
        "abandon_rate": 0.25,
    }
    assert service["agents"]["ready"] == 0  # agent 1 signed in for sales only
    assert service["agents"]["paused"] == 1
    assert (service["waiting"], service["longest_wait_s"]) == (0, 0.0)
    assert service["today"] == {
        "offered": 0,
        "answered": 0,
        "three_ring_rate": None,
        "service_level": None,
        "abandon_rate": None,
    }
    assert body["at"] == AT.isoformat()
    assert body["agents"][1] == {
        "id": "2",
        "name": "Li Wei",
        "state": "paused",
        "reason": "lunch",
        "reason_label": {"zh": "午餐", "en": "Lunch"},
        "since": "1970-01-01T00:03:20+00:00",
    }
    assert body["agents"][0]["reason_label"] is None  # ready: no reason to explain


def test_an_agent_sees_why_it_was_paused_and_whether_its_wrap_up_waits_for_a_disposition() -> None:
    dispositions = load_dispositions(Path("config/dispositions.toml"))
    paused = AgentStatus("1", AgentState.PAUSED, 5.0, "auto:no-answer")
    body = agent_body(CONFIG, dispositions, CONFIG.agents[0], paused)
    assert body["reason_label"]["en"].startswith("Paused after unanswered calls")
    assert (body["queues"], body["chosen_queues"], body["wrapup_requires_disposition"]) == (
        ["sales", "service"],
        [],
        False,
    )
    assert "auto:no-answer" not in [r["code"] for r in body["pause_reasons"]]  # the ACD's, not a choice
    waiting = AgentStatus("1", AgentState.WRAP_UP, 5.0, "call-ended", "c1", until=15.0, undisposed="c1")
    body = agent_body(CONFIG, dispositions, CONFIG.agents[0], waiting)
    assert (body["wrapup_requires_disposition"], body["until"], body["reason_label"]) == (
        True,
        "1970-01-01T00:00:15+00:00",
        None,
    )


def test_the_board_names_the_reasons_in_words_and_offers_the_configured_ones_to_pause_with() -> None:
    statuses = [
        AgentStatus("1", AgentState.PAUSED, 100.0, "auto:no-answer"),
        AgentStatus("2", AgentState.PAUSED, 200.0, "typed-by-hand"),  # no configured reason
    ]
    body = wallboard_body(AT, CONFIG, statuses, {}, {})
    assert body["agents"][0]["reason_label"]["zh"].startswith("未接听自动暂停")
    assert body["agents"][1]["reason_label"] is None
    assert [r["code"] for r in body["pause_reasons"]] == [
        "break",
        "lunch",
        "training",
        "meeting",
        "after-call-work",
    ]
    assert body["pause_reasons"][1] == {"code": "lunch", "label": {"zh": "午餐", "en": "Lunch"}}


def board(
    at: datetime, waiting: int = 0, longest_s: float = 0.0, agent_state: str = "ready"
) -> dict[str, Any]:
    statuses = [
        AgentStatus("1", AgentState(agent_state), 100.0, "login"),
        AgentStatus("2", AgentState.READY, 200.0, "login"),
    ]
    return wallboard_body(at, CONFIG, statuses, {"sales": (waiting, longest_s)}, {})


def later(seconds: float) -> datetime:
    return AT + timedelta(seconds=seconds)


def test_a_first_body_goes_out_and_the_clock_alone_is_no_news_until_the_keepalive() -> None:
    assert worth_publishing(None, board(AT), 30)
    assert not worth_publishing(board(AT), board(later(29.9)), 30)
    assert worth_publishing(board(AT), board(later(30)), 30)
    waiting = board(AT, waiting=2, longest_s=12.04)  # the wait grows with the clock: the same line
    assert not worth_publishing(waiting, board(later(7), waiting=2, longest_s=19.0), 30)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (board(AT), board(later(1), waiting=1, longest_s=0.2)),
        (board(AT), board(later(1), agent_state="paused")),
        # the same count, but the oldest left and another came: a new line
        (board(AT, waiting=2, longest_s=10.0), board(later(1), waiting=2, longest_s=3.0)),
    ],
    ids=["caller joined", "agent paused", "oldest left"],
)
def test_what_a_board_would_draw_differently_is_news(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert worth_publishing(before, after, 30)


def test_todays_figures_changing_is_news() -> None:
    before = board(AT)
    after = copy.deepcopy(before) | {"at": later(1).isoformat()}
    after["queues"][0]["today"]["answered"] = 1
    assert worth_publishing(before, after, 30)
