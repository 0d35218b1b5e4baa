"""A lead request read field by field (cti.outbound.leads): what is taken, what is refused and why."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.events import EventKind
from cti.outbound.leads import (
    Lead,
    LeadInvalid,
    LeadRules,
    LeadSource,
    LeadStatus,
    NumberRefused,
    Vehicle,
    callback_lead,
    lead_created_event,
    read_lead,
)
from cti.outbound.numbers import NumberPolicy
from cti.outbound.refusal import Rule

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RULES = LeadRules(NumberPolicy(), 60.0, SHANGHAI)
GOOD: dict[str, Any] = {"phone": "138 0000 0001", "name": "王芳", "source": "insurer"}


def read(body: dict[str, Any], key: str | None = "case-1") -> Any:
    return read_lead(body, key, RULES, NOW)


def problems(body: dict[str, Any], key: str | None = "case-1") -> dict[str, str]:
    with pytest.raises(LeadInvalid) as caught:
        read(body, key)
    return caught.value.problems


def test_a_lead_is_read_with_its_number_in_e164_and_a_deadline_a_minute_on() -> None:
    request = read(GOOD)
    assert (request.source, request.number.e164, request.name) == (
        LeadSource.INSURER,
        "+8613800000001",
        "王芳",
    )
    assert request.deadline_at == NOW + timedelta(seconds=60)
    assert (request.idempotency_key, request.due_at, request.campaign, request.vehicle) == (
        "case-1",
        None,
        None,
        None,
    )


def test_the_key_may_come_in_the_body_and_must_agree_with_the_header() -> None:
    assert read({**GOOD, "idempotency_key": "k9"}, None).idempotency_key == "k9"
    assert read({**GOOD, "idempotency_key": "k9"}, "k9").idempotency_key == "k9"
    assert "differs" in problems({**GOOD, "idempotency_key": "k9"}, "k8")["idempotency_key"]


@pytest.mark.parametrize("key", [None, "", "  ", "x" * 129, "clé", "a\tb"])
def test_a_missing_or_unreadable_key_is_refused_naming_the_field(key: str | None) -> None:
    assert "idempotency_key" in problems(GOOD, key)


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"name": "x", "source": "web"}, "phone", "missing"),
        ({**GOOD, "source": None}, "source", "missing"),
        ({**GOOD, "source": "ivr_callback"}, "source", "not one of insurer, web"),
        ({**GOOD, "source": "fax"}, "source", "not one of"),
        ({**GOOD, "phone": ["138"]}, "phone", "must be text"),
        ({**GOOD, "name": 5}, "name", "must be text"),
        ({**GOOD, "name": "x" * 201}, "name", "at most 200"),
        ({**GOOD, "campaign": "Big Sale!"}, "campaign", "no campaign name"),
        ({**GOOD, "campaign": "a" * 65}, "campaign", "at most 64"),
        ({**GOOD, "due_on": "tomorrow"}, "due_on", "not a date"),
        ({**GOOD, "deadline": "soon"}, "deadline", "not a date"),
        ({**GOOD, "deadline": "2026-12-07T09:00"}, "deadline", "not in the future"),
        ({**GOOD, "vehicle": "沪A12345"}, "vehicle", "must be an object"),
        ({**GOOD, "vehicle": {"vin": "123"}}, "vehicle.vin", "a VIN has 17"),
        ({**GOOD, "vehicle": {"colour": "red"}}, "vehicle.colour", "not a field of a vehicle"),
        ({**GOOD, "vehicle": {"plate": 7}}, "vehicle.plate", "must be text"),
        ({**GOOD, "email": "a@b.c"}, "email", "not a field of a lead"),
        ({**GOOD, "name": "王\x00芳"}, "name", "NUL"),
        ({**GOOD, "vehicle": {"model": "A6\x00"}}, "vehicle.model", "NUL"),
    ],
)
def test_each_bad_field_is_named_with_what_is_wrong(body: dict[str, Any], field: str, said: str) -> None:
    assert said in problems(body)[field]


def test_every_bad_field_is_named_at_once() -> None:
    found = problems({"name": 5, "source": "fax", "due_on": "x"}, None)
    assert set(found) == {"phone", "name", "source", "due_on", "idempotency_key"}


@pytest.mark.parametrize(("raw", "rule"), [("110", Rule.EMERGENCY), ("+12125551234", Rule.INTERNATIONAL)])
def test_a_number_the_rules_refuse_names_the_rule(raw: str, rule: Rule) -> None:
    with pytest.raises(NumberRefused) as caught:
        read({**GOOD, "phone": raw})
    assert caught.value.refusal.rule is rule


def test_a_number_sent_as_a_json_number_is_read_as_its_digits() -> None:
    assert read({**GOOD, "phone": 13800000001}).number.e164 == "+8613800000001"


def test_the_vehicle_is_kept_as_the_crm_writes_it() -> None:
    body = {**GOOD, "vehicle": {"plate": "沪a 12345", "model": "A6L", "vin": "lsvau2180n2100121"}}
    assert read(body).vehicle == Vehicle("沪A12345", "A6L", "LSVAU2180N2100121")


def test_a_due_day_ahead_holds_the_lead_until_that_day_in_the_centers_time() -> None:
    request = read({**GOOD, "due_on": "2026-12-09"})
    start = datetime(2026, 12, 9, tzinfo=SHANGHAI)
    assert (request.due_on, request.due_at, request.deadline_at) == (
        date(2026, 12, 9),
        start,
        start + timedelta(seconds=60),
    )
    assert read({**GOOD, "due_on": "2026-12-07"}).due_at is None  # today: at once


def test_a_given_deadline_is_kept_and_a_local_one_is_the_centers_time() -> None:
    request = read({**GOOD, "deadline": "2026-12-07T10:30"})
    assert request.deadline_at == datetime(2026, 12, 7, 10, 30, tzinfo=SHANGHAI)


def test_a_retry_that_writes_the_number_another_way_is_the_same_request() -> None:
    first, again = read(GOOD), read({**GOOD, "phone": "+86 138-0000-0001"})
    assert first.lead_id != again.lead_id
    assert first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != read({**GOOD, "name": "李雷"}).fingerprint()
    assert first.fingerprint() != read({**GOOD, "phone": "13800000002"}).fingerprint()


def test_a_callback_lead_is_due_when_said_with_its_deadline_a_minute_later() -> None:
    opens = NOW + timedelta(hours=10)
    request = callback_lead(
        LeadSource.IVR_CALLBACK, "13800138000", "ivr_callback:ch-1", RULES, NOW, due_at=opens, lead_id="L1"
    )
    assert (request.lead_id, request.due_at, request.deadline_at) == (
        "L1",
        opens,
        opens + timedelta(seconds=60),
    )
    assert request.stored_data()["fingerprint"] == request.fingerprint()
    past = callback_lead(
        LeadSource.IVR_CALLBACK, "13800138000", "k", RULES, NOW, due_at=NOW - timedelta(hours=1)
    )
    assert past.due_at is None


def test_a_callback_from_an_undiallable_number_is_refused() -> None:
    with pytest.raises(NumberRefused):
        callback_lead(LeadSource.IVR_CALLBACK, "anonymous", "k", RULES, NOW)


def lead(**changes: Any) -> Lead:
    base: dict[str, Any] = {
        "lead_id": "L1",
        "source": "insurer",
        "phone_number": "+8613800000001",
        "status": LeadStatus.NEW,
        "created_at": NOW,
        "deadline_at": NOW + timedelta(seconds=60),
        "next_attempt_at": None,
    }
    return Lead(**(base | changes))


def test_the_hopper_orders_a_lead_by_its_deadline_and_holds_it_until_due() -> None:
    assert lead().hopper_place() == (NOW.timestamp(), NOW.timestamp() + 60)
    later = NOW + timedelta(hours=1)
    assert lead(next_attempt_at=later).hopper_place() == (later.timestamp(), NOW.timestamp() + 60)
    assert lead(deadline_at=None, next_attempt_at=later).hopper_place() == (later.timestamp(),) * 2


def test_lead_created_carries_the_source_the_deadline_and_the_number_with_one_id_per_lead() -> None:
    event = lead_created_event(lead(), NOW)
    assert (event.kind, event.lead_id, event.caller_number) == (
        EventKind.LEAD_CREATED,
        "L1",
        "+8613800000001",
    )
    assert dict(event.data) == {"source": "insurer", "deadline_s": 60.0}
    assert event.event_id == lead_created_event(lead(), NOW).event_id


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELD_VALUES = st.dictionaries(
    st.sampled_from([*GOOD, "campaign", "vehicle", "due_on", "deadline", "idempotency_key", "x"]),
    JSON | st.sampled_from(["13800000001", "insurer", "2026-12-09", "2026-12-07T11:00", "0001-01-01"]),
)


@given(body=FIELD_VALUES, key=st.none() | st.text(max_size=140))
def test_any_body_is_a_lead_or_a_refusal_naming_what_is_wrong(body: dict[str, Any], key: str | None) -> None:
    outcome: object
    try:
        outcome = read(body, key)
    except (LeadInvalid, NumberRefused) as exc:
        outcome = exc
    said = outcome.problems if isinstance(outcome, LeadInvalid) else getattr(outcome, "refusal", True)
    assert said
