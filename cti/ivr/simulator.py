"""A simulated caller for a flow: what ``cti flows simulate`` prints and what tests drive. Pure.

The caller listens to every prompt to its end, then presses the next key of ``keys`` when a
menu or a digit collection waits for one, and lets the timer run out once the keys are used
up. ``"timeout"`` in ``keys`` waits one timeout instead of pressing; ``"hangup"`` hangs up.
Customer lookups answer from ``customers`` (lookup value -> fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cti.ivr.interpreter import step
from cti.ivr.messages import (
    TERMINAL_ACTIONS,
    Action,
    CallState,
    Digit,
    Event,
    FlowContext,
    Hangup,
    Journey,
    Lookup,
    LookupResult,
    Phase,
    Play,
    PromptFinished,
    Started,
    Timeout,
)
from cti.ivr.model import Flow

TIMEOUT = "timeout"
HANGUP = "hangup"


@dataclass(frozen=True)
class Transcript:
    """Everything the machine did for one simulated call, in order."""

    actions: tuple[Action, ...]
    state: CallState
    events: tuple[Event, ...] = field(default=())

    @property
    def path(self) -> list[str]:
        """Node ids in the order the call entered them."""
        return [a.node_id for a in self.actions if isinstance(a, Journey) and a.key is None]

    @property
    def keys(self) -> list[tuple[str, str]]:
        """(node id, key) of every key pressed."""
        return [(a.node_id, a.key) for a in self.actions if isinstance(a, Journey) and a.key is not None]

    @property
    def heard(self) -> list[str]:
        """Prompt texts (or sound names) the caller heard, in order."""
        return [a.text or f"<sound {a.sound}>" for a in self.actions if isinstance(a, Play)]

    @property
    def outcome(self) -> Action | None:
        """The terminal action that ended the IVR, if one did."""
        return next((a for a in reversed(self.actions) if isinstance(a, TERMINAL_ACTIONS)), None)


def _next_event(state: CallState, keys: list[str], customer: Mapping[str, str] | None) -> Event:
    if state.phase is Phase.LOOKUP:
        return LookupResult(customer is not None, customer or {})
    if state.phase is Phase.PLAYING and state.pending_prompt is not None:
        return PromptFinished(state.pending_prompt)
    if state.phase is Phase.WAITING and keys:
        key = keys.pop(0)
        return Hangup() if key == HANGUP else Timeout() if key == TIMEOUT else Digit(key)
    return Timeout()


def simulate(
    flow: Flow,
    keys: Sequence[str],
    *,
    now: datetime,
    caller_number: str = "",
    customers: Mapping[str, Mapping[str, str]] | None = None,
    context: FlowContext | None = None,
) -> Transcript:
    """Run one call through ``flow`` until its IVR ends (the machine's caps bound the loop)."""
    remaining = list(keys)
    event: Event = Started(caller_number, now)
    state, actions, events = CallState(), list[Action](), list[Event]()
    customer: Mapping[str, str] | None = None
    while state.phase is not Phase.DONE:
        events.append(event)
        state, produced = step(flow, state, event, context)
        actions.extend(produced)
        for lookup in (a for a in produced if isinstance(a, Lookup)):
            customer = (customers or {}).get(lookup.value)
        event = _next_event(state, remaining, customer)
    return Transcript(tuple(actions), state, tuple(events))
