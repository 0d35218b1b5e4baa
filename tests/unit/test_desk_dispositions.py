"""Dispositions: the shipped codes load, bad ones are refused by key, and each records exactly
the events the KPI code counts (FCR, appointments, the funnel)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cti.desk.dispositions import DisposedCall, disposition_events, load_dispositions
from cti.errors import ConfigError
from cti.events import EventKind
from cti.kpi.definitions import CallHistory, KpiConfig, appointment_kpis, fcr_counts, fcr_flags, funnel
from cti.kpi.facts import derive_facts
from tests.unit.kpi_events import answered_call, ev

SHIPPED = load_dispositions(Path("config/dispositions.toml"))
AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_the_shipped_codes_cover_an_automotive_care_center() -> None:
    assert {"resolved", "resolved_appointment", "follow_up_needed", "lost_price", "quote_sent"} <= set(
        SHIPPED.codes
    )
    for listed in SHIPPED.listed():
        assert set(listed) == {"code", "label", "resolved", "appointment", "funnel_stage", "funnel_lost"}
        assert listed["label"]["zh"]
        assert listed["label"]["en"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[dispositions]]\ncode = "a"\nlabel = { zh = "a" }\n', "dispositions.0.label.en"),
        ('[[dispositions]]\ncode = "A b"\nlabel = { zh = "a", en = "a" }\n', "dispositions.0.code"),
        (
            '[[dispositions]]\ncode = "a"\nlabel = { zh = "a", en = "a" }\nfunnel_stage = "x"\n',
            "funnel_stage",
        ),
        ('[[dispositions]]\ncode = "a"\nlabel = { zh = "a", en = "a" }\nresolvd = true\n', "resolvd"),
        ("dispositions = []\n", "dispositions"),
    ],
)
def test_a_bad_code_is_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "dispositions.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=key) as raised:
        load_dispositions(path)
    assert str(path) in str(raised.value)


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    entry = '[[dispositions]]\ncode = "a"\nlabel = { zh = "a", en = "a" }\n'
    (tmp_path / "d.toml").write_text(entry * 2, encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate disposition codes"):
        load_dispositions(tmp_path / "d.toml")


def events_of(code: str, lead_id: str | None = None, note: str = "") -> list:  # type: ignore[type-arg]
    disposition = SHIPPED.get(code)
    assert disposition is not None
    return disposition_events(disposition, DisposedCall("c1", "1001", "sales", lead_id), note, AT)


def test_each_flag_records_its_event() -> None:
    kinds = {code: [(e.kind, dict(e.data)) for e in events_of(code, "l1")] for code in SHIPPED.codes}
    assert kinds["resolved"] == [(EventKind.DISPOSITION, {"code": "resolved", "resolved": True})]
    assert kinds["resolved_appointment"] == [
        (EventKind.DISPOSITION, {"code": "resolved_appointment", "resolved": True}),
        (EventKind.APPOINTMENT_BOOKED, {}),
        (EventKind.FUNNEL_STAGE, {"stage": "appointment_booked"}),
    ]
    assert kinds["lost_price"][1:] == [(EventKind.FUNNEL_LOST, {"stage": "contacted", "reason": "price"})]
    assert events_of("follow_up_needed", note="call back Monday")[0].data == {
        "code": "follow_up_needed",
        "resolved": False,
        "note": "call back Monday",
    }


def test_a_retry_makes_the_same_event_ids() -> None:
    assert [e.event_id for e in events_of("resolved_appointment")] == [
        e.event_id for e in events_of("resolved_appointment")
    ]
    other_agent = disposition_events(SHIPPED.dispositions[0], DisposedCall("c1", "1002"), "", AT)
    assert other_agent[0].event_id != events_of("resolved")[0].event_id


def test_the_kpis_count_what_a_disposition_records() -> None:
    calls = answered_call("c1", 3) + answered_call("c2", 3, start=100)
    recorded = [*calls, *events_of("resolved_appointment")]
    facts = derive_facts(recorded)
    history = CallHistory(facts.calls)
    assert fcr_counts(fcr_flags(facts.stays, history, KpiConfig()))["fcr_rate"] == 1.0  # c2 not disposed
    assert appointment_kpis(facts.contacts)["appointments"] == 1
    lead = [ev(EventKind.LEAD_CREATED, 0, "cb", lead_id="l1", data={"source": "web"})]
    lost = derive_facts([*lead, *events_of("lost_competitor", "l1"), *events_of("quote_sent", "l1")])
    stages = {row["stage"]: row for row in funnel(lost.leads)}
    assert stages["contacted"]["lost"] == {"competitor": 1}
    assert stages["assessed"]["count"] == 1


def test_a_right_party_contact_is_any_code_but_a_wrong_number() -> None:
    assert "wrong_number" in SHIPPED.codes
    assert SHIPPED.right_party_codes == frozenset(SHIPPED.codes) - {"wrong_number"}
