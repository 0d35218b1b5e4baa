"""Follows every call of our Stasis app from StasisStart to hang-up, and reconciles on resync.

Sequencing only: a call that enters the hotline is answered and handed to the IVR flow its
Stasis argument names (``Stasis(cti,hotline)`` runs ``ivr_flows/hotline.yaml``); the flow ends
it in the ACD, a callback request, a transfer or a hang-up. Each ARI event goes to the ACD first
(agent legs, answers), then to the IVR (keys, prompts); a caller's end concerns all three. Every
step is logged, which is what ``cti call`` shows in the service log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

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
from cti.calls.holds import HoldRecorder
from cti.errors import AriConflict, AriNotFound, AriUnavailable
from cti.events import CallEvent, EventKind, fit_caller_number
from cti.ivr.model import Flow
from cti.ivr.runner import IvrRunner
from cti.live.outbox import EventOutbox

log = logging.getLogger(__name__)

#: How long a channel found in our app at a resync, owned by nobody, has to be claimed (its
#: StasisStart was still on its way) before it goes to the dialplan fallback.
UNCLAIMED_GRACE_S = 1.0


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


def _started(channel: Channel) -> float:
    """A monotonic start time for a call adopted after a restart, from its creation time."""
    try:
        created = datetime.strptime(channel.creationtime, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return time.monotonic()
    return time.monotonic() - max(0.0, (datetime.now(UTC) - created).total_seconds())


class OutboundLegs(Protocol):
    """The dialer's side of the events (``cti.outbound.dialer.Dialer``): it sees them first."""

    async def handle(self, event: Event) -> bool: ...

    @property
    def channels(self) -> set[str]: ...


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
        dialer: OutboundLegs | None = None,
    ) -> None:
        self.ari = ari
        self.dialer = dialer
        self.outbox = outbox
        self.fallback = fallback
        self.router = router
        self.ivr = ivr
        self.flows = flows
        self.calls: dict[str, LiveCall] = {}
        self.holds = HoldRecorder(router, outbox)
        self._unclaimed: set[asyncio.Task[None]] = set()  # resyncs' checks of unowned channels

    async def handle(self, event: Event) -> None:
        if await self.holds.handle(event):
            return  # a hold or unhold: of a conversation's channel (agent, caller or customer) or none
        if self.dialer is not None and await self.dialer.handle(event):
            return  # an outbound customer's leg before its conversation: the dialer's alone
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
        call = LiveCall(channel, fit_caller_number(channel.caller.number) or "")
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
            await self._close(call, missed=False, how=type(event).__name__)

    async def _close(self, call: LiveCall, *, missed: bool, how: str = "", to: str = "") -> None:
        """``call_ended``; ``missed``: the end happened while no events reached us (its exact
        time is not known, the duration is measured to now); ``to``: where the call went on
        (the dialplan fallback), if it did not end."""
        data: dict[str, object] = {"duration_s": call.age_s(), "digits": "".join(call.digits)}
        if missed:
            data["missed"] = True
        if to:
            data["to"] = to
        await self._record(EventKind.CALL_ENDED, call, data)
        if missed:
            log.warning("call ended while the events were away", extra={"channel": call.channel_id})
        else:
            log.info("call ended (%s)", how, extra={"channel": call.channel_id, **data})

    async def _reconcile(self, notice: Resynced) -> None:
        """After every (re)connect: each part reconciles what it owns, and only then are the
        channels nobody owns (and that no bridge holds) handed to the dialplan fallback, if
        still nobody's a moment later (``_fallback_unclaimed``).

        The ACD goes first (its callers, agent and customer legs, bridges), then the IVR (its
        journeys; a restart resumes them at their node). A caller whose end was missed is
        closed with ``call_ended``; one adopted after a restart is followed to its end.
        """
        alive = {channel.id: channel for channel in notice.channels}
        acd = await self.router.reconcile(notice)
        ivr = await self.ivr.reconcile(notice, self.flows, acd.channels)
        gone = [cid for cid in self.calls if cid not in alive]
        for channel_id in gone:
            await self._close(self.calls.pop(channel_id), missed=True)
        for channel_id in (acd.ended | ivr.ended) - set(alive) - set(self.calls) - set(gone):
            await self._close(LiveCall(Channel(id=channel_id), ""), missed=True)
        for channel_id in acd.callers | ivr.callers:
            if channel_id not in self.calls:
                channel = alive[channel_id]
                caller = fit_caller_number(channel.caller.number) or ""
                self.calls[channel_id] = LiveCall(channel, caller, _started(channel))
        owned = (
            acd.channels | ivr.channels | set(self.calls) | (self.dialer.channels if self.dialer else set())
        )
        unclaimed = []
        for channel in alive.values():
            if channel.id in owned or channel.stasis_args is None:
                continue  # ours, or the far half of a Local channel we originated
            if notice.bridge_of(channel.id) is not None:
                log.warning(
                    "resync: a bridged channel nobody owns is left alone", extra={"channel": channel.id}
                )
                continue
            unclaimed.append(channel.id)
        if unclaimed:
            task = asyncio.create_task(self._fallback_unclaimed(unclaimed), name="resync-unclaimed")
            self._unclaimed.add(task)
            task.add_done_callback(self._unclaimed.discard)
        log.info("resynced", extra={"live_calls": len(self.calls), "restarted": notice.restarted})

    async def _fallback_unclaimed(self, channel_ids: list[str]) -> None:
        """The channels in our app that nobody owned at a resync, ``UNCLAIMED_GRACE_S`` later:
        a caller who entered the app between the connect and the stock-taking is listed before
        its StasisStart is handled, and is ours by then. What is still nobody's (the service
        restarted mid-call and nothing adopted it) goes to the dialplan fallback."""
        await asyncio.sleep(UNCLAIMED_GRACE_S)
        for channel_id in channel_ids:
            if self._claimed(channel_id):
                continue
            log.warning(
                "unknown call found on resync: handing it to the dialplan fallback",
                extra={"channel": channel_id},
            )
            await self._to_fallback(channel_id)

    def _claimed(self, channel_id: str) -> bool:
        """Whether a part of the service owns the channel now (a caller, an agent's or a
        customer's leg, an outbound attempt)."""
        return (
            channel_id in self.calls
            or channel_id in self.ivr.calls
            or channel_id in self.router.legs
            or channel_id in self.router.customer_legs
            or (self.dialer is not None and channel_id in self.dialer.channels)
        )

    async def stop(self) -> None:
        """A graceful stop: the callers still in the IVR go to the dialplan fallback (the
        apology and app_queue's fallback queue) rather than wait in silence in a stopped app.
        Callers waiting in the ACD hear their music and keep their place, conversations keep
        talking: the next start adopts both (``_reconcile``)."""
        for task in list(self._unclaimed):  # a stopping service sends nobody anywhere
            task.cancel()
        await asyncio.gather(*self._unclaimed, return_exceptions=True)
        handed = await self.ivr.hand_over()
        for channel_id in handed:
            log.warning(
                "stopping: caller in the IVR handed to the dialplan fallback", extra={"channel": channel_id}
            )
            try:
                await self._to_fallback(channel_id)
            except (AriUnavailable, OSError) as exc:  # the next start finds it nobody's: fallback
                log.error("stopping: caller not handed over: %s", exc, extra={"channel": channel_id})
            call = self.calls.pop(channel_id, None)
            if call is not None:  # its life with us ends here, whoever hands it over
                await self._close(call, missed=False, how="handed to the fallback", to="fallback")
        log.info(
            "calls at stop",
            extra={
                "to_fallback": len(handed),
                "left_to_adopt": len(self.router.calls),
                "live_calls": len(self.calls),
            },
        )

    async def _to_fallback(self, channel_id: str) -> None:
        with contextlib.suppress(AriNotFound, AriConflict):  # it may have hung up or left meanwhile
            fallback = self.fallback
            await self.ari.continue_in_dialplan(
                channel_id, context=fallback.context, extension=fallback.extension, label=fallback.label
            )
