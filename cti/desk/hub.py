"""One instance's fan-out of the push topics to its own websockets.

Every instance holds one pub/sub connection to the topics' channel (``cti.desk.push``) and
forwards each published event to the local sockets subscribed to its topic. A socket's frames
go through its own bounded queue and sender task: a client that reads slowly holds up only
itself, and one that falls ``SEND_QUEUE_MAX`` frames behind is closed (1013, "try again
later"), to come back with ``resume`` and be replayed what it missed.

Each socket remembers the last number it was sent per topic. A number seen already is dropped
(a snapshot covered it); a gap (a pub/sub reconnect, a message lost) is filled from the topic's
stream (XRANGE), and when the missed events are gone, a snapshot is sent instead. After its own
pub/sub connection was re-established, the hub has every socket catch up that way.

The hub counts what it does (``HubCounts``; ``/metrics``): frames sent, sockets closed for
slowness, and catch-ups by how they were served (a replay from the stream, or a snapshot: every
socket's first catch-up without ``resume`` is one), so a center can tell whether ``replay_max``
is long enough for its reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from cti.desk import wallboard
from cti.desk.agent_view import AgentView
from cti.desk.push import Numbered, PushTopics
from cti.live.acd_state import AcdState

log = logging.getLogger(__name__)

SEND_QUEUE_MAX = 256  # frames a socket may be behind before it is closed (1013)
TOO_SLOW = 1013
SERVER_ERROR = 1011
LISTEN_CHECK_S = 0.5  # how often the listener looks whether the hub is closing
#: Sockets catching up at once (50 desktops reconnecting after a restart): each holds a Redis
#: connection of the instance's pool, which the call path shares.
CONCURRENT_CATCH_UPS = 16
EMPTY_WALLBOARD: Mapping[str, Any] = {"at": None, "queues": [], "agents": []}

Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]


@dataclass
class HubCounts:
    """What one instance's hub did since the start."""

    frames: int = 0  # events and snapshots sent to sockets
    too_slow: int = 0  # sockets closed for falling SEND_QUEUE_MAX frames behind
    replays: int = 0  # catch-ups served from the topic's stream
    snapshots: int = 0  # catch-ups that needed a snapshot


class Subscriber:
    """One websocket's topics, what it was last sent of each, and its queue of frames to send."""

    def __init__(
        self,
        hub: PushHub,
        role: str,
        agent: str | None,
        last: Mapping[str, int | None],
        send: Send,
        close: Close,
    ):
        self.hub = hub
        self.role = role
        self.agent = agent
        #: topic -> the last seq sent; None: nothing yet, a snapshot first
        self.last: dict[str, int | None] = dict(last)
        self.send = send
        self.close = close
        self.queue: asyncio.Queue[Numbered | None] = asyncio.Queue(SEND_QUEUE_MAX)
        self.task: asyncio.Task[None] | None = None

    def offer(self, item: Numbered | None) -> None:
        """Queue ``item`` (None: catch up on every topic); a socket too far behind is closed."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.hub.counts.too_slow += 1
            self.hub.forget(self)
            if self.task is not None:
                self.task.cancel()
            self.hub.spawn(self.close(TOO_SLOW, "too slow: reconnect with resume"))

    async def run(self) -> None:
        """Send: first each topic's replay or snapshot, then the live events, in order."""
        for topic in self.last:
            await self._catch_up(topic)
        while True:
            item = await self.queue.get()
            if item is None:
                for topic in self.last:
                    await self._catch_up(topic)
                continue
            last = self.last.get(item.topic)
            if last is None or item.seq > last + 1:
                await self._catch_up(item.topic)
            elif item.seq == last + 1:
                await self._send_event(item)

    async def _catch_up(self, topic: str) -> None:
        async with self.hub.catching_up:
            last = self.last[topic]
            missed = None if last is None else await self.hub.topics.replay(topic, last)
            if missed is None:
                seq, state = await self.hub.snapshot(topic, self.agent)
        if missed is None:
            self.last[topic] = seq
            self.hub.counts.snapshots += 1
            await self.send({"type": "snapshot", "topic": topic, "seq": seq, "state": state})
            self.hub.counts.frames += 1
            return
        self.hub.counts.replays += 1
        for item in missed:
            if item.seq > (self.last[topic] or 0):
                await self._send_event(item)

    async def _send_event(self, item: Numbered) -> None:
        self.last[item.topic] = item.seq
        await self.send({"type": "event", "topic": item.topic, "seq": item.seq, "event": item.event})
        self.hub.counts.frames += 1


