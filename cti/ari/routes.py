"""Every ARI REST operation the client uses, declared as data.

Declaring them here, with the exact path templates and parameter names of Asterisk's
``rest-api/*.json``, lets a test check each one against the spec that the installed Asterisk
ships, so an upgrade that renames or drops a parameter fails the suite instead of a live call.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """One ARI operation: method, path template, and the parameters we may send."""

    method: str
    path: str
    query: frozenset[str] = field(default_factory=frozenset)
    body: frozenset[str] = field(default_factory=frozenset)


def _route(method: str, path: str, query: str = "", body: str = "") -> Route:
    return Route(method, path, frozenset(query.split()), frozenset(body.split()))


_ORIGINATE_QUERY = (
    "endpoint extension context priority label app appArgs callerId timeout"
    " channelId otherChannelId originator formats"
)

ASTERISK_INFO = _route("GET", "/asterisk/info", "only")
SET_GLOBAL_VAR = _route("POST", "/asterisk/variable", "variable value")

CHANNELS_LIST = _route("GET", "/channels")
CHANNEL_GET = _route("GET", "/channels/{channelId}")
CHANNEL_ORIGINATE = _route("POST", "/channels", _ORIGINATE_QUERY, "variables")
_CREATE_QUERY = "endpoint app appArgs channelId otherChannelId originator formats"
CHANNEL_CREATE = _route("POST", "/channels/create", _CREATE_QUERY, "variables")
CHANNEL_DIAL = _route("POST", "/channels/{channelId}/dial", "caller timeout")
CHANNEL_ANSWER = _route("POST", "/channels/{channelId}/answer")
CHANNEL_PLAY = _route("POST", "/channels/{channelId}/play/{playbackId}", "media lang offsetms skipms")
CHANNEL_DTMF = _route("POST", "/channels/{channelId}/dtmf", "dtmf before between duration after")
CHANNEL_HANGUP = _route("DELETE", "/channels/{channelId}", "reason reason_code")
CHANNEL_CONTINUE = _route("POST", "/channels/{channelId}/continue", "context extension priority label")
CHANNEL_MOH_START = _route("POST", "/channels/{channelId}/moh", "mohClass")
CHANNEL_MOH_STOP = _route("DELETE", "/channels/{channelId}/moh")
CHANNEL_GET_VAR = _route("GET", "/channels/{channelId}/variable", "variable")
CHANNEL_SET_VAR = _route("POST", "/channels/{channelId}/variable", "variable value")

BRIDGES_LIST = _route("GET", "/bridges")
BRIDGE_GET = _route("GET", "/bridges/{bridgeId}")
BRIDGE_CREATE = _route("POST", "/bridges/{bridgeId}", "type name")
BRIDGE_ADD_CHANNEL = _route("POST", "/bridges/{bridgeId}/addChannel", "channel role")
BRIDGE_REMOVE_CHANNEL = _route("POST", "/bridges/{bridgeId}/removeChannel", "channel")
BRIDGE_MOH_START = _route("POST", "/bridges/{bridgeId}/moh", "mohClass")
BRIDGE_MOH_STOP = _route("DELETE", "/bridges/{bridgeId}/moh")
BRIDGE_DESTROY = _route("DELETE", "/bridges/{bridgeId}")

APPLICATION_GET = _route("GET", "/applications/{applicationName}")
APPLICATION_SUBSCRIBE = _route("POST", "/applications/{applicationName}/subscription", "eventSource")

PLAYBACK_GET = _route("GET", "/playbacks/{playbackId}")
PLAYBACK_STOP = _route("DELETE", "/playbacks/{playbackId}")

EVENTS_WEBSOCKET = _route("GET", "/events", "app subscribeAll")

ALL_ROUTES: tuple[Route, ...] = tuple(value for value in list(globals().values()) if isinstance(value, Route))
