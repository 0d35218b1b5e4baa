"""ARI events as typed models, and the notices our event stream adds to them.

``parse_event`` never raises: an event type we do not model, or a known type whose shape is
not what we expect, becomes ``UnknownEvent`` with the raw payload, so no event from any
Asterisk version can crash the reader loop. ``event_key`` says which call an event belongs
to, so the dispatcher can keep one call's events in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter, ValidationError

from cti.ari.models import AriModel, Bridge, Channel, Playback


class AriEvent(AriModel):
    type: str
    application: str = ""
    timestamp: str = ""
    asterisk_id: str = ""


class StasisStart(AriEvent):
    type: Literal["StasisStart"]
    args: tuple[str, ...] = ()
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(AriEvent):
    type: Literal["StasisEnd"]
    channel: Channel


class ChannelStateChange(AriEvent):
    type: Literal["ChannelStateChange"]
    channel: Channel


class ChannelDtmfReceived(AriEvent):
    type: Literal["ChannelDtmfReceived"]
    digit: str
    duration_ms: int = 0
    channel: Channel


class ChannelHangupRequest(AriEvent):
    type: Literal["ChannelHangupRequest"]
    cause: int | None = None
    soft: bool = False
    channel: Channel


class ChannelHold(AriEvent):
    """A channel put its call on hold (its device said so: a SIP re-INVITE, a hold key)."""

    type: Literal["ChannelHold"]
    musicclass: str = ""
    channel: Channel


class ChannelUnhold(AriEvent):
    type: Literal["ChannelUnhold"]
    channel: Channel


class ChannelDestroyed(AriEvent):
    type: Literal["ChannelDestroyed"]
    cause: int = 0
    cause_txt: str = ""
    channel: Channel


class ChannelVarset(AriEvent):
    type: Literal["ChannelVarset"]
    variable: str
    value: str = ""
    channel: Channel | None = None


class Dial(AriEvent):
    type: Literal["Dial"]
    caller: Channel | None = None
    peer: Channel
    dialstring: str = ""
    dialstatus: str = ""


class PlaybackStarted(AriEvent):
    type: Literal["PlaybackStarted"]
    playback: Playback


class PlaybackFinished(AriEvent):
    type: Literal["PlaybackFinished"]
    playback: Playback


class ChannelEnteredBridge(AriEvent):
    type: Literal["ChannelEnteredBridge"]
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(AriEvent):
    type: Literal["ChannelLeftBridge"]
    bridge: Bridge
    channel: Channel


class BridgeDestroyed(AriEvent):
    type: Literal["BridgeDestroyed"]
    bridge: Bridge


class ApplicationReplacedEvent(AriEvent):
    type: Literal["ApplicationReplaced"]


TypedEvent = (
    StasisStart
    | StasisEnd
    | ChannelStateChange
    | ChannelDtmfReceived
    | ChannelHangupRequest
    | ChannelHold
    | ChannelUnhold
    | ChannelDestroyed
    | ChannelVarset
    | Dial
    | PlaybackStarted
    | PlaybackFinished
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | BridgeDestroyed
    | ApplicationReplacedEvent
)
_TYPED = TypeAdapter[TypedEvent](Annotated[TypedEvent, Field(discriminator="type")])
_KNOWN_TYPES = frozenset(get_args(model.model_fields["type"].annotation)[0] for model in get_args(TypedEvent))


@dataclass(frozen=True)
class UnknownEvent:
    """An event we do not model (or could not parse): passed through untouched."""

    type: str
    raw: dict[str, Any]
    error: str = ""


@dataclass(frozen=True)
class Resynced:
    """Our notice, not Asterisk's: the event stream (re)connected and took stock.

    Asterisk does not buffer events while no websocket is open, so after every (re)connect
    the call layer must reconcile its calls with ``channels`` and ``bridges``, the ones our app
    holds now. ``restarted`` says Asterisk itself restarted (its startup time changed): every
    call it had is gone.
    """

    app: str
    first: bool
    restarted: bool
    startup_time: str
    channels: tuple[Channel, ...] = field(default=())
    bridges: tuple[Bridge, ...] = field(default=())
    #: Every channel Asterisk has, in any app or none: a call another instance holds is alive.
    all_channel_ids: frozenset[str] = field(default=frozenset())

    def bridge_of(self, channel_id: str) -> Bridge | None:
        """The bridge of our app that holds ``channel_id``, if any."""
        return next((bridge for bridge in self.bridges if channel_id in bridge.channels), None)


Event = TypedEvent | UnknownEvent | Resynced


def parse_event(raw: Any) -> TypedEvent | UnknownEvent:
    """A typed event for a payload from the events websocket; never raises."""
    if not isinstance(raw, dict):
        return UnknownEvent(type="", raw={"payload": raw}, error="event is not a JSON object")
    event_type = str(raw.get("type", ""))
    if event_type not in _KNOWN_TYPES:
        return UnknownEvent(type=event_type, raw=raw)
    try:
        return _TYPED.validate_python(raw)
    except ValidationError as exc:
        return UnknownEvent(type=event_type, raw=raw, error=str(exc))


def _target_key(target_uri: str) -> str:
    # Playback targets read "channel:<id>" or "bridge:<id>" (ARI playbacks.json).
    kind, _, ident = target_uri.partition(":")
    return ident if kind == "channel" else target_uri


def _raw_key(raw: dict[str, Any]) -> str:
    """The key of an event we do not model, from the usual places of its channel or bridge."""
    for field_name in ("channel", "peer"):
        resource = raw.get(field_name)
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            return str(resource["id"])
    bridge = raw.get("bridge")
    if isinstance(bridge, dict) and isinstance(bridge.get("id"), str):
        return f"bridge:{bridge['id']}"
    return ""


def event_key(event: Event) -> str:
    """The ordering key: a channel id, ``bridge:<id>``, or "" for app-wide events."""
    if isinstance(event, UnknownEvent):
        return _raw_key(event.raw)
    if isinstance(event, Dial):
        return event.peer.id
    channel = getattr(event, "channel", None)
    if isinstance(channel, Channel):
        return channel.id
    if isinstance(event, PlaybackStarted | PlaybackFinished):
        return _target_key(event.playback.target_uri)
    bridge = getattr(event, "bridge", None)
    if isinstance(bridge, Bridge):
        return f"bridge:{bridge.id}"
    return ""
