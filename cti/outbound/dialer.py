"""The dialer: takes due leads, reserves an agent for each through the ACD, dials the customer.

Progressive dialing (one line per free agent), run by every instance: each pass asks how many
lines may be dialled now (``_lines``: a ready agent of the queue each, less the callers waiting
in it and the reservations already asked), takes that many due leads (``take_due``: atomic, so
two instances never take one lead), and works each lead on its own task: the number is checked
(``_check``: the dial guard, which counts the attempt), an agent is reserved through the ACD's
one claim path (``OutboundDesk.reserve``: after every inbound caller; none within ``[outbound]
reserve_wait_s`` puts the lead back), and the customer's leg is dialled
(``cti.outbound.outbound_leg``). When the attempt ends, its result
decides the lead's next step (``cti.outbound.retries``) and both are stored.

Where the other outbound parts plug in (each call site is the one place to change):
``_lines`` is pacing's (``pacing.pace``: predictive dials more lines than agents, with
``dial(lead, reserve=False)``); ``take_due`` the hopper's (``Hopper.take``); ``queue_of`` and
``_rules_of`` the campaigns' (the campaign's queue and retry rules).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from cti.acd.model import Entry
from cti.acd.strategies import eligible
from cti.ari.events import Event
from cti.cancellation import raise_if_cancelling
from cti.outbound.dial_records import Attempt, DueLead, put_back, refuse, settle, take_due
from cti.outbound.numbers import Dialable
from cti.outbound.outbound_leg import CustomerLegs, DialerParts, OutboundCall
from cti.outbound.refusal import Refusal
from cti.outbound.retries import DEFAULT_RULES, DialResult, RetryRule, after

log = logging.getLogger(__name__)

__all__ = ["Dialer", "DialerParts"]


class Dialer:
    def __init__(self, parts: DialerParts) -> None:
        self.parts = parts
        settings = parts.settings
        self.legs = CustomerLegs(parts, self._settle)
        self._asking: set[str] = set()  # calls waiting for their reservation
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The queue of leads of no campaign; a center whose ACD has no such queue dials none.
        self.queue = settings.queue if settings.queue in {q.name for q in parts.acd.queues} else None
        if self.queue is None:
            log.error(
                "outbound: [outbound] queue %r is not a queue of the ACD: no lead is dialled", settings.queue
            )

    async def prepare(self) -> None:
        """Render the abandon message before the first call needs it (cached afterwards)."""
        settings = self.parts.settings
        text = settings.abandon_message.format(center=settings.center_name)
        await self.parts.prompts.sound_uri(text, settings.abandon_language)

    async def run(self) -> None:
        """Dial what is due, every ``[outbound] poll_s``, until cancelled."""
        while True:
            raise_if_cancelling()
            try:
                await self.tick()
            except (RedisError, OSError, SQLAlchemyError) as exc:
                log.warning("outbound: dialer pass skipped: %s", exc)
            except Exception:  # a bug must not end the dialing for good
                log.exception("outbound: dialer pass failed")
            await asyncio.sleep(self.parts.settings.poll_s)

    async def tick(self) -> int:
        """One pass: take as many due leads as lines may be dialled, work each; how many."""
        leads = await take_due(
            self.parts.engine, self.parts.clock(), await self._lines(self.parts.settings.queue)
        )
        for lead in leads:
            self._spawn(self.dial(lead))
        return len(leads)

    async def handle(self, event: Event) -> bool:
        """An ARI event of an outbound customer's leg; True if nobody else needs it."""
        return await self.legs.handle(event)

    @property
    def channels(self) -> set[str]:
        return self.legs.channels

    async def dial(
        self, lead: DueLead, *, reserve: bool = True, agent: str | None = None, call_id: str | None = None
    ) -> str | None:
        """One attempt for a lead taken from the hopper: check, reserve (unless ``reserve`` is
        False: predictive pacing dials ahead of agents; or ``agent`` was claimed already for
        ``call_id``: a preview), dial. The call's id, or None when it was not dialled."""
        parts = self.parts
        number = await self._check(lead)
        if isinstance(number, Refusal):
            await self._refused(lead, number)
            if agent is not None:
                await parts.desk.release(agent)
            return None
        call_id = call_id or f"out-{uuid.uuid4().hex[:16]}"
        queue = self.queue_of(lead)
        if agent is None and reserve:
            agent = await self._reserve(call_id, queue, lead)
            if agent is None:
                await put_back(parts.engine, lead, parts.clock())
                return None
        await self.legs.originate(OutboundCall(lead, call_id, number, queue, agent, parts.clock()))
        return call_id

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- where pacing, the guard and campaigns plug in -----------------------------------------
    async def _lines(self, queue_name: str) -> int:
        """Progressive pacing: a line per ready agent of the queue, less the callers waiting
        for it (inbound first) and the reservations asked already (SWAP AT MERGE: ``pace``)."""
        parts, now = self.parts, self.parts.clock()
        queue = next(q for q in parts.acd.queues if q.name == queue_name)
        agents = await parts.state.snapshots(parts.acd.agents)
        ready = eligible(queue, agents, Entry("", queue_name, now), now)
        waiting = await parts.state.queue_length(queue_name)
        return max(0, len(ready) - waiting - len(self._asking))

    async def _check(self, lead: DueLead) -> Dialable | Refusal:
        """May this lead's number be dialled now: the guard's every rule, and the attempt counted
        (a refusal is recorded there, ``dial_refused``, and logged)."""
        now = datetime.fromtimestamp(self.parts.clock(), UTC)
        return await self.parts.guard.take(
            lead.phone_number, lead_id=lead.lead_id, campaign=lead.campaign, now=now
        )

    def queue_of(self, lead: DueLead) -> str:
        """The queue whose agents take the lead (SWAP AT MERGE: its campaign's queue)."""
        return self.queue or self.parts.settings.queue

    def _rules_of(self, lead: DueLead) -> Mapping[DialResult, RetryRule]:
        """The lead's retry rules (SWAP AT MERGE: its campaign's)."""
        return DEFAULT_RULES

    # --- the steps ----------------------------------------------------------------------------
    async def _reserve(self, call_id: str, queue: str, lead: DueLead) -> str | None:
        desk = self.parts.desk
        agent = await desk.reserve(call_id, queue, lead.urgency, self.legs.hold_s)
        self._asking.add(call_id)
        try:
            return await asyncio.wait_for(asyncio.shield(agent), self.parts.settings.reserve_wait_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            desk.withdraw(call_id)  # a claim won from now on frees its agent (``Routing``)
            won = agent.result() if agent.done() and not agent.cancelled() else None
            if isinstance(exc, asyncio.CancelledError):  # stopping: no dial, the agent is free
                if won is not None:
                    self._spawn(desk.release(won))
                raise
            return won
        finally:
            self._asking.discard(call_id)

    async def _refused(self, lead: DueLead, refusal: Refusal) -> None:
        """The lead of a refused dial: refused for good, or back for when the rules allow it."""
        parts, now = self.parts, self.parts.clock()
        if refusal.retry_at is None:
            await refuse(parts.engine, lead, refusal.rule.value, now)
        else:
            await put_back(parts.engine, lead, now, refusal.retry_at.timestamp())

    async def _settle(self, call: OutboundCall, result: DialResult, now: float) -> None:
        """Store the attempt and the lead's next step, off the call path (it is over)."""
        attempt = Attempt(
            call.lead,
            call.call_id,
            call.number.e164,
            call.started_at,
            call.answered_at,
            now,
            result,
            call.agent,
        )
        next_step = after(result, call.lead.attempts + 1, now, self._rules_of(call.lead))
        self._spawn(settle(self.parts.engine, attempt, next_step))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbound: task failed", exc_info=task.exception())
