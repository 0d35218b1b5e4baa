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

A lead's campaign decides its queue (``queue_of``), its calling hours (``_check``) and its retry
rules (``_rules_of``); only running campaigns on a day of their schedule are dialled. Still to
plug in, each at its one call site: pacing (``_lines``: ``pacing.pace``, predictive dialling
more lines than agents with ``dial(lead, reserve=False)``) and the hopper (``take_due``:
``Hopper.take``).
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
from cti.outbound.campaigns import RETRY_RESULTS, Campaign
from cti.outbound.dial_records import Attempt, DueLead, put_back, refuse, settle, take_due
from cti.outbound.numbers import Dialable
from cti.outbound.outbound_leg import CustomerLegs, DialerParts, OutboundCall
from cti.outbound.pacing import DialMode
from cti.outbound.refusal import Refusal
from cti.outbound.retries import DEFAULT_RULES, DialResult, RetryRule, Rule, after

log = logging.getLogger(__name__)

__all__ = ["Dialer", "DialerParts"]


class Dialer:
    def __init__(self, parts: DialerParts) -> None:
        self.parts = parts
        settings = parts.settings
        self.legs = CustomerLegs(parts, self._settle)
        self._asking: set[str] = set()  # calls waiting for their reservation
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The running campaigns that dial today, by name, as the last pass read them.
        self.campaigns: dict[str, Campaign] = {}
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
        """One pass: per queue, take as many due leads as lines may be dialled, work each; how
        many. A queue's leads are those of no campaign (``[outbound] queue``'s) and those of
        the running campaigns it takes, on a day of their schedule; a preview campaign's wait
        for an agent to ask for them (``cti.outbound.preview``)."""
        now = self.parts.clock()
        today = datetime.fromtimestamp(now, self.parts.campaigns.tz).date()
        running = await self.parts.campaigns.running()
        self.campaigns = {c.name: c for c in running if c.settings.schedule.dials_on(today)}
        groups: dict[str, list[str | None]] = {} if self.queue is None else {self.queue: [None]}
        for campaign in self.campaigns.values():
            if campaign.dial_mode is not DialMode.PREVIEW:
                groups.setdefault(campaign.queue, []).append(campaign.name)
        taken = 0
        for queue, campaigns in groups.items():
            leads = await take_due(self.parts.engine, now, await self._lines(queue), campaigns)
            for lead in leads:
                self._spawn(self.dial(lead))
            taken += len(leads)
        return taken

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
        queue = next((q for q in parts.acd.queues if q.name == queue_name), None)
        if queue is None:  # a campaign's queue the ACD's configuration no longer has
            log.error("outbound: queue %r is not a queue of the ACD: its leads wait", queue_name)
            return 0
        agents = await parts.state.snapshots(parts.acd.agents)
        ready = eligible(queue, agents, Entry("", queue_name, now), now)
        waiting = await parts.state.queue_length(queue_name)
        return max(0, len(ready) - waiting - len(self._asking))

    async def _check(self, lead: DueLead) -> Dialable | Refusal:
        """May this lead's number be dialled now: the guard's every rule, within its campaign's
        calling hours, and the attempt counted (a refusal is recorded there, ``dial_refused``,
        and logged)."""
        now = datetime.fromtimestamp(self.parts.clock(), UTC)
        campaign = self.campaigns.get(lead.campaign or "")
        hours = None if campaign is None else campaign.settings.calling_hours
        return await self.parts.guard.take(
            lead.phone_number,
            lead_id=lead.lead_id,
            campaign=lead.campaign,
            now=now,
            calling_hours=None if hours is None else str(hours),
        )

    def queue_of(self, lead: DueLead) -> str:
        """The queue whose agents take the lead: its campaign's, else ``[outbound] queue``."""
        campaign = self.campaigns.get(lead.campaign or "")
        return campaign.queue if campaign is not None else self.queue or self.parts.settings.queue

    def _rules_of(self, lead: DueLead) -> Mapping[DialResult, RetryRule]:
        """The lead's retry rules: its campaign's for the results it names (a result it leaves
        out is not retried), none beyond its attempts in all; the defaults for the rest (an
        abandoned or dropped call) and for leads of no campaign."""
        campaign = self.campaigns.get(lead.campaign or "")
        if campaign is None:
            return DEFAULT_RULES
        settings = campaign.settings
        rules: dict[DialResult, RetryRule] = {
            result: rule for result, rule in DEFAULT_RULES.items() if result.value not in RETRY_RESULTS
        }
        for result, rule in settings.retries.items():
            rules[DialResult(result)] = Rule(rule.after_s, min(rule.max_attempts, settings.max_attempts))
        return rules

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
