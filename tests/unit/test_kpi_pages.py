"""What a manager reads: "no data" in every format, headlines against targets, the heat map, the
page in zh and en, and a page no data can break out of."""

import csv
import io
import json
import re
from typing import Any

import pytest

from cti.events import EventKind
from cti.kpi import KpiConfig, build_report, derive_facts
from cti.kpi.html import period_label, script_json, short_label, to_html
from cti.kpi.render import to_csv, to_json, to_table
from cti.kpi.report import UTC_ZONE, make_period
from cti.kpi.targets import Status, Targets, headlines, status
from tests.kpi_month import TZ, Month
from tests.unit.kpi_events import answered_call, ev, unanswered_call

CFG = KpiConfig()


def report_of(events: list, **options: Any) -> dict[str, Any]:
    facts = derive_facts(events)
    return build_report(facts, facts.calls, CFG, **options)


def embedded(page: str) -> Any:
    found = re.search(r'<script type="application/json" id="report">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


# -- "no data", never 0 % ---------------------------------------------------------------------------

EMPTY = report_of([])


def test_given_nothing_to_measure_then_json_says_null() -> None:
    overall = json.loads(to_json(EMPTY))["overall"]
    assert overall["three_ring_rate"] is None
    assert overall["aht_s"] is None
    assert overall["one_minute_contact_rate"] is None


def test_given_nothing_to_measure_then_the_csv_says_no_data() -> None:
    [row] = list(csv.DictReader(io.StringIO(to_csv(EMPTY))))
    assert row["three_ring_rate"] == row["service_level"] == row["asa_s"] == "no data"
    assert row["offered"] == "0"  # a count is a count
    assert "lead_sources" not in row  # nested figures: JSON only


def test_given_nothing_to_measure_then_the_table_says_no_data() -> None:
    table = to_table(EMPTY)
    assert "no data" in table
    assert "0.0%" not in table


@pytest.mark.parametrize("language", ["en", "zh"])
def test_given_nothing_to_measure_then_the_page_greys_it_and_draws_no_chart(language: str) -> None:
    page = to_html(EMPTY, language=language)
    no_data = "no data" if language == "en" else "无数据"
    assert page.count('<section class="empty">') == 3  # heat map, trend, leads (and their funnel)
    assert "<svg" not in page
    assert page.count('<div class="card no_data">') == 4
    assert f'<div class="value">{no_data}</div>' in page
    assert "0.0%" not in page


def test_given_some_groups_without_calls_then_their_cells_read_no_data() -> None:
    events = [*answered_call("a", 3), ev(EventKind.CALL_STARTED, 90_000, "b", caller_number="13900000009")]
    report = report_of(events, by="day")
    assert [g["three_ring_rate"] for g in report["groups"]] == [1.0, None]
    assert '<td class="nodata">no data</td>' in to_html(report)


# -- headlines against targets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "at_most", "expected"),
    [
        (0.9, 0.9, False, Status.MET),
        (0.8999, 0.9, False, Status.MISSED),
        (0.05, 0.05, True, Status.MET),
        (0.0501, 0.05, True, Status.MISSED),
        (0.0, 0.05, True, Status.MET),
        (None, 0.9, False, Status.NO_DATA),
        (None, 0.05, True, Status.NO_DATA),
    ],
)
def test_status_against_a_target(value: float | None, target: float, at_most: bool, expected: Status) -> None:
    assert status(value, target, at_most) is expected


def test_headlines_read_the_four_kpis_with_their_counts() -> None:
    events = answered_call("a", 3) + answered_call("b", 16) + unanswered_call("c", EventKind.ABANDONED, 40)
    found = {h.key: h for h in headlines(report_of(events)["overall"], Targets())}
    assert list(found) == ["three_ring_rate", "service_level", "abandon_rate", "one_minute_contact_rate"]
    assert (found["three_ring_rate"].part, found["three_ring_rate"].whole) == (1, 3)
    assert found["three_ring_rate"].status is Status.MISSED
    assert found["service_level"].status is Status.MET  # both answered within 20 s
    assert found["abandon_rate"].status is Status.MISSED  # 1 of 3 > 5 %
    assert found["one_minute_contact_rate"].status is Status.NO_DATA


def test_targets_are_shares() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Targets(three_ring_rate=90)


# -- the heat map -----------------------------------------------------------------------------------


