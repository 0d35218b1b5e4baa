"""Follows every call of our Stasis app from StasisStart to hang-up, and reconciles on resync.

Sequencing only: a call that enters the hotline is answered and handed to the IVR flow its
Stasis argument names (``Stasis(cti,hotline)`` runs ``ivr_flows/hotline.yaml``); the flow ends
it in the ACD, a callback request, a transfer or a hang-up. Each ARI event goes to the ACD first
(agent legs, answers), then to the IVR (keys, prompts); a caller's end concerns all three. Every
step is logged, which is what ``cti call`` shows in the service log.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cti.acd.router import QueueRouter
from cti.ari.client import AriClient
from cti.ari.events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    Resynced,
    StasisEnd,
    StasisStart,
)
from cti.ari.models import Channel
from cti.errors import AriConflict, AriNotFound
from cti.events import CallEvent, EventKind
from cti.ivr.model import Flow
from cti.ivr.runner import IvrRunner
from cti.live.outbox import EventOutbox

log = logging.getLogger(__name__)


@dataclass
class LiveCall:
    channel: Channel
    caller: str
    started: float = field(default_factory=time.monotonic)
    digits: list[str] = field(default_factory=list)  # every key pressed, for the log

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
        self,
        ari: AriClient,
        outbox: EventOutbox,
        fallback: DialplanLocation,
        router: QueueRouter,
        ivr: IvrRunner,
        flows: Mapping[str, Flow],
    ) -> None:
        self.ari = ari
        self.outbox = outbox
        self.fallback = fallback
        self.router = router
        self.ivr = ivr
        self.flows = flows
        self.calls: dict[str, LiveCall] = {}

    async def handle(self, event: Event) -> None:
        ends = isinstance(event, StasisEnd | ChannelDestroyed)
        if await self.router.handle(event) and not ends:
            return  # the ACD's own business (agent legs, answers); a caller's end concerns us too
        if isinstance(event, ChannelDtmfReceived) and event.channel.id in self.calls:
            self.calls[event.channel.id].digits.append(event.digit)
            log.info("caller pressed %s", event.digit, extra={"channel": event.channel.id})
        if await self.ivr.handle(event) and not ends:
            return
        if isinstance(event, Resynced):
            await self._reconcile(event)
        elif isinstance(event, StasisStart):
            await self._start(event)
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
        flow = self.flows.get(event.args[0]) if event.args else None
        if flow is None:
            log.error(
                "no IVR flow %r: handing the call to the dialplan fallback",
                event.args[0] if event.args else "",
                extra={"channel": channel.id, "flows": sorted(self.flows)},
            )
            await self._to_fallback(channel.id)
            return
        try:
            if channel.state != "Up":
                await self.ari.answer(channel.id)
        except AriNotFound:
            log.info("caller hung up before the answer", extra={"channel": channel.id})
            return
        await self.ivr.start(channel, flow)

    async def _record(self, kind: EventKind, call: LiveCall, data: dict[str, object]) -> None:
        await self.outbox.try_record(
            CallEvent(kind, datetime.now(UTC), call.channel_id, caller_number=call.caller or None, data=data)
        )

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
            await self._to_fallback(channel_id)
        log.info("resynced", extra={"live_calls": len(self.calls), "restarted": notice.restarted})

    async def _to_fallback(self, channel_id: str) -> None:
        with contextlib.suppress(AriNotFound, AriConflict):  # it may have hung up or left meanwhile
            fallback = self.fallback
            await self.ari.continue_in_dialplan(
                channel_id, context=fallback.context, extension=fallback.extension, label=fallback.label
            )
