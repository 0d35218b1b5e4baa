"""A simulated caller for a flow: what ``cti flows simulate`` prints and what tests drive. Pure.

The caller listens to every prompt to its end, then presses the next key of ``keys`` when a
menu or a digit collection waits for one, and lets the timer run out once the keys are used
up. ``"timeout"`` in ``keys`` waits one timeout instead of pressing; ``"hangup"`` hangs up.
Customer lookups answer from ``customers`` (lookup value -> fields). ``parse_keys`` reads the
command line's notation for keys (``3,010#,t``); ``describe`` turns a transcript into the lines
the command prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cti.ivr.hours import DayKind, PublicCalendar, day_kind, hours_status
from cti.ivr.interpreter import step
from cti.ivr.messages import (
    TERMINAL_ACTIONS,
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
    Route,
    Started,
    Timeout,
    Transfer,
)
from cti.ivr.model import DTMF_KEYS, Flow

TIMEOUT = "timeout"
HANGUP = "hangup"
#: How a person writes a caller's moves on a command line (``--digits 3,010#,t``).
_WRITTEN = {"t": TIMEOUT, TIMEOUT: TIMEOUT, "h": HANGUP, HANGUP: HANGUP}
_KEYS = "    keys "
_HOURS = {"open": "open hours", "closed": "after hours", "holiday": "holiday"}


@dataclass(frozen=True)
class Transcript:
    """Every event of one simulated call with the actions the machine answered it with, in order."""

    steps: tuple[tuple[Event, tuple[Action, ...]], ...]
    state: CallState
    unused_keys: tuple[str, ...] = ()  # keys left when the IVR ended: the script went further than the call

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(action for _, actions in self.steps for action in actions)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(event for event, _ in self.steps)

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


def parse_keys(text: str) -> list[str]:
    """A caller's moves as written on a command line: ``2,1`` or ``3,010#,t``.

    Commas only separate; a part is DTMF keys (``010#`` is four presses), ``t`` (wait one
    timeout) or ``h`` (hang up). ``ValueError`` names the part that is none of these.
    """
    keys: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        if part.lower() in _WRITTEN:
            keys.append(_WRITTEN[part.lower()])
        elif set(part) <= DTMF_KEYS:
            keys.extend(part)
        else:
            raise ValueError(f"{part!r} is neither DTMF keys (0-9, * and #) nor t (timeout) or h (hang up)")
    return keys


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
    language: str = "",
    customers: Mapping[str, Mapping[str, str]] | None = None,
    context: FlowContext | None = None,
) -> Transcript:
    """Run one call through ``flow`` until its IVR ends (the machine's caps bound the loop)."""
    remaining = list(keys)
    event: Event = Started(caller_number, now, language)
    state, steps = CallState(), list[tuple[Event, tuple[Action, ...]]]()
    customer: Mapping[str, str] | None = None
    while state.phase is not Phase.DONE:
        state, produced = step(flow, state, event, context)
        steps.append((event, produced))
        for lookup in (a for a in produced if isinstance(a, Lookup)):
            customer = (customers or {}).get(lookup.value)
        event = _next_event(state, remaining, customer)
    return Transcript(tuple(steps), state, tuple(remaining))


def describe(flow: Flow, transcript: Transcript, context: FlowContext | None = None) -> list[str]:
    """The call as a flow writer reads it: each node entered with its kind, under it what the
    caller heard, keyed and waited for, then the path and the outcome. ``context`` should be
    the one the call was simulated with (its calendars judge the hours)."""
    lines: list[str] = []
    calendar = (context or FlowContext()).calendar(flow)
    for event, actions in transcript.steps:
        for line in (_event_line(flow, event, calendar), *(_action_line(flow, action) for action in actions)):
            if line.startswith(_KEYS) and lines and lines[-1].startswith(_KEYS):
                lines[-1] += line.removeprefix(_KEYS)  # one line per entry, not per key
            elif line:
                lines.append(line)
    lines.append("path: " + " → ".join(transcript.path))
    lines.append("outcome: " + _outcome_text(transcript.outcome))
    if transcript.unused_keys:
        lines.append(f"unused keys (the IVR had ended): {','.join(transcript.unused_keys)}")
    return lines


def _event_line(flow: Flow, event: Event, calendar: PublicCalendar | None) -> str:
    if isinstance(event, Started):
        local = event.now.astimezone(ZoneInfo(flow.timezone))
        caller = event.caller_number or "an anonymous caller"
        hours = _HOURS[hours_status(flow, local, calendar)]
        if day_kind(flow, local.date(), calendar) is DayKind.WORKDAY:
            hours += ", a working day: weekday hours"
        return f"{flow.name}: {caller} calls on {local:%a %Y-%m-%d %H:%M} {flow.timezone} ({hours})"
    if isinstance(event, Timeout):
        return "    (no key before the timeout)"
    if isinstance(event, LookupResult):
        fields = ", ".join(f"{name}={value}" for name, value in event.fields.items())
        return f"    found: {fields}" if event.found else "    not found"
    if isinstance(event, Hangup):
        return "    (the caller hangs up)"
    return ""


def _action_line(flow: Flow, action: Action) -> str:
    if isinstance(action, Journey):
        if action.key is not None:
            return _KEYS + action.key
        node = flow.nodes.get(action.node_id)
        return f"{action.node_id} [{node.summary() if node is not None else 'unknown node'}]"
    if isinstance(action, Play):
        return f"    <sound {action.sound}>" if action.sound else f"    ({action.language}) {action.text}"
    if isinstance(action, Lookup):
        return f"    lookup {action.by} {action.value}"
    return ""


def _outcome_text(outcome: Action | None) -> str:
    if isinstance(outcome, Route):
        return f"queue {outcome.queue}, priority {outcome.priority}"
    if isinstance(outcome, OfferCallback):
        return f"callback request, queue {outcome.queue}"
    if isinstance(outcome, Transfer):
        return f"transfer to {outcome.target}"
    if isinstance(outcome, HangUp):
        return f"hang up ({outcome.reason})"
    return "none: the call did not end"
