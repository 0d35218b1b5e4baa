"""Leads in the SQL store (``leads``): the truth about what is to be called. The hopper in Redis
(``cti.outbound.hopper``) is a fast index of it, rebuilt from here when Redis lost it.

``create`` is idempotent on the request's key, under concurrency too: it does not look before
it writes (two requests could both see nothing), it inserts and lets the unique constraint on
``idempotency_key`` refuse the second, then reads the first back. The same key with another
request is ``LeadConflict``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.errors import CtiError
from cti.events import from_us, to_us
from cti.outbound.leads import WAITING, Lead, LeadRequest, LeadStatus, micros
from cti.store.models import CampaignRow, LeadRow


class LeadConflict(CtiError):
    """An idempotency key already used for another request."""


class LeadStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, request: LeadRequest) -> tuple[Lead, bool]:
        """The lead ``request`` makes, and True; or the lead its key made before (a retry), and
        False. ``LeadConflict`` when the key (or the lead id) was used for another request."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(insert(LeadRow).values(**_row(request)))
        except IntegrityError:
            stored = await self._by_key(request.idempotency_key)
            if stored is None:  # not the key: the lead id was taken, by another request
                raise LeadConflict(f"lead {request.lead_id} exists, with another key") from None
            if stored.fingerprint != request.fingerprint():
                raise LeadConflict(
                    f"the idempotency key {request.idempotency_key!r} was used for another lead "
                    f"({stored.lead_id}) with different fields: a new lead needs a new key"
                ) from None
            return stored, False
        created = await self.get(request.lead_id)
        assert created is not None, "a lead just committed reads back"
        return created, True

    async def campaign_exists(self, name: str) -> bool:
        async with self.engine.connect() as connection:
            found = await connection.scalar(select(CampaignRow.name).where(CampaignRow.name == name))
        return found is not None

    async def get(self, lead_id: str) -> Lead | None:
        return await self._one(select(LeadRow).where(LeadRow.lead_id == lead_id))

    async def _by_key(self, key: str) -> Lead | None:
        return await self._one(select(LeadRow).where(LeadRow.idempotency_key == key))

    async def _one(self, query: Select[Any]) -> Lead | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _lead(row._mapping) if row is not None else None

    async def due(self, now: datetime, limit: int) -> list[Lead]:
        """Leads waiting to be dialled whose time has come, the most urgent first (deadline, then
        due time): what the hopper must hold."""
        now_us = to_us(now)
        due_us = func.coalesce(LeadRow.next_attempt_at_us, LeadRow.created_at_us)
        query = (
            select(LeadRow)
            .where(LeadRow.status.in_(sorted(WAITING)))
            .where(or_(LeadRow.next_attempt_at_us.is_(None), LeadRow.next_attempt_at_us <= now_us))
            .order_by(func.coalesce(LeadRow.deadline_at_us, due_us), LeadRow.lead_id)
            .limit(limit)
        )
        return await self._many(query)

    async def find(
        self, *, status: LeadStatus | None = None, campaign: str | None = None, limit: int = 100
    ) -> list[Lead]:
        """The newest leads, of a status and a campaign if given."""
        query = select(LeadRow).order_by(LeadRow.created_at_us.desc(), LeadRow.lead_id).limit(limit)
        if status is not None:
            query = query.where(LeadRow.status == status.value)
        if campaign is not None:
            query = query.where(LeadRow.campaign == campaign)
        return await self._many(query)

    async def _many(self, query: Select[Any]) -> list[Lead]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_lead(row._mapping) for row in rows]

    async def mark(
        self,
        lead_id: str,
        status: LeadStatus,
        *,
        result: str | None = None,
        next_attempt_at: datetime | None = None,
        only_from: Collection[LeadStatus] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Set the lead's status (and the last attempt's ``result``, when its next attempt is);
        entering ``dialing`` counts an attempt. With ``only_from``, only a lead in one of those
        statuses changes: two instances that race to dial one lead cannot both move it from
        ``new`` to ``dialing``. True when the lead changed."""
        values: dict[str, Any] = {
            "status": status.value,
            "next_attempt_at_us": micros(next_attempt_at),
            "updated_at_us": to_us(now or datetime.now(UTC)),
        }
        if result is not None:
            values["last_result"] = result
        if status is LeadStatus.DIALING:
            values["attempts"] = LeadRow.attempts + 1
        query = update(LeadRow).where(LeadRow.lead_id == lead_id).values(**values)
        if only_from is not None:
            query = query.where(LeadRow.status.in_(sorted(s.value for s in only_from)))
        async with self.engine.begin() as connection:
            changed = await connection.execute(query)
        return bool(changed.rowcount)


def _row(request: LeadRequest) -> dict[str, Any]:
    return {
        "lead_id": request.lead_id,
        "source": request.source.value,
        "phone_number": request.number.e164,
        "campaign": request.campaign,
        "created_at_us": to_us(request.created_at),
        "status": LeadStatus.NEW.value,
        "name": request.name,
        "idempotency_key": request.idempotency_key,
        "deadline_at_us": to_us(request.deadline_at),
        "data": request.stored_data(),
        "attempts": 0,
        "next_attempt_at_us": micros(request.due_at),
        "updated_at_us": to_us(request.created_at),
    }


def _time(micros_value: int | None) -> datetime | None:
    return from_us(micros_value) if micros_value is not None else None


def _lead(row: Any) -> Lead:
    return Lead(
        lead_id=row["lead_id"],
        source=row["source"],
        phone_number=row["phone_number"],
        status=LeadStatus(row["status"]),
        created_at=from_us(row["created_at_us"]),
        deadline_at=_time(row["deadline_at_us"]),
        next_attempt_at=_time(row["next_attempt_at_us"]),
        name=row["name"],
        campaign=row["campaign"],
        idempotency_key=row["idempotency_key"],
        attempts=row["attempts"],
        last_result=row["last_result"],
        data=dict(row["data"] or {}),
        updated_at=_time(row["updated_at_us"]),
    )
