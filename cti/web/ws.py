"""The push channel: ``GET /api/ws``, a websocket carrying each principal's topics.

The token is sent in the first frame (``hello``), never in the URL (URLs end up in logs). The
hello names the topics (``agent``: one's own agent topic; ``wallboard``: supervisors and
managers) and, for a reconnect, the last number seen of each (``resume``): the missed events
are replayed, or a snapshot is sent when they are gone (``cti.desk.hub``). An open socket may
present a renewed token (``token``); when the current one expires, the socket is closed (4401).

A frame that is not what the protocol says gets an error frame naming what is wrong and the
close code (4400); nothing a client sends can end anything but its own socket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from cti.desk.hub import PushHub, Subscriber
from cti.desk.push import agent_topic
from cti.web.auth import Role
from cti.web.principal import Principal, authenticate

log = logging.getLogger(__name__)

HUB: web.AppKey[PushHub] = web.AppKey("push_hub", PushHub)
HELLO_TIMEOUT_S = 10.0
HEARTBEAT_S = 20.0  # aiohttp pings this often; a peer that does not answer is closed
MAX_FRAME = 64 * 1024
BAD_FRAME, UNAUTHORIZED, FORBIDDEN = 4400, 4401, 4403
WALLBOARD_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER})
_ERRORS = {BAD_FRAME: "bad_frame", UNAUTHORIZED: "unauthorized", FORBIDDEN: "forbidden"}


class Refused(Exception):
    """The client sent what closes its socket: the close code and what to tell it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Hello:
    token: str
    topics: tuple[str, ...]
    resume: Mapping[str, int] = field(default_factory=dict)


def read_frame(text: str) -> dict[str, Any]:
    """A client frame: a JSON object with a string ``type``."""
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise Refused(BAD_FRAME, f"not JSON: {exc}") from exc
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise Refused(BAD_FRAME, 'a frame is a JSON object with a "type"')
    return frame


def read_hello(frame: Mapping[str, Any]) -> Hello:
    if frame["type"] != "hello":
        raise Refused(BAD_FRAME, f'the first frame must be "hello", not {frame["type"][:40]!r}')
    token, topics, resume = frame.get("token"), frame.get("topics", ["agent"]), frame.get("resume", {})
    if not isinstance(token, str) or not token:
        raise Refused(UNAUTHORIZED, "hello: a token is required")
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise Refused(BAD_FRAME, "hello: topics must be a non-empty list of topic names")
    if not isinstance(resume, dict) or not all(
        isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 for seq in resume.values()
    ):
        raise Refused(
            BAD_FRAME, 'hello: resume must map topics to the last seq seen, e.g. {"agent:1001": 57}'
        )
    return Hello(token, tuple(dict.fromkeys(topics)), resume)


def allowed_topic(principal: Principal, name: str) -> str:
    """The topic ``name`` means for ``principal``; refused (4403) when it may not have it."""
    if name == "agent" and principal.agent is not None:
        return agent_topic(principal.agent)
    if name == "wallboard" and principal.role in WALLBOARD_ROLES:
        return "wallboard"
    if name in ("agent", "wallboard"):
        raise Refused(FORBIDDEN, f"the topic {name!r} is not for {principal.user} ({principal.role})")
    raise Refused(FORBIDDEN, f"no topic {name[:40]!r}: topics are 'agent' and 'wallboard'")


async def check_token(app: web.Application, token: str, holder: Principal | None = None) -> Principal:
    """The principal of a token that is valid now (and, on renewal, the same user's)."""
    principal = await authenticate(app, token)
    if principal is None or (principal.expires_at is not None and principal.expires_at <= time.time()):
        raise Refused(UNAUTHORIZED, "the token is missing, unknown or expired")
    if holder is not None and (principal.user, principal.agent) != (holder.user, holder.agent):
        raise Refused(UNAUTHORIZED, "a renewed token must be the same user's")
    return principal


async def push_socket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    hub = request.app[HUB]
    subscriber: Subscriber | None = None
    try:
        principal, hello = await _hello(request.app, ws)
        topics = {allowed_topic(principal, name): None for name in hello.topics}
        last = {topic: hello.resume.get(topic) for topic in topics}
        welcome = {topic: {"seq": await hub.topics.seq(topic)} for topic in topics}

        async def close(code: int, message: str) -> None:
            await ws.close(code=code, message=message.encode()[:120])

        subscriber = Subscriber(hub, principal.role.value, principal.agent, last, ws.send_json, close)
        await ws.send_json(
            {
                "type": "welcome",
                "user": principal.user,
                "role": principal.role.value,
                "agent": principal.agent,
                "topics": welcome,
            }
        )
        hub.subscribe(subscriber)
        await _serve(request.app, ws, principal)
    except Refused as refused:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json({"type": "error", "code": _ERRORS[refused.code], "message": refused.message})
            await ws.close(code=refused.code, message=refused.message.encode()[:120])
    finally:
        if subscriber is not None:
            hub.forget(subscriber)
            if subscriber.task is not None:
                subscriber.task.cancel()
    return ws


async def _hello(app: web.Application, ws: web.WebSocketResponse) -> tuple[Principal, Hello]:
    try:
        message = await ws.receive(timeout=HELLO_TIMEOUT_S)
    except TimeoutError as exc:
        raise Refused(UNAUTHORIZED, f"no hello within {HELLO_TIMEOUT_S:g} s") from exc
    hello = read_hello(read_frame(_text(message)))
    return await check_token(app, hello.token), hello


async def _serve(app: web.Application, ws: web.WebSocketResponse, principal: Principal) -> None:
    """Answer the client's frames until it leaves or its token expires (a sender that fails
    closes the socket itself: ``PushHub.subscribe``)."""
    while True:
        left = None if principal.expires_at is None else principal.expires_at - time.time()
        if left is not None and left <= 0:
            raise Refused(UNAUTHORIZED, "the token expired: sign in again")
        try:
            message = await ws.receive(timeout=left)
        except TimeoutError:
            continue  # the token's time is up: the check above closes the socket
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        frame = read_frame(_text(message))
        if frame["type"] == "ping":
            await ws.send_json({"type": "pong"})
        elif frame["type"] == "token" and isinstance(frame.get("token"), str):
            principal = await check_token(app, frame["token"], principal)
        else:
            raise Refused(BAD_FRAME, f"unknown frame {frame['type'][:40]!r}: expected ping or token")


def _text(message: Any) -> str:
    if message.type is WSMsgType.TEXT:
        return str(message.data)
    if message.type is WSMsgType.BINARY:
        raise Refused(BAD_FRAME, "frames are JSON text, not binary")
    raise Refused(BAD_FRAME, "the socket closed before a hello")


def add_push_routes(app: web.Application, hub: PushHub) -> None:
    """``/api/ws``, fed by ``hub`` (started and stopped with the app)."""
    app[HUB] = hub

    async def run_hub(app: web.Application) -> Any:
        hub.start()
        yield
        await hub.aclose()

    app.cleanup_ctx.append(run_hub)
    app.on_shutdown.append(lambda _: hub.close_sockets())
    app.router.add_get("/api/ws", push_socket)
