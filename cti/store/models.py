"""The SQL schema (SQLAlchemy 2 declarative), one migration per change in ``migrations/``.

Times are stored as integer microseconds since the Unix epoch, UTC (``*_us``): exact, the
same on SQLite and PostgreSQL, and fast to range-scan and to read back (no per-row datetime
parsing, which dominates a month's KPI report on SQLite otherwise).

``call_events`` is the append-only log the KPIs come from; ``event_id`` is unique so a replayed
event is stored once. The ``kpi_*`` tables hold the KPI facts of every call and lead, derived from
that log when events are stored (``cti.store.projection``): durations are the facts' own floats
(stored as doubles, so they read back bit for bit), instants are ``*_us``. The other tables are
the operational records (calls, legs, agent states, leads, dial attempts, dispositions) and the
CRM side the IVR lookup and the screen-pop read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cti.kpi.facts import Outcome


class Base(DeclarativeBase):
    pass


_ID = String(64)
# VARCHAR(16) holding the value ("answered"), read back as the Outcome itself.
_OUTCOME = Enum(
    Outcome,
    native_enum=False,
    create_constraint=False,
    length=16,
    values_callable=lambda e: [m.value for m in e],
)


class CallEventRow(Base):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(_ID, unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    at_us: Mapped[int] = mapped_column(BigInteger)
    call_id: Mapped[str] = mapped_column(_ID, default="")
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    lead_id: Mapped[str | None] = mapped_column(_ID)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="cti")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_call_events_at", "at_us"),
        Index("ix_call_events_call", "call_id"),
        Index("ix_call_events_lead", "lead_id"),
        Index("ix_call_events_kind_at", "kind", "at_us"),
        # The screen-pop's caller history: this number's recent calls and contacts, newest first.
        Index("ix_call_events_caller", "caller_number", "kind", "at_us"),
    )


class StayFactRow(Base):
    """A queue stay (``cti.kpi.facts.QueueStay``); ``seq`` orders a call's stays."""

    __tablename__ = "kpi_stays"

    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    entered_us: Mapped[int] = mapped_column(BigInteger, index=True)
    outcome: Mapped[Outcome] = mapped_column(_OUTCOME)
    wait_s: Mapped[float | None] = mapped_column(Double)
    agent: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    talk_s: Mapped[float | None] = mapped_column(Double)
    hold_s: Mapped[float] = mapped_column(Double)
    wrapup_s: Mapped[float | None] = mapped_column(Double)
    resolved: Mapped[bool | None] = mapped_column(Boolean)


class OfferFactRow(Base):
    """An agent offer, the agent's phone ringing (``cti.kpi.facts.AgentOffer``)."""

    __tablename__ = "kpi_offers"

    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    rang_us: Mapped[int] = mapped_column(BigInteger, index=True)
    answered: Mapped[bool] = mapped_column(Boolean)
    ring_s: Mapped[float | None] = mapped_column(Double)


class InboundCallFactRow(Base):
    """An inbound call (``cti.kpi.facts.InboundCall``): the repeat-call and FCR history too."""

    __tablename__ = "kpi_calls"

    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))


class ContactFactRow(Base):
    """A call on which a person was reached (``cti.kpi.facts.Contact``): at most one per call."""

    __tablename__ = "kpi_contacts"

    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    booked_appointment: Mapped[bool] = mapped_column(Boolean)


class LeadFactRow(Base):
    """A lead (``cti.kpi.facts.Lead``); its funnel stages and losses are in ``kpi_funnel``."""

    __tablename__ = "kpi_leads"

    lead_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    created_us: Mapped[int] = mapped_column(BigInteger, index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    first_dial_us: Mapped[int | None] = mapped_column(BigInteger)
    answered_us: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(32))


class FunnelFactRow(Base):
    """A funnel stage a lead reached (``reason`` null), or lost it at (``seq``: the losses' order)."""

    __tablename__ = "kpi_funnel"

    lead_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class ProjectionStateRow(Base):
    """One row: the ``cti.kpi.facts.FACTS_VERSION`` the ``kpi_*`` rows were derived with."""

    __tablename__ = "kpi_projection"

    facts_version: Mapped[str] = mapped_column(String(64), primary_key=True)


class CallRow(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # inbound | outbound
    caller_number: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    started_at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    ended_at_us: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(32))


class CallLegRow(Base):
    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id"), index=True)
    channel_id: Mapped[str] = mapped_column(_ID, unique=True)
    role: Mapped[str] = mapped_column(String(16))  # caller | agent | customer
    endpoint: Mapped[str | None] = mapped_column(String(128))
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    answered_at_us: Mapped[int | None] = mapped_column(BigInteger)
    ended_at_us: Mapped[int | None] = mapped_column(BigInteger)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)


class AgentStateChangeRow(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)


