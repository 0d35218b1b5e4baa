"""A lead: someone the center is to call back, soon. Pure: what a lead request says, checked
field by field, and the lead as the store keeps it.

Leads come from outside (``POST /api/leads``: an insurer passing on a customer, a web form) and
from the service itself (an IVR caller after hours, a queue callback that could not be served).
Each carries a contact deadline: created + ``[outbound] lead_deadline_s`` (60 s) unless the
request names one; the dialer serves the most urgent deadline first, and the KPI "contacted
within one minute" measures it (docs/kpi.md).

**The idempotency key is required** on the API (header ``Idempotency-Key``, or the body's
``idempotency_key``). A retried POST (a timeout, a lost answer, a sender's queue replayed) must
make one lead, never two calls to one customer, and only the sender can say that two requests
are one: a key the server generated would be a new key on every retry, and a key derived from
the content (number, source, day) would merge two genuine leads for one number. Senders
already have such an id (the insurer's case number, the form's submission id). The service's
own leads are keyed by what they come from (the IVR caller's channel, the queue callback's
lead), so a step carried out twice makes one lead too.

A request is remembered by its *fingerprint* (the checked fields, not the raw body): the same
key with the number written another way is the same request, with another number it is a
conflict.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from cti.crm import fields
from cti.errors import CtiError
from cti.events import CallEvent, EventKind, to_us
from cti.outbound.numbers import Dialable, NumberPolicy, read_number
from cti.outbound.refusal import Refusal

KEY_HEADER = "Idempotency-Key"
KEY_FIELD = "idempotency_key"
KEY_MAX = 128  # the store's column
NAME_MAX = 200
CAMPAIGN_MAX = 64
REQUEST_FIELDS = ("phone", "name", "source", "campaign", "vehicle", "due_on", "deadline", KEY_FIELD)
VEHICLE_FIELDS = ("plate", "model", "vin")
_CAMPAIGN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


class LeadSource(StrEnum):
    """Where a lead came from. Names are stable: stored, and reported per source."""

    INSURER = "insurer"  # an insurer passed the customer on (glass repair, claims)
    WEB = "web"  # a web or app form
    IVR_CALLBACK = "ivr_callback"  # a caller asked the IVR to be called back (after hours)
    QUEUE_CALLBACK = "queue_callback"  # a queue callback the customer did not answer
    LIST = "list"  # a line of a campaign's call list (cti.outbound.call_lists)


#: What ``POST /api/leads`` accepts; the others are made by the service itself.
API_SOURCES = (LeadSource.INSURER, LeadSource.WEB)


class LeadStatus(StrEnum):
    NEW = "new"  # not dialled yet
    DIALING = "dialing"  # an attempt is under way
    RETRY = "retry"  # to be dialled again at ``next_attempt_at``
    CONTACTED = "contacted"  # the customer answered and reached an agent
    DONE = "done"  # nothing more to do (a disposition closed it)
    EXHAUSTED = "exhausted"  # attempts ran out
    REFUSED = "refused"  # the rules refused the number for good (cti.outbound.refusal)
    STOPPED = "stopped"  # its campaign stopped, or a person withdrew it


#: The statuses of a lead still to be dialled: the hopper holds these (cti.outbound.hopper).
WAITING = frozenset({LeadStatus.NEW, LeadStatus.RETRY})


class LeadInvalid(CtiError):
    """A lead request with bad fields; ``problems``: field -> what is wrong with it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        said = "; ".join(f"{name}: {problem}" for name, problem in sorted(self.problems.items()))
        super().__init__(f"the lead has bad fields: {said}")


