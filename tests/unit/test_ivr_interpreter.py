"""The IVR state machine, node kind by node kind, on tiny flows: events in, actions out."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cti.ivr import (
    Action,
    CallState,
    Digit,
    Event,
    Flow,
    FlowContext,
    HangUp,
    Hangup,
    Journey,
    Lookup,
    LookupResult,
    OfferCallback,
    Phase,
    Play,
    PromptFinished,
    Resumed,
    Route,
    Started,
    StartTimer,
    Station,
    StopPlayback,
    Timeout,
    Transfer,
    step,
)
from cti.ivr.digits import digits_valid
from cti.ivr.model import Validation

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday morning
BEIJING = Station(
    "010", "北京", "Beijing", "北京站", "Beijing Station", "朝阳路1号", "1 Chaoyang Road", "010-1"
)


def say(tag: str) -> dict[str, str]:
    return {"zh": f"{tag}-zh", "en": f"{tag}-en"}


def make_flow(nodes: dict[str, Any], **extra: Any) -> Flow:
    return Flow.model_validate(
        {"name": "t", "entry": next(iter(nodes)), "languages": ["zh", "en"], "nodes": nodes, **extra}
    )


def queue(name: str = "q", **extra: Any) -> dict[str, Any]:
    return {"type": "queue", "queue": name, **extra}


class Call:
    """One call through a flow, keeping the state between events."""

    def __init__(self, flow: Flow, context: FlowContext | None = None) -> None:
        self.flow = flow
        self.context = context or FlowContext(stations={"010": BEIJING})
        self.state = CallState()

    def send(self, event: Event) -> tuple[Action, ...]:
        self.state, actions = step(self.flow, self.state, event, self.context)
        return actions

    def start(self, caller: str = "13800000000", now: datetime = NOW) -> tuple[Action, ...]:
        return self.send(Started(caller, now))

    def finish_prompt(self) -> tuple[Action, ...]:
        assert self.state.pending_prompt is not None
        return self.send(PromptFinished(self.state.pending_prompt))

    def keys(self, keys: str) -> list[Action]:
        return [action for key in keys for action in self.send(Digit(key))]


def plays(actions: tuple[Action, ...] | list[Action]) -> list[str]:
    return [a.text or str(a.sound) for a in actions if isinstance(a, Play)]


# --- prompt ------------------------------------------------------------------------------------


def test_given_a_prompt_node_then_it_plays_in_the_default_language_and_moves_on_when_finished() -> None:
    call = Call(
        make_flow({"hello": {"type": "prompt", "prompt": say("hello"), "next": "end"}, "end": queue()})
    )
    actions = call.start()
    assert actions == (Journey("hello"), Play(call.state.pending_prompt or "", "hello-zh", "zh"))
    assert call.send(PromptFinished("hello:prompt:0")) == ()  # a stale or foreign prompt id
    assert call.finish_prompt() == (Journey("end"), Route("q", 0))


def test_given_a_sound_prompt_then_the_recording_is_played() -> None:
    call = Call(
        make_flow(
            {"hello": {"type": "prompt", "prompt": {"sound": "welcome"}, "next": "end"}, "end": queue()}
        )
    )
    (_, played) = call.start()
    assert isinstance(played, Play)
    assert (played.sound, played.text) == ("welcome", "")


def test_given_keys_during_a_plain_prompt_then_recorded_but_ignored() -> None:
    call = Call(
        make_flow({"hello": {"type": "prompt", "prompt": say("hello"), "next": "end"}, "end": queue()})
    )
    call.start()
    assert call.keys("5") == [Journey("hello", "5")]
    assert call.state.phase is Phase.PLAYING


# --- menu --------------------------------------------------------------------------------------

MENU = {
    "type": "menu",
    "prompt": say("menu"),
    "options": {1: "sales", 2: "service"},
    "timeout_s": 4,
    "retries": 1,
    "invalid_prompt": say("invalid"),
    "timeout_prompt": say("timeout"),
    "default": "agent",
}
MENU_NODES = {"menu": MENU, "sales": queue("sales"), "service": queue("service"), "agent": queue("agent")}


def test_given_a_menu_when_the_prompt_ends_then_the_timer_starts() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    assert call.send(Timeout()) == ()  # no timer runs while the prompt plays
    assert call.finish_prompt() == (StartTimer(4.0),)
    assert call.keys("2") == [Journey("menu", "2"), Journey("service"), Route("service", 0)]


def test_given_a_key_during_the_menu_prompt_then_playback_stops_and_the_key_counts() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    assert call.keys("1") == [Journey("menu", "1"), StopPlayback(), Journey("sales"), Route("sales", 0)]


def test_given_an_invalid_key_then_invalid_prompt_and_menu_again_then_default() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    actions = call.keys("7")
    assert plays(actions) == ["invalid-zh", "menu-zh"]
    assert call.state.retries == 1
    call.finish_prompt()
    assert call.keys("8")[-2:] == [Journey("agent"), Route("agent", 0)]  # retries: 1 ran out


def test_given_timeouts_then_timeout_prompt_then_default() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    call.finish_prompt()
    assert plays(call.send(Timeout())) == ["timeout-zh", "menu-zh"]
    call.finish_prompt()
    assert call.send(Timeout()) == (Journey("agent"), Route("agent", 0))


def test_given_a_menu_without_default_when_retries_run_out_then_hang_up_no_input() -> None:
    call = Call(
        make_flow({"menu": {**MENU, "default": None, "retries": 0}, **{"sales": queue(), "service": queue()}})
    )
    call.start()
    call.finish_prompt()
    assert call.send(Timeout()) == (HangUp("no_input"),)


def test_given_a_stale_finish_of_a_stopped_prompt_then_it_does_not_start_the_timer() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    first_prompt = call.state.pending_prompt or ""
    call.keys("7")  # barge-in: the first playback is stopped, Asterisk still reports it finished
    assert call.send(PromptFinished(first_prompt)) == ()
    assert call.state.phase is Phase.PLAYING


# --- collect -----------------------------------------------------------------------------------


def collect_flow(**extra: Any) -> Flow:
    node: dict[str, Any] = {"type": "collect", "prompt": say("enter"), "digits": {"min": 3, "max": 4}}
    node["into"] = "code"
    node |= {"next": "done", "invalid_prompt": say("bad"), "retries": 1, "timeout_s": 3, **extra}
    return make_flow({"ask": node, "done": queue("done"), "fallback": queue("fallback")})


def test_given_collect_when_max_digits_are_keyed_then_stored_and_next() -> None:
    call = Call(collect_flow())
    call.start()
    actions = call.keys("1234")
    assert actions[:3] == [Journey("ask", "1"), StopPlayback(), StartTimer(3.0)]
    assert actions[-2:] == [Journey("done"), Route("done", 0)]
    assert call.state.variables == {"code": "1234"}


def test_given_collect_when_the_terminator_is_pressed_then_the_entry_ends() -> None:
    call = Call(collect_flow())
    call.start()
    assert call.keys("123#")[-1] == Route("done", 0)
    assert call.state.variables["code"] == "123"


def test_given_collect_when_the_caller_pauses_after_some_digits_then_the_entry_ends() -> None:
    call = Call(collect_flow())
    call.start()
    call.keys("123")
    assert call.send(Timeout())[-1] == Route("done", 0)


def test_given_too_few_digits_then_invalid_and_asked_again_then_default() -> None:
    call = Call(collect_flow(default="fallback"))
    call.start()
    assert plays(call.keys("12#")) == ["bad-zh", "enter-zh"]
    assert call.state.digits == ""
    assert call.keys("9#")[-1] == Route("fallback", 0)


@pytest.mark.parametrize(
    ("kind", "digits", "valid"),
    [
        (Validation.PHONE, "13812345678", True),
        (Validation.PHONE, "01065880001", True),
        (Validation.PHONE, "12812345678", False),
        (Validation.PHONE, "1381234567", False),
        (Validation.PLATE_DIGITS, "12345", True),
        (Validation.PLATE_DIGITS, "12", False),
        (Validation.VIN_LAST6, "123456", True),
        (Validation.VIN_LAST6, "12345", False),
        (Validation.AREA_CODE, "010", True),
        (Validation.AREA_CODE, "0755", True),
        (Validation.AREA_CODE, "021", True),
        (Validation.AREA_CODE, "0123", False),
        (Validation.AREA_CODE, "755", False),
        (None, "42", True),
    ],
)
def test_digit_validations(kind: Validation | None, digits: str, valid: bool) -> None:
    assert digits_valid(kind, digits) is valid


def test_given_collect_with_phone_validation_then_a_wrong_number_is_refused() -> None:
    node = {"type": "collect", "prompt": say("phone"), "digits": {"min": 11, "max": 11}, "validate": "phone"}
    flow = make_flow({"ask": {**node, "into": "phone", "next": "done", "retries": 0}, "done": queue()})
    call = Call(flow)
    call.start()
    assert call.keys("12345678901")[-1] == HangUp("no_input")
    call = Call(flow)
    call.start()
    assert call.keys("13812345678")[-1] == Route("q", 0)


def test_given_a_star_in_digits_then_the_entry_is_invalid() -> None:
    call = Call(collect_flow(default="fallback", retries=0))
    call.start()
    assert call.keys("1*3#")[-1] == Route("fallback", 0)


# --- lookup, branch, set_language ----------------------------------------------------------------

LOOKUP_NODES = {
    "find": {"type": "lookup", "found": "known", "not_found": "unknown"},
    "known": queue("known"),
    "unknown": queue("unknown"),
}


def test_given_a_lookup_then_fields_land_in_prefixed_variables() -> None:
    call = Call(make_flow(LOOKUP_NODES))
    assert call.start() == (Journey("find"), Lookup("caller_number", "13800000000"))
    assert call.send(LookupResult(True, {"segment": "vip"}))[-1] == Route("known", 0)
    assert call.state.variables == {"customer.segment": "vip"}


def test_given_a_lookup_miss_then_not_found() -> None:
    call = Call(make_flow(LOOKUP_NODES))
    call.start()
    assert call.send(LookupResult(False))[-1] == Route("unknown", 0)


def test_given_an_anonymous_caller_then_no_lookup_is_asked() -> None:
    call = Call(make_flow(LOOKUP_NODES))
    assert call.start(caller="") == (Journey("find"), Journey("unknown"), Route("unknown", 0))


def test_given_a_lookup_by_a_collected_variable_then_its_value_is_looked_up() -> None:
    ask = {
        "type": "collect",
        "prompt": say("vin"),
        "digits": {"min": 6, "max": 6},
        "into": "vin",
        "next": "find",
    }
    call = Call(make_flow({"ask": ask, **LOOKUP_NODES, "find": {**LOOKUP_NODES["find"], "by": "vin"}}))
    call.start()
    assert call.keys("123456")[-1] == Lookup("vin", "123456")


@pytest.mark.parametrize(
    ("now", "target"),
    [
        (datetime(2026, 11, 23, 8, 29, tzinfo=ZoneInfo("Asia/Shanghai")), "closed"),
        (datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai")), "open"),
        (datetime(2026, 11, 23, 11, 59, tzinfo=ZoneInfo("UTC")), "open"),  # 19:59 in Shanghai
        (datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("UTC")), "closed"),  # 20:00 in Shanghai
        (datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), "closed"),  # a Sunday
        (datetime(2026, 10, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), "holiday"),
    ],
)
def test_given_business_hours_then_branch_on_open_closed_holiday(now: datetime, target: str) -> None:
    cases = {"open": "open", "closed": "closed", "holiday": "holiday"}
    nodes = {"hours": {"type": "branch", "on": "business_hours", "cases": cases, "default": "open"}}
    flow = make_flow(
        {**nodes, "open": queue("open"), "closed": queue("closed"), "holiday": queue("holiday")},
        business_hours={day: ["08:30-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=["2026-10-01"],
    )
    assert Call(flow).start(now=now)[-1] == Route(target, 0)


def test_given_a_holiday_without_a_holiday_case_then_the_closed_case() -> None:
    branch = {"type": "branch", "on": "business_hours", "cases": {"open": "a", "closed": "b"}, "default": "a"}
    flow = make_flow({"hours": branch, "a": queue("a"), "b": queue("b")}, holidays=["2026-11-23"])
    assert Call(flow).start()[-1] == Route("b", 0)


def test_given_a_branch_on_a_variable_then_its_case_or_the_default() -> None:
    branch = {"type": "branch", "on": "customer.tier", "cases": {"gold": "gold"}, "default": "other"}
    flow = make_flow({**LOOKUP_NODES, "known": branch, "gold": queue("gold"), "other": queue("other")})
    call = Call(flow)
    call.start()
    assert call.send(LookupResult(True, {"tier": "gold"}))[-1] == Route("gold", 0)
    call = Call(flow)
    call.start()
    assert call.send(LookupResult(True, {"tier": "tin"}))[-1] == Route("other", 0)


def test_given_a_branch_on_segment_then_it_reads_the_customer_segment() -> None:
    branch = {"type": "branch", "on": "segment", "cases": {"vip": "vip"}, "default": "other"}
    call = Call(make_flow({**LOOKUP_NODES, "known": branch, "vip": queue("vip"), "other": queue("other")}))
    call.start()
    assert call.send(LookupResult(True, {"segment": "vip"}))[-1] == Route("vip", 0)


def test_given_set_language_then_later_prompts_use_it() -> None:
    nodes: dict[str, Any] = {"lang": {"type": "set_language", "language": "en", "next": "hello"}}
    nodes["hello"] = {"type": "prompt", "prompt": say("hello"), "next": "end"}
    call = Call(make_flow({**nodes, "end": queue()}))
    assert plays(call.start()) == ["hello-en"]
    assert call.state.language == "en"


@pytest.mark.parametrize(("language", "spoken"), [("en", "hello-en"), ("fr", "hello-zh"), ("", "hello-zh")])
def test_given_a_start_language_then_used_when_the_flow_offers_it(language: str, spoken: str) -> None:
    call = Call(
        make_flow({"hello": {"type": "prompt", "prompt": say("hello"), "next": "end"}, "end": queue()})
    )
    assert plays(call.send(Started("13800000000", NOW, language))) == [spoken]


def test_given_a_prompt_without_the_calls_language_then_the_default_language_is_spoken() -> None:
    nodes: dict[str, Any] = {"lang": {"type": "set_language", "language": "en", "next": "hello"}}
    nodes["hello"] = {"type": "prompt", "prompt": {"zh": "只有中文"}, "next": "end"}
    played = [a for a in Call(make_flow({**nodes, "end": queue()})).start() if isinstance(a, Play)]
    assert (played[0].text, played[0].language) == ("只有中文", "zh")


# --- say_station -------------------------------------------------------------------------------


def station_call(code: str, language: str = "zh") -> Call:
    found = {"zh": "最近的是{name} 电话{phone}", "en": "Nearest: {name}, {city}"}
    nodes: dict[str, Any] = {
        "lang": {"type": "set_language", "language": language, "next": "ask"},
        "ask": {
            "type": "collect",
            "prompt": say("code"),
            "digits": {"min": 2, "max": 4},
            "into": "area_code",
        },
        "station": {"type": "say_station", "found": found, "not_found": say("none"), "next": "end"},
        "end": queue("roadside"),
    }
    nodes["ask"] |= {"next": "station"}
    call = Call(make_flow(nodes))
    call.start()
    call.keys(code + "#")
    return call


def test_given_a_known_area_code_then_the_station_is_spoken_then_next() -> None:
    call = station_call("010")
    assert call.state.pending_prompt is not None
    assert call.state.pending_prompt.startswith("station:found")
    assert call.finish_prompt()[-1] == Route("roadside", 0)


@pytest.mark.parametrize(
    ("code", "language", "spoken"),
    [
        ("010", "zh", "最近的是北京站 电话010-1"),
        ("10", "zh", "最近的是北京站 电话010-1"),  # keyed without the trunk 0
        ("010", "en", "Nearest: Beijing Station, Beijing"),
        ("0999", "zh", "none-zh"),
        ("0999", "en", "none-en"),
    ],
)
def test_station_texts(code: str, language: str, spoken: str) -> None:
    call = Call(station_call(code, language).flow)
    call.start()
    assert plays(call.keys(code + "#"))[-1] == spoken


# --- terminal nodes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "action"),
    [
        (queue("complaints", priority=8), Route("complaints", 8)),
        ({"type": "callback", "queue": "sales"}, OfferCallback("sales")),
        ({"type": "transfer", "target": "PJSIP/insurer"}, Transfer("PJSIP/insurer")),
        ({"type": "hangup"}, HangUp("hangup")),
    ],
)
def test_given_a_terminal_node_without_prompt_then_its_action_at_once(
    node: dict[str, Any], action: Action
) -> None:
    call = Call(make_flow({"end": node}))
    assert call.start() == (Journey("end"), action)
    assert call.state.phase is Phase.DONE


@pytest.mark.parametrize(
    ("node", "action"),
    [
        (queue("sales"), Route("sales", 0)),
        ({"type": "callback", "queue": "sales"}, OfferCallback("sales")),
        ({"type": "transfer", "target": "95511"}, Transfer("95511")),
        ({"type": "hangup"}, HangUp("hangup")),
    ],
)
def test_given_a_terminal_node_with_prompt_then_its_action_after_the_prompt(
    node: dict[str, Any], action: Action
) -> None:
    call = Call(make_flow({"end": {**node, "prompt": say("bye")}}))
    assert plays(call.start()) == ["bye-zh"]
    assert call.keys("1") == [Journey("end", "1")]
    assert call.finish_prompt() == (action,)


def test_given_the_ivr_ended_then_later_events_do_nothing() -> None:
    call = Call(make_flow({"end": queue()}))
    call.start()
    for event in (Digit("1"), Timeout(), Hangup(), Started("1", NOW), LookupResult(True)):
        assert call.send(event) == ()


# --- the caller, the guards ---------------------------------------------------------------------


def test_given_the_caller_hangs_up_at_any_point_then_hang_up_caller() -> None:
    call = Call(make_flow(MENU_NODES))
    call.start()
    assert call.send(Hangup()) == (HangUp("caller"),)
    assert Call(make_flow(MENU_NODES)).send(Hangup()) == (HangUp("caller"),)


def test_given_events_before_start_then_ignored_and_a_second_start_too() -> None:
    call = Call(make_flow(MENU_NODES))
    assert call.send(Digit("1")) == ()
    assert call.send(Timeout()) == ()
    call.start()
    assert call.start() == ()


def test_given_prompts_looping_without_input_then_the_loop_guard_hangs_up() -> None:
    nodes = {
        "a": {"type": "prompt", "prompt": say("a"), "next": "b"},
        "b": {"type": "prompt", "prompt": say("b"), "next": "a"},
    }
    call = Call(make_flow(nodes), FlowContext(max_unattended=5))
    actions = list(call.start())
    while call.state.phase is not Phase.DONE:
        actions += call.finish_prompt()
    assert actions[-1] == HangUp("loop")
    assert sum(isinstance(a, Journey) for a in actions) == 5


def test_given_an_immediate_branch_loop_then_the_guard_stops_it_within_one_step() -> None:
    nodes = {
        "a": {"type": "branch", "on": "x", "default": "b"},
        "b": {"type": "set_language", "language": "en"},
    }
    nodes["b"] |= {"next": "a"}
    assert Call(make_flow(nodes)).start()[-1] == HangUp("loop")


def test_given_a_fallback_when_the_guard_trips_then_the_fallback_takes_the_call() -> None:
    nodes = {"a": {"type": "branch", "on": "x", "default": "a"}, "agent": queue("general")}
    actions = Call(make_flow(nodes, fallback="agent")).start()
    assert actions[-2:] == (Journey("agent"), Route("general", 0))


def test_given_endless_key_presses_then_the_step_cap_ends_the_call() -> None:
    menu = {**MENU, "options": {1: "menu"}, "default": None}
    call = Call(make_flow({"menu": menu}), FlowContext(max_steps=50))
    call.start()
    presses = 0
    while call.state.phase is not Phase.DONE:
        actions = call.send(Digit("1"))
        presses += 1
    assert actions[-1] == HangUp("step_limit")
    assert presses == 50


def test_given_an_unvalidated_flow_with_a_dangling_reference_then_hang_up_unknown_node() -> None:
    call = Call(make_flow({"hello": {"type": "prompt", "prompt": say("x"), "next": "nowhere"}}))
    call.start()
    assert call.finish_prompt() == (HangUp("unknown_node"),)


# --- resumed after a restart ---------------------------------------------------------------------


def test_given_a_resumed_call_then_its_node_starts_again_with_the_language_and_values_it_had() -> None:
    flow = make_flow(
        {
            "hello": {"type": "prompt", "prompt": say("hello"), "next": "menu"},
            "menu": {"type": "menu", "prompt": say("menu"), "options": {"1": "end"}},
            "end": queue(),
        }
    )
    call = Call(flow)
    actions = call.send(Resumed("menu", "13800000000", "en", NOW, {"area": "010"}))
    assert actions[0] == Journey("menu")
    assert plays(actions) == ["menu-en"]  # not the welcome again: the caller heard it
    assert call.state.variables == {"area": "010"}
    assert call.state.started_at == NOW
    call.finish_prompt()
    assert call.keys("1")[-1] == Route("q", 0)  # and the menu works as before


def test_given_a_resume_at_a_node_the_flow_no_longer_has_then_the_fallback_takes_the_call() -> None:
    flow = make_flow(
        {"hello": {"type": "prompt", "prompt": say("hello"), "next": "agent"}, "agent": queue("general")},
        fallback="agent",
    )
    actions = Call(flow).send(Resumed("gone", "13800000000", "xx", None))
    assert actions == (Journey("agent"), Route("general", 0))


def test_given_a_resume_of_a_call_already_running_then_nothing_happens() -> None:
    call = Call(
        make_flow({"hello": {"type": "prompt", "prompt": say("hello"), "next": "end"}, "end": queue()})
    )
    call.start()
    assert call.send(Resumed("end", "13800000000", "zh", NOW)) == ()
