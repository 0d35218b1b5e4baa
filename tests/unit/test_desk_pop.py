"""The pop body: pure, JSON-ready, from the offer, the journey, the card and the history."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.desk.crm import (
    NO_HISTORY,
    CallerHistory,
    Case,
    Contact,
    CustomerCard,
    Policy,
    RecentCalls,
    ServiceVisit,
    Vehicle,
)
from cti.desk.pop import build_pop, card_body
from cti.events import CallEvent, EventKind
from cti.web.auth import Role

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CALLER = "13800000001"


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def event(kind: EventKind, seconds: float, **data: Any) -> CallEvent:
    return CallEvent(kind, at(seconds), "call-1", queue="service", caller_number=CALLER, data=data)


OFFER = CallEvent(
    EventKind.AGENT_OFFERED,
    at(0),
    "call-1",
    queue="service",
    agent="1001",
    caller_number=CALLER,
    data={"offer": "leg-7"},
)
JOURNEY = [
    event(EventKind.CALL_STARTED, -60, direction="inbound"),
    event(EventKind.IVR_NODE_ENTERED, -59, flow="hotline", node="identify", type="lookup", language="zh"),
    event(EventKind.IVR_NODE_ENTERED, -58, flow="hotline", node="main_menu", type="menu", language="zh"),
    event(EventKind.IVR_KEY_PRESSED, -50, flow="hotline", node="main_menu", key="9"),
    event(
        EventKind.IVR_NODE_ENTERED, -49, flow="hotline", node="to_english", type="set_language", language="en"
    ),
    event(EventKind.IVR_NODE_ENTERED, -48, flow="hotline", node="main_menu", type="menu", language="en"),
    event(EventKind.IVR_KEY_PRESSED, -40, flow="hotline", node="main_menu", key="2"),
    event(EventKind.IVR_NODE_ENTERED, -39, flow="hotline", node="service_queue", type="queue", language="en"),
    event(
        EventKind.QUEUE_ENTERED,
        -30.04,
        position=1,
        ivr={"flow": "hotline", "values": {"area_code": "021", "station": "上海浦东", "customer.id": "1"}},
    ),
]
CAMRY = Vehicle(
    plate="沪A·12345",
    model="凯美瑞 2.0G",
    vin="LVGBE40K8NG123456",
    purchased_on=date(2025, 3, 1),
    services=(
        ServiceVisit(date(2026, 9, 1), "repair", "浦东店"),
        ServiceVisit(date(2025, 9, 2), "first_maintenance", None),
    ),
    insurance=Policy("中国人保", date(2026, 12, 5), "quoted"),
)
CARD = CustomerCard(
    id=1,
    name="王先生",
    segment="vip",
    language="zh",
    phone_numbers=(CALLER, "13900000001"),
    vehicles=(CAMRY,),
    open_cases=(Case(7, "complaint", "open", at(-86400 * 3), "保养后异响"),),
)


def pop(
    card: CustomerCard | None = CARD,
    history: CallerHistory = NO_HISTORY,
    viewer: Role = Role.AGENT,
    journey: list[CallEvent] = JOURNEY,
) -> dict[str, Any]:
    return build_pop(OFFER, journey, card, history, viewer=viewer, now=NOW)


def test_the_offer_the_queue_and_the_wait() -> None:
    body = pop()
    assert body["offer"] == "call-1:leg-7"
    assert (body["call_id"], body["offer_id"], body["agent"], body["queue"]) == (
        "call-1",
        "leg-7",
        "1001",
        "service",
    )
    assert body["rang_at"] == "2026-11-20T10:00:00+00:00"
    assert body["entered_at"] == at(-30.04).isoformat()
    assert body["wait_s"] == 30.0


def test_an_unknown_caller_is_a_new_customer_with_nothing_on_file() -> None:
    body = pop(card=None)
    assert body["new_customer"] is True
    assert body["customer"] is None
    assert body["caller"] == {"number": CALLER, "name": None, "segment": None, "language": "en"}
    assert (body["vehicles"], body["cases"], body["contacts"]) == ([], [], [])


def test_a_vip_customer() -> None:
    body = pop()
    assert body["new_customer"] is False
    assert body["customer"] == {"id": 1, "name": "王先生", "segment": "vip", "language": "zh"}
    # The caller chose English in the IVR this time: the caller's language is this call's.
    assert body["caller"] == {"number": CALLER, "name": "王先生", "segment": "vip", "language": "en"}


def test_without_an_ivr_the_card_says_the_language() -> None:
    body = pop(journey=[])
    assert body["caller"]["language"] == "zh"
    assert body["ivr"] == {"flow": None, "path": [], "keys": [], "values": {}}
    assert (body["entered_at"], body["wait_s"]) == (None, None)


def test_the_ivr_journey_path_keys_and_values() -> None:
    assert pop()["ivr"] == {
        "flow": "hotline",
        "path": ["identify", "main_menu", "to_english", "main_menu", "service_queue"],
        "keys": ["9", "2"],
        "values": {"area_code": "021", "station": "上海浦东", "customer.id": "1"},
    }


def test_a_queue_hand_over_without_values_and_an_overflow() -> None:
    journey = [
        *JOURNEY[:-1],
        event(EventKind.QUEUE_ENTERED, -30, position=1),
        event(EventKind.OVERFLOWED, -10, target="general"),
        event(
            EventKind.QUEUE_ENTERED, -10, position=1, ivr={"flow": "hotline", "values": {"n": 3, "x": [1]}}
        ),
    ]
    body = pop(journey=journey)
    assert body["ivr"]["flow"] == "hotline"
    assert body["ivr"]["values"] == {"n": 3, "x": "[1]"}
    assert body["wait_s"] == 30.0  # the caller has waited since the first queue


def test_a_repeat_call_within_48_hours() -> None:
    history = CallerHistory(RecentCalls(2, at(-3600)), contacts=())
    assert pop(history=history)["repeat_48h"] == {"calls": 2, "last_at": at(-3600).isoformat()}
    assert pop()["repeat_48h"] == {"calls": 0, "last_at": None}


def test_the_last_five_contacts_with_their_dispositions() -> None:
    contacts = tuple(
        Contact(
            f"c{i}",
            at(-3600 * (i + 1)),
            "service",
            "1002",
            "resolved" if i % 2 else None,
            bool(i % 2) if i % 2 else None,
        )
        for i in range(6)
    )
    body = pop(history=CallerHistory(NO_HISTORY.recent, contacts))
    assert [c["at"] for c in body["contacts"]] == [at(-3600 * (i + 1)).isoformat() for i in range(5)]
    assert body["contacts"][1] == {
        "at": at(-7200).isoformat(),
        "queue": "service",
        "agent": "1002",
        "disposition": "resolved",
        "resolved": True,
    }
    assert body["contacts"][0]["disposition"] is None


def test_vehicles_last_service_next_due_and_insurance() -> None:
    assert pop()["vehicles"] == [
        {
            "plate": "沪A·12345",
            "model": "凯美瑞 2.0G",
            "vin_last6": "123456",
            "last_service": {"on": "2026-09-01", "kind": "repair", "dealer": "浦东店"},
            "next_due": {"kind": "maintenance", "on": "2026-09-02", "overdue": True},
            "insurance": {
                "insurer": "中国人保",
                "expires_on": "2026-12-05",
                "renewal_status": "quoted",
                "days_left": 15,
            },
        }
    ]
    bare = Vehicle(None, "轩逸", "LSVAU2180N2183456", None, (), None)
    assert pop(card=CustomerCard(2, "李女士", "regular", "zh", (), (bare,), ()))["vehicles"] == [
        {
            "plate": None,
            "model": "轩逸",
            "vin_last6": "183456",
            "last_service": None,
            "next_due": None,
            "insurance": None,
        }
    ]


def test_open_cases() -> None:
    assert pop()["cases"] == [
        {
            "id": 7,
            "kind": "complaint",
            "status": "open",
            "opened_at": at(-86400 * 3).isoformat(),
            "summary": "保养后异响",
        }
    ]


@pytest.mark.parametrize("viewer", [Role.SUPERVISOR, Role.MANAGER])
def test_someone_else_viewing_the_pop_sees_the_number_masked_and_never_a_whole_vin(viewer: Role) -> None:
    body = pop(viewer=viewer)
    assert body["caller"]["number"] == "138****0001"
    assert CAMRY.vin not in json.dumps(body, ensure_ascii=False)


def test_the_card_masks_numbers_for_supervisors_and_shows_them_to_agents() -> None:
    today = NOW.date()
    assert card_body(CARD, viewer=Role.AGENT, today=today)["phone_numbers"] == [CALLER, "13900000001"]
    masked = card_body(CARD, viewer=Role.MANAGER, today=today)
    assert masked["phone_numbers"] == ["138****0001", "139****0001"]
    assert masked["vehicles"] == pop()["vehicles"]
    assert masked["cases"] == pop()["cases"]


def test_an_anonymous_caller() -> None:
    anonymous = CallEvent(EventKind.AGENT_OFFERED, at(0), "call-2", queue="general", agent="1001")
    body = build_pop(anonymous, [], None, NO_HISTORY, viewer=Role.AGENT, now=NOW)
    assert (body["offer"], body["caller"]["number"], body["new_customer"]) == ("call-2:", "", True)


@given(
    order=st.permutations(range(len(JOURNEY))),
    card=st.sampled_from([None, CARD]),
    viewer=st.sampled_from(list(Role)),
)
def test_the_pop_is_json_and_the_same_in_whatever_order_the_journey_arrives(
    order: list[int], card: CustomerCard | None, viewer: Role
) -> None:
    body = build_pop(OFFER, [JOURNEY[i] for i in order], card, NO_HISTORY, viewer=viewer, now=NOW)
    assert json.loads(json.dumps(body)) == body
    assert body == pop(card=card, viewer=viewer)


def test_an_outbound_call_pops_the_lead_it_dials() -> None:
    dialled = CallEvent(
        EventKind.DIAL_STARTED,
        at(-10),
        "call-1",
        queue="service",
        lead_id="lead-9",
        caller_number=CALLER,
        data={"source": "insurer", "name": "李女士", "campaign": None, "attempt": 2},
    )
    body = pop(card=None, journey=[dialled, event(EventKind.CUSTOMER_ANSWERED, -3)])
    assert body["lead"] == {
        "lead_id": "lead-9",
        "name": "李女士",
        "source": "insurer",
        "campaign": None,
        "attempt": 2,
    }
    assert body["caller"]["name"] == "李女士"  # no card: the lead's name
    assert pop(card=CARD, journey=[dialled])["caller"]["name"] == CARD.name  # the card's, when there is one
    assert pop()["lead"] is None  # an inbound call dials no lead
