"""Failure drills on the real stack: does a bridged conversation survive what happens to the service?

Run: ``.venv/bin/python bench/drills.py [--rounds 1] [--only ws_cut ...]`` (Asterisk, Redis and
PostgreSQL are the drill's own, ``bench/drill_stack.py``: the tests' Asterisk is not touched).

The service runs as ``cti run`` processes on the drill's own ARI app name, behind a loopback
relay to the drill's Asterisk, on the drill's own ``redis-server`` (append-only file on, as
shipped) and its own PostgreSQL, with four simulated sales agents (wrap-up 8 s, callback key 1)
and two flows: the hotline sends every caller straight to sales, ``menu`` keeps a silent caller
in a menu. Before each fault the drill sets up live traffic: three callers bridged to agents,
the fourth agent in wrap-up (its caller just hung up), two callers waiting in line, one caller
in the IVR menu, and one caller who pressed the callback key a moment before the fault and is
hearing the confirmation. Then one fault:

- ``ws_cut``: the ARI connection (through the relay) is cut, once;
- ``ws_cut_30s``: the relay is cut and refuses connections for 30 s;
- ``kill9``: the service is killed with SIGKILL and started again;
- ``sigterm``: the service is stopped with SIGTERM and started again;
- ``asterisk_restart``: the drill's Asterisk is killed (SIGKILL, by its pid) and started again:
  its calls end with it, so bridges are not counted; what counts is that every call's end is
  recorded once, no agent is left stuck and the booked callback is still made;
- ``redis_restart``: the drill's Redis is stopped (SIGTERM, by its pid) and started again;
- ``redis_freeze``: the drill's Redis is frozen (SIGSTOP) for 30 s, then SIGCONT;
- ``db_outage``: the drill's PostgreSQL is stopped for ``--db-outage-s`` (300) and the service
  is restarted (SIGTERM, start) half-way through; recovery is until the outbox is drained;
- ``poison``: an event the database refuses (a NaN in its data) is put in the outbox; recovery
  is until it is dead-lettered and the outbox is drained;
- ``kpi_burst``: 10 concurrent GET /api/kpi over the whole stored history (``--kpi-calls``
  calls loaded first) while 50 more callers ring in; the note gives the event loop's lag p99
  during the burst (the service's ``cti_event_loop_lag_seconds``);
- ``second_instance``: a second ``cti run`` on the same app name; it must refuse and exit.

Recovery is from the repair (the end of the fault) until the service is whole again: ``/ready``
answers 200 and, after a cut or a restart, it has reconnected. A second later the drill checks
that each conversation's bridge still holds both legs (``bridged_cut``) and that the waiting and
IVR callers are still in the app (``strays``: SIGTERM hands the IVR caller to the dialplan
fallback by design, and that is not counted), hangs every caller up and reads the store: a
conversation without exactly one ``completed`` and one ``call_ended``, a caller without exactly
one ``call_ended``, the callback without exactly one ``callback_requested`` and one
``callback_served``, is ``lost`` (one missing) or ``duplicated`` (one twice); an agent not back
to ready once the callback is made and wrap-up is over is ``stuck``. Everything the drill made
(processes, channels, its Asterisk, Redis and PostgreSQL, its files) is removed at the end, also
when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import uvloop
from drill_stack import Stack, own_stack
from kpi_report import Generator, Load, load_fast

from cti.acd import AgentState
from cti.ari import AriClient
from cti.errors import AriNotFound
from cti.events import CallEvent, EventKind, event_to_json
from cti.live import AcdState, connect_redis
from cti.sim import place_simulated_call, set_agent_timing
from cti.sim.drill import STRAIGHT_TO_SALES_FLOW, free_port
from cti.store import events_between, make_engine

AGENTS = ("1001", "1002", "1003", "1004")  # simulated: Local/<id>@agent-sim
CALLBACK_NUMBER = "13900139000"  # the callback's customer, simulated too: answers, talks 2 s
OUTBOX = "cti:events"  # the shipped [redis] outbox_stream
BURST_CALLERS = 50
BURST_REPORTS = 10

#: The drill's ACD: four sales agents, a short wrap-up, the callback key.
DRILL_ACD = "\n".join(
    ['callback_dial = "Local/{number}@agent-sim"', ""]
    + [
        f'[[agents]]\nid = "{agent}"\nname = "Drill agent {agent}"\nendpoint = "Local/{agent}@agent-sim"'
        f"\nskills = {{ sales = 5 }}\n"
        for agent in AGENTS
    ]
    + [
        '[[queues]]\nname = "sales"\ncallback_key = "1"\nwrapup_s = 8\nmax_wait_s = 3600\n'
        "announce_every_s = 0\n"
    ]
)

#: A menu that keeps a silent caller in the IVR for a drill's whole fault: the question again
#: every 60 s, ten times, before the caller is sent to sales.
MENU_FLOW = """\
name: menu
entry: main_menu
languages: [en]
timezone: Asia/Shanghai
nodes:
  main_menu:
    type: menu
    prompt: {en: "For sales, press 1."}
    options: {1: sales_queue}
    timeout_s: 60
    retries: 9
    default: sales_queue
  sales_queue:
    type: queue
    queue: sales
