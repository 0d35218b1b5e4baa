"""``/api/ws`` as a protocol: who may open it, for which topics, what a bad frame gets, and that
nothing a client sends harms the server (hypothesis-made frames)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.desk.hub import SEND_QUEUE_MAX
from cti.sim.desktop import sign_in_token
from tests.integration.conftest import Acd, MakeAcd, sales
from tests.integration.desk import Connect, Desk, DeskClient, StartDesk

A = "1293"


@pytest.fixture
async def desk(make_acd: MakeAcd, start_desk: StartDesk) -> tuple[Acd, Desk]:
    acd = await make_acd((sales(),), agent_ids=[A], login=False)
    return acd, await start_desk(acd)


async def closed(client: DeskClient) -> tuple[int | None, list[dict[str, Any]]]:
    """The close code and the frames before it."""
    assert client.task is not None
    await client.task
    return client.ws.close_code, client.frames


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "unauthorized"), ("wrong-token-0123456789", "unauthorized"), ("", "unauthorized")],
)
async def test_a_missing_or_wrong_token_is_refused_with_4401(
    desk: tuple[Acd, Desk], connect: Connect, token: str | None, code: str
) -> None:
    client = await connect(desk[1].url, token)
    close_code, frames = await closed(client)
    assert close_code == 4401
    assert frames == [{"type": "error", "code": code, "message": frames[0]["message"]}]


async def test_an_expired_token_is_refused_and_an_open_socket_closes_when_its_token_expires(
    desk: tuple[Acd, Desk], connect: Connect
) -> None:
    _, push = desk
    expired = await connect(push.url, push.token(A, ttl_s=-1))
    assert (await closed(expired))[0] == 4401
    short = await connect(push.url, push.token(A, ttl_s=2))
    await short.until("the welcome", lambda c: c.frames)
    close_code, frames = await closed(short)
    assert close_code == 4401
    assert frames[-1]["code"] == "unauthorized"


async def test_a_renewed_token_keeps_the_socket_open_and_another_users_is_refused(
    desk: tuple[Acd, Desk], connect: Connect
) -> None:
    _, push = desk
    client = await connect(push.url, push.token(A, ttl_s=2))
    await client.until("the welcome", lambda c: c.frames)
    await client.ws.send_json({"type": "token", "token": push.token(A, ttl_s=600)})
    await asyncio.sleep(2)  # past the first token's expiry
    await client.ws.send_json({"type": "ping"})
    await client.until("the pong", lambda c: {"type": "pong"} in c.frames)
    assert not client.ws.closed
    await client.ws.send_json({"type": "token", "token": sign_in_token(push.settings, "1294")})
    assert (await closed(client))[0] == 4401


@pytest.mark.parametrize(
    ("token_of", "topics"),
    [
        (A, ["wallboard"]),
        (A, ["agent:1294"]),
        (A, ["queues"]),
        ("dev-manager-token", ["agent"]),  # a manager is bound to no agent
    ],
)
async def test_a_topic_not_allowed_is_refused_with_4403(
    desk: tuple[Acd, Desk], connect: Connect, token_of: str, topics: list[str]
) -> None:
    _, push = desk
    token = token_of if token_of.startswith("dev-") else push.token(token_of)
    client = await connect(push.url, token, topics=topics)
    close_code, frames = await closed(client)
    assert close_code == 4403
    assert frames[0]["code"] == "forbidden"


async def test_a_supervisor_gets_the_latest_wallboard_as_its_snapshot(
    desk: tuple[Acd, Desk], connect: Connect
) -> None:
    _, push = desk
    empty = await connect(push.url, "dev-supervisor-token", topics=["wallboard"])
    await empty.until("the snapshot", lambda c: any(f["type"] == "snapshot" for f in c.frames))
    assert empty.frames[1] == {
        "type": "snapshot",
        "topic": "wallboard",
        "seq": 0,
        "state": {"at": None, "queues": [], "agents": []},
    }
    body = {"at": "2025-03-01T09:00:00+00:00", "queues": [{"name": "sales", "waiting": 2}], "agents": []}
    seq = await push.topics.publish("wallboard", {"kind": "wallboard", **body})
    await empty.until("the live event", lambda c: c.events("wallboard"))
    later = await connect(push.url, "dev-manager-token", topics=["wallboard"])
    await later.until("the snapshot", lambda c: len(c.frames) > 1)
    assert later.frames[1] == {"type": "snapshot", "topic": "wallboard", "seq": seq, "state": body}


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"token": "x"}',
        '{"type": "subscribe"}',
        json.dumps({"type": "hello", "token": "dev-agent-token", "topics": "agent"}),
        json.dumps(
            {"type": "hello", "token": "dev-agent-token", "topics": ["agent"], "resume": {"agent:1": -1}}
        ),
    ],
)
async def test_a_malformed_first_frame_gets_an_error_frame_and_4400(
    desk: tuple[Acd, Desk], connect: Connect, raw: str
) -> None:
    client = await connect(desk[1].url, None, raw=raw)
    close_code, frames = await closed(client)
    assert close_code == 4400
    assert frames[0]["type"] == "error"
    assert frames[0]["code"] == "bad_frame"
    assert frames[0]["message"]


async def test_a_bad_frame_on_an_open_socket_closes_it_with_4400(
    desk: tuple[Acd, Desk], connect: Connect
) -> None:
    _, push = desk
    client = await connect(push.url, push.token(A))
    await client.until("the welcome", lambda c: c.frames)
    await client.ws.send_bytes(b"\x00\x01")
    close_code, frames = await closed(client)
    assert close_code == 4400
    assert frames[-1]["message"] == "frames are JSON text, not binary"


async def test_a_client_that_cannot_keep_up_is_closed_with_1013_and_others_are_served(
    desk: tuple[Acd, Desk], connect: Connect
) -> None:
    _, push = desk
    slow = await connect(push.url, push.token(A), read=False)  # reads nothing: its buffers fill
    other = await connect(push.url, push.token(A))
    await other.until("the snapshot", lambda c: len(c.frames) > 1)
    bulky = {"kind": "agent_state", "note": "x" * 16_000}
    for _ in range(SEND_QUEUE_MAX * 4):
        await push.topics.publish(f"agent:{A}", bulky)
    last = await push.topics.seq(f"agent:{A}")
    await other.until("every event", lambda c: c.last_seq(f"agent:{A}") == last)
    slow.task = asyncio.create_task(slow._read())
    close_code, frames = await closed(slow)
    assert close_code == 1013
    assert len(frames) < SEND_QUEUE_MAX * 4
    assert not other.ws.closed
    resumed = await connect(push.url, push.token(A), resume={f"agent:{A}": slow.last_seq(f"agent:{A}")})
    await resumed.until("the rest", lambda c: c.last_seq(f"agent:{A}") == last)
    assert push.hub.counts.too_slow == 1
    assert push.hub.counts.replays >= 1  # the resumed socket's catch-up, from the stream


FRAMES = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=12,
    ).map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["hello", "ping", "token", "x"])},
        optional={
            "token": st.one_of(st.text(max_size=30), st.integers(), st.just("dev-agent-token")),
            "topics": st.one_of(st.lists(st.text(max_size=12), max_size=3), st.text(max_size=5)),
            "resume": st.one_of(st.dictionaries(st.text(max_size=12), st.integers()), st.integers()),
        },
    ).map(json.dumps),
)


async def test_no_frame_harms_the_server(desk: tuple[Acd, Desk]) -> None:
    """Any first frames a client may send end its own socket at most, with a close code the
    protocol names; a well-behaved client is served after each."""
    _, push = desk
    outcomes: list[int | None] = []
    async with aiohttp.ClientSession() as http:

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(frames=st.lists(FRAMES, min_size=1, max_size=3))
        def probe(frames: list[str | bytes]) -> None:
            outcomes.append(asyncio.run_coroutine_threadsafe(send(frames), loop).result())

        async def send(frames: list[str | bytes]) -> int | None:
            async with http.ws_connect(push.url) as ws:
                for frame in frames:
                    if ws.closed:
                        break
                    await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
                await ws.send_json({"type": "ping"}) if not ws.closed else None
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT and message.json().get("type") == "pong":
                        await ws.close()
                return ws.close_code

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(probe)
        assert set(outcomes) <= {1000, 4400, 4401, 4403}, set(outcomes)
        async with http.ws_connect(push.url) as ws:
            await ws.send_json({"type": "hello", "token": push.token(A), "topics": ["agent"]})
            assert (await ws.receive_json())["type"] == "welcome"
