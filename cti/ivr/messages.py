"""What goes in and out of the IVR state machine: events, actions, the call's state. Pure.

The runner (over ARI) turns Asterisk events into these events, feeds them to
``cti.ivr.interpreter.step`` and carries out the actions it gets back, in order. Contract
for the runner, kept small so the machine stays pure:

- ``Play`` actions of one step are queued and played in order; ``PromptFinished`` names the
  prompt that finished (the state's ``pending_prompt`` is the one the machine waits for).
  ``StopPlayback`` (barge-in) stops the playing prompt and drops the queued ones.
- At most one timer runs. A step that returns any action cancels it; ``StartTimer`` starts the
  next one. So a ``Timeout`` always belongs to the wait the machine is in.
- A lookup that fails or takes too long is reported as ``LookupResult(found=False)``.
- ``Route``, ``OfferCallback``, ``Transfer`` and ``HangUp`` are terminal: exactly one ends every
  call's IVR, after which the machine ignores events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cti.ivr.hours import PublicCalendar
from cti.ivr.model import Flow
from cti.ivr.stations import Station

# --- events (in) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    caller_number: str
    now: datetime  # timezone-aware; business hours are judged at the call's start
    language: str = ""  # e.g. the channel's CHANNEL(language); used when the flow offers it


@dataclass(frozen=True)
class Resumed:
    """The caller was at ``node`` when the service that ran the call stopped (a crash, a
    deploy): the machine takes the call up there again, replaying that node's prompt."""

    node: str
    caller_number: str
    language: str
    started_at: datetime | None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Digit:
    digit: str


@dataclass(frozen=True)
class PromptFinished:
    prompt_id: str


@dataclass(frozen=True)
class Timeout:
    pass


@dataclass(frozen=True)
class LookupResult:
    found: bool
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hangup:
    pass


Event = Started | Resumed | Digit | PromptFinished | Timeout | LookupResult | Hangup

# --- actions (out) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Say ``text`` in ``language`` (via TTS), or play the recording ``sound`` when set."""

    prompt_id: str
    text: str
    language: str
    sound: str | None = None


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class StartTimer:
    seconds: float


@dataclass(frozen=True)
class Lookup:
    by: str
    value: str


@dataclass(frozen=True)
class Route:
    queue: str
    priority: int


@dataclass(frozen=True)
class OfferCallback:
    queue: str


@dataclass(frozen=True)
class Transfer:
    target: str


@dataclass(frozen=True)
class HangUp:
    """End the IVR. ``caller``: the caller already hung up (record it, nothing to hang up). Otherwise
    hang up the call: ``hangup`` (a hangup node), ``no_input`` (retries ran out, no default), and
    the guards ``loop``, ``step_limit``, ``unknown_node``, which the runner logs as flow defects."""

    reason: str


@dataclass(frozen=True)
class Journey:
    """A node entered (``key`` None) or a key pressed in it: becomes an IVR call event."""

    node_id: str
    key: str | None = None


Action = Play | StopPlayback | StartTimer | Lookup | Route | OfferCallback | Transfer | HangUp | Journey
TERMINAL_ACTIONS = (Route, OfferCallback, Transfer, HangUp)

# --- state and context -------------------------------------------------------------------------


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    PLAYING = "playing"  # waiting for ``pending_prompt`` to finish (menu/collect: keys barge in)
    WAITING = "waiting"  # waiting for keys; a timer runs
    LOOKUP = "lookup"  # waiting for a LookupResult
    DONE = "done"  # a terminal action was issued


@dataclass(frozen=True)
class CallState:
    """Everything the machine knows about one call; a new value after every step."""

    node: str = ""
    phase: Phase = Phase.NOT_STARTED
    language: str = ""
    caller_number: str = ""
    started_at: datetime | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    retries: int = 0  # failed attempts at the current menu or collect node
    digits: str = ""  # keyed so far at the current collect node
    pending_prompt: str | None = None
    steps: int = 0  # events handled: the hard cap
    unattended: int = 0  # nodes entered since the caller last pressed a key: the loop guard


@dataclass(frozen=True)
class FlowContext:
    """Data and limits the machine needs besides the flow (no I/O handles: it stays pure)."""

    stations: Mapping[str, Station] = field(default_factory=dict)
    calendars: Mapping[str, PublicCalendar] = field(default_factory=dict)  # by the flows' calendar names
    max_steps: int = 200  # a real call needs far fewer events; beyond, something is wrong
    max_unattended: int = 25  # node entries without a key press: a loop through prompts/timeouts

    def calendar(self, flow: Flow) -> PublicCalendar | None:
        """The public calendar ``flow`` names; none known by that name: the flow's own dates alone."""
        return self.calendars.get(flow.calendar) if flow.calendar is not None else None