"""


@dataclass
class Repair:
    """What a fault reports: when it was repaired (monotonic), whether the service must have
    reconnected its websocket since, when it had recovered if the fault knows better than
    ``/ready`` (a drained outbox), the extra callers it placed, and a note for the table."""

    at: float
    reconnects: bool = False
    recovered_at: float | None = None
    extra_callers: list[str] = field(default_factory=list)
    note: str = ""


Fault = Callable[[Stack], Awaitable[Repair]]


@dataclass
class Outcome:
    drill: str
    calls: int
    bridged_cut: int | None  # None: not counted (the calls ended with Asterisk)
    strays: int | None
    lost: int
    duplicated: int
    stuck: int
    recovery_s: float
    note: str


@dataclass
class Traffic:
    """The live calls a fault meets: who is bridged (bridge id -> its two channels), the caller
    whose agent is in wrap-up, who waits in line, who is in the IVR, who booked a callback."""

    pairs: dict[str, tuple[str, ...]]
    conversations: list[str]  # the bridged callers and the one whose agent is in wrap-up
    waiting: list[str]
    ivr: list[str]
    callback: str

    @property
    def callers(self) -> list[str]:
        return [*self.conversations, *self.waiting, *self.ivr, self.callback]


async def place(
    stack: Stack, *, digits: str = "", caller_number: str = "13800138000", flow: str | None = None
) -> str:
    """A simulated caller that stays up to 10 minutes: through the hotline's dialplan into our
    app, or straight into our app with ``flow`` as its Stasis argument."""
    channel = await place_simulated_call(
        stack.ari,
        digits=digits,
        hold_s=600,
        caller_number=caller_number,
        variables={"CTI_APP": stack.app},
        app=stack.app if flow else None,
        app_args=flow,
    )
    return channel.id


async def bridged(ari: AriClient, callers: list[str], within_s: float = 20) -> dict[str, tuple[str, ...]]:
    """Each caller's bridge (id -> its two channels), once every caller has an agent in it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pairs = {b.id: b.channels for b in await ari.list_bridges() if set(b.channels) & set(callers)}
        if len(pairs) == len(callers) and all(len(channels) == 2 for channels in pairs.values()):
            return pairs
        await asyncio.sleep(0.05)
    raise RuntimeError("the callers were not all bridged to agents")


async def live_traffic(stack: Stack) -> Traffic:
    """Three conversations, an agent in wrap-up, two callers in line, one in the IVR, and a
    callback being confirmed (its key pressed about a second before the fault)."""
    await set_agent_timing(stack.ari, CALLBACK_NUMBER, ring_s=0, talk_s=2)
    talkers = [await place(stack) for _ in AGENTS]
    pairs = await bridged(stack.ari, talkers)
    done = talkers[-1]
    await stack.ari.hangup(done)  # its agent goes into wrap-up
    pairs = {bridge: channels for bridge, channels in pairs.items() if done not in channels}
    waiting = [await place(stack) for _ in range(2)]
    ivr = [await place(stack, flow="menu")]
    callback = await place(stack, digits="1", caller_number=CALLBACK_NUMBER)
    await asyncio.sleep(2.0)  # the key is pressed at 1 s; the confirmation takes a few seconds
    return Traffic(pairs, talkers, waiting, ivr, callback)


