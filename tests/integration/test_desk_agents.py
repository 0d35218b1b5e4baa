"""The agent desk on the real stack: agents' state over HTTP (roles, refusals, who made each
change), routing that honours the queues an agent signed in for, and a queue whose wrap-up
waits for the call's disposition, on the real Asterisk with simulated agents."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from cti.acd import AgentState
from cti.cli import cli
from cti.desk.agent_control import AgentControl
from cti.desk.disposing import DispositionDesk
from cti.desk.dispositions import load_dispositions
from cti.events import CallEvent, EventKind, event_from_json
from cti.settings import DatabaseSettings, Settings, WebSettings
from cti.sim import set_agent_timing
from cti.store import make_engine, schema
from cti.web import build_web_app
from cti.web.desk import Desk
from tests.conftest import eventually
from tests.integration.conftest import Acd, MakeAcd, sales

PROJECT = Path(__file__).resolve().parents[2]
SUPERVISOR = {"Authorization": "Bearer dev-supervisor-token"}
AGENT = {"Authorization": "Bearer dev-agent-token"}
API = {"Authorization": "Bearer dev-api-token"}
DISPOSITIONS = load_dispositions(PROJECT / "config" / "dispositions.toml")

Serve = Callable[[Acd], Awaitable[TestClient]]  # type: ignore[type-arg]


@pytest.fixture
async def serve(settings: Settings, tmp_path: Path) -> AsyncIterator[Serve]:
    """The HTTP API over an ACD of the test's (its Redis state and outbox), the store on SQLite."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}"
    schema.upgrade(url)
    engine = make_engine(url)
    clients: list[TestClient] = []  # type: ignore[type-arg]

    async def start(acd: Acd) -> TestClient:  # type: ignore[type-arg]
        control = AgentControl(acd.router.config, acd.state, acd.outbox)
        desk = Desk(control, DISPOSITIONS, DispositionDesk(control, DISPOSITIONS, engine, time.time))
        web_settings = settings.model_copy(
            update={
                "database": DatabaseSettings(url=url),
                "web": WebSettings(tokens_file=PROJECT / "config" / "web-tokens.dev"),
            }
        )
        client = TestClient(TestServer(build_web_app(web_settings, desk), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
    await engine.dispose()


def changes(events: list[CallEvent], agent: str) -> list[tuple[str, str, str]]:
    return [
        (e.data["state"], e.data["reason"], e.data["by"])
        for e in events
        if e.kind is EventKind.AGENT_STATE_CHANGED and e.agent == agent
    ]


async def test_agents_state_over_http_with_who_made_each_change(make_acd: MakeAcd, serve: Serve) -> None:
    acd = await make_acd(
        (sales(), sales(name="service")),
        agent_ids=["1201"],
        login=False,
        skills={"1201": {"sales": 3, "service": 2}},
    )
    client = await serve(acd)
    answer = await client.post("/api/agents/1201/login", json={"queues": ["sales"]}, headers=SUPERVISOR)
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert (body["state"], body["queues"], body["chosen_queues"]) == (
        "ready",
        ["sales", "service"],
        ["sales"],
    )
    assert [r["code"] for r in body["pause_reasons"]][:2] == ["break", "lunch"]
    assert "resolved_appointment" in [d["code"] for d in body["dispositions"]]

    refused = await client.post("/api/agents/1201/pause", json={"reason": "nap"}, headers=SUPERVISOR)
    assert refused.status == 400
    assert "break" in (await refused.json())["details"]["pause_reasons"]
    paused = await client.post("/api/agents/1201/pause", json={"reason": "lunch"}, headers=API)
    assert ((await paused.json())["state"], (await paused.json())["reason_label"]["en"]) == (
        "paused",
        "Lunch",
    )
    conflict = await client.post("/api/agents/1201/ready", headers=SUPERVISOR)
    assert conflict.status == 409
    assert "cannot wrapup_done while paused" in (await conflict.json())["message"]
    assert (await client.post("/api/agents/1201/unpause", headers=AGENT)).status == 403  # bound to no agent
    assert (await client.post("/api/agents/1201/unpause", headers=SUPERVISOR)).status == 200
    assert (await client.post("/api/agents/9999/logout", headers=SUPERVISOR)).status == 404
    bad_queue = await client.post("/api/agents/1201/login", json={"queues": ["vip"]}, headers=SUPERVISOR)
    assert bad_queue.status == 400  # checked before the state: the choice is what is wrong

    listed = await client.get("/api/agents", headers=SUPERVISOR)
    assert [(a["agent"], a["state"]) for a in (await listed.json())["agents"]] == [("1201", "ready")]
    assert (await client.get("/api/agents", headers=AGENT)).status == 403
    assert (await client.get("/api/agents/me", headers=AGENT)).status == 400  # a machine token: no agent
    assert changes(await acd.recorded(), "1201") == [
        ("ready", "login", "supervisor:token:supervisor"),
        ("paused", "lunch", "api"),
        ("ready", "unpause", "supervisor:token:supervisor"),
    ]


async def test_an_agent_signed_in_for_sales_only_is_not_offered_service_calls(
    make_acd: MakeAcd, serve: Serve
) -> None:
    acd = await make_acd(
        (sales(), sales(name="service")),
        agent_ids=["1201"],
        login=False,
        skills={"1201": {"sales": 3, "service": 3}},
    )
    await set_agent_timing(acd.ari, "1201", ring_s=0, talk_s=60)
    client = await serve(acd)
    assert (
        await client.post("/api/agents/1201/login", json={"queues": ["sales"]}, headers=SUPERVISOR)
    ).status == 200
    service_call = await acd.call("service")
    await acd.wait_for(
        lambda events: any(e.kind is EventKind.QUEUE_ENTERED and e.call_id == service_call for e in events)
    )
    sales_call = await acd.call("sales")
    events = await acd.wait_for(
        lambda events: any(e.kind is EventKind.AGENT_ANSWERED and e.call_id == sales_call for e in events)
    )
    assert not [e for e in events if e.kind is EventKind.AGENT_OFFERED and e.call_id == service_call]
    board = await (await client.get("/api/wallboard", headers=SUPERVISOR)).json()
    service = next(q for q in board["queues"] if q["name"] == "service")
    assert (service["waiting"], service["agents"]["on_call"], service["agents"]["ready"]) == (1, 0, 0)
    assert service["longest_wait_s"] > 0
    assert service["today"]["three_ring_rate"] is None  # nothing stored today: no data, not 0 %
    assert [a["id"] for a in board["agents"]] == ["1201"]


async def test_a_queue_requiring_a_disposition_keeps_the_agent_in_wrap_up_until_it_is_in(
    make_acd: MakeAcd, serve: Serve
) -> None:
    acd = await make_acd((sales(wrapup_s=1, wrapup_requires_disposition=True),), agent_ids=["1201"])
    await set_agent_timing(acd.ari, "1201", ring_s=0, talk_s=60)  # another test may have left others
    client = await serve(acd)
    call_id = await acd.call("sales", hold_s=1)
    await acd.wait_for(lambda events: any(e.kind is EventKind.COMPLETED for e in events))

    async def status() -> Any:
        return (await acd.state.agent("1201"))[0]

    wrapping = await eventually(status, lambda s: s.state is AgentState.WRAP_UP and s.until < time.time())
    assert wrapping.undisposed == call_id
    timers = acd.router.books.tasks
    await eventually(
        lambda: not [t for t in timers if "_wrap_up" in repr(t.get_coro())], what="the timer done"
    )
    refused = await client.post("/api/agents/1201/ready", headers=SUPERVISOR)
    assert refused.status == 409
    assert "needs a disposition" in (await refused.json())["message"]
    assert (await status()).state is AgentState.WRAP_UP

    unknown = await client.post(
        f"/api/calls/{call_id}/disposition", json={"code": "nope"}, headers=SUPERVISOR
    )
    assert unknown.status == 400
    body = {"code": "resolved_appointment", "note": "oil change Tuesday"}
    first = await client.post(f"/api/calls/{call_id}/disposition", json=body, headers=SUPERVISOR)
    assert first.status == 201, await first.text()
    assert (await first.json())["state"] == "ready"  # past the wrap-up's deadline: ready at once
    again = await client.post(f"/api/calls/{call_id}/disposition", json=body, headers=SUPERVISOR)
    assert again.status == 200
    other = await client.post(
        f"/api/calls/{call_id}/disposition", json={"code": "resolved"}, headers=SUPERVISOR
    )
    assert other.status == 409
    assert (
        await client.post("/api/calls/no-such-call/disposition", json=body, headers=SUPERVISOR)
    ).status == 404

    events = await acd.recorded()
    mine = [e for e in events if e.call_id == call_id]
    assert [e.kind for e in mine if e.kind in (EventKind.DISPOSITION, EventKind.APPOINTMENT_BOOKED)] == [
        EventKind.DISPOSITION,
        EventKind.APPOINTMENT_BOOKED,
        EventKind.DISPOSITION,  # the identical retry: the same event ids, stored once
        EventKind.APPOINTMENT_BOOKED,
    ]
    assert len({e.event_id for e in mine if e.kind is EventKind.DISPOSITION}) == 1
    assert [e for e in mine if e.kind is EventKind.WRAPUP_ENDED][-1].data[
        "by"
    ] == "supervisor:token:supervisor"
    assert changes(events, "1201")[-1] == ("ready", "wrap-up-done", "supervisor:token:supervisor")


def test_cti_agent_commands_act_on_redis_and_record_through_the_outbox(redis_url: str) -> None:
    prefix = f"test:cli-agent:{uuid.uuid4().hex[:8]}"
    env = {
        "CTI_REDIS_URL": redis_url,
        "CTI_ACD_REDIS_PREFIX": prefix,
        "CTI_REDIS_OUTBOX_STREAM": f"{prefix}:events",
        "CTI_ACD_CONFIG_FILE": str(PROJECT / "config" / "acd.toml"),
    }
    runner = CliRunner(env=env)
    config = ["--config", str(PROJECT / "config" / "cti.toml")]
    try:
        done = runner.invoke(cli, [*config, "agent", "login", "1001", "--queues", "sales,general"])
        assert done.exit_code == 0, done.output
        assert "agent 1001: login -> ready (login)" in done.output
        refused = runner.invoke(cli, [*config, "agent", "pause", "1001", "--reason", "nap"])
        assert refused.exit_code == 1
        assert "unknown pause reason 'nap'" in refused.output
        assert runner.invoke(cli, [*config, "agent", "pause", "1001", "--reason", "break"]).exit_code == 0
        listed = runner.invoke(cli, [*config, "agent", "list", "--json"])
        first = json.loads(listed.output.splitlines()[0])
        assert (first["agent"], first["state"], first["reason"], first["chosen_queues"]) == (
            "1001",
            "paused",
            "break",
            ["sales", "general"],
        )
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        recorded = [event_from_json(fields["e"]) for _, fields in client.xrange(f"{prefix}:events")]
        assert changes(recorded, "1001") == [("ready", "login", "cli"), ("paused", "break", "cli")]
    finally:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
