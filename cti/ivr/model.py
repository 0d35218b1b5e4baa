"""The typed model of an IVR flow, as written in ``ivr_flows/*.yaml``.

A flow is data, not code (issue 5): nodes keyed by id, each of one kind, linked by node ids.
Models are frozen pydantic models so a loaded flow can be shared by every call without copies.
Structural rules that need the whole flow (references, reachability, cycles, prompts per language)
live in ``cti.ivr.validator``, which reports every problem at once with file and line; the models
only check what a single field can tell. This module is pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cti.timezones import TimeZoneName

#: Languages we have voices for (espeak-ng ``cmn`` and ``en``).
SUPPORTED_LANGUAGES = frozenset({"zh", "en"})
#: DTMF keys a phone can send (RFC 4733 events 0-11); A-D are missing from consumer phones.
DTMF_KEYS = frozenset("0123456789*#")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Say(_Frozen):
    """Something the caller hears: text per language (rendered by TTS) or a recorded sound.

    YAML accepts the short form ``{zh: "...", en: "..."}`` for text, or ``{sound: name}``.
    """

    text: Mapping[str, str] = Field(default_factory=dict)
    sound: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _texts_shorthand(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not {"text", "sound"} & set(data):
            return {"text": data}
        return data

    def spoken(self, language: str, default_language: str) -> tuple[str, str]:
        """The text a call in ``language`` hears, and the language it is in: the call's own if
        the prompt has it, else the flow's default (the interpreter and ``cti tts build`` agree)."""
        spoken = language if language in self.text else default_language
        return self.text.get(spoken) or next(iter(self.text.values()), ""), spoken

    @model_validator(mode="after")
    def _something_to_say(self) -> Say:
        if not self.text and not self.sound:
            raise ValueError("a prompt needs text per language or a sound")
        return self


class Validation(StrEnum):
    """What collected digits must look like (see ``cti.ivr.digits``)."""

    PHONE = "phone"
    PLATE_DIGITS = "plate_digits"
    VIN_LAST6 = "vin_last6"
    AREA_CODE = "area_code"


class _Node(_Frozen):
    type: str  # each kind narrows it to its Literal: the YAML ``type`` that picks the kind

    def summary(self) -> str:
        """The kind and its main setting in a few words, for pictures and simulated calls."""
        return self.type.replace("_", " ")

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        """(field path, target node id) of every way out of this node."""
        return ()

    def prompts(self) -> tuple[tuple[tuple[str, ...], Say], ...]:
        """(field path, prompt) of everything this node may say."""
        return ()


class PromptNode(_Node):
    type: Literal["prompt"]
    prompt: Say
    next: str

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("next",), self.next),)

    def prompts(self) -> tuple[tuple[tuple[str, ...], Say], ...]:
        return ((("prompt",), self.prompt),)


class _AsksCaller(_Node):
    """Shared by menu and collect: a prompt, a wait for keys, retries, then ``default``."""

    prompt: Say
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=9)
    invalid_prompt: Say | None = None
    timeout_prompt: Say | None = None
    default: str | None = None  # where to go when retries run out; None: hang up

    def prompts(self) -> tuple[tuple[tuple[str, ...], Say], ...]:
        said = (
            ("prompt", self.prompt),
            ("invalid_prompt", self.invalid_prompt),
            ("timeout_prompt", self.timeout_prompt),
        )
        return tuple(((name,), say) for name, say in said if say is not None)

    def _default_edge(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("default",), self.default),) if self.default is not None else ()


class MenuNode(_AsksCaller):
    type: Literal["menu"]
    options: Mapping[str, str] = Field(default_factory=dict)  # DTMF key -> node id

    @field_validator("options", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads `1: sales` with an int key; a key is a DTMF symbol, so text.
        return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else value

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        options = tuple((("options", key), target) for key, target in self.options.items())
        return (*options, *self._default_edge())


class DigitRange(_Frozen):
    min: int = Field(default=1, ge=1, le=32)
    max: int = Field(default=1, ge=1, le=32)

    @model_validator(mode="after")
    def _ordered(self) -> DigitRange:
        if self.min > self.max:
            raise ValueError(f"digits: min {self.min} is above max {self.max}")
        return self


class CollectNode(_AsksCaller):
    type: Literal["collect"]
    digits: DigitRange = Field(default_factory=DigitRange)
    terminator: str = "#"
    validate_as: Validation | None = Field(default=None, alias="validate")
    into: str
    next: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def summary(self) -> str:
        return f"collect {self.into}"

    @field_validator("terminator")
    @classmethod
    def _dtmf_terminator(cls, value: str) -> str:
        if value.isdigit():
            # Digits are what is being collected: a digit terminator would cut numbers short.
            raise ValueError(f"terminator {value!r} is a digit the caller may key: use '#' or '*'")
        if value not in DTMF_KEYS:
            raise ValueError(f"terminator {value!r} is not a phone key: use '#' or '*'")
        return value

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("next",), self.next), *self._default_edge())