async def cut_bridges(ari: AriClient, pairs: dict[str, tuple[str, ...]]) -> int:
    cut = 0
    for bridge_id, channels in pairs.items():
        try:
            now = await ari.get_bridge(bridge_id)
        except AriNotFound:
            cut += 1
            continue
        cut += set(now.channels) != set(channels)
    return cut


async def strays(stack: Stack, traffic: Traffic, sigterm: bool) -> int:
    """Waiting and IVR callers no longer in our app (SIGTERM hands IVR callers to the fallback)."""
    present = set((await stack.ari.get_application(stack.app)).channel_ids)
    kept = traffic.waiting if sigterm else [*traffic.waiting, *traffic.ivr]
    return sum(1 for caller in kept if caller not in present)


async def outcomes(
    stack: Stack, traffic: Traffic, others: list[str], since: datetime, within_s: float = 30
) -> tuple[int, int]:
    """(lost, duplicated): calls whose expected events are missing, or stored more than once."""
    ended = (EventKind.CALL_ENDED,)
    expected = {c: (EventKind.COMPLETED, EventKind.CALL_ENDED) for c in traffic.conversations}
    expected |= {c: ended for c in [*traffic.waiting, *traffic.ivr, *others]}
    expected[traffic.callback] = (EventKind.CALLBACK_REQUESTED, EventKind.CALLBACK_SERVED, *ended)
    engine = make_engine(stack.database_url)
    try:
        deadline = time.monotonic() + within_s
        while True:
            events = await events_between(engine, since, None)
            seen: dict[tuple[str, EventKind], int] = {}
            for event in events:
                if event.call_id in expected:
                    seen[event.call_id, event.kind] = seen.get((event.call_id, event.kind), 0) + 1
            counts = {c: [seen.get((c, kind), 0) for kind in kinds] for c, kinds in expected.items()}
            if all(min(n) >= 1 for n in counts.values()) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    for caller, n in counts.items():
        if min(n) == 0 or max(n) > 1:
            print(f"  {caller}: {dict(zip(expected[caller], n, strict=True))}", file=sys.stderr)
    lost = sum(1 for n in counts.values() if min(n) == 0)
    duplicated = sum(1 for n in counts.values() if max(n) > 1)
    return lost, duplicated


async def stuck_agents(stack: Stack, within_s: float = 60) -> int:
    """Agents not ready again once the callback is made and wrap-up is over."""
    redis = connect_redis(stack.redis_url)
    state = AcdState(redis, "cti:acd")
    try:
        deadline = time.monotonic() + within_s
        while True:
            states = [status.state for status, _ in await state.agents(AGENTS)]
            not_ready = sum(1 for s in states if s is not AgentState.READY)
            if not_ready == 0 or time.monotonic() > deadline:
                return not_ready
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()


async def hang_up_all(stack: Stack) -> None:
    """Every channel of the drill's Asterisk (it is the drill's alone)."""
    channels = await stack.ari.list_channels()
    await asyncio.gather(*(stack.ari.hangup(c.id, missing_ok=True) for c in channels))


async def ws_cut(stack: Stack) -> Repair:
    stack.proxy.drop_connections()
    return Repair(time.monotonic(), reconnects=True)


async def ws_cut_30s(stack: Stack) -> Repair:
    stack.proxy.refuse(True)
    stack.proxy.drop_connections()
    await asyncio.sleep(30)
    stack.proxy.refuse(False)
    return Repair(time.monotonic(), reconnects=True)


async def kill9(stack: Stack) -> Repair:
    await stack.stop_service(signal.SIGKILL)
    stack.start_service()
    return Repair(time.monotonic())


async def sigterm(stack: Stack) -> Repair:
    await stack.stop_service(signal.SIGTERM)
    stack.start_service()
    return Repair(time.monotonic())


async def asterisk_restart(stack: Stack) -> Repair:
    stack.asterisk.kill()
    await stack.asterisk.start()
    await set_agent_timing(stack.ari, CALLBACK_NUMBER, ring_s=0, talk_s=2)  # the simulation's globals
    return Repair(time.monotonic(), reconnects=True, note="calls end with Asterisk")


async def redis_restart(stack: Stack) -> Repair:
    stack.stop_redis()
    await stack.start_redis()
    return Repair(time.monotonic())


async def redis_freeze(stack: Stack) -> Repair:
    stack.freeze_redis(True)
    await asyncio.sleep(30)
    stack.freeze_redis(False)
    return Repair(time.monotonic())


