"""Properties of the IVR machine over random event sequences, for the hotline and random flows:
it never raises, every call reaches exactly one terminal action within the step cap, and no
single step runs away (the loop guard)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ivr import (
    TERMINAL_ACTIONS,
    Action,
    CallState,
    Digit,
    Event,
    Flow,
    FlowContext,
    HangUp,
    Hangup,
    LookupResult,
    OfferCallback,
    Phase,
    PromptFinished,
    Route,
    Started,
    Timeout,
    load_flow,
    load_stations,
    step,
)
from cti.ivr.model import TERMINAL_NODES
from cti.ivr.source import SourceMap
from cti.ivr.validator import check_flow

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = load_flow(ROOT / "ivr_flows" / "hotline.yaml")
CONTEXT = FlowContext(stations=load_stations(ROOT / "config" / "stations.csv"))
FINISH = "finish"  # stands for "the prompt the machine waits for finishes"
GUARD_REASONS = {"loop", "step_limit", "unknown_node"}

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
events = st.one_of(
    st.sampled_from("0123456789*#").map(Digit),
    st.just(Timeout()),
    st.just(FINISH),
    st.text(max_size=8).map(PromptFinished),
    st.builds(
        LookupResult,
        st.booleans(),
        st.dictionaries(st.sampled_from(["segment", "name"]), st.sampled_from(["vip", "regular", ""])),
    ),
    st.just(Hangup()),
    st.builds(Started, st.text(max_size=4), moments),
)


def cooperative(state: CallState) -> Event:
    """What a patient caller and a working runner send next: prompts end, lookups miss, timers fire."""
    if state.phase is Phase.PLAYING and state.pending_prompt is not None:
        return PromptFinished(state.pending_prompt)
    if state.phase is Phase.LOOKUP:
        return LookupResult(False)
    return Timeout()


def run(flow: Flow, script: list[Any], start: Started, context: FlowContext) -> list[tuple[Action, ...]]:
    """Feed ``start``, the script, then cooperative events, until the IVR ends or the cap is passed."""
    state, outputs = CallState(), []
    queue: list[Any] = [start, *script]
    for _ in range(context.max_steps + 2):
        if state.phase is Phase.DONE:
            break
        event = queue.pop(0) if queue else cooperative(state)
        if event == FINISH:
            event = PromptFinished(state.pending_prompt or "")
        state, actions = step(flow, state, event, context)
        outputs.append(actions)
    assert state.phase is Phase.DONE, "the IVR did not end within the step cap"
    return outputs


def assert_one_terminal_action(outputs: list[tuple[Action, ...]], context: FlowContext) -> Action:
    flat = [action for actions in outputs for action in actions]
    terminals = [action for action in flat if isinstance(action, TERMINAL_ACTIONS)]
    assert len(terminals) == 1
    assert flat[-1] is terminals[0]  # nothing after the end
    assert len(outputs) <= context.max_steps + 1
    assert max(len(actions) for actions in outputs) <= 3 * context.max_unattended + 8
    return terminals[0]


@settings(max_examples=300, deadline=None)
@given(script=st.lists(events, max_size=60), now=moments, caller=st.sampled_from(["", "13800000000"]))
def test_hotline_given_any_events_then_exactly_one_terminal_action_within_the_cap(
    script: list[Any], now: datetime, caller: str
) -> None:
    assert_one_terminal_action(run(HOTLINE, script, Started(caller, now), CONTEXT), CONTEXT)


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.sampled_from([*"0123456789*#", FINISH]), max_size=40), now=moments)
def test_hotline_given_random_keys_then_the_caller_is_always_handed_over(
    keys: list[str], now: datetime
) -> None:
    script = [FINISH if key == FINISH else Digit(key) for key in keys]
    outcome = assert_one_terminal_action(run(HOTLINE, script, Started("13800000000", now), CONTEXT), CONTEXT)
    assert isinstance(outcome, Route | OfferCallback)  # never dropped, never caught by a guard


# --- random small flows, valid or not -----------------------------------------------------------

texts = st.fixed_dictionaries({"zh": st.just("中"), "en": st.just("en")})
say = st.one_of(texts, st.just({"sound": "beep"}), st.just({"zh": "只有中文"}))


def node_strategies(target: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    asks: dict[str, st.SearchStrategy[Any]] = {
        "prompt": say,
        "retries": st.integers(0, 2),
        "default": st.none() | target,
    }
    asks |= {"invalid_prompt": st.none() | say, "timeout_prompt": st.none() | say}
    digits = st.sampled_from([{"min": 1, "max": 1}, {"min": 1, "max": 3}, {"min": 3, "max": 4}])
    validations = st.none() | st.sampled_from(["phone", "plate_digits", "vin_last6", "area_code"])
    options = st.dictionaries(st.sampled_from("0123456789*#"), target)
    cases = st.dictionaries(st.sampled_from(["open", "closed", "zh", "vip", "1"]), target)
    branch_on = st.sampled_from(["business_hours", "language", "segment", "v"])
    terminal = {"prompt": st.none() | say}
    kinds: list[dict[str, st.SearchStrategy[Any]]] = [
        {"type": st.just("prompt"), "prompt": say, "next": target},
        {"type": st.just("menu"), "options": options, **asks},
        {"type": st.just("collect"), "digits": digits, "validate": validations, "next": target, **asks}
        | {"into": st.sampled_from(["v", "area_code"])},
        {"type": st.just("lookup"), "by": st.sampled_from(["caller_number", "v"]), "found": target}
        | {"not_found": target},
        {"type": st.just("branch"), "on": branch_on, "cases": cases, "default": target},
        {"type": st.just("set_language"), "language": st.sampled_from(["zh", "en"]), "next": target},
        {"type": st.just("say_station"), "found": say, "not_found": say, "next": target},
        {"type": st.just("queue"), "queue": st.just("q"), **terminal},
        {"type": st.just("callback"), "queue": st.just("q"), **terminal},
        {"type": st.just("transfer"), "target": st.just("PJSIP/x"), **terminal},
        {"type": st.just("hangup"), **terminal},
    ]
    return st.one_of(*[st.fixed_dictionaries(kind) for kind in kinds])


@st.composite
def small_flows(draw: st.DrawFn) -> Flow:
    ids = [f"n{index}" for index in range(draw(st.integers(1, 6)))]
    target = st.sampled_from([*ids, "missing"])  # dangling references too: the machine must cope
    node = node_strategies(target)
    nodes = {node_id: draw(node) for node_id in ids}
    fallback = draw(st.none() | st.sampled_from(ids))  # maybe not a terminal node
    data = {
        "name": "random",
        "entry": ids[0],
        "languages": ["zh", "en"],
        "nodes": nodes,
        "fallback": fallback,
    }
    return Flow.model_validate(data)


SMALL = FlowContext(max_steps=60, max_unattended=10)


@settings(max_examples=250, deadline=None)
@given(flow=small_flows(), script=st.lists(events, max_size=40), now=moments)
def test_random_flows_given_any_events_then_exactly_one_terminal_action_within_the_cap(
    flow: Flow, script: list[Any], now: datetime
) -> None:
    outputs = run(flow, script, Started("13800000000", now), SMALL)
    outcome = assert_one_terminal_action(outputs, SMALL)
    if isinstance(outcome, HangUp) and outcome.reason in GUARD_REASONS and flow.fallback is not None:
        assert not isinstance(flow.nodes[flow.fallback], TERMINAL_NODES)  # a usable fallback is used


@settings(max_examples=100, deadline=None)
@given(flow=small_flows())
def test_random_flows_given_any_flow_then_the_validator_never_raises(flow: Flow) -> None:
    problems = check_flow(flow, SourceMap("random.yaml"), {"q"})
    assert all(problem.file == "random.yaml" and problem.line >= 1 for problem in problems)
