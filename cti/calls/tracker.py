"""Follows every call of our Stasis app from StasisStart to hang-up, and reconciles on resync.

Sequencing only: a call that enters the hotline is answered and greeted, then handed to the ACD
(``[acd] default_queue``); the ACD's own events (agent legs, answers) go to the router first.
Until the IVR flow runner lands (issue: IVR), the greeting stands in for the flow. Every step is
logged, which is what ``cti call`` shows in the service log; the bookkeeping of live calls and
the reconciliation after the events websocket was away stay when the IVR arrives.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.exceptions import RedisError

from cti.acd.router import QueueRouter
from cti.ari.client import AriClient
from cti.ari.events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    PlaybackFinished,
    Resynced,
    StasisEnd,
    StasisStart,
)
from cti.ari.models import Channel
from cti.errors import AriConflict, AriNotFound
from cti.events import CallEvent, EventKind
from cti.live.outbox import EventOutbox

log = logging.getLogger(__name__)

GREETING = "sound:hello-world"


@dataclass
class LiveCall:
    channel: Channel
    caller: str
    started: float = field(default_factory=time.monotonic)
    digits: list[str] = field(default_factory=list)

    @property
    def channel_id(self) -> str:
        return self.channel.id

    def age_s(self) -> float:
        return round(time.monotonic() - self.started, 3)


@dataclass(frozen=True)
class DialplanLocation:
    context: str
    extension: str
    label: str


class CallTracker:
    """Holds the live calls of one Stasis app; its ``handle`` is the dispatcher's handler.

    ``fallback`` is where a call goes that we find in our app after a reconnect but know
    nothing about (the service restarted mid-call): the hotline's apology and app_queue
    fallback queue, rather than silence.
    """

    def __init__(
        self, ari: AriClient, outbox: EventOutbox, fallback: DialplanLocation, router: QueueRouter, queue: str
    ) -> None:
        self.ari = ari
        self.outbox = outbox
        self.fallback = fallback
        self.router = router
        self.queue = queue
        self.calls: dict[str, LiveCall] = {}

    async def handle(self, event: Event) -> None:
        if await self.router.handle(event) and not isinstance(event, StasisEnd | ChannelDestroyed):
            return  # the ACD's own business (agent legs, answers); a caller's end concerns us too
        if isinstance(event, Resynced):
            await self._reconcile(event)
        elif isinstance(event, StasisStart):
            await self._start(event)
        elif isinstance(event, ChannelDtmfReceived) and event.channel.id in self.calls:
            self.calls[event.channel.id].digits.append(event.digit)
            log.info("caller pressed %s", event.digit, extra={"channel": event.channel.id})
        elif isinstance(event, PlaybackFinished):
            await self._greeting_done(event)
        elif isinstance(event, ChannelHangupRequest) and event.channel.id in self.calls:
            log.info("hang-up requested", extra={"channel": event.channel.id, "cause": event.cause})
        elif isinstance(event, StasisEnd | ChannelDestroyed):
            await self._end(event)

    async def _start(self, event: StasisStart) -> None:
        channel = event.channel
        call = LiveCall(channel, channel.caller.number)
        self.calls[channel.id] = call
        await self._record(EventKind.CALL_STARTED, call, {"direction": "inbound", "entry": list(event.args)})
        log.info(
            "call entered from %s",
            channel.caller.number or "unknown",
            extra={"channel": channel.id, "stasis_args": list(event.args), "state": channel.state},
        )
        try:
            if channel.state != "Up":
                await self.ari.answer(channel.id)
            await self.ari.play(channel.id, f"greeting-{channel.id}", GREETING)
        except AriNotFound:
            log.info("caller hung up before the greeting", extra={"channel": channel.id})
            return
        log.info("answered and greeting (IVR flows not wired yet)", extra={"channel": channel.id})

    async def _greeting_done(self, event: PlaybackFinished) -> None:
        channel_id = event.playback.id.removeprefix("greeting-")
        if channel_id in self.calls:
            call = self.calls[channel_id]
            log.info(
                "greeting finished; queueing in %s",
                self.queue,
                extra={"channel": channel_id, "digits": "".join(call.digits)},
            )
            await self.router.enqueue(call.channel, self.queue)

    async def _record(self, kind: EventKind, call: LiveCall, data: dict[str, object]) -> None:
        event = CallEvent(
            kind, datetime.now(UTC), call.channel_id, caller_number=call.caller or None, data=data
        )
        try:
            await self.outbox.record(event)
        except RedisError as exc:  # the call goes on; the gap is loud in the log
            log.error("call event %s not recorded: %s", kind, exc, extra={"channel": call.channel_id})

    async def _end(self, event: StasisEnd | ChannelDestroyed) -> None:
        call = self.calls.pop(event.channel.id, None)
        if call is not None:
            await self._record(
                EventKind.CALL_ENDED, call, {"duration_s": call.age_s(), "digits": "".join(call.digits)}
            )
            log.info(
                "call ended (%s)",
                type(event).__name__,
                extra={
                    "channel": call.channel_id,
                    "duration_s": call.age_s(),
                    "digits": "".join(call.digits),
                },
            )

    async def _reconcile(self, notice: Resynced) -> None:
        alive = {channel.id: channel for channel in notice.channels}
        for channel_id in [cid for cid in self.calls if cid not in alive]:
            call = self.calls.pop(channel_id)
            log.warning(
                "call ended while the events websocket was away",
                extra={"channel": channel_id, "restarted": notice.restarted, "duration_s": call.age_s()},
            )
        # Our app is also subscribed to channels it does not hold (the far half of a Local
        # channel it originated): only channels executing Stasis are ours to hand back.
        strays = [c.id for c in alive.values() if c.id not in self.calls and c.dialplan.app_name == "Stasis"]
        for channel_id in strays:
            log.warning(
                "unknown call found on resync: handing it to the dialplan fallback",
                extra={"channel": channel_id},
            )
            with contextlib.suppress(AriNotFound, AriConflict):  # it may have hung up or left meanwhile
                fallback = self.fallback
                await self.ari.continue_in_dialplan(
                    channel_id, context=fallback.context, extension=fallback.extension, label=fallback.label
                )
        log.info("resynced", extra={"live_calls": len(self.calls), "restarted": notice.restarted})