async def until_drained(stack: Stack, dead_letters: float = 0, within_s: float = 120) -> float:
    """When the outbox is empty (and holds ``dead_letters``), as the service's /metrics say."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        samples = await stack.metrics()
        if (
            samples.get("cti_outbox_backlog") == 0
            and samples.get("cti_outbox_dead_letters", 0) >= dead_letters
        ):
            return time.monotonic()
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the outbox was not drained within {within_s} s")


def db_outage(outage_s: float) -> Fault:
    async def fault(stack: Stack) -> Repair:
        stack.postgres.stop()
        await asyncio.sleep(outage_s / 2)
        await stack.stop_service(signal.SIGTERM)  # a deploy in the middle of the outage
        stack.start_service()
        await stack.until_ready()
        await asyncio.sleep(outage_s / 2)
        await stack.postgres.start()
        repaired = time.monotonic()
        return Repair(repaired, recovered_at=await until_drained(stack), note=f"store away {outage_s:.0f} s")

    return fault


async def poison(stack: Stack) -> Repair:
    before = (await stack.metrics()).get("cti_outbox_dead_letters", 0)
    bad = CallEvent(EventKind.DISPOSITION, datetime.now(UTC), "poison-call", data={"score": math.nan})
    redis = connect_redis(stack.redis_url)
    try:
        await redis.xadd(OUTBOX, {"e": event_to_json(bad)})
    finally:
        await redis.aclose()
    repaired = time.monotonic()
    recovered = await until_drained(stack, dead_letters=before + 1)
    return Repair(repaired, recovered_at=recovered, note="1 event dead-lettered")


def lag_p99(before: dict[str, float], after: dict[str, float]) -> float:
    """The p99 of the loop-lag histogram's observations between two scrapes (bucket bound, s)."""
    prefix = 'cti_event_loop_lag_seconds_bucket{le="'
    bounds = sorted(
        (math.inf if key[len(prefix) : -2] == "+Inf" else float(key[len(prefix) : -2]), key)
        for key in after
        if key.startswith(prefix)
    )
    total = after.get("cti_event_loop_lag_seconds_count", 0) - before.get(
        "cti_event_loop_lag_seconds_count", 0
    )
    for bound, key in bounds:
        if after[key] - before.get(key, 0) >= 0.99 * total:
            return bound
    return math.inf


async def kpi_burst(stack: Stack) -> Repair:
    before = await stack.metrics()
    started = time.monotonic()

    async def report(http: aiohttp.ClientSession) -> int:
        url = f"http://127.0.0.1:{stack.web_port}/api/kpi"
        async with http.get(url, headers={"Authorization": "Bearer dev-manager-token"}) as response:
            await response.read()
            return response.status

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        reports = [asyncio.create_task(report(http)) for _ in range(BURST_REPORTS)]
        callers = await asyncio.gather(
            *(
                place_simulated_call(stack.ari, hold_s=600, variables={"CTI_APP": stack.app})
                for _ in range(BURST_CALLERS)
            )
        )
        statuses = await asyncio.gather(*reports)
    took = time.monotonic() - started
    p99 = lag_p99(before, await stack.metrics())
    ok = sum(1 for status in statuses if status == 200)
    note = (
        f"{ok}/{BURST_REPORTS} reports 200 in {took:.1f} s; loop lag p99 <= {p99 * 1000:.0f} ms;"
        f" {BURST_CALLERS} more callers"
    )
    return Repair(time.monotonic(), extra_callers=[c.id for c in callers], note=note)


async def second_instance(stack: Stack) -> Repair:
    second = stack.start_service(web_port=free_port(), primary=False)
    started = time.monotonic()
    code = await asyncio.to_thread(second.wait, 60)
    refused = time.monotonic() - started
    note = f"second instance exited {code} after {refused:.1f} s"
    return Repair(time.monotonic(), note=note)


