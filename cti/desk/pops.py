"""The screen-pops the service sends: the call's journey with the CRM card and the caller's
history (adapter around the pure ``cti.desk.pop.build_pop``).

The card and the history are read one after the other on one connection, within
``CRM_WAIT_S``: a store that is away or slow gives a pop without them (``crm_reached`` false)
rather than a late one or none, because the agent's phone is ringing now. One connection, not
two at once: in a burst of offers the pops' cost is the event loop's time and the pool's
connections (each checkout pings and each return rolls back: two round trips more), and a pop
alone is still a few milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.crm import NO_HISTORY, caller_history, read_card
from cti.desk.pop import build_pop
from cti.events import CallEvent, EventKind
from cti.roles import Role

log = logging.getLogger(__name__)

CRM_WAIT_S = 0.5  # the longest a pop waits for the CRM


def journey_only(offer: CallEvent, journey: Sequence[CallEvent]) -> dict[str, Any]:
    """The pop without the CRM: who calls, the IVR path, the queue and the wait."""
    return build_pop(offer, journey, None, NO_HISTORY, viewer=Role.AGENT, now=offer.at, crm_reached=False)


class CrmPops:
    """Builds each offer's pop for the agent it rings (``cti.desk.publisher.PopBuilder``)."""

    def __init__(
        self, engine: AsyncEngine, tz: ZoneInfo, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        # Reads only, each consistent on its own: no transaction, so no BEGIN and no ROLLBACK
        # round trip around them (two of a pop's seven, for an unknown caller).
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.tz = tz
        self.clock = clock

    async def __call__(self, offer: CallEvent, journey: Sequence[CallEvent]) -> Mapping[str, Any]:
        number = offer.caller_number or ""
        now = self.clock()
        try:
            async with asyncio.timeout(CRM_WAIT_S), self.engine.connect() as connection:
                card = await read_card(connection, number, _customer_id(journey))
                history = await caller_history(connection, number, now, offer.call_id)
        except Exception as exc:
            log.warning("desk: pop without the CRM: %r", exc, extra={"channel": offer.call_id})
            return journey_only(offer, journey)
        return build_pop(offer, journey, card, history, viewer=Role.AGENT, now=now.astimezone(self.tz))


def _customer_id(journey: Sequence[CallEvent]) -> int | None:
    """The customer the IVR identified (its lookup's ``customer.id``, handed over with the
    queue), which beats the caller's number: the caller may ring from another phone."""
    for event in reversed(journey):
        if event.kind is EventKind.QUEUE_ENTERED and isinstance(event.data.get("ivr"), Mapping):
            value = (event.data["ivr"].get("values") or {}).get("customer.id")
            return int(value) if isinstance(value, str | int) and str(value).isdigit() else None
    return None
