"""The supervised events websocket: reconnect and resync, Asterisk restarts, a stolen app name."""

import pytest

from cti.ari import AriClient, Backoff, Event, EventStream, Resynced
from cti.ari.events import StasisEnd, StasisStart
from cti.errors import ApplicationReplaced
from cti.sim import place_simulated_call
from cti.sim.own_asterisk import OwnAsterisk
from tests.integration.conftest import OpenEventLog, Relayed


def resynced(e: Event) -> bool:
    return isinstance(e, Resynced)


async def test_first_connect_reports_a_resync_without_restart(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    events = await open_event_log(EventStream(ari, app_name))
    notice = await events.wait_for(resynced)
    assert isinstance(notice, Resynced)
    assert notice.first
    assert not notice.restarted
    assert notice.channels == ()


async def test_websocket_cut_mid_call_reconnects_and_reports_the_surviving_channel(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog, relayed: Relayed
) -> None:
    events = await open_event_log(EventStream(relayed.ari, app_name, backoff=Backoff(base_s=0.2, cap_s=5.0)))
    caller = await place_simulated_call(ari, hold_s=30, app=app_name)
    await events.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id)

    seen = len(events.events)
    assert relayed.proxy.drop_connections() > 0
    # How fast it comes back is bench/drills.py's ws_cut figure; here, that it does.
    notice = await events.wait_for(resynced, within_s=30, start=seen)
    assert isinstance(notice, Resynced)
    assert not notice.first
    assert not notice.restarted
    assert caller.id in {c.id for c in notice.channels}  # (its Local far half is listed too)
    after = len(events.events)
    await ari.hangup(caller.id)  # the new websocket carries the call's events again
    await events.wait_for(
        lambda e: isinstance(e, StasisEnd) and e.channel.id == caller.id, within_s=30, start=after
    )


async def test_second_client_on_the_same_app_makes_the_first_fail_clearly(
    ari: AriClient, app_name: str, open_event_log: OpenEventLog
) -> None:
    first = await open_event_log(EventStream(ari, app_name))
    await open_event_log(EventStream(ari, app_name))  # a second service instance, same app name
    with pytest.raises(AssertionError, match="ApplicationReplaced"):
        await first.wait_for(lambda e: False, within_s=10)
    assert isinstance(first.error, ApplicationReplaced)
    assert app_name in str(first.error)
    assert "own [ari] app name" in str(first.error)


async def test_asterisk_restart_is_detected_and_the_stream_recovers(
    own_asterisk: OwnAsterisk, app_name: str, open_event_log: OpenEventLog
) -> None:
    user = own_asterisk.settings.ari
    async with AriClient(own_asterisk.ari_url, user.username, user.password.get_secret_value()) as ari:
        events = await open_event_log(EventStream(ari, app_name, backoff=Backoff(base_s=0.2, cap_s=2.0)))
        before = await events.wait_for(resynced)
        assert isinstance(before, Resynced)
        caller = await place_simulated_call(ari, hold_s=60, app=app_name)
        await events.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id)

        seen = len(events.events)
        own_asterisk.kill()  # a crash: the call dies with it
        await own_asterisk.start()
        after = await events.wait_for(resynced, within_s=30, start=seen)
        assert isinstance(after, Resynced)
        assert after.restarted
        assert after.startup_time != before.startup_time
        assert after.channels == ()  # the call died with the old Asterisk

        caller = await place_simulated_call(ari, hold_s=10, app=app_name)  # and the app works again
        await events.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == caller.id, start=seen)
        await ari.hangup(caller.id)
