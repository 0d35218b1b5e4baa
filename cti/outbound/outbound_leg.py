"""The customer's leg of an outbound call, over ARI: dialled, answered, connected or abandoned.

The dialer (``cti.outbound.dialer``) decides what to dial and reserves the agent; this module
carries one attempt out. The customer's channel is created in our Stasis app with the trunk's
dial string and the center's caller id, and dialled once its StasisStart is in (``dial_started``
before). Asterisk's ``Dial`` events give the unanswered outcome (busy, no answer, failed). On
answer (``customer_answered``) the ACD connects the reserved agent (``OutboundDesk.connect``:
the agent's leg, the screen-pop, the bridge are the ACD's own, as for any caller); a call dialled
without a reservation (predictive pacing) asks for an agent then, ahead of every lead. A customer
still without an agent ``[outbound] no_agent_s`` after the answer is abandoned: the agent's ring
stops, ``outbound_abandoned``, a short spoken message naming the center, hang-up. When the
customer's channel is gone, the attempt's ``dial_result`` is recorded and ``settle`` stores it
with the lead's next step (``cti.outbound.retries``): the bridge first, the record after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd.model import AcdConfig
from cti.acd.outbound import OutboundDesk
from cti.acd.session import Waiting
from cti.ari.client import AriClient
from cti.ari.events import (
    ChannelDestroyed,
    ChannelStateChange,
    Dial,
    Event,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)
from cti.errors import AriError, AriUnavailable
from cti.events import CallEvent, EventKind
from cti.live.acd_state import AcdState
from cti.live.outbox import EventOutbox
from cti.outbound.campaign_store import CampaignStore
from cti.outbound.dial_records import DueLead
from cti.outbound.guard import DialGuard
from cti.outbound.numbers import Dialable
from cti.outbound.retries import DialResult, result_of
from cti.settings import OutboundSettings
from cti.tts.renderer import Prompts

log = logging.getLogger(__name__)

OUTBOUND_CUSTOMER = "outbound-customer"  # Stasis args of a customer's leg: outbound-customer,<lead id>
ANSWERED_FIRST = float("-inf")  # an answered customer's urgency: ahead of every lead
HOLD_MARGIN_S = 10.0  # a reserved agent's deadline beyond the rings and the wait it may cover
MESSAGE_MAX_S = 30.0  # the abandoned customer is hung up after this even if no PlaybackFinished comes


@dataclass(frozen=True)
class DialerParts:
    """What the dialer works with: the ARI client and Stasis app, the ACD's outbound desk and
    configuration, the live state, the store, the outbox, the settings and the prompts."""

    ari: AriClient
    app: str
    desk: OutboundDesk
    acd: AcdConfig
    state: AcdState
    engine: AsyncEngine
    outbox: EventOutbox
    settings: OutboundSettings
    prompts: Prompts
    guard: DialGuard  # every number, just before its dial (and the lock-out after an abandon)
    campaigns: CampaignStore  # which campaigns dial now, their queues, hours and retry rules
    clock: Callable[[], float] = time.time


@dataclass
class OutboundCall:
    """One dial attempt for a lead; ``call_id`` is the customer's channel id (and the call's)."""

    lead: DueLead
    call_id: str
    number: Dialable
    queue: str
    agent: str | None  # the agent reserved before the dial (None: dialled ahead of agents)
    started_at: float
    dialstatus: str = ""
    answered_at: float | None = None
    connected: Waiting | None = None  # the ACD's session once the agent is being rung
    outcome: DialResult | None = None  # known before the channel ends: answered, abandoned, dropped
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


class CustomerLegs:
    """The customers' legs of one instance's outbound calls, and the ARI events they get."""

    def __init__(
        self, parts: DialerParts, settle: Callable[[OutboundCall, DialResult, float], Awaitable[None]]
    ) -> None:
        self.parts = parts
        self.settle = settle
        self.calls: dict[str, OutboundCall] = {}
        self._playing: dict[str, str] = {}  # playback id -> customer channel (the message)

    @property
    def hold_s(self) -> float:
        """How long an agent reserved for a dial may be held: the customer's ring, the wait
        for an agent, the agent's own ring; the sweeper frees the agent after that."""
        parts = self.parts
        longest_ring = max((queue.ring_timeout_s for queue in parts.acd.queues), default=0.0)
        return parts.settings.ring_s + parts.settings.no_agent_s + longest_ring + HOLD_MARGIN_S

    async def originate(self, call: OutboundCall) -> None:
        parts, settings = self.parts, self.parts.settings
        self.calls[call.call_id] = call
        lead = call.lead
        # The lead's name and source ride along for the agent's screen-pop (``cti.desk.pop``).
        started = {
            "campaign": lead.campaign,
            "attempt": lead.attempts + 1,
            "source": lead.source,
            "name": lead.name,
        }
        await self._record(EventKind.DIAL_STARTED, call, started)
        endpoint = settings.trunk.format(number=call.number.e164, national=call.number.national)
        variables = {"CALLERID(num)": settings.caller_id} if settings.caller_id else None
        try:
            await parts.ari.create_channel(
                endpoint,
                app=parts.app,
                channel_id=call.call_id,
                app_args=f"{OUTBOUND_CUSTOMER},{call.lead.lead_id}",
                variables=variables,
            )
        except (AriError, AriUnavailable) as exc:
            log.warning(
                "outbound: cannot create the customer's channel: %s", exc, extra={"channel": call.call_id}
            )
            call.dialstatus = "CHANUNAVAIL"
            await self._end(call)

    async def handle(self, event: Event) -> bool:
        """Carry an ARI event of an outbound customer leg forward; True if it was only ours (an
        answered conversation's end is the ACD's too: it finishes it as any call's)."""
        if isinstance(event, PlaybackFinished) and event.playback.id in self._playing:
            await self.parts.ari.hangup(self._playing.pop(event.playback.id), missing_ok=True)
            return True
        if isinstance(event, Dial):
            call = self.calls.get(event.peer.id)
            if call is not None and event.dialstatus:
                call.dialstatus = event.dialstatus
            return call is not None
        channel = getattr(event, "channel", None)
        call = self.calls.get(getattr(channel, "id", ""))
        if call is None:
            return False
        if isinstance(event, StasisStart):
            await self._dial(call)
        elif (
            isinstance(event, ChannelStateChange) and event.channel.state == "Up" and call.answered_at is None
        ):
            await self._answered(call)
        elif isinstance(event, StasisEnd | ChannelDestroyed):
            return await self._gone(call, event)
        return call.connected is None  # once connected, the ACD follows the customer (holds, keys)

    @property
    def channels(self) -> set[str]:
        """The customers' channels this instance holds (a resync must not hand them elsewhere)."""
        return set(self.calls)

    # --- the steps ----------------------------------------------------------------------------
    async def _dial(self, call: OutboundCall) -> None:
        try:
            await self.parts.ari.dial(call.call_id, timeout_s=self.parts.settings.ring_s)
        except (AriError, AriUnavailable) as exc:  # its destruction ends the attempt as failed
            log.warning("outbound: dialling the customer failed: %s", exc, extra={"channel": call.call_id})
            await self.parts.ari.hangup(call.call_id, missing_ok=True)

    async def _answered(self, call: OutboundCall) -> None:
        parts = self.parts
        call.answered_at = parts.clock()
        await self._record(EventKind.CUSTOMER_ANSWERED, call, {})
        call.tasks.append(asyncio.create_task(self._no_agent(call)))
        if call.agent is not None:
            await self._connect(call, call.agent)
            return
        agent = await parts.desk.reserve(call.call_id, call.queue, ANSWERED_FIRST, self.hold_s)
        call.tasks.append(asyncio.create_task(self._connect_when(call, agent)))

    async def _connect_when(self, call: OutboundCall, agent: asyncio.Future[str]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            agent_id = await agent
            if call.outcome is not None or call.call_id not in self.calls:
                await self.parts.desk.release(agent_id)  # the customer left or was given up meanwhile
                return
            call.agent = agent_id
            await self._connect(call, agent_id)

    async def _connect(self, call: OutboundCall, agent_id: str) -> None:
        parts = self.parts
        call.connected = await parts.desk.connect(
            call.call_id,
            call.queue,
            agent_id,
            number=call.number.e164,
            lead_id=call.lead.lead_id,
            sip_headers=parts.settings.agent_answer_headers,
        )

    async def _no_agent(self, call: OutboundCall) -> None:
        """``no_agent_s`` after the answer: a customer with no agent yet is abandoned."""
        parts = self.parts
        await asyncio.sleep(parts.settings.no_agent_s)
        if call.outcome is not None or call.call_id not in self.calls:
            return
        if call.connected is None:
            parts.desk.withdraw(call.call_id)
        elif call.connected.agent is not None or not await parts.desk.give_up(call.call_id):
            return  # the agent answered in time
        call.outcome = DialResult.ABANDONED
        wait = {"wait_s": round(parts.clock() - (call.answered_at or parts.clock()), 3)}
        await self._record(EventKind.OUTBOUND_ABANDONED, call, wait)
        await parts.guard.note_abandoned(call.number.e164, datetime.fromtimestamp(parts.clock(), UTC))
        await self._say_sorry(call)

    async def _say_sorry(self, call: OutboundCall) -> None:
        """The short message naming the center, then the hang-up (``PlaybackFinished``)."""
        parts, settings = self.parts, self.parts.settings
        playback_id = f"{call.call_id}-sorry"
        try:
            uri = await parts.prompts.sound_uri(
                settings.abandon_message.format(center=settings.center_name), settings.abandon_language
            )
            self._playing[playback_id] = call.call_id
            await parts.ari.play(call.call_id, playback_id, uri)
        except Exception as exc:  # no message (TTS or ARI): the customer is still hung up
            log.warning(
                "outbound: the abandon message was not played: %s", exc, extra={"channel": call.call_id}
            )
            self._playing.pop(playback_id, None)
            await parts.ari.hangup(call.call_id, missing_ok=True)
            return
        await asyncio.sleep(MESSAGE_MAX_S)
        if self._playing.pop(playback_id, None) is not None:
            await parts.ari.hangup(call.call_id, missing_ok=True)

    async def _gone(self, call: OutboundCall, event: StasisEnd | ChannelDestroyed) -> bool:
        """The customer's channel left our app or ended. An answered conversation goes on to the
        ACD's own end (False); a customer waiting for an agent who hangs up is ``dropped``."""
        parts = self.parts
        if call.outcome is None and call.connected is not None:
            answered = call.connected.agent is not None or not await parts.desk.give_up(call.call_id)
            call.outcome = DialResult.ANSWERED if answered else DialResult.DROPPED
        elif call.outcome is None and call.answered_at is not None:
            parts.desk.withdraw(call.call_id)
            call.outcome = DialResult.DROPPED
        if isinstance(event, ChannelDestroyed):
            await self._end(call)
        return call.outcome is not DialResult.ANSWERED

    async def _end(self, call: OutboundCall) -> None:
        """The attempt is over: its agent freed if it never came to talk, ``dial_result``, and
        the attempt and the lead's next step stored."""
        parts = self.parts
        self.calls.pop(call.call_id, None)
        for task in call.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        result = call.outcome or (
            result_of(call.dialstatus) if call.answered_at is None else DialResult.DROPPED
        )
        if call.answered_at is None and call.agent is not None:
            await parts.desk.release(call.agent)
        if call.connected is not None and call.connected.agent is not None:
            call.agent = call.connected.agent
        await self._record(
            EventKind.DIAL_RESULT, call, {"result": result.value, "dialstatus": call.dialstatus}
        )
        await self.settle(call, result, parts.clock())

    async def _record(self, kind: EventKind, call: OutboundCall, data: dict[str, Any]) -> None:
        event = CallEvent(
            kind,
            datetime.fromtimestamp(self.parts.clock(), UTC),
            call.call_id,
            queue=call.queue,
            agent=call.agent,
            lead_id=call.lead.lead_id,
            caller_number=call.number.e164,
            data={k: v for k, v in data.items() if v is not None},
        )
        await self.parts.outbox.try_record(event)
        shown = {k: v for k, v in event.data.items() if k != "name"}  # the log is no CRM
        log.info(
            "outbound: %s", kind.value, extra={"channel": call.call_id, "lead": call.lead.lead_id, **shown}
        )
