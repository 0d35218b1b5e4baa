"""The screen-pops the service sends: the call's journey with the CRM card and the caller's
history (adapter around the pure ``cti.desk.pop.build_pop``).

The pops of a batch of offers are built together: their cards and histories are read in one
go, one query after the other on one connection (``cti.desk.crm``: about ten queries for a
batch of fifty offers as for one), within ``CRM_WAIT_S``. A store that is away or slow gives
pops without them (``crm_reached`` false) rather than late ones or none, because the agents'
phones are ringing now. One read per batch, not one per offer, because in a burst of calls
every query's turn of the event loop is a long one: fifty pops read one by one cost the loop
about 2.5 ms each and waited in waves for their connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.crm import NO_HISTORY, caller_histories, read_cards
from cti.desk.pop import build_pop
from cti.events import CallEvent, EventKind
from cti.roles import Role

log = logging.getLogger(__name__)

CRM_WAIT_S = 0.5  # the longest a pop waits for the CRM


def journey_only(offer: CallEvent, journey: Sequence[CallEvent]) -> dict[str, Any]:
    """The pop without the CRM: who calls, the IVR path, the queue and the wait."""
    return build_pop(offer, journey, None, NO_HISTORY, viewer=Role.AGENT, now=offer.at, crm_reached=False)


class CrmPops:
    """Builds the pops of a batch of offers, each for the agent it rings
    (``cti.desk.publisher.PopBuilder``)."""

    def __init__(
        self, engine: AsyncEngine, tz: ZoneInfo, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        # Reads only, each consistent on its own: no transaction, so no BEGIN and no ROLLBACK
        # round trip around them.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.tz = tz
        self.clock = clock

    async def __call__(
        self, offers: Sequence[tuple[CallEvent, Sequence[CallEvent]]]
    ) -> list[Mapping[str, Any]]:
        callers = [(offer.caller_number or "", _customer_id(journey)) for offer, journey in offers]
        calls = [(offer.caller_number or "", offer.call_id) for offer, _ in offers]
        now = self.clock()
        try:
            async with asyncio.timeout(CRM_WAIT_S), self.engine.connect() as connection:
                cards = await read_cards(connection, callers)
                histories = await caller_histories(connection, calls, now)
        except Exception as exc:
            log.warning("desk: %d pops without the CRM: %r", len(offers), exc)
            return [journey_only(offer, journey) for offer, journey in offers]
        local = now.astimezone(self.tz)
        return [
            build_pop(offer, journey, card, history, viewer=Role.AGENT, now=local)
            for (offer, journey), card, history in zip(offers, cards, histories, strict=True)
        ]


def _customer_id(journey: Sequence[CallEvent]) -> int | None:
    """The customer the IVR identified (its lookup's ``customer.id``, handed over with the
    queue), which beats the caller's number: the caller may ring from another phone."""
    for event in reversed(journey):
        if event.kind is EventKind.QUEUE_ENTERED and isinstance(event.data.get("ivr"), Mapping):
            value = (event.data["ivr"].get("values") or {}).get("customer.id")
            return int(value) if isinstance(value, str | int) and str(value).isdigit() else None
    return None
