from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.ari.events import (
    ApplicationReplacedEvent,
    ChannelDtmfReceived,
    Dial,
    PlaybackFinished,
    Resynced,
    StasisStart,
    UnknownEvent,
    event_key,
    parse_event,
)

CHANNEL = {"id": "c1", "name": "PJSIP/2001-0001", "state": "Up", "caller": {"name": "A", "number": "2001"}}


def test_stasis_start_is_typed_with_args_and_caller() -> None:
    event = parse_event(
        {"type": "StasisStart", "application": "cti", "args": ["hotline"], "channel": CHANNEL}
    )
    assert isinstance(event, StasisStart)
    assert event.args == ("hotline",)
    assert event.channel.caller.number == "2001"


def test_dtmf_is_typed() -> None:
    event = parse_event({"type": "ChannelDtmfReceived", "digit": "5", "duration_ms": 100, "channel": CHANNEL})
    assert isinstance(event, ChannelDtmfReceived)
    assert event.digit == "5"


def test_newer_fields_are_ignored() -> None:
    event = parse_event(
        {"type": "StasisStart", "args": [], "channel": {**CHANNEL, "tenantid": "t"}, "new": 1}
    )
    assert isinstance(event, StasisStart)


def test_application_replaced_is_typed() -> None:
    assert isinstance(
        parse_event({"type": "ApplicationReplaced", "application": "cti"}), ApplicationReplacedEvent
    )


def test_unknown_type_passes_through_untyped() -> None:
    raw = {"type": "ChannelTalkingStarted", "channel": CHANNEL}
    event = parse_event(raw)
    assert event == UnknownEvent(type="ChannelTalkingStarted", raw=raw)


def test_known_type_with_wrong_shape_becomes_unknown_with_the_reason() -> None:
    event = parse_event({"type": "StasisStart", "channel": {"name": "no id"}})
    assert isinstance(event, UnknownEvent)
    assert event.type == "StasisStart"
    assert "id" in event.error


def test_non_object_payload_becomes_unknown() -> None:
    assert isinstance(parse_event(["not", "an", "object"]), UnknownEvent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
event_types = st.sampled_from(
    [
        "StasisStart",
        "StasisEnd",
        "Dial",
        "PlaybackStarted",
        "ChannelLeftBridge",
        "ChannelVarset",
        "ChannelHold",
        "Other",
        "",
    ]
)


@given(
    event_type=event_types,
    body=st.dictionaries(
        st.sampled_from(["channel", "peer", "playback", "bridge", "digit", "args"]), json_values
    ),
)
def test_no_event_shape_ever_raises(event_type: str, body: dict[str, Any]) -> None:
    event = parse_event({"type": event_type, **body})
    assert isinstance(event_key(event), str)


def test_events_of_one_channel_share_a_key() -> None:
    dial = parse_event({"type": "Dial", "peer": {"id": "agent-1"}, "dialstatus": "RINGING"})
    assert isinstance(dial, Dial)
    assert event_key(dial) == "agent-1"
    playback = parse_event(
        {"type": "PlaybackFinished", "playback": {"id": "p1", "target_uri": "channel:c1", "state": "done"}}
    )
    assert isinstance(playback, PlaybackFinished)
    assert event_key(playback) == "c1"
    assert event_key(parse_event({"type": "StasisEnd", "channel": CHANNEL})) == "c1"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"type": "BridgeDestroyed", "bridge": {"id": "b1"}}, "bridge:b1"),
        ({"type": "PlaybackStarted", "playback": {"id": "p", "target_uri": "bridge:b1"}}, "bridge:b1"),
        ({"type": "ChannelEnteredBridge", "bridge": {"id": "b1"}, "channel": CHANNEL}, "c1"),
        ({"type": "ApplicationReplaced"}, ""),
        ({"type": "ChannelHold", "channel": CHANNEL}, "c1"),  # unmodelled, still ordered with its call
        ({"type": "ChannelTalkingStarted", "channel": {"no": "id"}}, ""),
        ({"type": "BridgeVideoSourceChanged", "bridge": {"id": "b2"}}, "bridge:b2"),
    ],
)
def test_keys_of_bridge_and_app_events(raw: dict[str, Any], key: str) -> None:
    assert event_key(parse_event(raw)) == key


def test_resync_notice_is_app_wide() -> None:
    assert event_key(Resynced("cti", True, False, "t0")) == ""
