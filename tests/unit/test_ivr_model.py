"""Flow model field rules, the station data, and how problems read."""

from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cti.ivr import Flow, FlowError, Problem, Say, Station, load_stations, nearest_station
from cti.ivr.hours import hours_status
from cti.ivr.model import CollectNode, MenuNode, OpenHours

ROOT = Path(__file__).resolve().parents[2]
HEADER = "area_code,city,city_en,name,name_en,address,address_en,phone\n"


def test_given_language_texts_then_a_say_holds_them_and_a_sound_alone_is_enough() -> None:
    assert Say.model_validate({"zh": "你好", "en": "Hello"}).text == {"zh": "你好", "en": "Hello"}
    assert Say.model_validate({"sound": "custom/welcome"}).sound == "custom/welcome"


def test_given_an_empty_prompt_then_it_is_refused() -> None:
    with pytest.raises(ValidationError, match="a prompt needs text per language or a sound"):
        Say.model_validate({"text": {}})


def test_given_yaml_int_menu_keys_then_they_become_dtmf_text() -> None:
    menu = MenuNode.model_validate(
        {"type": "menu", "prompt": {"zh": "请选择"}, "options": {1: "a", "#": "b"}}
    )
    assert dict(menu.options) == {"1": "a", "#": "b"}


@pytest.mark.parametrize(("terminator", "ok"), [("#", True), ("*", True), ("5", False), ("x", False)])
def test_a_collect_terminator_is_hash_or_star(terminator: str, ok: bool) -> None:
    node: dict[str, Any] = {"type": "collect", "prompt": {"zh": "请输入"}, "into": "v", "next": "n"}
    if ok:
        assert CollectNode.model_validate({**node, "terminator": terminator}).terminator == terminator
    else:
        with pytest.raises(ValidationError, match="terminator"):
            CollectNode.model_validate({**node, "terminator": terminator})


def test_given_min_above_max_digits_then_refused() -> None:
    node = {
        "type": "collect",
        "prompt": {"zh": "请输入"},
        "into": "v",
        "next": "n",
        "digits": {"min": 4, "max": 3},
    }
    with pytest.raises(ValidationError, match="min 4 is above max 3"):
        CollectNode.model_validate(node)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("08:30-20:00", time(8, 30), time(20, 0)), ("00:00 - 24:00", time(0, 0), time.max)],
)
def test_opening_hours_are_written_as_a_range(text: str, start: time, end: time) -> None:
    hours = OpenHours.model_validate(text)
    assert (hours.start, hours.end) == (start, end)


@pytest.mark.parametrize("text", ["20:00-08:00", "8-20", "08:30"])
def test_opening_hours_that_are_not_a_forward_range_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        OpenHours.model_validate(text)


def test_a_24_hour_day_is_open_at_midnight_and_at_the_last_second() -> None:
    flow = Flow.model_validate(
        {
            "name": "allday",
            "entry": "end",
            "languages": ["zh"],
            "business_hours": {"mon": ["00:00-24:00"]},
            "nodes": {"end": {"type": "hangup"}},
        }
    )
    shanghai = ZoneInfo("Asia/Shanghai")
    assert hours_status(flow, datetime(2026, 11, 23, 0, 0, tzinfo=shanghai), None) == "open"
    assert hours_status(flow, datetime(2026, 11, 23, 23, 59, 59, tzinfo=shanghai), None) == "open"
    assert hours_status(flow, datetime(2026, 11, 24, 0, 0, tzinfo=shanghai), None) == "closed"


def test_given_an_unknown_timezone_then_the_flow_is_refused() -> None:
    data = {"name": "x", "entry": "e", "languages": ["zh"], "timezone": "Mars/Olympus", "nodes": {}}
    with pytest.raises(ValidationError, match="unknown timezone"):
        Flow.model_validate(data)


def test_a_problem_reads_file_line_node_and_message() -> None:
    assert str(Problem("hotline.yaml", 12, "main_menu", "invalid menu key 'A'")) == (
        "hotline.yaml:12: node main_menu: invalid menu key 'A'"
    )
    assert str(Problem("hotline.yaml", 2, None, "entry node 'x' does not exist")) == (
        "hotline.yaml:2: entry node 'x' does not exist"
    )
    assert str(Problem("gone.yaml", 0, None, "cannot read the flow")) == "gone.yaml: cannot read the flow"


def test_the_shipped_stations_cover_a_dozen_area_codes() -> None:
    stations = load_stations(ROOT / "config" / "stations.csv")
    assert {"010", "021", "020", "0755", "0431", "028"} <= set(stations)
    assert len(stations) >= 12
    assert all(s.name and s.name_en and s.address and s.phone for s in stations.values())


def test_nearest_station_accepts_the_code_with_or_without_trunk_zero() -> None:
    station = Station(
        "0755", "深圳", "Shenzhen", "南山站", "Nanshan", "深南大道1号", "1 Shennan Ave", "0755-1"
    )
    stations = {"0755": station}
    assert nearest_station(stations, "0755") is station
    assert nearest_station(stations, "755") is station
    assert nearest_station(stations, "0999") is None
    assert station.placeholders("en")["name"] == "Nanshan"
    assert station.placeholders("zh")["name"] == "南山站"


def test_given_station_data_without_a_column_then_flow_error(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text("area_code,city\n010,北京\n", encoding="utf-8")
    with pytest.raises(FlowError, match="missing columns"):
        load_stations(path)


def test_given_an_area_code_listed_twice_then_flow_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    row = "010,北京,Beijing,站,Station,路,Road,010-1\n"
    path.write_text(HEADER + row + row, encoding="utf-8")
    with pytest.raises(FlowError, match=r"stations.csv:3: area code 010 listed twice"):
        load_stations(path)
