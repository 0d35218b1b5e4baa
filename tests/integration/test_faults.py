"""Faults a live call must survive, on the real Asterisk: a cut events websocket, kill -9,
SIGTERM, a second instance, a database away, a lost prompt end; and the probes that report it.

A bridged conversation is sacred: whatever happens to the service, the caller and the agent
stay in their bridge, and the events that follow (``completed``, ``call_ended``) are recorded
once. The callers here reach an agent straight from the hotline (``STRAIGHT_TO_SALES_FLOW``)
at any hour, through the demo's simulated agents.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import redis

from cti.acd import Command
from cti.ari import AriClient
from cti.ari.events import Event, PlaybackFinished
from cti.ari.models import Bridge
from cti.events import CallEvent, EventKind, event_from_json
from cti.ivr import runner
from cti.live import AcdState, connect_redis
from cti.sim import place_simulated_call
from cti.sim.drill import free_port
from cti.sim.relay import TcpProxy
from tests.conftest import eventually
from tests.integration.conftest import AsteriskStack, StartHotline
from tests.integration.hotline import Caller, Hotline, fallback_of
from tests.integration.processes import ServiceProcesses, until_resynced

DEMO_AGENTS = ("1001", "1002", "1003", "1004", "1005", "1006")  # config/acd.demo.toml
OPEN_HOURS = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def kinds(events: list[CallEvent]) -> list[EventKind]:
    return [event.kind for event in events]


def answered(events: list[CallEvent]) -> bool:
    return EventKind.AGENT_ANSWERED in kinds(events)


def ended(events: list[CallEvent]) -> bool:
    return EventKind.CALL_ENDED in kinds(events)


async def bridge_of(ari: AriClient, channel_id: str) -> Bridge | None:
    for bridge in await ari.list_bridges():
        if channel_id in bridge.channels:
            return bridge
    return None


async def bridged_pair(ari: AriClient, caller: Caller) -> Bridge:
    """The caller's bridge once the agent's leg is in it too (``agent_answered`` is recorded a
    moment before the bridge is made: a test that saw it waits for the bridge)."""
    bridge = await eventually(
        lambda: bridge_of(ari, caller.id),
        lambda bridge: bridge is not None and len(bridge.channels) == 2,
        what=lambda bridge: f"the caller's bridge holding two channels; found {bridge}",
    )
    assert bridge is not None
    return bridge


async def still_bridged(ari: AriClient, bridge: Bridge, for_s: float) -> None:
    """The bridge holds exactly its two channels, checked again and again for ``for_s``."""
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        now = await ari.get_bridge(bridge.id)
        assert set(now.channels) == set(bridge.channels), "a leg left the conversation"
        await asyncio.sleep(0.1)


def conversation_ends_once(events: list[CallEvent]) -> None:
    seen = kinds(events)
    assert seen.count(EventKind.AGENT_ANSWERED) == 1
    assert seen.count(EventKind.COMPLETED) == 1
    assert seen.count(EventKind.CALL_ENDED) == 1
    assert seen.index(EventKind.AGENT_ANSWERED) < seen.index(EventKind.COMPLETED)
    completed = next(event for event in events if event.kind is EventKind.COMPLETED)
    assert completed.data["by"] == "caller"
    assert completed.agent is not None
    assert not next(e for e in events if e.kind is EventKind.CALL_ENDED).data.get("missed")


async def test_a_websocket_cut_during_a_bridged_call_leaves_both_legs_in_their_bridge(
    start_hotline: StartHotline,
    asterisk: AsteriskStack,
    ari: AriClient,
    straight_flows: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    target = urlsplit(asterisk.settings.ari.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 8088)
    await proxy.start()
    try:
        hotline = await start_hotline(
            OPEN_HOURS, flows_dir=straight_flows, ari_url=f"http://127.0.0.1:{proxy.port}/ari"
        )
        caller = await hotline.call()
        await hotline.wait_for(caller, answered)
        bridge = await bridged_pair(ari, caller)

        resyncs = caplog.text.count("resynced")
        assert proxy.drop_connections() > 0
        await eventually(  # the service reconnects and reconciles
            lambda: caplog.text.count("resynced") > resyncs, what="the service resyncing"
        )
        assert "handing it to the dialplan fallback" not in caplog.text
        await still_bridged(ari, bridge, for_s=2.0)

        await ari.hangup(caller.id)
        events = await hotline.until_ended(caller)
        conversation_ends_once(await settled(hotline, caller, events))
    finally:
        await proxy.close()


async def settled(hotline: Hotline, caller: Caller, events: list[CallEvent]) -> list[CallEvent]:
    """The call's events once its ``completed`` is in too (it may be drained a moment later)."""
    if EventKind.COMPLETED in kinds(events):
        return events
    return await hotline.wait_for(caller, lambda ev: EventKind.COMPLETED in kinds(ev))


