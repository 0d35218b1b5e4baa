"""The events websocket of one Stasis application, supervised.

One websocket per app name: a second one makes Asterisk send ``ApplicationReplaced`` to the
first. The stream reconnects with jittered exponential backoff, capped near
``reconnect_cap_s`` (5 s by default), and after every (re)connect it takes stock before
yielding any event: ``/asterisk/info`` (a changed ``startup_time`` means Asterisk restarted),
then our app's live channels and bridges, handed on as one ``Resynced`` notice. Asterisk
does not buffer events while no websocket is open, so that notice is how the call layer
learns what happened while we were away.

The reader does no work but parsing: Asterisk drops a websocket whose writes stall for more
than 100 ms, so handlers run elsewhere (``cti.ari.dispatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from cti.ari.client import AriClient
from cti.ari.events import ApplicationReplacedEvent, Event, Resynced, UnknownEvent, parse_event
from cti.errors import (
    ApplicationReplaced,
    AriAuthError,
    AriError,
    AriNotFound,
    AriProtocolError,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 1.0  # how long closing the events websocket waits for Asterisk's answer


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = min(cap, base * 2**n).

    Jitter keeps many services that lost Asterisk together from hammering it together when it
    returns; the half floor keeps the wait from collapsing to nothing.
    """

    base_s: float = 0.1
    cap_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 30))
        return rng.uniform(ceiling / 2, ceiling)


class EventStream:
    """Yields the app's events forever, reconnecting as needed.

    Iterate it once: ``async for event in stream``. It raises ``ApplicationReplaced`` when
    another connection takes the app name, and stops when ``close()`` is called.
    """

    def __init__(
        self,
        client: AriClient,
        app: str,
        *,
        backoff: Backoff | None = None,
        heartbeat_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.app = app
        self.backoff = backoff or Backoff()
        self.heartbeat_s = heartbeat_s
        self._rng = rng or random.Random()
        self._startup_time: str | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = asyncio.Event()
        self.connects = 0  # websockets opened and resynced: one more than the reconnects

    @property
    def connected(self) -> bool:
        """The events websocket is open (what ``/ready`` reports)."""
        return self._ws is not None and not self._ws.closed

    async def close(self) -> None:
        """Stop the stream: the iteration ends after the current connection closes."""
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    async def __aiter__(self) -> AsyncIterator[Event]:
        attempt = 0
        while not self._stopping.is_set():
            connected_at = time.monotonic()
            try:
                async for event in self._connection():
                    yield event
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):  # retrying cannot fix credentials
                    raise AriAuthError(
                        exc.status, "ARI refused the events websocket", "GET", "/events"
                    ) from exc
                log.warning("ARI events websocket refused: %s", exc.status, extra={"app": self.app})
            except (TimeoutError, aiohttp.ClientError, ServiceUnavailable, AriProtocolError) as exc:
                log.warning("ARI events websocket unavailable: %s", exc, extra={"app": self.app})
            except AriError as exc:
                if isinstance(exc, ApplicationReplaced):
                    raise
                log.warning("ARI refused the resync: %s", exc, extra={"app": self.app})
            # A connection that lived a while earns a fresh start; one that died at once (a
            # flapping proxy, a failing resync) keeps backing off instead of spinning.
            attempt = 0 if time.monotonic() - connected_at >= self.backoff.cap_s else attempt + 1
            if not self._stopping.is_set():
                delay = self.backoff.delay(attempt, self._rng)
                log.info("reconnecting to ARI in %.2f s", delay, extra={"app": self.app, "attempt": attempt})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _connection(self) -> AsyncIterator[Event]:
        """One websocket's life: connect, take stock, pass events on until it closes."""
        async with self.client.session.ws_connect(
            self.client.events_url(self.app),
            headers=self.client.auth_headers,
            heartbeat=self.heartbeat_s,
            # Asterisk may take aiohttp's default 10 s to answer our close while calls are in
            # the app: a stop (or a deploy) must not wait for it.
            timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
        ) as ws:
            self._ws = ws
            try:
                if self._stopping.is_set():  # close() ran while we were connecting
                    return
                resynced = await self._resync()
                self.connects += 1
                yield resynced
                async for event in self._read(ws):
                    yield event
            finally:
                self._ws = None
        if not self._stopping.is_set():
            log.warning("ARI events websocket closed by the far end", extra={"app": self.app})

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Event]:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(message.data)
            except ValueError:
                yield UnknownEvent(type="", raw={"text": message.data}, error="not JSON")
                continue
            event = parse_event(payload)
            if isinstance(event, ApplicationReplacedEvent):
                await ws.close()
                raise ApplicationReplaced(self.app)
            if isinstance(event, UnknownEvent) and event.error:
                log.warning("unparsable %s event passed through: %s", event.type, event.error)
            yield event

    async def _resync(self) -> Resynced:
        """Take stock after a (re)connect: was Asterisk restarted, which calls do we hold."""
        info = await self.client.asterisk_info()
        startup = info.status.startup_time
        try:
            app = await self.client.get_application(self.app)
        except AriNotFound:  # the app vanished again between our connect and this call
            raise ServiceUnavailable(f"Stasis application {self.app!r} is not registered") from None
        channel_ids, bridge_ids = set(app.channel_ids), set(app.bridge_ids)
        everything = await self.client.list_channels()
        channels = tuple(c for c in everything if c.id in channel_ids)
        bridges = tuple(b for b in await self.client.list_bridges() if b.id in bridge_ids)
        # Only a complete stock-taking counts: after a failed one, the next still compares with
        # the startup time we last reported, so a restart in between is not missed.
        first = self._startup_time is None
        restarted = not first and startup != self._startup_time
        self._startup_time = startup
        log.info(
            "ARI events connected",
            extra={
                "app": self.app,
                "restarted": restarted,
                "channels": len(channels),
                "bridges": len(bridges),
            },
        )
        return Resynced(
            self.app, first, restarted, startup, channels, bridges, frozenset(c.id for c in everything)
        )
