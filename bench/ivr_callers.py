"""The callers of bench/ivr_steps.py, and the ARI app through which the bench hears their calls.

A caller is a :class:`Call`: an inbox of its channel's events, in Asterisk's order, and two
hands (press keys, hang up). Two kinds place calls into the hotline 4000:

- softphones (``cti.sim.softphones``, baresip over PJSIP): caller endpoints 2011-2060 dial it;
  their dialplan context hands the call to the Stasis app named in the global ``BENCH_IVR_APP``;
- Local channels (``cti.sim.place_simulated_call``): the near half dials it with ``CTI_APP``
  set, as the integration tests do; the far half waits in the bench's app, which keys DTMF.

The bench's own app (:class:`Observer`) is subscribed to each caller's channel (Local) or
endpoint (phone) and never touches the calls: the service under test holds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cti.ari import AriClient, Event, EventStream, Resynced
from cti.ari.events import PlaybackFinished, PlaybackStarted, UnknownEvent
from cti.errors import AriNotFound
from cti.sim import Softphone, SoftphoneError, place_simulated_call

HOTLINE_URI = "sip:4000@127.0.0.1"
KEY_GAP_S = 0.25  # a softphone caller keys a number at a person's pace


class BenchError(RuntimeError):
    """A caller did not get what the flow promises (a wrong prompt, or nothing in time)."""


class Inbox:
    """One call's events in Asterisk's order; the caller's script reads them forward."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cursor = 0
        self._changed = asyncio.Event()

    def add(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def next(self, what: str, wanted: Callable[[Event], bool], within_s: float) -> Event:
        """The first ``wanted`` event after the last one returned; BenchError after ``within_s``."""
        try:
            async with asyncio.timeout(within_s):
                while True:
                    for index in range(self._cursor, len(self.events)):
                        if wanted(self.events[index]):
                            self._cursor = index + 1
                            return self.events[index]
                    self._cursor = len(self.events)
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [getattr(e, "type", type(e).__name__) for e in self.events[-12:]]
            raise BenchError(f"no {what} within {within_s:g} s; last events: {seen}") from None


class Observer:
    """The bench's ARI app: hands each caller channel's events to that call's inbox.

    Local callers are known by channel id before they exist (the bench names them). A phone's
    channel is not: its first event binds it to the call the phone is placing, by the channel
    name, ``PJSIP/<extension>-<sequence>``. The far halves of Local callers also sit in this app
    (it is their driver); their own events concern no inbox.
    """

    def __init__(self, ari: AriClient, app: str) -> None:
        self.ari = ari
        self.app = app
        self.by_channel: dict[str, Inbox] = {}
        self.by_endpoint: dict[str, Inbox] = {}  # "PJSIP/2011" -> the call that phone is placing
        self._stream = EventStream(ari, app)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect; return once Asterisk knows the app."""
        connected = asyncio.Event()

        async def read() -> None:  # cheap work only: Asterisk drops a websocket that stalls
            async for event in self._stream:
                if isinstance(event, Resynced):
                    connected.set()
                else:
                    self._route(event)

        self._task = asyncio.create_task(read())
        await asyncio.wait_for(connected.wait(), 10)

    async def close(self) -> None:
        await self._stream.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _route(self, event: Event) -> None:
        channel_id, name = _channel_of(event)
        inbox = self.by_channel.get(channel_id)
        if inbox is None and name:
            inbox = self.by_endpoint.pop(name.rpartition("-")[0], None)
            if inbox is not None:
                self.by_channel[channel_id] = inbox
        if inbox is not None:
            inbox.add(event)


def _channel_of(event: Event) -> tuple[str, str]:
    """The id and name of the channel an event concerns ("" if none; a playback: its target)."""
    if isinstance(event, PlaybackStarted | PlaybackFinished):
        kind, _, target = event.playback.target_uri.partition(":")
        return (target, "") if kind == "channel" else ("", "")
    if isinstance(event, UnknownEvent):
        raw = event.raw.get("channel")
        return (str(raw.get("id", "")), str(raw.get("name", ""))) if isinstance(raw, dict) else ("", "")
    channel = getattr(event, "channel", None)
    return (channel.id, channel.name) if channel is not None else ("", "")


@dataclass
class Call:
    inbox: Inbox
    press: Callable[[str], Awaitable[None]]
    hang_up: Callable[[], Awaitable[None]]


PlaceCall = Callable[[int], Awaitable[Call]]


def local_callers(ari: AriClient, observer: Observer, service_app: str) -> PlaceCall:
    """Local channels into the hotline, routed to the service as the tests do (``CTI_APP``)."""

    async def place(index: int) -> Call:
        channel_id = f"bench-{uuid.uuid4().hex[:16]}"
        inbox = observer.by_channel[channel_id] = Inbox()
        await place_simulated_call(
            ari,
            channel_id=channel_id,
            caller_number=f"1380000{index:04d}",
            variables={"CTI_APP": service_app},
            driver_app=observer.app,
        )
        await ari.subscribe(observer.app, f"channel:{channel_id}")

        async def press(keys: str) -> None:  # ARI keys them 100 ms apart
            await ari.send_dtmf(f"{channel_id}-far", keys, duration_ms=100)

        async def hang_up() -> None:
            with contextlib.suppress(AriNotFound):
                await ari.hangup(channel_id)

        return Call(inbox, press, hang_up)

    return place


def phone_callers(phones: list[Softphone], observer: Observer) -> PlaceCall:
    """Softphone ``index`` dials the hotline; the next channel of its endpoint is this call."""

    async def place(index: int) -> Call:
        phone = phones[index]
        inbox = observer.by_endpoint[f"PJSIP/{phone.extension}"] = Inbox()
        await phone.dial(HOTLINE_URI)

        async def press(keys: str) -> None:
            await phone.press(keys, gap_s=KEY_GAP_S)

        async def hang_up() -> None:
            with contextlib.suppress(SoftphoneError, TimeoutError):  # the call may be over already
                await phone.hangup()

        return Call(inbox, press, hang_up)

    return place
