"""The queue_log parser on app_queue's record formats, bad lines and re-imports."""

from cti.events import EventKind
from cti.kpi import KpiConfig, derive_facts
from cti.kpi.definitions import CallHistory
from cti.kpi.queue_log import parse_queue_log, summary
from cti.kpi.report import kpi_row

# Two calls as Asterisk 22's app_queue writes them (times are Unix seconds).
LOG = """\
1795440193|NONE|NONE|NONE|QUEUESTART|
1795440879|c1|sales|NONE|ENTERQUEUE||13800138000|1
1795440881|c1|sales|Agent 1101|RINGNOANSWER|2000
1795440883|c1|sales|Agent 1102|CONNECT|4|1795440879.6|2
1795440943|c1|sales|Agent 1102|COMPLETECALLER|4|60|1
1795440884|c2|sales|NONE|ENTERQUEUE||13900000000|2
1795440885|c2|sales|Agent 1101|RINGCANCELED|1025
1795440904|c2|sales|NONE|ABANDON|2|2|20
1795440900|c3|sales|NONE|ENTERQUEUE||13700000000|1
1795440960|c3|sales|NONE|EXITWITHTIMEOUT|1|1|60
1795440900|c4|sales|NONE|ENTERQUEUE||13600000000|1
1795440905|c4|sales|NONE|EXITWITHKEY|5|1|1|5
1795440900|c5|sales|NONE|ENTERQUEUE||13500000000|1
1795440901|c5|sales|Agent 1101|CONNECT|1|x|0
1795440950|c5|sales|Agent 1101|BLINDTRANSFER|2000|default|1|49|1
1795440000|NONE|sales|Agent 1101|PAUSE|lunch
"""


def test_app_queue_records_become_call_events() -> None:
    parsed = parse_queue_log(LOG.splitlines())
    assert parsed.problems == []
    kinds = [e.kind for e in parsed.events if e.call_id == "c1"]
    assert kinds == [
        EventKind.CALL_STARTED,
        EventKind.QUEUE_ENTERED,
        EventKind.AGENT_OFFERED,
        EventKind.RING_NO_ANSWER,
        EventKind.AGENT_OFFERED,
        EventKind.AGENT_ANSWERED,
        EventKind.COMPLETED,
    ]
    entered = next(e for e in parsed.events if e.kind is EventKind.QUEUE_ENTERED and e.call_id == "c2")
    assert (entered.caller_number, entered.data["position"]) == ("13900000000", 2.0)
    pause = next(e for e in parsed.events if e.kind is EventKind.AGENT_STATE_CHANGED)
    assert dict(pause.data) == {"state": "paused", "reason": "lunch"}
    assert parsed.ignored == {"QUEUESTART (ignored)": 1}


def test_kpis_of_the_imported_calls() -> None:
    facts = derive_facts(parse_queue_log(LOG.splitlines()).events)
    row = kpi_row(facts, CallHistory(facts.calls), KpiConfig())
    assert (row["offered"], row["answered"], row["abandoned"], row["timed_out"], row["overflowed"]) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert row["answered_within_three_rings"] == 2  # waited 4 s and 1 s
    assert row["asa_s"] == 2.5
    assert row["aht_s"] == (60 + 49) / 2  # the blind transfer's call time counts
    assert row["agent_offers"] == 4
    assert row["agent_answered_within_three_rings"] == 2
    assert row["service_level_2"] == 1.0  # (2 answered + the abandon at exactly T = 20 s) / 3


def test_bad_lines_are_reported_with_their_numbers_and_the_rest_is_kept() -> None:
    lines = [
        "1795440879|c1|sales|NONE|ENTERQUEUE||13800138000|1",
        "garbage without pipes",
        "yesterday|c1|sales|NONE|ABANDON|1|1|3",
        "1795440883|c1|sales|Agent 1102|CONNECT|soon|x|2",
        "",
        "1795440884|c1|sales|NONE|FUTURERECORD|1",
        "1795440890|c1|sales|NONE|ABANDON|1|1|11",
    ]
    parsed = parse_queue_log(lines)
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "expected at least 5 '|'-separated fields, found 1"),
        (3, "unreadable time 'yesterday'"),
        (4, "CONNECT: holdtime (field 6) is not a number"),
    ]
    assert parsed.ignored == {"FUTURERECORD (unknown record)": 1}
    assert [e.kind for e in parsed.events] == [
        EventKind.CALL_STARTED,
        EventKind.QUEUE_ENTERED,
        EventKind.ABANDONED,
    ]
    report = summary(parsed, stored=3)
    assert report[0] == "7 lines read, 3 events derived, 3 new events stored"
    assert "  line 3: unreadable time 'yesterday': yesterday|c1|sales|NONE|ABANDON|1|1|3" in report


def test_event_ids_depend_only_on_the_line_so_a_reimport_adds_nothing() -> None:
    first = {e.event_id for e in parse_queue_log(LOG.splitlines()).events}
    again = {e.event_id for e in parse_queue_log(LOG.splitlines()).events}
    assert first == again
    assert len(first) == len(parse_queue_log(LOG.splitlines()).events)


def test_dated_timestamps_are_read_as_utc() -> None:
    parsed = parse_queue_log(["2026-11-23 05:34:39.123|c9|q|NONE|ENTERQUEUE||1|1"])
    assert parsed.problems == []
    assert parsed.events[0].at.isoformat() == "2026-11-23T05:34:39.123000+00:00"