class NumberRefused(CtiError):
    """The lead's number may not be dialled: the rule it breaks (``cti.outbound.numbers``)."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        super().__init__(f"the phone number is refused ({refusal.rule.value}): {refusal.reason}")


@dataclass(frozen=True)
class Vehicle:
    plate: str | None = None
    model: str | None = None
    vin: str | None = None


@dataclass(frozen=True)
class LeadRequest:
    """A lead to create, its fields checked. ``due_at``: not dialled before (None: at once);
    ``data``: what else the lead carries (the queue and language of a callback)."""

    source: LeadSource
    number: Dialable
    idempotency_key: str
    created_at: datetime
    deadline_at: datetime
    name: str | None = None
    campaign: str | None = None
    vehicle: Vehicle | None = None
    due_on: date | None = None
    due_at: datetime | None = None
    deadline_given: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    lead_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def fingerprint(self) -> str:
        """What makes two requests with one key the same request: the checked fields (the
        number in E.164, so a retry may write it another way), not the moment it was sent."""
        said = {
            "source": self.source.value,
            "phone": self.number.e164,
            "name": self.name,
            "campaign": self.campaign,
            "vehicle": vars(self.vehicle) if self.vehicle else None,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "deadline": self.deadline_at.isoformat() if self.deadline_given else None,
            "data": dict(self.data),
        }
        text = json.dumps(said, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def stored_data(self) -> dict[str, Any]:
        """The ``data`` column: the vehicle, the due day, the fingerprint and the rest."""
        stored: dict[str, Any] = {**self.data, "fingerprint": self.fingerprint()}
        if self.vehicle is not None:
            stored["vehicle"] = {k: v for k, v in vars(self.vehicle).items() if v is not None}
        if self.due_on is not None:
            stored["due_on"] = self.due_on.isoformat()
        return stored


@dataclass(frozen=True)
class Lead:
    """A lead as stored (``leads``)."""

    lead_id: str
    source: str
    phone_number: str  # E.164
    status: LeadStatus
    created_at: datetime
    deadline_at: datetime | None
    next_attempt_at: datetime | None
    name: str | None = None
    campaign: str | None = None
    idempotency_key: str | None = None
    attempts: int = 0
    last_result: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def fingerprint(self) -> str | None:
        value = self.data.get("fingerprint")
        return str(value) if value is not None else None

    def hopper_place(self) -> tuple[float, float]:
        """(due at, urgency) in epoch seconds, as the hopper orders it: due when its next
        attempt is (else at once, from its creation), urgent by its deadline (list lines,
        without one, by their due time). Lower is more urgent."""
        due = (self.next_attempt_at or self.created_at).timestamp()
        return due, self.deadline_at.timestamp() if self.deadline_at else due

    def body(self) -> dict[str, Any]:
        """The lead as the API shows it."""
        return {
            "lead_id": self.lead_id,
            "source": self.source,
            "phone": self.phone_number,
            "status": self.status.value,
            "name": self.name,
            "campaign": self.campaign,
            "created": self.created_at.isoformat(),
            "deadline": self.deadline_at.isoformat() if self.deadline_at else None,
            "next_attempt": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "attempts": self.attempts,
            "last_result": self.last_result,
            "vehicle": self.data.get("vehicle"),
            "due_on": self.data.get("due_on"),
        }


@dataclass(frozen=True)
class LeadRules:
    """What reading a lead needs from the settings: how numbers are read, the default contact
    deadline, and the center's time zone (a due day or a deadline without an offset is local)."""

    policy: NumberPolicy
    deadline_s: float
    timezone: ZoneInfo


def read_lead(
    body: Mapping[str, Any], header_key: str | None, rules: LeadRules, now: datetime
) -> LeadRequest:
    """A ``POST /api/leads`` body (and its ``Idempotency-Key`` header) as a lead request;
    ``LeadInvalid`` names every bad field, ``NumberRefused`` the rule a number breaks."""
    unknown = (name for name in body if name not in REQUEST_FIELDS)
    problems = {name: f"not a field of a lead ({', '.join(REQUEST_FIELDS)})" for name in unknown}
    texts = _texts(body, problems)
    cells = fields.Cells(texts)
    source = cells.get("source", _api_source, required=True)
    name = cells.get("name", lambda value: fields.text(value, NAME_MAX))
    campaign = cells.get("campaign", _campaign)
    due_on = cells.get("due_on", fields.day)
    deadline = cells.get("deadline", lambda value: fields.moment(value, rules.timezone))
    raw_phone = cells.get("phone", str, required=True)
    key = _key(header_key, texts.get(KEY_FIELD), problems)
    vehicle = _vehicle(body.get("vehicle"), problems)
    problems = dict(cells.problems) | problems
    if deadline is not None and deadline <= now:
        problems.setdefault("deadline", f"{deadline.isoformat()} is not in the future")
    if problems:
        raise LeadInvalid(problems)
    number = _dialable(raw_phone, rules.policy)
    due_at = _start_of(due_on, rules.timezone) if due_on is not None else None
    due_at = due_at if due_at is not None and due_at > now else None
    return LeadRequest(
        source=source,
        number=number,
        idempotency_key=key or "",
        created_at=now,
        deadline_at=deadline or (due_at or now) + timedelta(seconds=rules.deadline_s),
        name=name,
        campaign=campaign,
        vehicle=vehicle,
        due_on=due_on,
        due_at=due_at,
        deadline_given=deadline is not None,
    )


