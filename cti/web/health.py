"""``/health``, ``/ready`` and ``/metrics``: what a supervisor (systemd, Kubernetes, Prometheus)
asks a running instance.

``/health`` answers while the process and its event loop do: a liveness probe. ``/ready``
says whether this instance can take calls now: its ARI events websocket is open, Redis
answers and it holds its app name's heartbeat (``InstanceLease``); the SQL store is reported
but not required, because calls are taken without it (their events wait in the outbox).
``/metrics`` is the Prometheus text format (``prometheus_client``), read at scrape time; the
push channel's figures (``PushFigures``) are there from the start, at zero until the desk is up,
so a dashboard's series never appear late or vanish.

The service fills ``Vitals`` as its parts come up; until then a probe reads "not ready".
None of these routes carries personal data. The probes take no token (a probe has none);
``/metrics`` takes the api role's (a scraper has one, and the figures are the center's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cti.live.lease import InstanceLease
from cti.live.outbox import dead_letters
from cti.roles import USER_ROLES
from cti.web.auth import Role
from cti.web.kpi import ENGINE
from cti.web.principal import require

PROBE_TIMEOUT_S = 1.0  # a dependency slower than this counts as down for the probe


@dataclass(frozen=True)
class AcdFigures:
    """What the ACD looks like across every instance, for a scrape."""

    agents_by_state: Mapping[str, int]
    waiting_by_queue: Mapping[str, int]


@dataclass(frozen=True)
class PushFigures:
    """The push channel as this instance sees it: its publishers' and its hub's counts since the
    start (``cti.desk.publisher``, ``cti.desk.wallboard_publisher``, ``cti.desk.hub``), and
    the sockets it serves now."""

    events_published: int = 0
    pops_published: int = 0
    wallboards_published: int = 0
    wallboard_turn: bool = False  # this instance holds the wallboard's turn
    sockets_by_role: Mapping[str, int] = field(default_factory=dict)
    frames_sent: int = 0
    closed_too_slow: int = 0
    replays: int = 0
    snapshots: int = 0


@dataclass
class Vitals:
    """Where the probes read the service's state; filled by ``cti.app`` as the parts start."""

    redis: aioredis.Redis | None = None
    lease: InstanceLease | None = None
    outbox_stream: str = ""
    events_connected: Callable[[], bool] = lambda: False
    connects: Callable[[], int] = lambda: 0
    calls: Callable[[], dict[str, int]] = dict  # part -> live calls it holds
    recorded: Callable[[], int] = lambda: 0  # call events this process put in the outbox
    drained: Callable[[], int] = lambda: 0  # outbox entries this process moved to the store
    #: Agents per state and callers waiting per queue, read from Redis (all instances).
    acd: Callable[[], Awaitable[AcdFigures]] | None = None
    push: Callable[[], PushFigures] = PushFigures
    started: float = field(default_factory=time.time)
    #: What is counted as it happens (histograms); the rest is read at scrape time.
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.report_seconds = Histogram(
            "cti_kpi_report_seconds",
            "how long GET /api/kpi reports took in their worker",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.loop_lag_seconds = Histogram(
            "cti_event_loop_lag_seconds",
            "how late the call-handling event loop woke a timer (cti.loop_lag)",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.routing_seconds = Histogram(
            "cti_acd_routing_seconds",
            "from the start of the routing pass that offered a call to the agent's dial being accepted",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )


VITALS: web.AppKey[Vitals] = web.AppKey("vitals", Vitals)


async def get_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_ready(request: web.Request) -> web.Response:
    vitals = request.app[VITALS]
    redis_ok, store_ok = await asyncio.gather(_redis_up(vitals), _store_up(request.app))
    checks = {
        "ari_events": vitals.events_connected(),
        "redis": redis_ok,
        "instance_lease": vitals.lease is not None and vitals.lease.held,
        "store": store_ok,  # reported, not required
    }
    ready = all(ok for name, ok in checks.items() if name != "store")
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


@require(Role.API)
async def get_metrics(request: web.Request) -> web.Response:
    vitals = request.app[VITALS]
    redis_ok, store_ok, (backlog, dead), acd = await asyncio.gather(
        _redis_up(vitals), _store_up(request.app), _outbox_lengths(vitals), _acd_figures(vitals)
    )
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> None:
        metric = Gauge(name, doc, list(labels or {}), registry=registry)
        (metric.labels(**labels) if labels else metric).set(value)

    gauge("cti_ari_events_connected", "1 while the ARI events websocket is open", vitals.events_connected())
    gauge("cti_ari_connects", "ARI events websockets opened since the start", vitals.connects())
    gauge("cti_redis_up", "1 while Redis answers", redis_ok)
    gauge("cti_store_up", "1 while the SQL store answers", store_ok)
    gauge("cti_instance_lease_held", "1 while this instance holds its app name", _held(vitals))
    gauge("cti_outbox_backlog", "call events waiting in Redis for the store (-1: unknown)", backlog)
    gauge("cti_outbox_dead_letters", "call events the store refused (-1: unknown)", dead)
    gauge("cti_start_time_seconds", "when this instance started (Unix time)", vitals.started)
    gauge("cti_events_recorded", "call events this process put in the outbox", vitals.recorded())
    gauge("cti_events_drained", "outbox entries this process moved to the store", vitals.drained())
    calls = Gauge("cti_live_calls", "calls each part holds now", ["part"], registry=registry)
    for part, count in vitals.calls().items():
        calls.labels(part=part).set(count)
    if acd is not None:  # Redis answered
        agents = Gauge("cti_acd_agents", "agents in each state, all instances", ["state"], registry=registry)
        for state, count in acd.agents_by_state.items():
            agents.labels(state=state).set(count)
        waiting = Gauge(
            "cti_acd_waiting", "callers waiting in each queue, all instances", ["queue"], registry=registry
        )
        for queue, count in acd.waiting_by_queue.items():
            waiting.labels(queue=queue).set(count)
    _push_metrics(registry, vitals.push())
    body = generate_latest(vitals.registry) + generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Counts:
    """Counts kept by the service's own objects, exposed as Prometheus counters at scrape time."""

    def __init__(self, counters: list[CounterMetricFamily]) -> None:
        self.counters = counters

    def collect(self) -> list[CounterMetricFamily]:
        return self.counters


def _push_metrics(registry: CollectorRegistry, push: PushFigures) -> None:
    catch_ups = CounterMetricFamily(
        "cti_push_catch_ups", "socket catch-ups by how they were served", labels=["served_by"]
    )
    catch_ups.add_metric(["replay"], push.replays)
    catch_ups.add_metric(["snapshot"], push.snapshots)
    counts = [
        (
            "cti_push_events_published",
            "push events this instance's desk publisher published",
            push.events_published,
        ),
        ("cti_push_pops_published", "screen-pops among them", push.pops_published),
        ("cti_wallboard_published", "wallboard bodies this instance published", push.wallboards_published),
        ("cti_push_frames_sent", "events and snapshots sent to this instance's sockets", push.frames_sent),
        (
            "cti_push_sockets_closed_too_slow",
            "sockets closed for falling behind (1013)",
            push.closed_too_slow,
        ),
    ]
    families = [CounterMetricFamily(name, doc, value=value) for name, doc, value in counts]
    registry.register(_Counts([*families, catch_ups]))
    turn = Gauge("cti_wallboard_turn", "1 while this instance publishes the wallboard", registry=registry)
    turn.set(push.wallboard_turn)
    sockets = Gauge("cti_push_sockets", "websockets this instance serves now", ["role"], registry=registry)
    for role in USER_ROLES:  # every role named, zeros included
        sockets.labels(role=role.value).set(push.sockets_by_role.get(role.value, 0))


def add_health_routes(app: web.Application) -> None:
    app[VITALS] = Vitals()
    app.router.add_get("/health", get_health)
    app.router.add_get("/ready", get_ready)
    app.router.add_get("/metrics", get_metrics)


def _held(vitals: Vitals) -> bool:
    return vitals.lease is not None and vitals.lease.held


async def _redis_up(vitals: Vitals) -> bool:
    if vitals.redis is None:
        return False
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return bool(await vitals.redis.ping())
    except (RedisError, OSError, TimeoutError):
        return False


async def _store_up(app: web.Application) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), app[ENGINE].connect() as connection:
            await connection.execute(text("select 1"))
            return True
    except (SQLAlchemyError, OSError, TimeoutError):
        return False


async def _acd_figures(vitals: Vitals) -> AcdFigures | None:
    if vitals.acd is None:
        return None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return await vitals.acd()
    except (RedisError, OSError, TimeoutError):
        return None


async def _outbox_lengths(vitals: Vitals) -> tuple[int, int]:
    if vitals.redis is None or not vitals.outbox_stream:
        return -1, -1
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S), vitals.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(vitals.outbox_stream)
            pipe.xlen(dead_letters(vitals.outbox_stream))
            backlog, dead = await pipe.execute()
            return int(backlog), int(dead)
    except (RedisError, OSError, TimeoutError):
        return -1, -1
