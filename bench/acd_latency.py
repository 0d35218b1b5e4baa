"""How fast does a queued caller reach an agent's ringing phone? Ours vs app_queue vs the ARI floor.

Run: ``.venv/bin/python bench/acd_latency.py`` (it brings up Redis and the project's Asterisk).

One clock for all: Asterisk's own, read from AMI events with ``timestampevents=yes`` by a child
process (``ami_clock.py``), so that reading them loads neither system under test. A call's
latency runs from the caller entering the queue (the ``Newexten`` of its ``Stasis`` or ``Queue``
application) to the agent's channel ringing (the ``Newstate Ringing`` of the channel its
``DialBegin`` names). Three systems, same Asterisk, same 50 simulated agents
(``Local/13xx@agent-sim``, ringing until the caller hangs up), same run:

- **ours**: the cti ACD (``QueueRouter``: match from its view of the agents, then claim and
  enqueue in one Redis round trip while the agent's channel is created, dial once claimed);
- **app_queue**: Asterisk's ``Queue()`` with the same agents as members (``config/asterisk/queues.conf``);
- **floor**: the least any ARI application can do: create the agent's channel, wait for its
  StasisStart, dial. No queue, no claim, no events.

Phases: 200 calls one at a time, then 50 callers at once with 50 idle agents: one unmeasured
burst per system (the first opens some 50 HTTP and Redis connections, which later ones reuse),
then five rounds pooled (a single burst's figures swing by 2x from run to run). Between calls
(or bursts) the bench waits until every channel is gone and the system under test is idle again:
ours has recorded the last calls and every agent is ready in Redis. The table gives
percentiles per system and phase, with Asterisk's and this process's CPU seconds beside them.
Ours and the floor run on uvloop, as the service does (``cti run``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import resource
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop
from ami_clock import AGENT_CHANNEL, AmiClock
from procstat import asterisk_cpu_s

from cti.acd import AcdConfig, AgentConfig, AgentState, Command, QueueConfig, Strategy
from cti.acd.router import QueueRouter
from cti.ari import AriClient, Dispatcher, Event, EventStream
from cti.ari.events import StasisEnd, StasisStart
from cti.ari.models import Channel
from cti.errors import AriError
from cti.kpi.definitions import percentile
from cti.live import AcdState, EventOutbox, connect_redis
from cti.outbound.guard import DialGuard
from cti.settings import Settings, load_settings
from cti.sim import acd_entry, place_simulated_call, set_agent_timing, sim_agent_endpoint
from cti.store import make_engine

PROJECT = Path(__file__).resolve().parents[1]
AGENTS = [str(1300 + i) for i in range(50)]
TASKS: set[asyncio.Task[None]] = set()  # the event pumps, held for the run


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def pump(ari: AriClient, app: str, handler: Callable[[Event], Awaitable[None]]) -> EventStream:
    """An events websocket for ``app`` feeding ``handler`` through a Dispatcher; connected on return."""
    stream = EventStream(ari, app)
    dispatcher = Dispatcher(handler)
    connected = asyncio.Event()

    async def run() -> None:
        async for event in stream:
            connected.set()
            dispatcher.submit(event)

    TASKS.add(asyncio.get_running_loop().create_task(run()))
    await asyncio.wait_for(connected.wait(), 10)
    return stream


@dataclass(frozen=True)
class System:
    """A system under test: the bench extension that sends a caller to it, its Stasis app, and
    whether it is idle again (its own bookkeeping of the last calls done, every agent free)."""

    name: str
    app: str
    idle: Callable[[], Awaitable[bool]]


async def always_idle() -> bool:
    return True  # app_queue: its members are free once the channels are gone


async def start_ours(ari: AriClient, settings: Settings) -> tuple[System, QueueRouter]:
    app = f"bench-ours-{uuid.uuid4().hex[:6]}"
    redis = connect_redis(settings.redis.url)
    prefix = f"bench:{app}"
    config = AcdConfig(
        agents=tuple(
            AgentConfig(id=a, name=a, endpoint=sim_agent_endpoint(a), skills={"bench": 3}) for a in AGENTS
        ),
        queues=(QueueConfig(name="bench", strategy=Strategy.LONGEST_IDLE, auto_pause_after=0, wrapup_s=0),),
    )
    state = AcdState(redis, prefix)
    outbox = EventOutbox(redis, f"{prefix}:events")
    # The bench's queue offers no callback: the guard (the service's, on its store) is never asked.
    guard = DialGuard.from_settings(settings, make_engine(settings.database.url), redis, outbox)
    router = QueueRouter(ari, app, config, state, outbox, guard=guard)
    router.start()  # as the service does: follow the agents' changes, safety passes
    for agent in AGENTS:
        await state.transition(agent, Command.LOGIN, time.time())

    await pump(ari, app, acd_entry(router))  # callers enter with app_args "caller,bench"

    async def idle() -> bool:
        """No call left in the router, every agent ready again in Redis."""
        agents = await state.snapshots(config.agents)
        return not router.calls and all(agent.state is AgentState.READY for agent in agents)

    return System("ours", app, idle), router


async def start_floor(ari: AriClient) -> System:
    """create + wait for StasisStart + dial, and nothing else (agents in turn, no bookkeeping)."""
    app = f"bench-floor-{uuid.uuid4().hex[:6]}"
    agents = itertools.cycle(AGENTS)
    legs: dict[str, str] = {}

    async def handle(event: Event) -> None:
        if isinstance(event, StasisStart) and event.args[:1] == ("floor",):
            leg = f"floor-{uuid.uuid4().hex[:12]}"
            legs[event.channel.id] = leg
            await ari.create_channel(
                sim_agent_endpoint(next(agents)),
                app=app,
                channel_id=leg,
                app_args=f"leg,{event.channel.id}",
                originator=event.channel.id,  # shares the caller's Linkedid, like ours
            )
        elif isinstance(event, StasisStart) and event.args[:1] == ("leg",):
            await ari.dial(event.channel.id, caller=event.args[1], timeout_s=30)
        elif isinstance(event, StasisEnd) and event.channel.id in legs:
            with contextlib.suppress(AriError):
                await ari.hangup(legs.pop(event.channel.id))

    await pump(ari, app, handle)

    async def idle() -> bool:
        return not legs

    return System("floor", app, idle)


async def one_call(ari: AriClient, extension: str, app: str) -> str:
    variables = {"BENCH_APP": app}
    channel = await place_simulated_call(
        ari, context="bench", extension=extension, delay_s=0, hold_s=60, variables=variables
    )
    return channel.id


async def settle(ari: AriClient, callers: list[str], within_s: float = 15) -> None:
    """Wait until the bench's channels are gone: these callers (both halves) and every agent leg.

    Only the bench's own: a channel someone else left on the shared Asterisk must not stall it.
    """

    def ours(channel: Channel) -> bool:
        return channel.name.startswith(AGENT_CHANNEL) or channel.id.removesuffix("-far") in callers

    deadline = time.monotonic() + within_s
    while any(map(ours, await ari.list_channels())) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def hang_up(ari: AriClient, callers: list[str]) -> None:
    await asyncio.gather(*(ari.hangup(caller, missing_ok=True) for caller in callers))


async def until_idle(system: System, within_s: float = 15) -> None:
    deadline = time.monotonic() + within_s
    while not await system.idle() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def run_phase(
    ari: AriClient, ami: AmiClock, system: System, calls: int, at_once: bool
) -> tuple[list[float], float, float]:
    cpu_ast, cpu_own = asterisk_cpu_s(), own_cpu_s()
    latencies: list[float] = []
    batches = [calls] if at_once else [1] * calls
    for size in batches:
        callers = await asyncio.gather(*(one_call(ari, system.name, system.app) for _ in range(size)))
        latencies += (await ami.latencies_ms(set(callers))).values()
        await hang_up(ari, list(callers))
        await settle(ari, list(callers))
        await until_idle(system)  # the next calls meet idle agents, as the phases promise
    return latencies, asterisk_cpu_s() - cpu_ast, own_cpu_s() - cpu_own


HEADER = (
    f"{'system':<10} {'phase':<14} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    f" {'ast cpu s':>9} {'own cpu':>8}"
)


def row(system: str, phase: str, latencies: list[float], cpu_ast: float, cpu_own: float) -> str:
    p = {q: percentile(latencies, q) or 0.0 for q in (50, 90, 99)}
    worst = max(latencies, default=0.0)
    numbers = f"{p[50]:>8.2f} {p[90]:>8.2f} {p[99]:>8.2f} {worst:>8.2f} {cpu_ast:>9.2f} {cpu_own:>8.2f}"
    return f"{system:<10} {phase:<14} {len(latencies):>4} {numbers}"


async def main(sequential: int, burst: int, rounds: int) -> None:
    for script in (["scripts/services.sh", "up", "redis"], ["scripts/asterisk.sh", "up"]):
        await asyncio.to_thread(subprocess.run, [PROJECT / script[0], *script[1:]], check=True)
    settings = load_settings(PROJECT / "config/cti.toml")
    ami = AmiClock()  # Asterisk's clock, read in a process of its own
    await ami.start()
    async with AriClient(
        settings.ari.url, settings.ari.username, settings.ari.password.get_secret_value()
    ) as ari:
        for agent in AGENTS:
            await set_agent_timing(ari, agent, ring_s=120)  # they ring until the caller leaves
        ours, router = await start_ours(ari, settings)
        systems = [ours, System("app_queue", "", always_idle), await start_floor(ari)]
        print(HEADER)
        for system in systems:
            latencies, cpu_ast, cpu_own = await run_phase(ari, ami, system, sequential, False)
            print(row(system.name, "one at a time", latencies, cpu_ast, cpu_own), flush=True)
        for system in systems:  # unmeasured: the first burst also opens the connections
            await run_phase(ari, ami, system, burst, True)
        # Bursts vary with what Asterisk happens to be doing: several rounds, pooled, and the
        # systems' order turned each round, so that none always follows the same one.
        results: dict[str, list[float]] = {system.name: [] for system in systems}
        cpu: dict[str, list[float]] = {system.name: [0.0, 0.0] for system in systems}
        for turn in range(rounds):
            for system in systems[turn % 3 :] + systems[: turn % 3]:
                latencies, cpu_ast, cpu_own = await run_phase(ari, ami, system, burst, True)
                results[system.name] += latencies
                cpu[system.name][0] += cpu_ast
                cpu[system.name][1] += cpu_own
        for system in systems:
            print(row(system.name, f"{burst} at once x{rounds}", results[system.name], *cpu[system.name]))
        await router.aclose()
        keys = [key async for key in router.state.redis.scan_iter(f"{router.state.prefix}:*")]
        if keys:  # the run's agents, line and events: nothing of it is wanted after the table
            await router.state.redis.delete(*keys)
    await ami.stop()

    def p(name: str, q: float) -> float:
        return percentile(results[name], q) or 0.0

    print(
        f"ours p50 {p('ours', 50):.1f} p99 {p('ours', 99):.1f}"
        f" floor p50 {p('floor', 50):.1f} p99 {p('floor', 99):.1f}"
        f" app_queue p50 {p('app_queue', 50):.1f} p99 {p('app_queue', 99):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls one at a time per system")
    parser.add_argument("--burst", type=int, default=50, help="callers arriving at once (at most 50 agents)")
    parser.add_argument("--rounds", type=int, default=5, help="bursts per system, pooled")
    options = parser.parse_args()
    uvloop.run(main(options.calls, min(options.burst, len(AGENTS)), options.rounds))
