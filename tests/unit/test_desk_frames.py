"""What the desktops are told about each call event (``cti.desk.frames``), and the pop's
journey part (``cti.desk.journey``): every kind of event, every withdrawal reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cti.acd.agents import AgentState, StateChange, agent_state_event
from cti.desk.frames import in_journey, offer_key, pushes
from cti.desk.pops import journey_only
from cti.desk.push import PopChange, Push
from cti.events import CallEvent, EventKind

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CALL = "caller-1"


def ev(kind: EventKind, s: float = 0, agent: str | None = None, **data: Any) -> CallEvent:
    return CallEvent(
        kind,
        T0 + timedelta(seconds=s),
        CALL,
        queue="sales",
        agent=agent,
        data=data,
        caller_number="13800138000",
    )


def offered(agent: str, leg: str, s: float = 1) -> CallEvent:
    return ev(EventKind.AGENT_OFFERED, s, agent, offer=leg)


POP = {"offer": f"{CALL}:leg-a", "call_id": CALL}


def withdrawn(agent: str, leg: str, reason: str) -> Push:
    body = {"kind": "pop_withdrawn", "offer": f"{CALL}:{leg}", "call_id": CALL, "reason": reason}
    return Push(f"agent:{agent}", body, PopChange.CLOSE, agent, f"{CALL}:{leg}")


def call(agent: str, leg: str, state: str, s: float) -> Push:
    since = (T0 + timedelta(seconds=s)).isoformat()
    body = {"kind": "call", "call_id": CALL, "offer": f"{CALL}:{leg}", "state": state, "since": since}
    return Push(f"agent:{agent}", body)


def test_an_offer_opens_its_pop_on_the_agents_topic() -> None:
    assert pushes(offered("1001", "leg-a"), [], POP) == [
        Push("agent:1001", {"kind": "pop", **POP}, PopChange.OPEN, "1001", f"{CALL}:leg-a", POP)
    ]


def test_an_offer_without_a_pop_or_an_offer_id_says_nothing() -> None:
    assert pushes(offered("1001", "leg-a"), [], None) == []
    assert pushes(ev(EventKind.AGENT_OFFERED, 1, "1001"), [], POP) == []  # recorded before offers had ids


def test_ring_no_answer_withdraws_as_rolled_over() -> None:
    event = ev(EventKind.RING_NO_ANSWER, 9, "1001", offer="leg-a", dialstatus="NOANSWER")
    assert pushes(event, [offered("1001", "leg-a")], None) == [withdrawn("1001", "leg-a", "rolled_over")]


@pytest.mark.parametrize(
    ("before", "reason"),
    [
        ([ev(EventKind.AGENT_ANSWERED, 2, "1002", offer="leg-b")], "answered_elsewhere"),
        ([ev(EventKind.ABANDONED, 2, wait_s=2, position=1)], "abandoned"),
        ([], "canceled"),
        # its own agent answered (a callback no longer this instance's): no one else did
        ([ev(EventKind.AGENT_ANSWERED, 2, "1001", offer="leg-a")], "canceled"),
    ],
)
def test_a_canceled_offer_says_why(before: list[CallEvent], reason: str) -> None:
    event = ev(EventKind.OFFER_CANCELED, 3, "1001", offer="leg-a")
    assert pushes(event, [offered("1001", "leg-a"), *before], None) == [withdrawn("1001", "leg-a", reason)]


def test_the_caller_hanging_up_withdraws_every_offer_still_ringing() -> None:
    journey = [
        offered("1001", "leg-a"),
        offered("1002", "leg-b"),
        offered("1003", "leg-c"),
        ev(EventKind.RING_NO_ANSWER, 2, "1003", offer="leg-c"),
    ]
    assert pushes(ev(EventKind.ABANDONED, 4), journey, None) == [
        withdrawn("1001", "leg-a", "abandoned"),
        withdrawn("1002", "leg-b", "abandoned"),
    ]
    assert pushes(ev(EventKind.ABANDONED, 4), [*journey, ev(EventKind.ABANDONED, 4)], None) == []


def test_an_answer_tells_its_agent_talking_and_withdraws_the_others_ringall() -> None:
    journey = [offered("1001", "leg-a"), offered("1002", "leg-b")]
    answer = ev(EventKind.AGENT_ANSWERED, 5, "1001", offer="leg-a", wait_s=5)
    assert pushes(answer, journey, None) == [
        call("1001", "leg-a", "talking", 5),
        withdrawn("1002", "leg-b", "answered_elsewhere"),
    ]


@pytest.mark.parametrize(
    ("kind", "state"),
    [(EventKind.HOLD_STARTED, "held"), (EventKind.HOLD_ENDED, "talking"), (EventKind.COMPLETED, "ended")],
)
def test_the_conversation_goes_on_the_answering_agents_topic(kind: EventKind, state: str) -> None:
    journey = [offered("1001", "leg-a"), ev(EventKind.AGENT_ANSWERED, 5, "1001", offer="leg-a")]
    assert pushes(ev(kind, 9, "1001"), journey, None) == [call("1001", "leg-a", state, 9)]
    assert pushes(ev(kind, 9, "1002"), journey, None) == []  # not the one who answered
    assert pushes(ev(kind, 9, "1001"), journey[:1], None) == []  # never answered


def test_the_end_of_wrap_up_drops_the_pop_without_a_word() -> None:
    journey = [offered("1001", "leg-a"), ev(EventKind.AGENT_ANSWERED, 5, "1001", offer="leg-a")]
    assert pushes(ev(EventKind.WRAPUP_ENDED, 30, "1001"), journey, None) == [
        Push("agent:1001", None, PopChange.DROP, "1001", f"{CALL}:leg-a")
    ]


def test_an_agent_state_change_goes_on_its_topic() -> None:
    change = CallEvent(
        EventKind.AGENT_STATE_CHANGED,
        T0,
        "",
        agent="1001",
        data={"state": "paused", "reason": "lunch", "by": "agent:wang.fang", "until": None},
    )
    assert pushes(change, [], None) == [
        Push(
            "agent:1001",
            {
                "kind": "agent_state",
                "state": "paused",
                "reason": "lunch",
                "since": T0.isoformat(),
                "until": None,
                "call_id": None,
                "by": "agent:wang.fang",
                "wrapup_requires_disposition": False,
            },
        )
    ]
    auto = CallEvent(EventKind.AGENT_STATE_CHANGED, T0, CALL, agent="1001", data={"state": "ringing"})
    assert pushes(auto, [], None)[0].event == {
        "kind": "agent_state",
        "state": "ringing",
        "reason": "",
        "since": T0.isoformat(),
        "until": None,
        "call_id": CALL,
        "by": "auto",
        "wrapup_requires_disposition": False,
    }


def test_a_wrap_up_tells_its_deadline_in_iso_and_whether_ready_waits_for_a_disposition() -> None:
    """The desktop counts the wrap-up down to ``until`` (recorded in epoch seconds, pushed as ISO,
    as every time the page reads) and keeps Ready off while the queue wants a disposition."""
    hang_up = StateChange("1001", AgentState.WRAP_UP, "call-ended", T0.timestamp(), CALL, "auto")
    change = replace(hang_up, until=T0.timestamp() + 30, undisposed=CALL)
    assert pushes(agent_state_event(change), [], None)[0].event == {
        "kind": "agent_state",
        "state": "wrap_up",
        "reason": "call-ended",
        "since": T0.isoformat(),
        "until": (T0 + timedelta(seconds=30)).isoformat(),
        "call_id": CALL,
        "by": "auto",
        "wrapup_requires_disposition": True,
    }
    plain = pushes(agent_state_event(hang_up), [], None)[0].event
    assert (plain["until"], plain["wrapup_requires_disposition"]) == (None, False)


QUIET = [
    k
    for k in EventKind
    if k
    not in {
        EventKind.AGENT_OFFERED,
        EventKind.RING_NO_ANSWER,
        EventKind.OFFER_CANCELED,
        EventKind.ABANDONED,
        EventKind.AGENT_ANSWERED,
        EventKind.HOLD_STARTED,
        EventKind.HOLD_ENDED,
        EventKind.COMPLETED,
        EventKind.WRAPUP_ENDED,
        EventKind.AGENT_STATE_CHANGED,
    }
]


@pytest.mark.parametrize("kind", QUIET)
def test_every_other_event_says_nothing(kind: EventKind) -> None:
    journey = [offered("1001", "leg-a"), ev(EventKind.AGENT_ANSWERED, 5, "1001", offer="leg-a")]
    assert pushes(ev(kind, 9, "1001", offer="leg-a"), journey, POP) == []


def test_offer_keys_and_what_the_journey_keeps() -> None:
    assert offer_key(offered("1001", "leg-a")) == f"{CALL}:leg-a"
    assert offer_key(ev(EventKind.AGENT_OFFERED)) is None
    assert in_journey(ev(EventKind.IVR_KEY_PRESSED))
    assert not in_journey(CallEvent(EventKind.AGENT_STATE_CHANGED, T0, CALL, agent="1001"))
    assert not in_journey(CallEvent(EventKind.LEAD_CREATED, T0, ""))


def test_the_pop_tells_the_ivr_journey_the_queue_and_the_wait() -> None:
    journey = [
        ev(EventKind.CALL_STARTED),
        ev(EventKind.IVR_NODE_ENTERED, 0.1, flow="hotline", node="welcome", type="menu"),
        ev(EventKind.IVR_KEY_PRESSED, 2, flow="hotline", node="welcome", key="2"),
        ev(EventKind.IVR_NODE_ENTERED, 2.1, flow="hotline", node="roadside", type="collect"),
        ev(EventKind.IVR_KEY_PRESSED, 4, flow="hotline", node="roadside", key="0"),
        ev(
            EventKind.QUEUE_ENTERED,
            6,
            position=1,
            priority=0,
            ivr={"flow": "hotline", "values": {"area_code": "021", "station": "Pudong"}},
        ),
    ]
    pop = journey_only(offered("1001", "leg-a", s=7.5), journey)
    assert {key: pop[key] for key in ("offer", "call_id", "offer_id", "agent", "queue", "rang_at")} == {
        "offer": f"{CALL}:leg-a",
        "call_id": CALL,
        "offer_id": "leg-a",
        "agent": "1001",
        "queue": "sales",
        "rang_at": (T0 + timedelta(seconds=7.5)).isoformat(),
    }
    assert pop["caller"]["number"] == "13800138000"  # the agent's own pop: in full
    assert pop["ivr"] == {
        "flow": "hotline",
        "path": ["welcome", "roadside"],
        "keys": ["2", "0"],
        "values": {"area_code": "021", "station": "Pudong"},
    }
    assert (pop["entered_at"], pop["wait_s"]) == ((T0 + timedelta(seconds=6)).isoformat(), 1.5)
    # Without the CRM the pop says so, rather than offering to create a customer who may exist.
    assert (pop["crm_reached"], pop["new_customer"], pop["customer"]) == (False, False, None)


def test_a_pop_of_a_caller_who_came_straight_to_the_queue() -> None:
    pop = journey_only(offered("1001", "leg-a"), [])
    assert pop["ivr"] == {"flow": None, "path": [], "keys": [], "values": {}}
    assert (pop["entered_at"], pop["wait_s"]) == (None, None)
