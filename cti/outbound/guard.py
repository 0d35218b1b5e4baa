"""The one gate every dial goes through: queue callbacks, leads and campaign calls alike.

``admit`` is asked when a number enters the hopper (or a caller books a callback): can it be
dialled at all (``read_number``: a valid number of an allowed country and type, no emergency or
short code), is it on the do-not-call list, and do the calling hours, the lock-out and the rates
allow it now. It counts nothing. ``take`` is asked just before the dial: everything again, and
the call is counted in Redis in the same atomic step that checks the limits
(``cti.outbound.attempts``), so two instances never exceed them together. Every refusal is
recorded as a ``dial_refused`` event (rule, reason, campaign; the lead's id on the event) through
the outbox and logged with the number masked; a rule that cannot be checked (the store or Redis
away, or too slow) refuses the dial (``unchecked``), never lets it through.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.desk.masking import mask_number
from cti.events import CallEvent, EventKind
from cti.live.outbox import EventOutbox
from cti.outbound.attempts import DialAttempts
from cti.outbound.dnc import listed
from cti.outbound.numbers import Dialable, NumberPolicy, read_number
from cti.outbound.refusal import Refusal, Rule
from cti.outbound.rules import CallingRules
from cti.settings import Settings

log = logging.getLogger(__name__)

#: How long the guard waits for the store and Redis before refusing as ``unchecked``: a dial
#: is on the call path (a callback's agent is waiting), which never waits unbounded.
CHECK_TIMEOUT_S = 2.0
#: When an ``unchecked`` dial may be tried again.
UNCHECKED_RETRY = timedelta(seconds=60)
RACE_RETRY = timedelta(seconds=1)  # a count lost to another instance's at the limit's very edge


class _Unchecked(Exception):
    """The store or Redis did not answer: the rules cannot be checked."""


@dataclass(frozen=True)
class _Dial:
    """One question to the guard: which number, for which lead and campaign, when."""

    raw: str
    lead_id: str | None
    campaign: str | None
    call_id: str
    now: datetime
    calling_hours: str | None  # the campaign's own


class DialGuard:
    def __init__(
        self,
        policy: NumberPolicy,
        rules: CallingRules,
        engine: AsyncEngine,
        attempts: DialAttempts,
        outbox: EventOutbox,
        *,
        timeout_s: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.policy = policy
        self.rules = rules
        self.engine = engine  # the do-not-call list
        self.attempts = attempts
        self.outbox = outbox
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, outbox: EventOutbox
    ) -> DialGuard:
        """The guard of ``[outbound]``, numbers with no known timezone judged in the center's
        (``[kpi] timezone``); the counts under ``<[acd] redis_prefix>:dialled``."""
        outbound = settings.outbound
        return cls(
            NumberPolicy.of(outbound.region, outbound.allowed_regions, outbound.allowed_types),
            CallingRules.from_settings(outbound, settings.kpi.timezone),
            engine,
            DialAttempts(redis, f"{settings.acd.redis_prefix}:dialled"),
            outbox,
        )

    async def admit(
        self,
        raw_number: str,
        *,
        lead_id: str | None,
        campaign: str | None,
        now: datetime,
        call_id: str = "",
        calling_hours: str | None = None,
    ) -> Dialable | Refusal:
        """May ``raw_number`` be dialled (at ``now``)? Counts nothing. ``call_id``: the call the
        dial belongs to (a queue callback's), carried by the refusal's event; ``calling_hours``:
        the campaign's own (``CallingRules.within``: never beyond the center's)."""
        dial = _Dial(raw_number, lead_id, campaign, call_id, now, calling_hours)
        return await self._judge(dial, count=False)

    async def take(
        self,
        raw_number: str,
        *,
        lead_id: str | None,
        campaign: str | None,
        now: datetime,
        call_id: str = "",
        calling_hours: str | None = None,
    ) -> Dialable | Refusal:
        """Just before dialling ``raw_number``: ``admit``'s checks, then the call is counted
        atomically against the 24 h and 5-minute limits. A number returned is to be dialled now."""
        dial = _Dial(raw_number, lead_id, campaign, call_id, now, calling_hours)
        return await self._judge(dial, count=True)

    def dialable_at_all(self, raw_number: str) -> bool:
        """Whether ``raw_number`` could ever be dialled: a valid number of a country and type the
        center calls (the list, the hours and the counts aside). Records nothing: what an offer
        to call back is made on, never a dial's permission (that is ``admit`` and ``take``)."""
        return not isinstance(read_number(raw_number, self.policy), Refusal)

    async def note_abandoned(self, number_e164: str, now: datetime) -> None:
        """An answered call to ``number_e164`` got no agent in time: no redial during the lock-out."""
        await self.attempts.note_abandoned(number_e164, now, self.rules.abandon_lockout)

    # --- inside -------------------------------------------------------------------------------
    async def _judge(self, dial: _Dial, *, count: bool) -> Dialable | Refusal:
        number = read_number(dial.raw, self.policy)
        if isinstance(number, Refusal):
            return await self._refuse(dial, number, None)
        try:
            async with asyncio.timeout(self.timeout_s):
                verdict = await self._check(number, dial, count=count)
        except (_Unchecked, TimeoutError) as exc:
            reason = f"the dialing rules could not be checked: {exc or 'no answer in time'}"
            verdict = Refusal(Rule.UNCHECKED, reason, dial.now + UNCHECKED_RETRY)
        if isinstance(verdict, Refusal):
            return await self._refuse(dial, verdict, number)
        return number

    async def _check(self, number: Dialable, dial: _Dial, *, count: bool) -> Refusal | None:
        """The rules' verdict on the facts; with ``count``, the atomic count after it."""
        rules, now = self.rules.within(dial.calling_hours), dial.now
        on_dnc = await self._on_dnc(number.e164)
        try:
            recent, abandoned = await self.attempts.recent(number.e164, now)
        except (RedisError, OSError) as exc:
            raise _Unchecked(f"Redis: {exc}") from exc
        refusal = rules.check(number, now, recent_calls=recent, last_abandoned=abandoned, on_dnc=on_dnc)
        if refusal is not None or not count:
            return refusal
        try:
            taken = await self.attempts.take(
                number.e164, now, max_24h=self.rules.max_calls_24h, max_5min=self.rules.max_calls_5min
            )
        except (RedisError, OSError) as exc:
            raise _Unchecked(f"Redis: {exc}") from exc
        if taken.counted:
            return None
        # Another instance counted a call meanwhile: the limits, with the calls Redis holds now
        # (at a millisecond's edge the rules may see it free: it is still not counted, not dialled).
        late = rules.check(number, now, recent_calls=taken.calls, last_abandoned=abandoned, on_dnc=False)
        return late or Refusal(Rule.RATE_5MIN, "the limits were reached meanwhile", now + RACE_RETRY)

    async def _on_dnc(self, e164: str) -> bool:
        try:
            async with self.engine.connect() as connection:
                return e164 in await listed(connection, [e164])
        except (SQLAlchemyError, OSError) as exc:
            raise _Unchecked(f"the do-not-call list: {type(exc).__name__}") from exc

    async def _refuse(self, dial: _Dial, refusal: Refusal, number: Dialable | None) -> Refusal:
        """Record and log the refusal (the number masked), and return it."""
        data: dict[str, Any] = {
            "rule": refusal.rule.value,
            "reason": refusal.reason,
            "campaign": dial.campaign,
        }
        if refusal.retry_at is not None:
            data["retry_at"] = refusal.retry_at.isoformat()
        event = CallEvent(EventKind.DIAL_REFUSED, dial.now, dial.call_id, lead_id=dial.lead_id, data=data)
        await self.outbox.try_record(event)  # held in the process while Redis is away
        shown = mask_number(number.e164 if number is not None else dial.raw.strip()[:40])
        log.info(
            "dial refused: %s: %s",
            refusal.rule.value,
            refusal.reason,
            extra={"number": shown, "lead": dial.lead_id, "campaign": dial.campaign, "channel": dial.call_id},
        )
        return refusal
