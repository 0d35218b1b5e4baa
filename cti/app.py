"""Wiring, in one place: store and outbox, HTTP API, ARI client -> event stream -> dispatcher -> calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from zoneinfo import ZoneInfo

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.acd import AcdConfig, AgentState, AgentStateError, Command, agent_state_event, load_acd_config
from cti.acd.router import QueueRouter
from cti.acd.sweeper import Sweeper
from cti.ari import AriClient, Backoff, Dispatcher, EventStream
from cti.calls import CallTracker, DialplanLocation
from cti.desk.agent_control import AgentControl
from cti.desk.agent_view import agent_views
from cti.desk.demo import announce_demo_users
from cti.desk.disposing import DispositionDesk
from cti.desk.dispositions import Dispositions, load_dispositions
from cti.desk.hub import PushHub
from cti.desk.pops import CrmPops
from cti.desk.publisher import DeskPublisher
from cti.desk.push import PushTopics
from cti.desk.users import agent_names
from cti.desk.wallboard_publisher import WallboardPublisher, wallboard_lease
from cti.errors import AriUnavailable, ConfigError, CtiError, ServiceUnavailable
from cti.ivr import FlowContext, load_flows, load_stations
from cti.ivr.calendars import public_calendars
from cti.ivr.model import Flow
from cti.ivr.runner import IvrRunner
from cti.live import AcdState, EventOutbox, InstanceLease, OutboxDrainer, OwnedCalls, connect_redis
from cti.live.acd_state import StaleAgentState
from cti.live.outbox import FLUSH_S
from cti.loop_lag import watch_loop_lag
from cti.loop_process import LoopProcess, shared_count
from cti.loop_thread import LoopThread
from cti.outbound.campaign_store import CampaignStore
from cti.outbound.dialer import Dialer, DialerParts
from cti.outbound.guard import DialGuard
from cti.outbound.intake import LeadIntake
from cti.outbound.preview import Previews
from cti.settings import Settings
from cti.stop_watch import pending_stacks, watch_stop
from cti.store import ensure_schema, make_engine
from cti.store.acd_history import recall_acd
from cti.store.customers import find_customer
from cti.tts import PromptRenderer, flow_prompts
from cti.web import build_web_app
from cti.web.desk import Desk
from cti.web.health import VITALS, AcdFigures, PushFigures, Vitals
from cti.web.preview import add_preview_routes
from cti.web.wallboard import WALLBOARD
from cti.web.ws import add_push_routes

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SCHEMA_RETRY_S = 5.0  # how often a store away at the start is tried again
DRAIN_STOP_S = FLUSH_S + 5.0  # a stop waits this long for the drain's last batches and exit
STOP_GRACE_S = 5.0  # how long a stop waits for the event handlers under way


def ari_client(settings: Settings) -> AriClient:
    """The ARI client the settings describe (create it inside the event loop)."""
    ari = settings.ari
    return AriClient(ari.url, ari.username, ari.password.get_secret_value(), timeout_s=ari.request_timeout_s)


async def run_service(settings: Settings, *, clock: Clock = lambda: datetime.now(UTC)) -> None:
    """Serve our Stasis app until SIGINT or SIGTERM.

    Asterisk being down is not fatal: the event stream keeps reconnecting, so the service
    can start before Asterisk and survive its restarts. The flows are read first, so an
    invalid one stops the start (``file:line: ...``) before any store is touched; then the
    store's schema is checked (an empty SQLite file is upgraded), so a misconfigured database
    stops the start, loudly; so does a missing voice. ``clock`` is the time the flows judge
    business hours by (tests choose it).
    """
    files = _read_files(settings)  # a wrong flow stops the start before anything is touched
    try:
        await asyncio.to_thread(ensure_schema, settings.database.url)
    except ServiceUnavailable as exc:  # calls go on; their events wait in the outbox
        log.error("the store is away, starting without it: %s", exc)
    else:
        if settings.web.demo_users:
            site = f"http://{settings.web.host}:{settings.web.port}/"
            await announce_demo_users(settings.database.url, agent_names(files.acd_config), site)
    redis = connect_redis(settings.redis.url)
    lease = InstanceLease(redis, settings.acd.redis_prefix, settings.ari.app)
    try:
        await lease.acquire()  # a second instance of this app name stops here
    except BaseException:
        await redis.aclose()
        raise
    try:
        await _run_leased(settings, files, redis, clock, lease)
    finally:
        await lease.release()
        await redis.aclose()


@dataclass(frozen=True)
class _Files:
    """What the service reads from its own files: the ACD's queues, the flows and their data."""

    acd_config: AcdConfig
    flows: Mapping[str, Flow]
    context: FlowContext
    dispositions: Dispositions