# --- the service as its own process: kill -9 and a second instance ------------------------------
async def test_kill_9_during_a_bridged_call_and_a_restart_adopt_the_conversation(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient
) -> None:
    first = service_processes.start()
    await until_resynced(service_processes, 0)
    caller = await hotline_of.call()
    await hotline_of.wait_for(caller, answered)
    bridge = await bridged_pair(ari, caller)

    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    await still_bridged(ari, bridge, for_s=1.0)  # Asterisk holds the conversation meanwhile

    service_processes.start()
    await until_resynced(service_processes, 1)
    log = service_processes.log(1)
    assert "handing it to the dialplan fallback" not in log
    await still_bridged(ari, bridge, for_s=2.0)

    await ari.hangup(caller.id)
    events = await hotline_of.until_ended(caller)
    conversation_ends_once(await settled(hotline_of, caller, events))


async def test_kill_9_while_a_callback_is_confirmed_keeps_the_callback(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient, redis_url: str
) -> None:
    """The caller pressed the callback key and hears the confirmation when the service dies:
    the next start knows the callback was booked, so the caller's hang-up is no abandon, its
    end is recorded once, and the callback is made."""
    first = service_processes.start()
    await until_resynced(service_processes, 0)
    state = AcdState(connect_redis(redis_url), service_processes.env["CTI_ACD_REDIS_PREFIX"])
    try:
        for agent in DEMO_AGENTS:  # nobody to take the call: the caller waits in line
            await state.transition(agent, Command.LOGOUT, time.time())
        # In line within a second; 3 s after answering it keys 1 (the demo's sales queue: a callback).
        placed = await place_simulated_call(
            ari, digits="1", delay_s=3, hold_s=60, variables={"CTI_APP": hotline_of.app}
        )
        caller = Caller(placed.id)
        await hotline_of.wait_for(caller, lambda ev: EventKind.CALLBACK_REQUESTED in kinds(ev))

        os.kill(first.pid, signal.SIGKILL)  # the confirmation is still being spoken
        first.wait(10)
        service_processes.start()
        await until_resynced(service_processes, 1)
        await ari.hangup(caller.id, missing_ok=True)
        # The restart logged the demo's agents in again (auto_login): one of them calls back.
        served = await hotline_of.wait_for(
            caller, lambda ev: {EventKind.CALL_ENDED, EventKind.CALLBACK_SERVED} <= set(kinds(ev))
        )
        assert EventKind.ABANDONED not in kinds(served)
        for kind in (EventKind.CALLBACK_REQUESTED, EventKind.CALL_ENDED, EventKind.CALLBACK_SERVED):
            assert kinds(served).count(kind) == 1, kind
    finally:
        await state.redis.aclose()


async def test_a_second_instance_on_the_same_app_refuses_to_start(
    service_processes: ServiceProcesses,
) -> None:
    service_processes.start()
    await until_resynced(service_processes, 0)
    second = service_processes.start()
    assert second.wait(30) != 0
    assert "is already served by a running instance" in service_processes.log(1)
    assert service_processes.started[0].poll() is None  # the first one keeps its app


async def test_with_the_database_away_the_service_starts_and_takes_calls_into_the_outbox(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient, redis_url: str
) -> None:
    nobody = free_port()  # nothing listens there: the store is away for the whole test
    service_processes.env["CTI_DATABASE_URL"] = f"postgresql+psycopg://cti@127.0.0.1:{nobody}/cti"
    service_processes.start()
    await until_resynced(service_processes, 0)
    assert "the store is away, starting without it" in service_processes.log(0)
    caller = await hotline_of.call()
    outbox = redis.Redis.from_url(redis_url, decode_responses=True)
    try:

        def recorded() -> list[CallEvent]:
            stream = outbox.xrange(service_processes.env["CTI_REDIS_OUTBOX_STREAM"])
            return [e for _, fields in stream if (e := event_from_json(fields["e"])).call_id == caller.id]

        await eventually(recorded, answered, what="the call answered by an agent")
    finally:
        outbox.close()
    await bridged_pair(ari, caller)
    # said by the drain's own process, which starts a moment after the service
    await eventually(
        lambda: service_processes.log(0),
        lambda log: "outbox waits for the store" in log,
        what="the drain waiting for the store",
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{service_processes.env['CTI_WEB_PORT']}/ready") as ready,
    ):
        body = await ready.json()
    assert ready.status == 200  # calls are taken: the store is reported, not required
    assert body["checks"]["store"] is False


