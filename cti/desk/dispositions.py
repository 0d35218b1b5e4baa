"""Dispositions: what an agent records of a call at wrap-up, and the events that records. Pure.

The center lists its codes in ``config/dispositions.toml`` (``[acd] dispositions_file``), each
with flags. The events are the ones the KPI code already reads (``cti.kpi.facts``), keyed as it
reads them:

- ``disposition`` {code, resolved, note?} on the call: the answered stay's ``resolved`` (FCR);
- ``appointment_booked`` on the call: the contact's ``booked_appointment`` (appointment rate);
- ``funnel_stage`` {stage} and ``funnel_lost`` {stage, reason} on the call's *lead*: the funnel
  counts leads only (``lead_facts``), so they carry the lead id when the call has one (a
  callback's); an inbound call without a lead keeps them in its own history only.

Each event's id is derived from the call, the agent and the kind: a retried disposition (the
desktop's request sent twice, an outbox drained twice) is stored once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cti.acd.model import Labels
from cti.config_files import load_toml_model
from cti.events import CallEvent, EventKind
from cti.kpi.definitions import FUNNEL_STAGES

_IDS = uuid.UUID("6f1c2d3e-8a4b-4c5d-9e6f-7a8b9c0d1e2f")  # the namespace of disposition event ids
NOTE_MAX = 2000  # characters: a wrap-up note, not a document


def _stage(value: str) -> str:
    if value not in FUNNEL_STAGES:
        raise ValueError(f"{value!r} is not a funnel stage; stages: {list(FUNNEL_STAGES)}")
    return value


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunnelLoss(_Config):
    stage: str
    reason: str = Field(min_length=1, max_length=64)

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, value: str) -> str:
        return _stage(value)


class Disposition(_Config):
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    label: Labels
    resolved: bool = False
    appointment: bool = False
    funnel_stage: str | None = None
    funnel_lost: FunnelLoss | None = None
    # The agent spoke with the person the call was for (not a wrong number, not a relative):
    # outbound campaigns' right-party contacts (cti.outbound.campaign_store.progress).
    right_party: bool = False

    @field_validator("funnel_stage")
    @classmethod
    def _known_stage(cls, value: str | None) -> str | None:
        return None if value is None else _stage(value)


class Dispositions(_Config):
    """The center's codes, in the order the desktop offers them."""

    dispositions: tuple[Disposition, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        codes = [d.code for d in self.dispositions]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate disposition codes: {duplicates}")
        return self

    def get(self, code: str) -> Disposition | None:
        return next((d for d in self.dispositions if d.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.dispositions]

    @property
    def right_party_codes(self) -> frozenset[str]:
        """The codes that say the agent reached the right person."""
        return frozenset(d.code for d in self.dispositions if d.right_party)

    def listed(self) -> list[dict[str, Any]]:
        """The codes as the desktop shows them (``GET /api/agents/me``): what the agent picks
        from, without the flags only reports read."""
        return [d.model_dump(mode="json", exclude={"right_party"}) for d in self.dispositions]


def load_dispositions(path: Path) -> Dispositions:
    """Read the codes; ``ConfigError`` names the file, the key and the reason."""
    return load_toml_model(path, Dispositions)


@dataclass(frozen=True)
class DisposedCall:
    """The call a disposition is for, as far as it is known when the agent records it."""

    call_id: str
    agent: str
    queue: str | None = None
    lead_id: str | None = None
    caller_number: str | None = None


def disposition_events(
    disposition: Disposition, call: DisposedCall, note: str, at: datetime
) -> list[CallEvent]:
    """The events recording ``disposition`` of ``call`` by its agent at ``at``."""

    def event(kind: EventKind, data: dict[str, Any], lead_id: str | None = None) -> CallEvent:
        return CallEvent(
            kind,
            at,
            call.call_id,
            queue=call.queue,
            agent=call.agent,
            lead_id=lead_id,
            caller_number=call.caller_number,
            data=data,
            event_id=uuid.uuid5(_IDS, f"{call.call_id}/{call.agent}/{kind.value}").hex,
        )

    data: dict[str, Any] = {"code": disposition.code, "resolved": disposition.resolved}
    if note:
        data["note"] = note
    events = [event(EventKind.DISPOSITION, data, call.lead_id)]
    if disposition.appointment:
        events.append(event(EventKind.APPOINTMENT_BOOKED, {}, call.lead_id))
    if disposition.funnel_stage is not None:
        events.append(event(EventKind.FUNNEL_STAGE, {"stage": disposition.funnel_stage}, call.lead_id))
    if disposition.funnel_lost is not None:
        lost = disposition.funnel_lost
        events.append(
            event(EventKind.FUNNEL_LOST, {"stage": lost.stage, "reason": lost.reason}, call.lead_id)
        )
    return events