def _read_files(settings: Settings) -> _Files:
    """The ACD configuration and the flows, checked together (a flow may route only to a
    configured queue); ``FlowError`` lists every flow problem as ``file:line: ...``. The
    dispositions too: a wrong code stops the start, not an agent's wrap-up."""
    acd_config = load_acd_config(settings.acd.config_file)
    flows = load_flows(settings.ivr.flows_dir, {queue.name for queue in acd_config.queues})
    stations = load_stations(settings.ivr.stations_file)
    context = FlowContext(stations=stations, calendars=public_calendars())
    return _Files(acd_config, flows, context, load_dispositions(settings.acd.dispositions_file))


async def _run_leased(
    settings: Settings, files: _Files, redis: Redis, clock: Clock, lease: InstanceLease
) -> None:
    """The service, once this instance holds its app name's heartbeat (``InstanceLease``)."""
    engine = make_engine(settings.database.url, settings.database.pool_size)
    outbox = EventOutbox(redis, settings.redis.outbox_stream)
    acd_state = AcdState(redis, settings.acd.redis_prefix)
    control = AgentControl(files.acd_config, acd_state, outbox)
    desk = Desk(control, files.dispositions, DispositionDesk(control, files.dispositions, engine, time.time))
    leads = LeadIntake.of(settings, engine, redis, outbox, settings.ari.app)
    web_app = build_web_app(settings, desk, leads)
    topics = PushTopics(redis, settings.acd.redis_prefix, settings.web.replay_max)
    hub = PushHub(topics, acd_state, agent_views(files.acd_config, files.dispositions))
    add_push_routes(web_app, hub)
    previews = Previews(acd_state, engine, outbox)  # its dialer comes with ARI (``_serve``)
    add_preview_routes(web_app, previews)
    vitals = web_app[VITALS]
    vitals.redis, vitals.lease, vitals.outbox_stream = redis, lease, settings.redis.outbox_stream
    web_runner = web.AppRunner(web_app, access_log=None)
    await web_runner.setup()
    try:
        await web.TCPSite(web_runner, settings.web.host, settings.web.port).start()
    except OSError as exc:
        await web_runner.cleanup()
        await engine.dispose()
        where = f"{settings.web.host}:{settings.web.port}"
        raise ConfigError("[web]", "web.port", f"cannot listen on {where}: {exc.strerror}") from exc
    log.info("HTTP API listening", extra={"url": f"http://{settings.web.host}:{settings.web.port}/api/"})
    consumer = f"{settings.ari.app}@{socket.gethostname()}"  # of the outbox's groups, store and desk
    drained = shared_count()  # entries the drain's process stored, for /metrics
    vitals.drained = lambda: int(drained.value)
    drain = LoopProcess(
        "outbox-drainer",
        _drain,
        settings,
        consumer,
        drained,
        log_level=settings.log.level,
        json_lines=settings.log.json_lines,
    )
    drain.start()
    publishing: list[DeskPublisher] = []  # made on the publisher's own thread, as the drainer
    desk_publisher = LoopThread(
        "desk-publisher", lambda ending: _publish(settings, consumer, publishing, ending)
    )
    desk_publisher.start()
    stopping = asyncio.Event()  # the wallboard's publisher ends
    wallboard = WallboardPublisher(
        web_app[WALLBOARD], topics, wallboard_lease(redis, settings.acd.redis_prefix)
    )
    wallboard_task = asyncio.create_task(wallboard.run(stopping), name="wallboard-publisher")
    refill = asyncio.create_task(leads.hopper.keep_filled(leads.store, stopping), name="hopper-refill")
    vitals.push = lambda: _push_figures(publishing, wallboard, hub)
    heartbeat = asyncio.create_task(lease.keep(), name="instance-heartbeat")
    lag = asyncio.create_task(watch_loop_lag(vitals.loop_lag_seconds.observe), name="loop-lag")
    try:
        await _serve(settings, files, outbox, acd_state, engine, clock, vitals, leads, previews)
    finally:
        await leads.aclose()  # callback leads being stored get a moment
        await outbox.aclose()  # what it held while Redis was away, before the last drain
        stopping.set()
        await asyncio.gather(drain.stop(DRAIN_STOP_S), desk_publisher.stop(), wallboard_task, refill)
        heartbeat.cancel()
        lag.cancel()
        await asyncio.gather(heartbeat, lag, return_exceptions=True)
        await engine.dispose()
        await web_runner.cleanup()