class PushHub:
    """The local sockets of one instance, by topic, fed from the topics' channel."""

    def __init__(self, topics: PushTopics, state: AcdState, agent_view: AgentView) -> None:
        self.topics = topics
        self.state = state
        self.agent_view = agent_view
        self.subscribers: dict[str, set[Subscriber]] = {}
        self._closing = False
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        self.catching_up = asyncio.Semaphore(CONCURRENT_CATCH_UPS)
        self.counts = HubCounts()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="push-hub")

    async def aclose(self) -> None:
        self._closing = True
        if self._listener is not None:
            await self._listener

    def subscribe(self, subscriber: Subscriber) -> None:
        for topic in subscriber.last:
            self.subscribers.setdefault(topic, set()).add(subscriber)
        subscriber.task = task = asyncio.get_running_loop().create_task(subscriber.run())
        task.add_done_callback(self._sender_done)

    def _sender_done(self, task: asyncio.Task[None]) -> None:
        """A sender that failed (Redis away for a replay, say) closes its socket: the client
        reconnects with resume, perhaps to another instance."""
        if task.cancelled() or task.exception() is None:
            return
        failure = task.exception()
        if isinstance(failure, ConnectionError):  # the client left as a frame went out
            log.debug("push: a socket closed while sending")
        else:
            log.error("push: a socket's sender failed: %r", failure)
        for subscriber in {s for s in self._every_subscriber() if s.task is task}:
            self.forget(subscriber)
            self.spawn(subscriber.close(SERVER_ERROR, "server error: reconnect with resume"))

    def forget(self, subscriber: Subscriber) -> None:
        for topic in subscriber.last:
            self.subscribers.get(topic, set()).discard(subscriber)
            if not self.subscribers.get(topic, True):
                del self.subscribers[topic]

    def sockets(self) -> Counter[str]:
        """The sockets this instance serves now, by their user's role."""
        return Counter(subscriber.role for subscriber in self._every_subscriber())

    def _every_subscriber(self) -> set[Subscriber]:
        """Each socket once (one may be subscribed to several topics)."""
        return {s for subscribers in self.subscribers.values() for s in subscribers}

    async def _listen(self) -> None:
        """Forward what is published; after a (re)subscription, every socket catches up on what
        was said while not subscribed. Read with a timeout, to see ``_closing`` (a task blocked
        in redis-py's pub/sub was seen to swallow its cancellation)."""
        while not self._closing:
            try:
                async with self.topics.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.topics.channel)
                    for subscriber in self._every_subscriber():
                        subscriber.offer(None)
                    while not self._closing:
                        message = await pubsub.get_message(True, timeout=LISTEN_CHECK_S)
                        if message is not None:
                            self._deliver(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("push: the topics' channel was lost (%s); subscribing again", exc)
                await asyncio.sleep(1)

    def _deliver(self, data: str | bytes) -> None:
        try:
            fields = json.loads(data)
            item = Numbered(str(fields["topic"]), int(fields["seq"]), fields["event"])
        except (ValueError, KeyError, TypeError) as exc:
            log.error("push: a message that is no push event: %r (%s)", data[:200], exc)
            return
        for subscriber in list(self.subscribers.get(item.topic, ())):
            subscriber.offer(item)

    async def snapshot(self, topic: str, agent: str | None) -> tuple[int, Mapping[str, Any]]:
        """The topic's state now and the seq it includes: the seq is read first, so an event
        published meanwhile is sent after the snapshot (perhaps also in it, never in neither)."""
        seq = await self.topics.seq(topic)
        if topic == wallboard.TOPIC:
            latest = await self.topics.latest(topic)
            return seq, wallboard.body_of(latest.event) if latest else EMPTY_WALLBOARD
        agent_id = topic.removeprefix("agent:")
        return seq, {"agent": await self._agent(agent_id), "pops": await self.topics.open_pops(agent_id)}

    async def _agent(self, agent_id: str) -> dict[str, Any]:
        """The agent as ``GET /api/agents/me`` shows it."""
        status, _ = await self.state.agent(agent_id)
        return self.agent_view(agent_id, status)

    async def close_sockets(self) -> None:
        """The instance stops: every socket's sender ends (the sockets themselves are closed by
        aiohttp's shutdown, with 1001: the client reconnects to another instance)."""
        for subscriber in self._every_subscriber():
            self.forget(subscriber)
            if subscriber.task is not None:
                subscriber.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await subscriber.task
