"""Our asyncio adapter to Asterisk's REST Interface: REST client, events stream, dispatch."""

from cti.ari.client import AriClient
from cti.ari.dispatch import Dispatcher
from cti.ari.events import Event, Resynced, UnknownEvent, event_key, parse_event
from cti.ari.stream import Backoff, EventStream

__all__ = [
    "AriClient",
    "Backoff",
    "Dispatcher",
    "Event",
    "EventStream",
    "Resynced",
    "UnknownEvent",
    "event_key",
    "parse_event",
]
