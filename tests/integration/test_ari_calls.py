"""The client against the real Asterisk: a whole call, errors, simulated agents."""

import time
import uuid
from collections.abc import Callable

import pytest

from cti.ari import AriClient, Event, EventStream
from cti.ari.events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelStateChange,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
)
from cti.errors import AriAuthError, AriNotFound, AriUnavailable
from cti.sim import place_simulated_call, set_agent_timing, sim_agent_endpoint
from tests.integration.conftest import AsteriskStack, OpenEventLog


def of(kind: type, channel_id: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, kind) and getattr(getattr(e, "channel", None), "id", None) == channel_id


async def test_originate_answer_play_dtmf_hangup(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    events = await open_event_log(EventStream(ari, app_name))

    caller = await place_simulated_call(
        ari, digits="7", delay_s=1.5, hold_s=20, app=app_name, app_args="hotline"
    )
    start = await events.wait_for(of(StasisStart, caller.id))
    assert isinstance(start, StasisStart)
    assert start.args == ("hotline",)
    assert start.channel.caller.number == "13800138000"

    await ari.answer(caller.id)
    playback = await ari.play(caller.id, f"pb-{caller.id}", ["sound:hello-world", "sound:beep"])
    assert playback.target_uri == f"channel:{caller.id}"
    assert (playback.media_uri, playback.next_media_uri) == ("sound:hello-world", "sound:beep")
    await events.wait_for(lambda e: isinstance(e, PlaybackStarted) and e.playback.id == playback.id)

    dtmf = await events.wait_for(of(ChannelDtmfReceived, caller.id))
    assert isinstance(dtmf, ChannelDtmfReceived)
    assert dtmf.digit == "7"

    await ari.hangup(caller.id)
    await events.wait_for(lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback.id)
    await events.wait_for(of(StasisEnd, caller.id))
    destroyed = await events.wait_for(of(ChannelDestroyed, caller.id))
    assert isinstance(destroyed, ChannelDestroyed)
    assert destroyed.cause == 16  # normal clearing
    with pytest.raises(AriNotFound):
        await ari.get_channel(caller.id)


async def test_channel_variables_and_subscriptions(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    events = await open_event_log(EventStream(ari, app_name))
    caller = await place_simulated_call(ari, hold_s=20, app=app_name)
    await events.wait_for(of(StasisStart, caller.id))
    await ari.set_variable(caller.id, "CTI_JOURNEY", "menu:2,1")
    assert await ari.get_variable(caller.id, "CTI_JOURNEY") == "menu:2,1"
    application = await ari.get_application(app_name)
    assert caller.id in application.channel_ids
    await ari.hangup(caller.id)


async def test_bridge_joins_caller_and_simulated_agent_who_rings_first(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    events = await open_event_log(EventStream(ari, app_name))
    caller = await place_simulated_call(ari, hold_s=30, app=app_name)
    await events.wait_for(of(StasisStart, caller.id))

    await set_agent_timing(ari, "1001", ring_s=2, talk_s=30)
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    await ari.create_channel(sim_agent_endpoint("1001"), app=app_name, channel_id=agent_id, app_args="agent")
    await events.wait_for(of(StasisStart, agent_id))  # dial only after StasisStart (else 409)
    dialled = time.monotonic()
    await ari.dial(agent_id, caller=caller.id, timeout_s=10)
    await events.wait_for(
        lambda e: isinstance(e, ChannelStateChange) and e.channel.id == agent_id and e.channel.state == "Up",
        within_s=10,
    )
    rang_s = time.monotonic() - dialled
    assert rang_s >= 1.9, f"the simulated agent answered after {rang_s:.2f}s, not after ringing 2 s"

    bridge = await ari.create_bridge(f"br-{agent_id}", name="test-call")
    await ari.add_channel(bridge.id, [caller.id, agent_id])
    await events.wait_for(of(ChannelEnteredBridge, agent_id))
    assert set((await ari.get_bridge(bridge.id)).channels) == {caller.id, agent_id}
    await ari.start_moh(bridge.id)
    await ari.stop_moh(bridge.id)
    await ari.remove_channel(bridge.id, agent_id)
    await ari.destroy_bridge(bridge.id)
    await ari.hangup(agent_id)
    await ari.hangup(caller.id)


async def test_unknown_channel_is_a_typed_not_found(ari: AriClient) -> None:
    with pytest.raises(AriNotFound, match=r"ARI DELETE /channels/no-such-channel -> 404: Channel not found"):
        await ari.hangup("no-such-channel")


async def test_wrong_password_is_an_auth_error_that_does_not_echo_it(asterisk: AsteriskStack) -> None:
    async with AriClient(asterisk.settings.ari.url, "cti", "wrong-Secret-123") as client:
        with pytest.raises(AriAuthError) as caught:
            await client.asterisk_info()
    assert caught.value.status == 401
    assert "wrong-Secret-123" not in str(caught.value)


async def test_nothing_listening_is_unavailable() -> None:
    async with AriClient("http://127.0.0.1:9", "cti", "pw-not-shown") as client:
        with pytest.raises(AriUnavailable) as caught:
            await client.asterisk_info()
    assert "pw-not-shown" not in str(caught.value)