class CustomerRow(Base):
    """A customer; ``external_ref`` is the center's own id for it (``cti crm import`` updates the
    customer with the same reference instead of adding a second one)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(128))
    segment: Mapped[str] = mapped_column(String(16), default="regular")  # regular | vip
    language: Mapped[str] = mapped_column(String(8), default="zh")
    notes: Mapped[str | None] = mapped_column(Text)


class PhoneNumberRow(Base):
    __tablename__ = "phone_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="mobile")


class VehicleRow(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    model: Mapped[str] = mapped_column(String(64))
    purchased_on: Mapped[date | None] = mapped_column(Date)


class ServiceRecordRow(Base):
    __tablename__ = "service_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))  # first_maintenance | maintenance | repair | glass ...
    dealer: Mapped[str | None] = mapped_column(String(128))
    notes: Mapped[str | None] = mapped_column(Text)

    # One record per vehicle, day and kind: what makes a re-imported service history idempotent.
    __table_args__ = (Index("ix_service_history_visit", "vehicle_id", "on", "kind", unique=True),)


class CaseRow(Base):
    """A complaint, repair, roadside or inquiry case; ``external_ref`` as for customers."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # complaint | repair | roadside | inquiry
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at_us: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[str] = mapped_column(Text, default="")


class InsurancePolicyRow(Base):
    """A vehicle's insurance: when it runs out and where its renewal stands (the screen-pop shows
    it; the renewal campaigns and the renewal-rate KPI count it)."""

    __tablename__ = "insurance_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    insurer: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[date] = mapped_column(Date, index=True)
    renewal_status: Mapped[str] = mapped_column(String(16), default="due")  # due | quoted | renewed | lost

    # One policy per vehicle and expiry: a renewal is a new row, a re-import updates the same one.
    __table_args__ = (Index("ix_insurance_policies_term", "vehicle_id", "expires_on", unique=True),)


class UserRow(Base):
    """A person who signs in: an agent (bound to one ACD agent id), a supervisor or a manager.

    Only a password's hash is kept (argon2id, ``cti.desk.users``); a disabled user cannot sign
    in, and a token issued before ``tokens_valid_after_us`` (a password change, a disable) is
    refused, so either takes effect at once.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | manager
    agent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    tokens_valid_after_us: Mapped[int] = mapped_column(BigInteger, default=0)


class LeadRow(Base):
    """Anything the service is to call: a lead (insurer, web, an IVR or queue callback request)
    or a line of a campaign's call list (source ``list``). One table, one hopper: the dialer
    takes the most urgent ``deadline_at_us`` first, then list work by ``next_attempt_at_us``."""

    __tablename__ = "leads"

    lead_id: Mapped[str] = mapped_column(_ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # insurer | web | ivr_callback | queue_callback | list
    phone_number: Mapped[str] = mapped_column(String(32))  # E.164 (cti.outbound.numbers)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    campaign: Mapped[str | None] = mapped_column(String(64))
    created_at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    # new | dialing | retry | contacted | done | exhausted | refused | stopped
    status: Mapped[str] = mapped_column(String(16), default="new")
    name: Mapped[str | None] = mapped_column(String(200))
    # A retried POST /api/leads with the same key is the same lead.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    deadline_at_us: Mapped[int | None] = mapped_column(BigInteger)  # contact wanted by (leads)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # vehicle, due date, list columns
    list_name: Mapped[str | None] = mapped_column(String(200))  # the imported file it came from
    line_no: Mapped[int | None] = mapped_column(Integer)  # its line there
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at_us: Mapped[int | None] = mapped_column(BigInteger)  # not before (retries, hours)
    last_result: Mapped[str | None] = mapped_column(String(32))
    updated_at_us: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_leads_hopper", "campaign", "status", "next_attempt_at_us"),)


class DialAttemptRow(Base):
    __tablename__ = "dial_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.lead_id"), index=True)
    call_id: Mapped[str] = mapped_column(_ID, unique=True)
    started_at_us: Mapped[int] = mapped_column(BigInteger)
    answered_at_us: Mapped[int | None] = mapped_column(BigInteger)
    ended_at_us: Mapped[int | None] = mapped_column(BigInteger)
    # answered | busy | no_answer | failed | machine | abandoned
    result: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(32))  # E.164, as dialled
    campaign: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))  # the agent it was bridged to


class CampaignRow(Base):
    """An outbound campaign: what kind of work, when and how it dials, and who takes its calls.
    Its call list is its leads (``leads.campaign``, source ``list``)."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # follow_up_service | follow_up_delivery | first_maintenance | periodic_maintenance |
    # insurance_renewal | survey | leads
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))  # the queue whose agents take its calls
    dial_mode: Mapped[str] = mapped_column(String(16))  # preview | progressive | predictive
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | running | paused | stopped
    # Schedule, calling hours, retry rules, abandon cap (cti.outbound.campaigns).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    updated_at_us: Mapped[int] = mapped_column(BigInteger)


class DncNumberRow(Base):
    """The do-not-call list: a number here is never dialled (cti.outbound.guard)."""

    __tablename__ = "dnc_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)  # E.164
    source: Mapped[str] = mapped_column(String(32))  # import | api | cli | customer
    note: Mapped[str | None] = mapped_column(String(200))
    added_at_us: Mapped[int] = mapped_column(BigInteger)
    added_by: Mapped[str | None] = mapped_column(String(64))


class DispositionRow(Base):
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, index=True)
    agent: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    at_us: Mapped[int] = mapped_column(BigInteger)
