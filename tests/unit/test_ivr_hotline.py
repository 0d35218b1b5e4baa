"""The shipped hotline (ivr_flows/hotline.yaml) walked path by path, as issue 5 lists them."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cti.ivr import (
    Flow,
    FlowContext,
    HangUp,
    OfferCallback,
    Route,
    Transcript,
    load_flow,
    load_stations,
    simulate,
)
from cti.ivr.calendars import public_calendars

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {"sales", "service", "roadside", "complaints", "vip", "general"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
MONDAY_NIGHT = datetime(2026, 11, 23, 22, 30, tzinfo=SHANGHAI)
SATURDAY_EVENING = datetime(2026, 11, 28, 18, 30, tzinfo=SHANGHAI)  # weekend hours end at 18:00
NATIONAL_DAY = datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)
SPRING_FESTIVAL_MONDAY = datetime(2026, 2, 16, 10, 0, tzinfo=SHANGHAI)  # by the CN calendar
MAKE_UP_SATURDAY = datetime(2026, 2, 14, 8, 45, tzinfo=SHANGHAI)  # worked: weekday hours, from 08:30
VIP_NUMBER = "13900000001"
CUSTOMERS = {VIP_NUMBER: {"segment": "vip", "name": "王先生"}, "13900000002": {"segment": "regular"}}


@pytest.fixture(scope="module")
def hotline() -> Flow:
    return load_flow(ROOT / "ivr_flows" / "hotline.yaml", QUEUES)


@pytest.fixture(scope="module")
def context() -> FlowContext:
    return FlowContext(stations=load_stations(ROOT / "config" / "stations.csv"), calendars=public_calendars())


def call(
    flow: Flow,
    context: FlowContext,
    keys: str | list[str],
    now: datetime = MONDAY_MORNING,
    caller: str = "13800000000",
) -> Transcript:
    return simulate(flow, list(keys), now=now, caller_number=caller, customers=CUSTOMERS, context=context)


@pytest.mark.parametrize(
    ("keys", "outcome"),
    [
        ("1", Route("sales", 0)),
        ("21", Route("service", 0)),
        ("22", Route("service", 2)),
        ("2*1", Route("sales", 0)),
        ("3010#", Route("roadside", 5)),
        ("4", Route("complaints", 8)),
        ("91", Route("sales", 0)),
        ("0", Route("general", 0)),
    ],
)
def test_given_open_hours_when_caller_presses_a_top_level_key_then_the_matching_queue(
    hotline: Flow, context: FlowContext, keys: str, outcome: Route
) -> None:
    transcript = call(hotline, context, keys)
    assert transcript.outcome == outcome
    assert [key for _, key in transcript.keys] == list(keys)


def test_given_a_make_up_working_saturday_before_weekend_hours_then_the_menu_by_weekday_hours(
    hotline: Flow, context: FlowContext
) -> None:
    assert call(hotline, context, "1", now=MAKE_UP_SATURDAY).outcome == Route("sales", 0)
    ordinary_saturday = MAKE_UP_SATURDAY.replace(day=7)  # weekend hours: opens at 09:00
    assert "closed_menu" in call(hotline, context, "1", now=ordinary_saturday).path


def test_given_a_call_then_the_journey_records_every_node_and_key(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "21")
    assert transcript.path == [
        "identify",
        "opening_hours",
        "welcome",
        "main_menu",
        "service_menu",
        "service_booking",
    ]
    assert transcript.keys == [("main_menu", "2"), ("service_menu", "1")]


def test_given_an_invalid_key_then_the_caller_is_told_and_asked_again(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "71")
    assert any("您的按键无效" in text for text in transcript.heard)
    assert transcript.heard.count(transcript.heard[1]) == 2  # the main menu, played twice
    assert transcript.outcome == Route("sales", 0)


def test_given_no_key_then_two_retries_and_then_an_agent(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "")
    menu = transcript.heard[1]
    assert menu.startswith("销售咨询请按1")
    assert transcript.heard.count(menu) == 3
    assert sum("我们没有收到您的按键" in text for text in transcript.heard) == 2
    assert transcript.outcome == Route("general", 0)


@pytest.mark.parametrize(
    ("keys", "queue"),
    [("1", "sales"), ("2", "service"), ("4", "complaints"), ("0", "general"), ("", "general")],
)
@pytest.mark.parametrize("now", [MONDAY_NIGHT, SATURDAY_EVENING, NATIONAL_DAY, SPRING_FESTIVAL_MONDAY])
def test_given_after_hours_or_a_holiday_then_a_callback_request(
    hotline: Flow, context: FlowContext, keys: str, queue: str, now: datetime
) -> None:
    transcript = call(hotline, context, keys, now=now)
    assert "closed_menu" in transcript.path
    assert "main_menu" not in transcript.path
    assert transcript.outcome == OfferCallback(queue)


def test_given_after_hours_then_roadside_help_still_connects(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "3021#", now=MONDAY_NIGHT)
    assert any("上海浦东道路救援服务站" in text for text in transcript.heard)
    assert transcript.outcome == Route("roadside", 5)


def test_given_a_vip_caller_when_the_call_starts_then_priority_queue_without_menu(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "", caller=VIP_NUMBER)
    assert transcript.path == ["identify", "vip_check", "vip_hours", "vip_queue"]
    assert transcript.outcome == Route("vip", 10)
    assert transcript.state.variables["customer.name"] == "王先生"


def test_given_a_vip_caller_after_hours_then_the_after_hours_menu(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "1", now=MONDAY_NIGHT, caller=VIP_NUMBER)
    assert transcript.outcome == OfferCallback("sales")


def test_given_a_known_regular_customer_then_the_menu(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "4", caller="13900000002")
    assert "main_menu" in transcript.path
    assert transcript.outcome == Route("complaints", 8)


def test_given_an_anonymous_caller_then_no_lookup_and_the_menu(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "1", caller="")
    assert transcript.path[:3] == ["identify", "opening_hours", "welcome"]
    assert transcript.outcome == Route("sales", 0)


def test_given_language_switch_then_prompts_are_english_and_switch_back(
    hotline: Flow, context: FlowContext
) -> None:
    english = call(hotline, context, "9")
    assert english.heard[-1].startswith("We are connecting you to an agent")
    assert english.heard[2].startswith("For sales inquiries, press 1.")
    back = call(hotline, context, "991")
    assert back.heard[-1].startswith("正在为您转接销售顾问")
    assert back.state.language == "zh"


def test_given_after_hours_language_switch_then_english_callback(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "92", now=MONDAY_NIGHT)
    assert transcript.heard[-1].startswith("Thank you. We have recorded your callback request")
    assert transcript.outcome == OfferCallback("service")


def test_given_roadside_area_code_then_station_is_spoken_before_connecting(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "30755")  # 4 digits: complete without the hash key
    station = transcript.heard[-2]
    assert station.startswith("离您最近的道路救援服务站是深圳南山道路救援服务站")
    assert "深圳市南山区深南大道9966号" in station
    assert "0755-26610004" in station
    assert transcript.path[-3:] == ["roadside_area", "roadside_station", "roadside_queue"]
    assert transcript.state.variables["area_code"] == "0755"


def test_given_roadside_in_english_then_station_names_are_english(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "930431#")
    assert "Changchun Auto City Roadside Service Station" in transcript.heard[-2]


def test_given_a_three_digit_area_code_and_a_pause_then_it_counts(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, ["3", "0", "1", "0", "timeout"])
    assert any("北京朝阳" in text for text in transcript.heard)


def test_given_an_invalid_area_code_then_asked_again(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, "3123#028#")
    assert any("这不是有效的区号" in text for text in transcript.heard)
    assert any("成都武侯" in text for text in transcript.heard)


def test_given_an_area_code_without_station_then_connected_anyway(
    hotline: Flow, context: FlowContext
) -> None:
    transcript = call(hotline, context, "30999")
    assert "暂未查到该地区的服务站" in transcript.heard[-2]
    assert transcript.outcome == Route("roadside", 5)


def test_given_no_area_code_at_all_then_connected_to_roadside(hotline: Flow, context: FlowContext) -> None:
    assert call(hotline, context, "3").outcome == Route("roadside", 5)


def test_given_the_caller_hangs_up_in_the_menu_then_the_ivr_ends(hotline: Flow, context: FlowContext) -> None:
    transcript = call(hotline, context, ["hangup"])
    assert transcript.outcome == HangUp("caller")
