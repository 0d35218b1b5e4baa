"""The IVR as a pure state machine: ``step(flow, state, event, context) -> (state, actions)``.

No I/O, no clock, no randomness: the runner feeds events and carries out actions (see
``cti.ivr.messages`` for that contract), so every path is tested without Asterisk. The machine
never raises and always ends: any event sequence reaches exactly one terminal action, because
events past ``max_steps`` and node entries past ``max_unattended`` without a key press trip a
guard that hands over to the flow's ``fallback`` node, or hangs up with reason ``loop`` /
``step_limit`` (the runner logs the reason with the call id).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cti.ivr.digits import digits_valid
from cti.ivr.hours import hours_status
from cti.ivr.messages import (
    Action,
    CallState,
    Digit,
    Event,
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
    StopPlayback,
    Timeout,
    Transfer,
)
from cti.ivr.model import (
    BUSINESS_HOURS,
    LANGUAGE,
    TERMINAL_NODES,
    BranchNode,
    CallbackNode,
    CollectNode,
    Flow,
    LookupNode,
    MenuNode,
    Node,
    PromptNode,
    QueueNode,
    Say,
    SayStationNode,
    SetLanguageNode,
    TransferNode,
    branch_variable,
)
from cti.ivr.stations import nearest_station

_DECIMAL = frozenset("0123456789")


class _Run:
    """One step in progress: the state so far and the actions to return."""

    def __init__(self, flow: Flow, context: FlowContext, state: CallState) -> None:
        self.flow = flow
        self.context = context
        self.state = state
        self.actions: list[Action] = []

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def play(self, say: Say, node_id: str, role: str) -> None:
        """Queue a prompt; its id is unique per step, so a stopped playback's late finish never matches."""
        prompt_id = f"{node_id}:{role}:{self.state.steps}"
        text, language = say.spoken(self.state.language, self.flow.default_language)
        self.actions.append(Play(prompt_id, text if say.sound is None else "", language, say.sound))
        self.update(phase=Phase.PLAYING, pending_prompt=prompt_id)

    def finish(self, action: Action) -> None:
        self.actions.append(action)
        self.update(phase=Phase.DONE, pending_prompt=None)

    def guard(self, reason: str) -> None:
        """Hand over to the fallback node's terminal action, or hang up with ``reason``."""
        fallback = self.flow.nodes.get(self.flow.fallback or "")
        if isinstance(fallback, TERMINAL_NODES) and self.flow.fallback is not None:
            self.actions.append(Journey(self.flow.fallback))
            self.finish(_terminal_action(fallback))
        else:
            self.finish(HangUp(reason))


def step(
    flow: Flow, state: CallState, event: Event, context: FlowContext | None = None
) -> tuple[CallState, tuple[Action, ...]]:
    """Handle one event of one call; returns the new state and the actions to carry out, in order."""
    if state.phase is Phase.DONE:
        return state, ()
    run = _Run(flow, context or FlowContext(), replace(state, steps=state.steps + 1))
    if isinstance(event, Hangup):
        run.finish(HangUp("caller"))
    elif run.state.steps > run.context.max_steps:
        run.guard("step_limit")
    elif isinstance(event, Started):
        _start(run, event)
    elif isinstance(event, Resumed):
        _resume(run, event)
    elif run.state.phase is not Phase.NOT_STARTED:
        _dispatch(run, event)
    return run.state, tuple(run.actions)


def _start(run: _Run, event: Started) -> None:
    if run.state.phase is Phase.NOT_STARTED:
        offered = event.language in run.flow.languages
        language = event.language if offered else run.flow.default_language
        run.update(caller_number=event.caller_number, started_at=event.now, language=language)
        _enter(run, run.flow.entry)


def _resume(run: _Run, event: Resumed) -> None:
    if run.state.phase is Phase.NOT_STARTED:
        language = event.language if event.language in run.flow.languages else run.flow.default_language
        run.update(
            caller_number=event.caller_number,
            started_at=event.started_at,
            language=language,
            variables=dict(event.variables),
        )
        _enter(run, event.node)


def _dispatch(run: _Run, event: Event) -> None:
    node = run.flow.nodes.get(run.state.node)
    if node is None:
        run.guard("unknown_node")
    elif isinstance(event, Digit):
        run.actions.append(Journey(run.state.node, event.digit))
        run.update(unattended=0)
        _on_digit(run, node, event.digit)
    elif isinstance(event, PromptFinished):
        if run.state.phase is Phase.PLAYING and event.prompt_id == run.state.pending_prompt:
            _after_prompt(run, node)
    elif isinstance(event, Timeout):
        if run.state.phase is Phase.WAITING and isinstance(node, MenuNode | CollectNode):
            _on_timeout(run, node)
    elif isinstance(event, LookupResult) and run.state.phase is Phase.LOOKUP and isinstance(node, LookupNode):
        fields = {f"{node.into}.{key}": str(value) for key, value in event.fields.items()}
        run.update(variables={**run.state.variables, **fields})
        _enter(run, node.found if event.found else node.not_found)


# --- entering nodes ----------------------------------------------------------------------------


def _enter(run: _Run, node_id: str) -> None:
    unattended = run.state.unattended + 1
    node = run.flow.nodes.get(node_id)
    if unattended > run.context.max_unattended:
        run.guard("loop")
    elif node is None:
        run.guard("unknown_node")
    else:
        run.update(node=node_id, unattended=unattended, retries=0, digits="", pending_prompt=None)
        run.actions.append(Journey(node_id))
        _enter_node(run, node_id, node)