def _push_figures(
    publishing: list[DeskPublisher], wallboard: WallboardPublisher, hub: PushHub
) -> PushFigures:
    """The push path's figures for ``/metrics`` (the desk publisher's are read across threads:
    plain counters, read whole)."""
    counts = hub.counts
    return PushFigures(
        events_published=sum(publisher.published for publisher in publishing),
        pops_published=sum(publisher.pops for publisher in publishing),
        wallboards_published=wallboard.published,
        wallboard_turn=wallboard.leading,
        sockets_by_role=hub.sockets(),
        frames_sent=counts.frames,
        closed_too_slow=counts.too_slow,
        replays=counts.replays,
        snapshots=counts.snapshots,
    )


async def _drain(
    stopping: asyncio.Event, settings: Settings, consumer: str, drained: Synchronized[int]
) -> None:
    """Drain the outbox into the store until ``stopping`` is set, in a process of its own
    (``cti.loop_process``): storing a batch recomputes its calls' KPI facts, tens of milliseconds
    of Python at a time in a burst of calls, which the call-handling loop and the desk's
    publisher would otherwise wait for. Once the store's schema is known good: a store that was
    away at the start is checked again every few seconds (a wrong schema is an error in the log
    then, not a stopped service: calls are being taken)."""
    redis = connect_redis(settings.redis.url)
    engine = make_engine(settings.database.url)
    drainer = OutboxDrainer(redis, engine, consumer, stream=settings.redis.outbox_stream)
    counting = asyncio.create_task(_count_drained(drainer, drained))
    try:
        while not stopping.is_set():
            try:
                await asyncio.to_thread(ensure_schema, settings.database.url)
                break
            except CtiError as exc:
                log.error("outbox waits for the store: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), SCHEMA_RETRY_S)
        await drainer.run(stopping)
    finally:
        counting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counting
        await engine.dispose()
        await redis.aclose()


async def _count_drained(drainer: OutboxDrainer, drained: Synchronized[int]) -> None:
    """Tell the service what the drainer stored: every second, and once more at the end."""
    told = 0

    def tell() -> None:
        nonlocal told
        with drained.get_lock():
            drained.value += drainer.drained - told
        told = drainer.drained

    try:
        while True:
            await asyncio.sleep(1.0)
            tell()
    finally:
        tell()


async def _publish(
    settings: Settings, consumer: str, publishing: list[DeskPublisher], stopping: asyncio.Event
) -> None:
    """The desk's publisher, on its own thread's loop (``cti.loop_thread``: a pop's chain of round
    trips does not wait for the call-handling loop's turns), with its own Redis client and
    database engine, until ``stopping`` is set."""
    redis = connect_redis(settings.redis.url)
    engine = make_engine(settings.database.url, settings.database.pool_size)
    topics = PushTopics(redis, settings.acd.redis_prefix, settings.web.replay_max)
    pops = CrmPops(engine, ZoneInfo(settings.kpi.timezone))
    try:
        publisher = DeskPublisher(redis, topics, settings.redis.outbox_stream, consumer, pops)
        publishing.append(publisher)
        await publisher.run(stopping)
    finally:
        await engine.dispose()
        await redis.aclose()


async def _login_all(config: AcdConfig, state: AcdState, outbox: EventOutbox) -> None:
    """The demo's agents log in by themselves (``[acd] auto_login``). Another instance starting
    at the same moment may log one in first: that one is left as it is."""
    for agent in config.agents:
        status, _ = await state.agent(agent.id)
        if status.state is not AgentState.LOGGED_OUT:
            continue
        try:
            change = await state.transition(agent.id, Command.LOGIN, time.time())
        except (AgentStateError, StaleAgentState):  # logged in meanwhile, by the other instance
            continue
        await outbox.record(agent_state_event(change))


async def _serve(
    settings: Settings,
    files: _Files,
    outbox: EventOutbox,
    acd_state: AcdState,
    engine: AsyncEngine,
    clock: Clock,
    vitals: Vitals,
    leads: LeadIntake,
    previews: Previews,
) -> None:
    acd_config, flows, context = files.acd_config, files.flows, files.context
    prompts = PromptRenderer.from_settings(settings.sounds)
    await _prepare_prompts(prompts, flows)
    async with ari_client(settings) as ari:
        stream = EventStream(ari, settings.ari.app, backoff=Backoff(cap_s=settings.ari.reconnect_cap_s))
        fallback = DialplanLocation(settings.ari.hotline_context, settings.ari.hotline_extension, "fallback")
        guard = DialGuard.from_settings(settings, engine, acd_state.redis, outbox)  # callbacks', dialer's
        router = QueueRouter(
            ari,
            settings.ari.app,
            acd_config,
            acd_state,
            outbox,
            prompts=prompts,
            recall=lambda: recall_acd(engine),
            observe_routing=vitals.routing_seconds.observe,
            guard=guard,
            unserved_callbacks=leads,
        )
        await router.recover()  # Redis may have lost the live state (or this is its first start)
        if settings.acd.auto_login:
            await _login_all(acd_config, acd_state, outbox)
        router.start()
        sweeper = asyncio.create_task(Sweeper(ari, acd_state, outbox, acd_config).run(), name="acd-sweeper")

        async def customer(by: str, value: str) -> Mapping[str, str] | None:
            return await find_customer(engine, by, value)

        ivr = IvrRunner(
            ari,
            outbox,
            prompts,
            customer,
            router.enqueue,
            context=context,
            clock=clock,
            lookup_timeout_s=settings.ivr.lookup_timeout_s,
            checkpoints=OwnedCalls(acd_state.redis, acd_state.prefix, settings.ari.app, "ivr"),
            leads=leads,
        )
        dialer = Dialer(
            DialerParts(
                ari,
                settings.ari.app,
                router.outbound,
                acd_config,
                acd_state,
                engine,
                outbox,
                settings.outbound,
                prompts,
                guard,
                CampaignStore(engine, tz=ZoneInfo(settings.kpi.timezone)),
            )
        )
        await dialer.prepare()
        previews.dialer = dialer
        dialing = asyncio.create_task(dialer.run(), name="outbound-dialer")
        tracker = CallTracker(ari, outbox, fallback, router, ivr, flows, dialer)
        dispatcher = Dispatcher(tracker.handle)
        vitals.events_connected = lambda: stream.connected
        vitals.connects = lambda: stream.connects
        vitals.calls = lambda: {"calls": len(tracker.calls), "ivr": len(ivr.calls), "acd": len(router.calls)}
        vitals.recorded = lambda: outbox.recorded
        vitals.acd = lambda: _acd_figures(acd_config, acd_state)
        loop = asyncio.get_running_loop()
        stopping: set[asyncio.Task[None]] = set()  # hold the task: the loop keeps only a weak reference

        def stop() -> None:
            log.info("stopping: no more events are taken")
            stopping.add(asyncio.create_task(stream.close()))
            stopping.add(asyncio.create_task(watch_stop(), name="stop-watch"))  # ends with the loop

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        # `kill -USR1 <pid>`: what every task waits on, in the log (a call that seems stuck).
        loop.add_signal_handler(signal.SIGUSR1, lambda: log.warning("tasks now:\n%s", pending_stacks()))
        log.info(
            "cti service starting",
            extra={"app": settings.ari.app, "ari": settings.ari.url, "flows": sorted(flows)},
        )
        try:
            async for event in stream:
                dispatcher.submit(event)
        finally:
            sweeper.cancel()
            dialing.cancel()
            await asyncio.gather(dialing, return_exceptions=True)
            await dialer.aclose()
            await dispatcher.aclose(grace_s=STOP_GRACE_S)
            try:
                await tracker.stop()
            except (AriUnavailable, OSError) as exc:  # Asterisk may be the one that is away
                log.error("stopping: IVR callers not handed to the fallback: %s", exc)
            await ivr.aclose()
            await router.aclose()
            log.info("cti service stopped", extra={"live_calls": len(tracker.calls)})


async def _acd_figures(config: AcdConfig, state: AcdState) -> AcdFigures:
    """Agents per state and callers per queue, for ``/metrics`` (every state and queue named,
    zeros included, so a dashboard's series never vanish)."""
    statuses = await state.agents([agent.id for agent in config.agents])
    by_state = dict.fromkeys((s.value for s in AgentState), 0)
    for status, _ in statuses:
        by_state[status.state.value] += 1
    waiting = await state.queue_lengths([queue.name for queue in config.queues])
    return AcdFigures(by_state, waiting)


async def _prepare_prompts(prompts: PromptRenderer, flows: Mapping[str, Flow]) -> None:
    """Render every prompt the flows can speak before the first call (cached ones cost nothing).

    A missing espeak-ng stops the start here, with the command that installs it, rather than
    leaving callers in silence; the roadside station's answer is still rendered per call.
    """
    started = time.monotonic()
    prompts.check_engine()
    pairs = {pair for flow in flows.values() for pair in flow_prompts(flow)}
    await asyncio.gather(*(prompts.sound_uri(text, language) for text, language in pairs))
    log.info("prompts ready", extra={"prompts": len(pairs), "seconds": round(time.monotonic() - started, 2)})