def test_the_heatmap_puts_each_stay_in_its_local_weekday_and_hour() -> None:
    # T0 is Monday 2026-11-02 09:00 UTC = 17:00 in Shanghai
    events = answered_call("a", 3) + answered_call("b", 20) + answered_call("c", 3, start=86_400 + 3600)
    grid = report_of(events, tz=TZ, heatmap=True)["heatmap"]
    assert grid["offered"][0][17] == 2
    assert grid["three_ring_rate"][0][17] == 0.5
    assert (grid["offered"][1][18], grid["three_ring_rate"][1][18]) == (1, 1.0)
    assert sum(map(sum, grid["offered"])) == 3
    assert grid["three_ring_rate"][2][10] is None  # no calls: no rate


def test_a_report_has_a_heatmap_only_when_asked() -> None:
    assert "heatmap" not in report_of(answered_call("a", 3))


# -- the page ---------------------------------------------------------------------------------------

MONTH = derive_facts(Month().events)
NOVEMBER = make_period("2026-11-01", "2026-11-30", TZ)


def month_page(language: str, **options: Any) -> str:
    report = build_report(MONTH, MONTH.calls, CFG, period=NOVEMBER, by="day", tz=TZ, heatmap=True)
    agents = build_report(MONTH, MONTH.calls, CFG, period=NOVEMBER, by="agent", tz=TZ)["groups"]
    return to_html(report, agents, language=language, **options)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            ["Answered within three rings", "by weekday and hour", "Per agent", "2026-11-01 to 2026-11-30"],
        ),
        ("zh", ["三声内接通率", "星期 \u00d7 小时", "各坐席", "2026-11-01 至 2026-11-30", 'lang="zh-CN"']),
    ],
)
def test_the_month_page_reads_in_its_language(language: str, words: list[str]) -> None:
    page = month_page(language)
    for word in words:
        assert word in page
    assert page.count("<svg") == 4  # heat map, trend, abandonment, funnel; no empty chart
    assert '<section class="empty">' not in page


def test_a_page_in_another_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        to_html(EMPTY, language="fr")


def test_the_page_reads_against_the_configured_targets() -> None:
    page = month_page("en", targets=Targets(three_ring_rate=0.5))
    assert "target ≥ 50%" in page


HOSTILE = "</script><script>alert(1)</script><!--"


def test_no_text_in_the_data_can_break_out_of_the_page() -> None:
    events = answered_call("a", 3, queue=HOSTILE, agent=HOSTILE)
    events.append(ev(EventKind.LEAD_CREATED, 0, lead_id="l", data={"source": HOSTILE}))
    events.append(ev(EventKind.FUNNEL_LOST, 5, lead_id="l", data={"stage": "contacted", "reason": HOSTILE}))
    report = report_of(events, by="queue", queue=HOSTILE)
    page = to_html(report, report_of(events, by="agent")["groups"], title=HOSTILE)
    assert "<script>alert" not in page
    assert page.count("</script>") == 1  # the embedded JSON's own
    assert page.count("<!--") == 0
    assert embedded(page) == json.loads(json.dumps(report))  # valid JSON, the report's


@pytest.mark.parametrize("text", ["</script>", "<!--", "a & b", "\u2028", "\u2029", "</SCRIPT>"])
def test_script_json_round_trips_and_hides_markup(text: str) -> None:
    out = script_json({"k": text})
    for markup in ("<", ">", "&", "\u2028", "\u2029"):
        assert markup not in out
    assert json.loads(out) == {"k": text}


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("2026-11-04", "11-04"),
        ("2026-11-04 09:00", "09:00"),
        ("week of 2026-11-02", "11-02"),
        ("sales", "sales"),
    ],
)
def test_short_labels_under_a_chart(key: str, label: str) -> None:
    assert short_label(key) == label


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00", "2026-11-01 to 2026-11-30"),
        ("2026-11-01T00:00:00+08:00", "2026-11-01T12:00:00+08:00", "2026-11-01 to 2026-11-01"),
        (None, None, "… to …"),
    ],
)
def test_period_labels(start: str | None, end: str | None, label: str) -> None:
    assert period_label({"from": start, "to": end}, "to") == label


def test_utc_is_the_default_zone() -> None:
    assert report_of([])["period"]["timezone"] == str(UTC_ZONE)
