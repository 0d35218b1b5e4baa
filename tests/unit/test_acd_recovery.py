"""Which agent state to restore after Redis lost the live state."""

from __future__ import annotations

import json

import pytest

from cti.acd.agents import AgentStatus
from cti.acd.model import AgentState, Entry
from cti.acd.recovery import LiveAgent, RecordedState, rebuilt_agents
from cti.acd.session import Waiting

NOW = 1_000.0


def test_a_live_call_beats_the_record_and_the_record_beats_nothing() -> None:
    recorded = {
        "a": RecordedState(AgentState.READY, "login", 10.0),
        "b": RecordedState(AgentState.PAUSED, "lunch", 20.0),
        "c": RecordedState(AgentState.ON_CALL, "answered", 30.0),  # that call ended meanwhile
        "d": RecordedState(AgentState.WRAP_UP, "hung_up", 40.0),  # its timer died with Redis
        "e": RecordedState(AgentState.LOGGED_OUT, "logout", 50.0),
    }
    live = {"a": LiveAgent(AgentState.ON_CALL, "call-1"), "f": LiveAgent(AgentState.RINGING, "call-2")}
    rebuilt = rebuilt_agents(["a", "b", "c", "d", "e", "f", "g"], recorded, live, NOW)
    assert rebuilt == [
        AgentStatus("a", AgentState.ON_CALL, NOW, "rebuilt", "call-1"),
        AgentStatus("b", AgentState.PAUSED, 20.0, "lunch"),
        AgentStatus("c", AgentState.READY, NOW, "rebuilt"),
        AgentStatus("d", AgentState.READY, NOW, "rebuilt"),
        AgentStatus("e", AgentState.LOGGED_OUT, 50.0, "logout"),
        AgentStatus("f", AgentState.RINGING, NOW, "rebuilt", "call-2"),
        AgentStatus("g"),  # never seen: logged out
    ]


def test_only_configured_agents_are_restored() -> None:
    recorded = {"gone": RecordedState(AgentState.READY, "login", 1.0)}
    assert rebuilt_agents(["a"], recorded, {}, NOW) == [AgentStatus("a")]


def test_a_session_record_gives_back_the_same_session() -> None:
    session = Waiting(
        Entry("c1", "sales", 1700000000.5, 3),
        "13800138000",
        2,
        "en",
        agent="1001",
        agent_channel="c1-agent",
        answered_at=1700000030.25,
        bridge_id="acd-c1",
        callback_number="13800138000",
        lead_id="lead-1",
        serving_callback=True,
        customer_channel="c1-cb",
        customer_answered=True,
    )
    back = Waiting.from_record("c1", json.loads(json.dumps(session.record())))
    assert back.entry == session.entry
    assert back.record() == session.record()
    assert back.in_line  # an adopted entry is in Redis already


@pytest.mark.parametrize("record", [{}, {"queue": "sales"}, {"queue": "sales", "entered_at": "soon"}])
def test_an_unreadable_session_record_is_refused_with_the_call_named(record: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="call c1: unreadable ACD record"):
        Waiting.from_record("c1", record)
