"""Taking leads in: into the store (the truth), the event log (``lead_created``) and the hopper
(to be dialled at once), in that order.

- From the API (``take_in``): the lead is acknowledged only once it is durable, in SQL and its
  ``lead_created`` in the outbox. The event's id is the lead's (``lead_created:<lead_id>``), so a
  retry after a failure between the two records it again and the store keeps it once. The
  hopper comes last and may fail: ``Hopper.keep_filled`` brings a due lead in from SQL.
- From the call path (``remember``: an IVR caller's callback request, a queue callback the
  customer did not answer): the call must not wait for SQL (DESIGN §7), so the lead is stored
  by a task of its own, tried again while the store is away. Their ``lead_created`` is the
  call's own (recorded with the call, when the request was made).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.errors import ConfigError, ServiceUnavailable
from cti.events import CallEvent, EventKind
from cti.live.outbox import EventOutbox
from cti.outbound.hopper import Hopper
from cti.outbound.lead_store import LeadConflict, LeadStore
from cti.outbound.leads import (
    WAITING,
    Lead,
    LeadInvalid,
    LeadRequest,
    LeadRules,
    LeadSource,
    NumberRefused,
    callback_lead,
    deadline_s,
    lead_created_event,
)
from cti.outbound.numbers import NumberPolicy
from cti.outbound.refusal import Refusal
from cti.settings import Settings

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0  # one try at storing a lead from the call path
STORE_RETRY_S = 5.0  # while the store is away, a callback's lead is tried again this often
STORE_WITHIN_S = 3600.0  # and given up (logged as an error) after this long


class LeadIntake:
    @classmethod
    def of(
        cls,
        settings: Settings,
        engine: AsyncEngine,
        redis: aioredis.Redis,
        outbox: EventOutbox,
        instance: str,
    ) -> LeadIntake:
        """The service's intake: its store, the hopper under ``[acd] redis_prefix``, the rules
        of ``[outbound]`` and the center's time zone (``[kpi] timezone``)."""
        outbound = settings.outbound
        try:
            policy = NumberPolicy.of(outbound.region, outbound.allowed_regions, outbound.allowed_types)
        except ValueError as exc:
            raise ConfigError("[outbound]", "region, allowed_regions, allowed_types", str(exc)) from exc
        rules = LeadRules(policy, outbound.lead_deadline_s, ZoneInfo(settings.kpi.timezone))
        hopper = Hopper(redis, f"{settings.acd.redis_prefix}:hopper", instance)
        return cls(LeadStore(engine), hopper, outbox, rules, callback_retry_s=outbound.callback_retry_s)

    def __init__(
        self,
        store: LeadStore,
        hopper: Hopper,
        outbox: EventOutbox,
        rules: LeadRules,
        *,
        callback_retry_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.hopper = hopper
        self.outbox = outbox
        self.rules = rules
        self.callback_retry_s = callback_retry_s  # an unanswered queue callback is dialled again then
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def take_in(self, request: LeadRequest) -> tuple[Lead, bool]:
        """Store the lead (or find the one its key made: False), record ``lead_created``, and
        put it in the hopper. ``LeadConflict``: the key was used for another lead;
        ``ServiceUnavailable``: the store or Redis is away (nothing acknowledged: retry);
        ``LeadInvalid``: its campaign does not exist (its lead would wait for no dialer)."""
        try:
            if request.campaign is not None and not await self.store.campaign_exists(request.campaign):
                raise LeadInvalid({"campaign": f"no campaign {request.campaign!r}"})
            lead, created = await self.store.create(request)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(f"the store did not take the lead: {exc.__class__.__name__}") from exc
        try:
            await self.outbox.record(lead_created_event(lead, lead.created_at))
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"the lead's event was not recorded: {exc}") from exc
        await self._offer(lead)
        if created:
            log.info("lead %s from %s taken in", lead.lead_id, lead.source, extra={"lead_id": lead.lead_id})
        return lead, created

    async def _offer(self, lead: Lead) -> None:
        """Into the hopper if still to be dialled and not there yet; Redis trouble is logged
        (a refill puts it in from SQL)."""
        if lead.status not in WAITING:
            return
        due_at, urgency = lead.hopper_place()
        try:
            await self.hopper.offer(
                lead.lead_id, due_at, urgency, lead.campaign, now=self.clock().timestamp()
            )
        except (RedisError, OSError) as exc:
            log.warning("lead %s not in the hopper yet (%s): the refill puts it there", lead.lead_id, exc)

    def remember(self, request: LeadRequest) -> None:
        """Store a lead the service made, in the background, tried again while the store is
        away (see the module's docstring); then into the hopper."""
        task = asyncio.create_task(self._remember(request), name=f"lead-{request.lead_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remember(self, request: LeadRequest) -> None:
        given_up = asyncio.get_running_loop().time() + STORE_WITHIN_S
        while True:
            try:
                async with asyncio.timeout(STORE_TIMEOUT_S):
                    lead, _ = await self.store.create(request)
                break
            except LeadConflict as exc:
                log.error("lead %s not stored: %s", request.lead_id, exc)
                return
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                if asyncio.get_running_loop().time() >= given_up:
                    log.error("lead %s lost: the store was away too long (%s)", request.lead_id, exc)
                    return
                log.warning("lead %s not stored yet, trying again: %s", request.lead_id, exc)
                await asyncio.sleep(STORE_RETRY_S)
        log.info("lead %s from %s stored", lead.lead_id, lead.source, extra={"lead_id": lead.lead_id})
        await self._offer(lead)

    async def refused(
        self, refusal: Refusal, *, lead_id: str, call_id: str = "", queue: str | None = None
    ) -> None:
        """A lead whose number may not be dialled: the ``dial_refused`` event says why."""
        log.info("lead %s refused: %s (%s)", lead_id, refusal.rule.value, refusal.reason)
        await self.outbox.try_record(
            CallEvent(
                EventKind.DIAL_REFUSED,
                self.clock(),
                call_id,
                queue=queue,
                lead_id=lead_id,
                data={"rule": refusal.rule.value, "reason": refusal.reason, "campaign": None},
            )
        )

    async def ivr_callback(
        self,
        number: str,
        lead_id: str,
        call_id: str,
        queue: str,
        language: str,
        *,
        now: datetime,
        due_at: datetime | None,
    ) -> dict[str, object]:
        """An IVR caller's callback request as a lead under ``lead_id`` (one per call: keyed by
        the caller's channel), due at ``due_at`` (the center's next opening; None: at once), to
        be called back on the caller's number. Returns what its ``lead_created`` says of it:
        the deadline and due time, or the rule that refused the number."""
        try:
            request = callback_lead(
                LeadSource.IVR_CALLBACK,
                number,
                f"ivr_callback:{call_id}",
                self.rules,
                now,
                due_at=due_at,
                lead_id=lead_id,
                data={"queue": queue, "call_id": call_id, "language": language},
            )
        except NumberRefused as exc:
            await self.refused(exc.refusal, lead_id=lead_id, call_id=call_id, queue=queue)
            return {"refused": exc.refusal.rule.value}
        self.remember(request)
        due = request.due_at.isoformat() if request.due_at else None
        return {"deadline_s": deadline_s(request), "due_at": due}

    async def queue_callback(
        self, number: str, *, lead_id: str, call_id: str, queue: str, reason: str
    ) -> None:
        """A queue callback that could not be served (``cti.acd.callbacks``: the customer did
        not answer, or could not be dialled) becomes a lead of its own source, under the lead id
        its booking recorded, dialled again ``callback_retry_s`` later."""
        now = self.clock()
        try:
            request = callback_lead(
                LeadSource.QUEUE_CALLBACK,
                number,
                f"queue_callback:{lead_id}",
                self.rules,
                now,
                due_at=now + timedelta(seconds=self.callback_retry_s),
                lead_id=lead_id,
                data={"queue": queue, "call_id": call_id, "reason": reason},
            )
        except NumberRefused as exc:
            await self.refused(exc.refusal, lead_id=lead_id, call_id=call_id, queue=queue)
            return
        self.remember(request)

    async def aclose(self) -> None:
        """At a stop: leads still being stored get a moment, then are cancelled (logged)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=STORE_TIMEOUT_S)
        for task in pending:
            log.error("stopping: lead task %s not finished", task.get_name())
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