async def drill(stack: Stack, name: str, fault: Fault) -> Outcome:
    await hang_up_all(stack)
    if await stuck_agents(stack):
        raise RuntimeError(f"before {name}: the agents are not all ready")
    before = await stack.connects()
    since = datetime.now(UTC)
    traffic = await live_traffic(stack)
    repair = await fault(stack)
    if repair.recovered_at is None:
        await stack.until_ready(after=before if repair.reconnects else 0)
        recovered = time.monotonic()
    else:
        recovered = repair.recovered_at
    await asyncio.sleep(1.0)
    counted = name != "asterisk_restart"
    cut = await cut_bridges(stack.ari, traffic.pairs) if counted else None
    astray = await strays(stack, traffic, sigterm=name == "sigterm") if counted else None
    for caller in [*traffic.callers, *repair.extra_callers]:
        await stack.ari.hangup(caller, missing_ok=True)
    stuck = await stuck_agents(stack)
    lost, duplicated = await outcomes(stack, traffic, repair.extra_callers, since)
    if stuck or lost or duplicated:  # the service's log then shows where each task waits
        stack.signal_service(signal.SIGUSR1)
    calls = len(traffic.callers) + len(repair.extra_callers)
    return Outcome(name, calls, cut, astray, lost, duplicated, stuck, recovered - repair.at, repair.note)


async def seed(stack: Stack, calls: int) -> None:
    """A year of history for the KPI burst to report on (``bench/kpi_report.py``'s generator)."""
    await asyncio.to_thread(load_fast, "drill", stack.database_url, Generator(calls, 12), Load(calls=calls))


def prepare_work() -> Path:
    """The run's directory: the flow, the logs, the Redis and PostgreSQL data."""
    work = Path(tempfile.mkdtemp(prefix="cti-drills-"))
    work.chmod(0o755)  # the drill's PostgreSQL runs as postgres and keeps its data in here
    (work / "flows").mkdir()
    (work / "flows" / "hotline.yaml").write_text(STRAIGHT_TO_SALES_FLOW)
    (work / "flows" / "menu.yaml").write_text(MENU_FLOW)
    (work / "acd.toml").write_text(DRILL_ACD)
    return work


async def run(args: argparse.Namespace) -> list[Outcome]:
    work = await asyncio.to_thread(prepare_work)
    faults: dict[str, Fault] = {
        "ws_cut": ws_cut,
        "ws_cut_30s": ws_cut_30s,
        "kill9": kill9,
        "sigterm": sigterm,
        "asterisk_restart": asterisk_restart,
        "redis_restart": redis_restart,
        "redis_freeze": redis_freeze,
        "db_outage": db_outage(args.db_outage_s),
        "poison": poison,
        "kpi_burst": kpi_burst,
        "second_instance": second_instance,
    }
    chosen = [name for name in faults if not args.only or name in args.only]
    async with own_stack(work, "drill", keep=args.keep) as stack:
        stack.env["CTI_ACD_CONFIG_FILE"] = str(work / "acd.toml")
        stack.start_service()
        await stack.until_ready()
        if "kpi_burst" in chosen:
            await seed(stack, args.kpi_calls)
        results = []
        for _ in range(args.rounds):
            for name in chosen:
                results.append(await drill(stack, name, faults[name]))
                print(json.dumps(results[-1].__dict__), file=sys.stderr)
        return results


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", action="append", default=[], help="run this drill only (repeatable)")
    parser.add_argument("--db-outage-s", type=float, default=300.0, help="how long the store is away")
    parser.add_argument("--kpi-calls", type=int, default=100_000, help="calls of history for kpi_burst")
    parser.add_argument("--keep", action="store_true", help="keep the services' logs")
    args = parser.parse_args()
    results = uvloop.run(run(args))
    header = ("drill", "calls", "bridged_cut", "strays", "lost", "dup", "stuck", "recovery_s")
    print(f"{header[0]:<16} " + " ".join(f"{h:>{max(5, len(h))}}" for h in header[1:]) + "  note")
    for r in results:
        print(
            f"{r.drill:<16} {r.calls:>5} {_count(r.bridged_cut):>11} {_count(r.strays):>6} {r.lost:>5}"
            f" {r.duplicated:>5} {r.stuck:>5} {r.recovery_s:>10.2f}  {r.note}"
        )
    print(
        f"drills {len(results)} bridged_cut {sum(r.bridged_cut or 0 for r in results)}"
        f" lost {sum(r.lost for r in results)} duplicated {sum(r.duplicated for r in results)}"
        f" worst_recovery_s {max(r.recovery_s for r in results):.2f}"
    )


if __name__ == "__main__":
    main()