def callback_lead(
    source: LeadSource,
    raw_number: str,
    key: str,
    rules: LeadRules,
    now: datetime,
    *,
    due_at: datetime | None = None,
    deadline_at: datetime | None = None,
    lead_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> LeadRequest:
    """A lead the service makes itself (a callback request): its number read like any other
    (``NumberRefused``), due at ``due_at`` (None: at once), to be contacted by ``deadline_at``
    (default: due + the lead deadline)."""
    start = due_at if due_at is not None and due_at > now else None
    request = LeadRequest(
        source=source,
        number=_dialable(raw_number, rules.policy),
        idempotency_key=key[:KEY_MAX],
        created_at=now,
        deadline_at=deadline_at or (start or now) + timedelta(seconds=rules.deadline_s),
        due_at=start,
        data=dict(data or {}),
    )
    return request if lead_id is None else replace(request, lead_id=lead_id)


def lead_created_event(lead: Lead, at: datetime, event_id: str | None = None) -> CallEvent:
    """``lead_created`` for a lead the API took in: its source, its deadline in seconds, and the
    number. One id per lead (``event_id``), so a retried POST records it again harmlessly."""
    deadline_s = (lead.deadline_at - lead.created_at).total_seconds() if lead.deadline_at else None
    return CallEvent(
        EventKind.LEAD_CREATED,
        at,
        lead_id=lead.lead_id,
        caller_number=lead.phone_number,
        data={"source": lead.source, "deadline_s": deadline_s},
        event_id=event_id or f"lead_created:{lead.lead_id}",
    )


def deadline_s(request: LeadRequest) -> float:
    """The request's contact deadline, in seconds after its creation."""
    return (request.deadline_at - request.created_at).total_seconds()


def micros(moment: datetime | None) -> int | None:
    return to_us(moment) if moment is not None else None


# --- reading fields -----------------------------------------------------------------------------


def _texts(body: Mapping[str, Any], problems: dict[str, str]) -> dict[str, str]:
    """The body's text fields; a field that is there but no text is a problem (null: absent)."""
    texts: dict[str, str] = {}
    for name in REQUEST_FIELDS:
        value = body.get(name)
        if name == "vehicle" or value is None:
            continue
        if isinstance(value, str) and "\x00" in value:
            problems[name] = "holds a NUL character"
        elif isinstance(value, str):
            texts[name] = value
        elif name == "phone" and isinstance(value, int) and not isinstance(value, bool):
            texts[name] = str(value)  # a number typed as a JSON number: its digits
        else:
            problems[name] = f"must be text, not {type(value).__name__}"
    return texts


def _api_source(value: str) -> LeadSource:
    choices = [source.value for source in API_SOURCES]
    return LeadSource(fields.choice(value, choices))


def _campaign(value: str) -> str:
    """A campaign's name as campaigns are named: letters, digits and ``_ . : -``, 64 at most."""
    if not _CAMPAIGN.fullmatch(value):
        raise ValueError(f"{value!r} is no campaign name (letters, digits, _ . : -)")
    return fields.text(value, CAMPAIGN_MAX)


def _key(header: str | None, body_key: str | None, problems: dict[str, str]) -> str | None:
    """The idempotency key, from the header or the body (both: they must agree)."""
    if header is not None and body_key is not None and header.strip() != body_key.strip():
        problems[KEY_FIELD] = f"differs from the {KEY_HEADER} header: send one key"
        return None
    key = (header if header is not None else body_key or "").strip()
    if not key:
        problems.setdefault(
            KEY_FIELD,
            f"missing: send the {KEY_HEADER} header (or the body's {KEY_FIELD}), the same on every "
            "retry of this lead, so a retried request makes one lead",
        )
        return None
    if len(key) > KEY_MAX or not key.isprintable() or not key.isascii():
        problems.setdefault(KEY_FIELD, f"at most {KEY_MAX} printable ASCII characters")
        return None
    return key


def _vehicle(value: Any, problems: dict[str, str]) -> Vehicle | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems["vehicle"] = f"must be an object {{{', '.join(VEHICLE_FIELDS)}}}"
        return None
    for name, item in value.items():
        if name not in VEHICLE_FIELDS:
            problems[f"vehicle.{name}"] = f"not a field of a vehicle ({', '.join(VEHICLE_FIELDS)})"
        elif item is not None and not isinstance(item, str):
            problems[f"vehicle.{name}"] = f"must be text, not {type(item).__name__}"
        elif item is not None and "\x00" in item:
            problems[f"vehicle.{name}"] = "holds a NUL character"
    texts = {k: v for k, v in value.items() if k in VEHICLE_FIELDS and isinstance(v, str) and "\x00" not in v}
    cells = fields.Cells(texts)
    vehicle = Vehicle(
        plate=cells.get("plate", fields.plate),
        model=cells.get("model", fields.model),
        vin=cells.get("vin", fields.vin),
    )
    problems.update({f"vehicle.{name}": problem for name, problem in cells.problems})
    return vehicle if vehicle != Vehicle() else None


def _dialable(raw: str, policy: NumberPolicy) -> Dialable:
    number = read_number(raw, policy)
    if isinstance(number, Refusal):
        raise NumberRefused(number)
    return number


def _start_of(day: date, timezone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone)