class LookupNode(_Node):
    """Find the customer; fields land in variables ``<into>.<field>`` (e.g. ``customer.segment``)."""

    type: Literal["lookup"]
    by: str = "caller_number"  # or the name of a collected variable
    into: str = "customer"
    found: str
    not_found: str

    def summary(self) -> str:
        return f"lookup by {self.by}"

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("found",), self.found), (("not_found",), self.not_found))


#: Branch subjects that are not plain variables.
BUSINESS_HOURS = "business_hours"  # cases: open / closed / holiday
LANGUAGE = "language"  # the call's current language
SEGMENT = "segment"  # shorthand for the lookup's default variable customer.segment
HOURS_CASES = frozenset({"open", "closed", "holiday"})


def branch_variable(on: str) -> str:
    """The variable a branch on ``on`` reads (one that is not business hours or the language)."""
    return "customer.segment" if on == SEGMENT else on


class BranchNode(_Node):
    type: Literal["branch"]
    on: str
    cases: Mapping[str, str] = Field(default_factory=dict)  # value -> node id
    default: str

    def summary(self) -> str:
        return f"branch on {self.on}"

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else value

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        cases = tuple((("cases", key), target) for key, target in self.cases.items())
        return (*cases, (("default",), self.default))


class SetLanguageNode(_Node):
    type: Literal["set_language"]
    language: str
    next: str

    def summary(self) -> str:
        return f"switch to language {self.language}"

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("next",), self.next),)


class SayStationNode(_Node):
    """Roadside help: speak the service station for the area code the caller keyed.

    ``found`` is a template with ``{city}``, ``{name}``, ``{address}`` and ``{phone}``.
    """

    type: Literal["say_station"]
    area_code_var: str = "area_code"
    found: Say
    not_found: Say
    next: str

    def edges(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return ((("next",), self.next),)

    def prompts(self) -> tuple[tuple[tuple[str, ...], Say], ...]:
        return ((("found",), self.found), (("not_found",), self.not_found))


class _Terminal(_Node):
    """A node that ends the IVR: an optional last prompt, then the hand-over."""

    prompt: Say | None = None

    def prompts(self) -> tuple[tuple[tuple[str, ...], Say], ...]:
        return ((("prompt",), self.prompt),) if self.prompt is not None else ()


class QueueNode(_Terminal):
    type: Literal["queue"]
    queue: str
    priority: int = Field(default=0, ge=0, le=100)  # higher is served first (app_queue's QUEUE_PRIO)

    def summary(self) -> str:
        return f"queue {self.queue}, priority {self.priority}"


class CallbackNode(_Terminal):
    type: Literal["callback"]
    queue: str

    def summary(self) -> str:
        return f"callback request, queue {self.queue}"


class TransferNode(_Terminal):
    type: Literal["transfer"]
    target: str = Field(min_length=1)  # an external number or any Asterisk dial string

    def summary(self) -> str:
        return f"transfer to {self.target}"


class HangupNode(_Terminal):
    type: Literal["hangup"]


Node = Annotated[
    PromptNode
    | MenuNode
    | CollectNode
    | LookupNode
    | BranchNode
    | SetLanguageNode
    | SayStationNode
    | QueueNode
    | CallbackNode
    | TransferNode
    | HangupNode,
    Field(discriminator="type"),
]
TERMINAL_NODES = (QueueNode, CallbackNode, TransferNode, HangupNode)
#: Nodes that pass control on without waiting for the caller or for a prompt.
IMMEDIATE_NODES = (BranchNode, SetLanguageNode)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class OpenHours(_Frozen):
    """One opening interval of a day, written ``"08:30-20:00"``; ``24:00`` means end of day."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        start, _, end = (part.strip() for part in data.partition("-"))
        try:
            return {
                "start": time.fromisoformat(start),
                "end": time.max if end == "24:00" else time.fromisoformat(end),
            }
        except ValueError:
            raise ValueError(f"{data!r}: write opening hours as HH:MM-HH:MM") from None

    @model_validator(mode="after")
    def _ordered(self) -> OpenHours:
        if self.end <= self.start:
            raise ValueError(f"opening hours end {self.end} is not after start {self.start}")
        return self

    def covers(self, moment: time) -> bool:
        return self.start <= moment < self.end or (self.end == time.max and moment == time.max)


class Flow(_Frozen):
    """One IVR flow: an entry point's nodes, languages, and the center's calendar."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    entry: str
    languages: tuple[str, ...] = Field(min_length=1)  # the first is the default
    timezone: TimeZoneName = "Asia/Shanghai"
    business_hours: Mapping[Weekday, tuple[OpenHours, ...]] | None = None  # None: always open
    calendar: Literal["CN"] | None = None  # public holidays and make-up working days (cti.ivr.hours)
    holidays: frozenset[date] = frozenset()  # closed all day, on top of the calendar's holidays
    workdays: frozenset[date] = frozenset()  # open with the weekday hours, whatever the calendar says
    fallback: str | None = None  # a terminal node used when the loop guard trips
    nodes: Mapping[str, Node]

    @property
    def default_language(self) -> str:
        return self.languages[0]
