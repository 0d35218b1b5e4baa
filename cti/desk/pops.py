"""The screen-pops the service sends: the call's journey with the CRM card and the caller's
history (adapter around the pure ``cti.desk.pop.build_pop``).

The CRM is read when a call is first seen, not when an agent's phone rings: the publisher tells
``foresee`` every call of each batch, and the card and history of the calls new to it are read
then, in the background, while the caller is in the IVR or the queue. By the time an offer
comes they are in hand, and the pop costs no query on its way to the desktop. A caller the IVR
identified as another customer than the number's (by a plate, say) is read again for that
customer. An offer whose call was not foreseen (an instance that did not see its first event:
the publishers of several instances share the stream) is read then, as before.

Reads are batched: the calls new in a batch, or the offers of a batch not foreseen, are read
together, one query after the other on one connection (``cti.desk.crm``: about ten queries for
fifty calls as for one). An offer waits at most ``CRM_WAIT_S`` for them: a store that is away or
slow gives pops without them (``crm_reached`` false) rather than late ones or none, because the
agents' phones are ringing now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.crm import NO_HISTORY, CallerHistory, CustomerCard, caller_histories, read_cards
from cti.desk.pop import build_pop
from cti.events import CallEvent, EventKind
from cti.roles import Role

log = logging.getLogger(__name__)

CRM_WAIT_S = 0.5  # the longest a pop waits for the CRM
FORESEEN_READ_S = 5.0  # the longest a read in the background may take
FORESEEN_KEEP_S = 900.0  # what was read for a call is kept this long (then read again at its offer)

Caller = tuple[str, int | None]  # the caller's number, and the customer the IVR identified
Read = Mapping[str, tuple[CustomerCard | None, CallerHistory]]  # per call id


def journey_only(offer: CallEvent, journey: Sequence[CallEvent]) -> dict[str, Any]:
    """The pop without the CRM: who calls, the IVR path, the queue and the wait."""
    return build_pop(offer, journey, None, NO_HISTORY, viewer=Role.AGENT, now=offer.at, crm_reached=False)


@dataclass(frozen=True)
class _Foreseen:
    call_id: str
    caller: Caller
    read: asyncio.Task[Read]
    since: float  # monotonic

    def serves(self, caller: Caller) -> bool:
        """Whether what was read serves ``caller``: the same, or the number's own customer,
        whom the IVR identified (its lookup found the caller by the number, as the read did)."""
        if self.read.done() and (self.read.cancelled() or self.read.exception() is not None):
            return False  # it failed: read again
        if caller == self.caller:
            return True
        number, customer_id = caller
        if number != self.caller[0] or self.caller[1] is not None or customer_id is None:
            return False
        if not self.read.done():
            return False
        card, _ = self.read.result()[self.call_id]
        return card is not None and card.id == customer_id


class CrmPops:
    """Builds the pops of a batch of offers, each for the agent it rings
    (``cti.desk.publisher.PopSource``)."""

    def __init__(
        self, engine: AsyncEngine, tz: ZoneInfo, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        # Reads only, each consistent on its own: no transaction, so no BEGIN and no ROLLBACK
        # round trip around them.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.tz = tz
        self.clock = clock
        self._foreseen: dict[str, _Foreseen] = {}  # by call id, oldest first

    def foresee(self, events: Sequence[CallEvent], journeys: Mapping[str, Sequence[CallEvent]]) -> None:
        """A batch's events, with their calls' journeys: start reading for the calls new here."""
        self._forget_old()
        new: dict[str, Caller] = {}
        for event in events:
            if event.kind is EventKind.CALL_ENDED:
                self._foreseen.pop(event.call_id, None)
                new.pop(event.call_id, None)
            elif event.call_id and event.caller_number:
                caller = (event.caller_number, _customer_id(journeys.get(event.call_id, ())))
                known = self._foreseen.get(event.call_id)
                if known is None or not known.serves(caller):
                    new[event.call_id] = caller
        if not new:
            return
        read = asyncio.create_task(self._read_in_background(new))
        read.add_done_callback(_said_if_failed)
        since = time.monotonic()
        for call_id, caller in new.items():
            self._foreseen.pop(call_id, None)  # to the end: the dict stays oldest first
            self._foreseen[call_id] = _Foreseen(call_id, caller, read, since)

    async def __call__(
        self, offers: Sequence[tuple[CallEvent, Sequence[CallEvent]]]
    ) -> list[Mapping[str, Any]]:
        now = self.clock()
        unforeseen: dict[str, Caller] = {}
        reads: set[asyncio.Task[Read]] = set()
        for offer, journey in offers:
            caller = (offer.caller_number or "", _customer_id(journey))
            known = self._foreseen.get(offer.call_id)
            if known is not None and known.serves(caller):
                reads.add(known.read)
            else:
                unforeseen[offer.call_id] = caller
        try:
            async with asyncio.timeout(CRM_WAIT_S):
                found = dict(await self._read(unforeseen, now)) if unforeseen else {}
                for read in reads:
                    found.update(await asyncio.shield(read))
        except Exception as exc:
            log.warning("desk: %d pops without the CRM: %r", len(offers), exc)
            return [journey_only(offer, journey) for offer, journey in offers]
        local = now.astimezone(self.tz)
        return [
            build_pop(offer, journey, *found[offer.call_id], viewer=Role.AGENT, now=local)
            for offer, journey in offers
        ]

    async def _read_in_background(self, calls: Mapping[str, Caller]) -> Read:
        async with asyncio.timeout(FORESEEN_READ_S):
            return await self._read(calls, self.clock())

    async def _read(self, calls: Mapping[str, Caller], now: datetime) -> Read:
        """The calls' cards and histories, in one go on one connection."""
        async with self.engine.connect() as connection:
            cards = await read_cards(connection, list(calls.values()))
            histories = await caller_histories(
                connection, [(number, call_id) for call_id, (number, _) in calls.items()], now
            )
        return dict(zip(calls, zip(cards, histories, strict=True), strict=True))

    def _forget_old(self) -> None:
        """Drop what was read for calls first seen more than ``FORESEEN_KEEP_S`` ago (a call
        whose end this instance did not see; a caller still waiting is read again)."""
        oldest = time.monotonic() - FORESEEN_KEEP_S
        while self._foreseen:
            call_id, foreseen = next(iter(self._foreseen.items()))
            if foreseen.since >= oldest:
                return
            del self._foreseen[call_id]


def _said_if_failed(read: asyncio.Task[Read]) -> None:
    """A read in the background that failed is logged here (its offers, if any come, are read
    again or pop without the CRM)."""
    if not read.cancelled() and read.exception() is not None:
        log.warning("desk: reading the CRM ahead of offers failed: %r", read.exception())


def _customer_id(journey: Sequence[CallEvent]) -> int | None:
    """The customer the IVR identified (its lookup's ``customer.id``, handed over with the
    queue), which beats the caller's number: the caller may ring from another phone."""
    for event in reversed(journey):
        if event.kind is EventKind.QUEUE_ENTERED and isinstance(event.data.get("ivr"), Mapping):
            value = (event.data["ivr"].get("values") or {}).get("customer.id")
            return int(value) if isinstance(value, str | int) and str(value).isdigit() else None
    return None