MENU_FLOW = """\
# A menu that waits: the caller is in the IVR when the service is stopped.
name: hotline
entry: menu
languages: [en]
timezone: Asia/Shanghai
nodes:
  menu:
    type: menu
    prompt: {en: "Press one for sales."}
    options: {"1": sales_queue}
    timeout_s: 30
  sales_queue:
    type: queue
    queue: sales
"""


async def test_sigterm_hands_a_caller_in_the_ivr_to_the_fallback_and_stops_cleanly(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient, tmp_path: Path
) -> None:
    flows = tmp_path / "menu-flows"
    flows.mkdir()
    (flows / "hotline.yaml").write_text(MENU_FLOW)
    service_processes.env["CTI_IVR_FLOWS_DIR"] = str(flows)
    service = service_processes.start()
    await until_resynced(service_processes, 0)
    caller = await hotline_of.call()
    await hotline_of.reach(caller, "menu")

    service.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(service.wait, 30) == 0
    assert await fallback_of(ari, caller.id) == "handed-back"  # not left in silence
    log = service_processes.log(0)
    assert "caller in the IVR handed to the dialplan fallback" in log
    assert "cut short" not in log
    ended = [e for e in await hotline_of.events(caller) if e.kind is EventKind.CALL_ENDED]
    assert [e.data.get("to") for e in ended] == ["fallback"]  # its end with us is recorded, once


async def test_the_probes_say_ready_and_the_metrics_count_the_calls(
    service_processes: ServiceProcesses, hotline_of: Hotline, ari: AriClient
) -> None:
    service_processes.start()
    await until_resynced(service_processes, 0)
    caller = await hotline_of.call()
    await hotline_of.wait_for(caller, answered)
    base = f"http://127.0.0.1:{service_processes.env['CTI_WEB_PORT']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/health") as health:
            assert (health.status, await health.json()) == (200, {"status": "ok"})
        async with http.get(f"{base}/ready") as ready:
            body = await ready.json()
            assert ready.status == 200, body
            assert body["checks"] == {
                "ari_events": True,
                "redis": True,
                "instance_lease": True,
                "store": True,
            }
        async with http.get(f"{base}/metrics") as anonymous:
            assert anonymous.status == 401
        async with http.get(f"{base}/metrics", headers={"Authorization": "Bearer dev-api-token"}) as metrics:
            exposed = await metrics.text()
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert "cti_ari_events_connected 1.0" in exposed
    assert 'cti_live_calls{part="acd"} 1.0' in exposed
    assert "cti_outbox_dead_letters 0.0" in exposed
    samples = dict(line.rsplit(" ", 1) for line in exposed.splitlines() if not line.startswith("#"))
    assert samples['cti_acd_agents{state="on_call"}'] == "1.0"  # the agent talking to the caller
    assert 'cti_acd_waiting{queue="sales"}' in samples  # every queue, zeros included
    assert samples["cti_acd_routing_seconds_count"] == "1.0"  # one agent rung
    assert float(samples["cti_events_recorded"]) >= 4  # call_started ... agent_answered
    assert samples["cti_wallboard_turn"] == "1.0"  # the only instance publishes the wallboard
    assert 'cti_push_sockets{role="supervisor"}' in samples  # the push channel's, zeros included


PROMPT_FLOW = """\
# A prompt, then the queue: the caller moves on only once the prompt is known to be over.
name: hotline
entry: hello
languages: [en]
timezone: Asia/Shanghai
nodes:
  hello:
    type: prompt
    prompt: {en: "Hello."}
    next: sales_queue
  sales_queue:
    type: queue
    queue: sales
"""


async def test_a_prompt_whose_end_is_never_reported_is_found_over_and_the_caller_moves_on(
    start_hotline: StartHotline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = tmp_path / "prompt-flows"
    flows.mkdir()
    (flows / "hotline.yaml").write_text(PROMPT_FLOW)
    monkeypatch.setattr(runner, "PROMPT_CHECK_S", 0.5)
    original = runner.IvrRunner.handle

    async def losing_prompt_ends(self: runner.IvrRunner, event: Event) -> bool:
        if isinstance(event, PlaybackFinished):
            return True  # lost: the IVR never hears of it
        return await original(self, event)

    monkeypatch.setattr(runner.IvrRunner, "handle", losing_prompt_ends)
    hotline = await start_hotline(OPEN_HOURS, flows_dir=flows)
    caller = await hotline.call()
    events = await hotline.until_queued(caller)
    assert [e.data["node"] for e in events if e.kind is EventKind.IVR_NODE_ENTERED] == [
        "hello",
        "sales_queue",
    ]
