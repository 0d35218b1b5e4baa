"""The desk's CRM adapters on SQLite and PostgreSQL: the card by number or id, the caller's history."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.crm import (
    CONTACTS_SHOWN,
    Case,
    Contact,
    Policy,
    RecentCalls,
    ServiceVisit,
    caller_histories,
    caller_history,
    read_card,
    read_cards,
)
from cti.desk.pops import CrmPops
from cti.events import CallEvent, EventKind, to_us
from cti.store import insert_events
from cti.store.models import (
    CaseRow,
    CustomerRow,
    InsurancePolicyRow,
    PhoneNumberRow,
    ServiceRecordRow,
    VehicleRow,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


async def fill(store: AsyncEngine) -> None:
    async with store.begin() as connection:
        await connection.execute(
            insert(CustomerRow),
            [
                {"id": 1, "name": "王先生", "segment": "vip", "language": "zh"},
                {"id": 2, "name": "李女士", "segment": "regular", "language": "en"},
                {"id": 3, "name": "张伟", "segment": "regular", "language": "zh"},
            ],
        )
        await connection.execute(
            insert(PhoneNumberRow),
            [
                {"number": "13800000001", "customer_id": 1},
                {"number": "+8613900000001", "customer_id": 1},
                {"number": "13800000002", "customer_id": 2},
                # a family line: two customers share it, so it identifies nobody
                {"number": "02150001234", "customer_id": 2},
                {"number": "+862150001234", "customer_id": 3},
            ],
        )
        await connection.execute(
            insert(VehicleRow),
            [
                {
                    "id": 10,
                    "customer_id": 1,
                    "vin": "LVGBE40K8NG123456",
                    "plate": "沪A·12345",
                    "model": "凯美瑞",
                    "purchased_on": date(2025, 3, 1),
                },
                {
                    "id": 11,
                    "customer_id": 1,
                    "vin": "LSVAU2180N2183456",
                    "plate": None,
                    "model": "帕萨特",
                    "purchased_on": None,
                },
            ],
        )
        await connection.execute(
            insert(ServiceRecordRow),
            [
                {"vehicle_id": 10, "on": date(2025, 9, 2), "kind": "first_maintenance", "dealer": "浦东店"},
                {"vehicle_id": 10, "on": date(2026, 9, 1), "kind": "repair", "dealer": None},
            ],
        )
        await connection.execute(
            insert(InsurancePolicyRow),
            [
                {
                    "vehicle_id": 10,
                    "insurer": "平安",
                    "expires_on": date(2025, 12, 5),
                    "renewal_status": "renewed",
                },
                {
                    "vehicle_id": 10,
                    "insurer": "中国人保",
                    "expires_on": date(2026, 12, 5),
                    "renewal_status": "due",
                },
            ],
        )
        await connection.execute(
            insert(CaseRow),
            [
                {
                    "id": 5,
                    "customer_id": 1,
                    "kind": "complaint",
                    "status": "open",
                    "opened_at_us": to_us(NOW - timedelta(days=2)),
                    "summary": "异响",
                },
                {
                    "id": 6,
                    "customer_id": 1,
                    "kind": "repair",
                    "status": "closed",
                    "opened_at_us": to_us(NOW - timedelta(days=9)),
                    "summary": "已修好",
                },
            ],
        )


async def test_the_card_of_a_caller_by_any_form_of_the_number(store: AsyncEngine) -> None:
    await fill(store)
    card = await read_card(store, "13800000001")
    assert card is not None
    assert (card.id, card.name, card.segment, card.language) == (1, "王先生", "vip", "zh")
    assert card.phone_numbers == ("+8613900000001", "13800000001")
    camry, passat = card.vehicles
    assert (camry.plate, camry.model, camry.vin, camry.purchased_on) == (
        "沪A·12345",
        "凯美瑞",
        "LVGBE40K8NG123456",
        date(2025, 3, 1),
    )
    assert camry.services == (
        ServiceVisit(date(2026, 9, 1), "repair", None),
        ServiceVisit(date(2025, 9, 2), "first_maintenance", "浦东店"),
    )
    assert camry.insurance == Policy("中国人保", date(2026, 12, 5), "due")
    assert (passat.services, passat.insurance) == ((), None)
    assert card.open_cases == (Case(5, "complaint", "open", NOW - timedelta(days=2), "异响"),)
    assert await read_card(store, "+8613800000001") == card
    assert await read_card(store, "008613900000001") == card


async def test_the_id_wins_and_an_ambiguous_or_unknown_number_is_nobody(store: AsyncEngine) -> None:
    await fill(store)
    by_id = await read_card(store, "13800000001", customer_id=2)
    assert by_id is not None
    assert (by_id.name, by_id.vehicles, by_id.open_cases) == ("李女士", (), ())
    assert await read_card(store, "02150001234") is None
    assert await read_card(store, "13700000000") is None
    assert await read_card(store, "") is None
    assert await read_card(store, "13800000001", customer_id=99) is None


def call(
    call_id: str, started: timedelta, number: str = "13800000001", answered_by: str | None = "1001"
) -> list[CallEvent]:
    start = NOW - started
    events = [
        CallEvent(EventKind.CALL_STARTED, start, call_id, caller_number=number, data={"direction": "inbound"})
    ]
    if answered_by:
        events.append(
            CallEvent(
                EventKind.AGENT_ANSWERED,
                start + timedelta(seconds=20),
                call_id,
                queue="service",
                agent=answered_by,
                caller_number=number,
            )
        )
    return events


async def test_the_history_of_a_number(store: AsyncEngine) -> None:
    events = [
        *call("now", timedelta(seconds=30), answered_by=None),
        *call("hour", timedelta(hours=1), number="+8613800000001", answered_by="1002"),
        *call("day", timedelta(hours=30)),
        *call("old", timedelta(hours=49)),
        *call("other", timedelta(hours=2), number="13800000002"),
        CallEvent(
            EventKind.DISPOSITION,
            NOW - timedelta(minutes=50),
            "hour",
            agent="1002",
            data={"code": "booked", "resolved": True},
        ),
        CallEvent(
            EventKind.DISPOSITION,
            NOW - timedelta(hours=29),
            "day",
            agent="1001",
            data={"code": "callback", "resolved": False},
        ),
        CallEvent(
            EventKind.DISPOSITION,
            NOW - timedelta(hours=28),
            "day",
            agent="1001",
            data={"code": "resolved", "resolved": True},
        ),
        # a transfer: answered twice, one contact
        CallEvent(
            EventKind.AGENT_ANSWERED,
            NOW - timedelta(hours=49) + timedelta(minutes=2),
            "old",
            queue="sales",
            agent="1003",
            caller_number="13800000001",
        ),
    ]
    await insert_events(store, events)
    history = await caller_history(store, "13800000001", NOW)
    assert history.recent == RecentCalls(3, NOW - timedelta(seconds=30))
    assert history.contacts == (
        Contact("hour", NOW - timedelta(hours=1) + timedelta(seconds=20), "service", "1002", "booked", True),
        Contact(
            "day", NOW - timedelta(hours=30) + timedelta(seconds=20), "service", "1001", "resolved", True
        ),
        Contact("old", NOW - timedelta(hours=49) + timedelta(minutes=2), "sales", "1003", None, None),
    )
    assert await caller_history(store, "", NOW) == (await caller_history(store, "13700000000", NOW))
    # the call being offered is no repeat of itself, nor a past contact
    offered = await caller_history(store, "13800000001", NOW, "hour")
    assert offered.recent == RecentCalls(2, NOW - timedelta(seconds=30))
    assert [contact.call_id for contact in offered.contacts] == ["day", "old"]


async def test_the_history_reads_the_contacts_the_pop_shows_one_connection_serving_both_reads(
    store: AsyncEngine,
) -> None:
    await insert_events(
        store, [e for i in range(10) for e in call(f"c{i}", timedelta(days=i + 1, minutes=1))]
    )
    async with store.connect() as connection:
        history = await caller_history(connection, "13800000001", NOW, "c1")
        assert await read_card(connection, "13800000001") is None  # no customer rows in this test
    assert [contact.call_id for contact in history.contacts] == ["c0", *(f"c{i}" for i in range(2, 6))]
    assert len(history.contacts) == CONTACTS_SHOWN
    assert history.recent == RecentCalls(1, NOW - timedelta(days=1, minutes=1))


async def test_a_batch_of_callers_reads_as_each_alone_and_offered_calls_leave_out_only_themselves(
    store: AsyncEngine,
) -> None:
    await fill(store)
    await insert_events(
        store,
        [
            *call("hour", timedelta(hours=1)),
            *call("now-a", timedelta(seconds=30), answered_by=None),  # two calls of one number,
            *call("now-b", timedelta(seconds=20), answered_by=None),  # offered in one batch
            *call("other", timedelta(hours=2), number="13800000002"),
        ],
    )
    callers = [("13800000001", None), ("13800000002", None), ("13700000000", None), ("", 2)]
    alone = [await read_card(store, number, customer_id) for number, customer_id in callers]
    assert await read_cards(store, callers) == alone
    assert [card and card.id for card in alone] == [1, 2, None, 2]

    offers = [("13800000001", "now-a"), ("+8613800000001", "now-b"), ("13800000002", "other"), ("", "x")]
    histories = await caller_histories(store, offers, NOW)
    assert histories == [await caller_history(store, number, NOW, call_id) for number, call_id in offers]
    assert [history.recent for history in histories] == [
        RecentCalls(2, NOW - timedelta(seconds=20)),  # "hour" and "now-b"
        RecentCalls(2, NOW - timedelta(seconds=30)),  # "hour" and "now-a"
        RecentCalls(0, None),
        RecentCalls(0, None),
    ]
    assert [[c.call_id for c in history.contacts] for history in histories] == [["hour"], ["hour"], [], []]


async def read_ahead() -> None:
    """Until what ``foresee`` started reading in the background is read."""
    await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))


def queries_counted(store: AsyncEngine) -> list[str]:
    """The SQL statements run on ``store`` from now on."""
    statements: list[str] = []
    sqlalchemy_event.listen(store.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def entered(call_id: str, number: str, customer_id: int | None = None) -> CallEvent:
    values = {} if customer_id is None else {"customer.id": str(customer_id)}
    data = {"ivr": {"values": values}} if values else {}
    return CallEvent(EventKind.QUEUE_ENTERED, NOW, call_id, queue="sales", caller_number=number, data=data)


def offered(call_id: str, number: str, agent: str = "1001") -> CallEvent:
    return CallEvent(
        EventKind.AGENT_OFFERED, NOW, call_id, queue="sales", agent=agent, caller_number=number,
        data={"offer": f"leg-{call_id}"},
    )  # fmt: skip


async def test_the_crm_is_read_when_a_call_is_first_seen_so_its_offer_costs_no_query(
    store: AsyncEngine,
) -> None:
    await fill(store)
    pops = CrmPops(store, ZoneInfo("Asia/Shanghai"), clock=lambda: NOW)
    first = [entered("a", "13800000001"), entered("b", "13800000002", customer_id=2)]
    pops.foresee(first, {event.call_id: [event] for event in first})
    await read_ahead()  # in the background, while the callers wait
    statements = queries_counted(store)

    built = await pops([(offered("a", "13800000001"), first[:1]), (offered("b", "13800000002"), first[1:])])

    assert statements == []
    assert [(pop["crm_reached"], pop["customer"]["name"]) for pop in built] == [
        (True, "王先生"),
        (True, "李女士"),
    ]


async def test_an_offer_not_foreseen_or_for_another_customer_is_read_then(store: AsyncEngine) -> None:
    await fill(store)
    pops = CrmPops(store, ZoneInfo("Asia/Shanghai"), clock=lambda: NOW)
    seen = entered("a", "02150001234")  # a shared line: nobody, until the IVR identifies the caller
    pops.foresee([seen], {"a": [seen]})
    await read_ahead()
    identified = entered("a", "02150001234", customer_id=3)
    statements = queries_counted(store)

    built = await pops(
        [(offered("a", "02150001234"), [seen, identified]), (offered("new", "13800000001"), [])]
    )

    assert statements != []
    assert [pop["customer"]["name"] for pop in built] == ["张伟", "王先生"]


async def test_a_call_seen_again_as_the_numbers_own_customer_is_not_read_twice(store: AsyncEngine) -> None:
    await fill(store)
    pops = CrmPops(store, ZoneInfo("Asia/Shanghai"), clock=lambda: NOW)
    seen = entered("a", "13800000001")
    pops.foresee([seen], {"a": [seen]})
    await read_ahead()
    identified = entered("a", "13800000001", customer_id=1)  # the IVR found them by this number
    statements = queries_counted(store)

    pops.foresee([identified], {"a": [seen, identified]})
    built = await pops([(offered("a", "13800000001"), [seen, identified])])

    assert statements == []
    assert built[0]["customer"]["name"] == "王先生"