def _enter_node(run: _Run, node_id: str, node: Node) -> None:
    if isinstance(node, PromptNode | MenuNode | CollectNode):
        run.play(node.prompt, node_id, "prompt")
    elif isinstance(node, LookupNode):
        value = (
            run.state.caller_number if node.by == "caller_number" else run.state.variables.get(node.by, "")
        )
        if value:
            run.actions.append(Lookup(node.by, value))
            run.update(phase=Phase.LOOKUP)
        else:
            _enter(run, node.not_found)  # anonymous caller or nothing collected: nothing to find
    elif isinstance(node, BranchNode):
        _enter(run, _branch_target(run, node))
    elif isinstance(node, SetLanguageNode):
        if node.language in run.flow.languages:
            run.update(language=node.language)
        _enter(run, node.next)
    elif isinstance(node, SayStationNode):
        _say_station(run, node_id, node)
    elif node.prompt is not None:
        run.play(node.prompt, node_id, "prompt")
    else:
        run.finish(_terminal_action(node))


def _branch_target(run: _Run, node: BranchNode) -> str:
    if node.on == BUSINESS_HOURS:
        started = run.state.started_at
        status = hours_status(run.flow, started, run.context.calendar(run.flow)) if started else "open"
        # A holiday is a closed day unless the flow says what to do on holidays.
        candidates = [status, "closed"] if status == "holiday" else [status]
    elif node.on == LANGUAGE:
        candidates = [run.state.language]
    else:
        candidates = [run.state.variables.get(branch_variable(node.on), "")]
    return next((node.cases[value] for value in candidates if value in node.cases), node.default)


def _say_station(run: _Run, node_id: str, node: SayStationNode) -> None:
    station = nearest_station(run.context.stations, run.state.variables.get(node.area_code_var, ""))
    if station is None:
        run.play(node.not_found, node_id, "not_found")
        return
    run.play(node.found, node_id, "found")
    played = run.actions[-1]
    if isinstance(played, Play) and played.sound is None:
        text = _fill(played.text, station.placeholders(played.language))
        run.actions[-1] = replace(played, text=text)


def _fill(template: str, values: Mapping[str, str]) -> str:
    """The template with its fields filled; a malformed one is spoken as written, never raises."""
    try:
        return string.Formatter().vformat(template, (), {**values})
    except (ValueError, KeyError, IndexError, AttributeError):
        return template


def _terminal_action(node: Node) -> Action:
    if isinstance(node, QueueNode):
        return Route(node.queue, node.priority)
    if isinstance(node, CallbackNode):
        return OfferCallback(node.queue)
    if isinstance(node, TransferNode):
        return Transfer(node.target)
    return HangUp("hangup")


# --- events at a node --------------------------------------------------------------------------


def _after_prompt(run: _Run, node: Node) -> None:
    if isinstance(node, PromptNode | SayStationNode):
        _enter(run, node.next)
    elif isinstance(node, MenuNode | CollectNode):
        run.actions.append(StartTimer(node.timeout_s))
        run.update(phase=Phase.WAITING, pending_prompt=None)
    elif isinstance(node, TERMINAL_NODES):
        run.finish(_terminal_action(node))


def _on_digit(run: _Run, node: Node, digit: str) -> None:
    if not isinstance(node, MenuNode | CollectNode) or run.state.phase not in (Phase.PLAYING, Phase.WAITING):
        return  # keys only count where the caller is asked for them
    if run.state.phase is Phase.PLAYING:
        run.actions.append(StopPlayback())  # barge-in: the key cuts the prompt short and counts
        run.update(phase=Phase.WAITING, pending_prompt=None)
    if isinstance(node, MenuNode):
        if digit in node.options:
            _enter(run, node.options[digit])
        else:
            _retry(run, node, node.invalid_prompt, "invalid")
    elif digit == node.terminator:
        _complete(run, node)
    else:
        run.update(digits=run.state.digits + digit)
        if len(run.state.digits) >= node.digits.max:
            _complete(run, node)
        else:
            run.actions.append(StartTimer(node.timeout_s))  # inter-digit timeout


def _on_timeout(run: _Run, node: MenuNode | CollectNode) -> None:
    if isinstance(node, CollectNode) and run.state.digits:
        _complete(run, node)  # a pause after some digits ends the entry, as Asterisk's Read() does
    else:
        _retry(run, node, node.timeout_prompt, "timeout")


def _complete(run: _Run, node: CollectNode) -> None:
    digits = run.state.digits
    if (
        node.digits.min <= len(digits) <= node.digits.max
        and set(digits) <= _DECIMAL
        and digits_valid(node.validate_as, digits)
    ):
        run.update(variables={**run.state.variables, node.into: digits})
        _enter(run, node.next)
    else:
        _retry(run, node, node.invalid_prompt, "invalid")


def _retry(run: _Run, node: MenuNode | CollectNode, why: Say | None, role: str) -> None:
    """Ask again after an invalid entry or a timeout; when retries run out, go to ``default``."""
    retries = run.state.retries + 1
    if retries > node.retries:
        if node.default is not None:
            _enter(run, node.default)
        else:
            run.finish(HangUp("no_input"))
        return
    run.update(retries=retries, digits="")
    node_id = run.state.node
    if why is not None:
        run.play(why, node_id, role)
    run.play(node.prompt, node_id, "prompt")
