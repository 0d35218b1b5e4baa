"""Wiring, in one place: settings -> ARI client -> event stream -> dispatcher -> call layer."""

from __future__ import annotations

import asyncio
import logging
import signal

from cti.ari import AriClient, Backoff, Dispatcher, EventStream
from cti.calls import CallTracker, DialplanLocation
from cti.settings import Settings

log = logging.getLogger(__name__)


def ari_client(settings: Settings) -> AriClient:
    """The ARI client the settings describe (create it inside the event loop)."""
    ari = settings.ari
    return AriClient(ari.url, ari.username, ari.password.get_secret_value(), timeout_s=ari.request_timeout_s)


async def run_service(settings: Settings) -> None:
    """Serve our Stasis app until SIGINT or SIGTERM.

    Asterisk being down is not fatal: the event stream keeps reconnecting, so the service
    can start before Asterisk and survive its restarts.
    """
    async with ari_client(settings) as ari:
        stream = EventStream(ari, settings.ari.app, backoff=Backoff(cap_s=settings.ari.reconnect_cap_s))
        fallback = DialplanLocation(settings.ari.hotline_context, settings.ari.hotline_extension, "fallback")
        tracker = CallTracker(ari, fallback)
        dispatcher = Dispatcher(tracker.handle)
        loop = asyncio.get_running_loop()
        stopping: set[asyncio.Task[None]] = set()  # hold the task: the loop keeps only a weak reference

        def stop() -> None:
            stopping.add(asyncio.create_task(stream.close()))

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        log.info("cti service starting", extra={"app": settings.ari.app, "ari": settings.ari.url})
        try:
            async for event in stream:
                dispatcher.submit(event)
        finally:
            await dispatcher.aclose()
            log.info("cti service stopped", extra={"live_calls": len(tracker.calls)})
