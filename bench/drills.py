"""Failure drills on the real stack: does a bridged conversation survive what happens to the service?

Run: ``.venv/bin/python bench/drills.py [--rounds 1] [--calls 3] [--only ws_cut ...]`` (it brings
up the project's Asterisk; Redis and PostgreSQL are the drill's own, ``bench/drill_stack.py``).

The service runs as ``cti run`` processes on the drill's own ARI app name, behind a loopback
relay to Asterisk, on the drill's own ``redis-server`` (append-only file on, as shipped) and its
own PostgreSQL, with the demo's simulated agents and a flow that sends every caller straight to
sales. Each drill bridges ``--calls`` callers to agents, then does one fault:

- ``ws_cut``: the ARI connection (through the relay) is cut, once;
- ``ws_cut_30s``: the relay is cut and refuses connections for 30 s;
- ``kill9``: the service is killed with SIGKILL and started again;
- ``sigterm``: the service is stopped with SIGTERM and started again;
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
that each conversation's bridge still holds both legs (``bridged_cut``), hangs the callers up and
reads the store: a conversation without exactly one ``completed`` and one ``call_ended`` is
``lost`` (none) or ``duplicated`` (more); a burst caller without exactly one ``call_ended`` too;
an agent not back to ready after wrap-up is ``stuck``. Everything the drill made (processes,
channels, its Redis and PostgreSQL, its files) is removed at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import uvloop
from drill_stack import PROJECT, OwnPostgres, Stack
from kpi_report import Generator, Load, load_fast

from cti.acd import AgentState
from cti.ari import AriClient
from cti.errors import AriNotFound
from cti.events import CallEvent, EventKind, event_to_json
from cti.live import AcdState, connect_redis
from cti.settings import load_settings
from cti.sim import place_simulated_call
from cti.sim.drill import STRAIGHT_TO_SALES_FLOW, free_port
from cti.sim.relay import TcpProxy
from cti.store import events_between, make_engine, schema

SALES_AGENTS = ("1001", "1002", "1004")  # config/acd.demo.toml: sales at level 3 or more
OUTBOX = "cti:events"  # the shipped [redis] outbox_stream
BURST_CALLERS = 50
BURST_REPORTS = 10


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
    bridged_cut: int
    lost: int
    duplicated: int
    stuck: int
    recovery_s: float
    note: str


async def bridged(ari: AriClient, callers: list[str], within_s: float = 20) -> dict[str, tuple[str, ...]]:
    """Each caller's bridge (id -> its two channels), once every caller has an agent in it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pairs = {b.id: b.channels for b in await ari.list_bridges() if set(b.channels) & set(callers)}
        if len(pairs) == len(callers) and all(len(channels) == 2 for channels in pairs.values()):
            return pairs
        await asyncio.sleep(0.05)
    raise RuntimeError("the callers were not all bridged to agents")


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


async def outcomes(
    stack: Stack, callers: list[str], others: list[str], since: datetime, within_s: float = 30
) -> tuple[int, int]:
    """(lost, duplicated): conversations (``callers``) without, or with more than one,
    completed and call_ended; other callers (a burst's, never bridged) the same of call_ended."""
    expected = {c: (EventKind.COMPLETED, EventKind.CALL_ENDED) for c in callers}
    expected |= {c: (EventKind.CALL_ENDED,) for c in others}
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
    lost = sum(1 for n in counts.values() if min(n) == 0)
    duplicated = sum(1 for n in counts.values() if max(n) > 1)
    return lost, duplicated


async def stuck_agents(stack: Stack, within_s: float = 30) -> int:
    """Sales agents not ready again once wrap-up is over (the demo's wrap-up is short)."""
    redis = connect_redis(stack.redis_url)
    state = AcdState(redis, "cti:acd")
    try:
        deadline = time.monotonic() + within_s
        while True:
            states = [(await state.agent(agent))[0].state for agent in SALES_AGENTS]
            not_ready = sum(1 for s in states if s is not AgentState.READY)
            if not_ready == 0 or time.monotonic() > deadline:
                return not_ready
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()


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
    stack.signal_service(signal.SIGKILL)
    stack.start_service()
    return Repair(time.monotonic())


async def sigterm(stack: Stack) -> Repair:
    stack.signal_service(signal.SIGTERM)
    stack.start_service()
    return Repair(time.monotonic())


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
        stack.signal_service(signal.SIGTERM)  # a deploy in the middle of the outage
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


async def drill(stack: Stack, name: str, fault: Fault, calls: int) -> Outcome:
    before = await stack.connects()
    since = datetime.now(UTC)
    callers = []
    for _ in range(calls):
        channel = await place_simulated_call(stack.ari, hold_s=600, variables={"CTI_APP": stack.app})
        callers.append(channel.id)
    created = list(callers)
    try:
        pairs = await bridged(stack.ari, callers)
        await asyncio.sleep(0.5)
        repair = await fault(stack)
        created += repair.extra_callers
        if repair.recovered_at is None:
            await stack.until_ready(after=before if repair.reconnects else 0)
            recovered = time.monotonic()
        else:
            recovered = repair.recovered_at
        await asyncio.sleep(1.0)
        cut = await cut_bridges(stack.ari, pairs)
        for caller in created:
            await stack.ari.hangup(caller, missing_ok=True)
        lost, duplicated = await outcomes(stack, callers, repair.extra_callers, since)
        stuck = await stuck_agents(stack)
        return Outcome(name, len(created), cut, lost, duplicated, stuck, recovered - repair.at, repair.note)
    finally:
        for channel_id in created:
            await stack.ari.hangup(channel_id, missing_ok=True)


async def seed(stack: Stack, calls: int) -> None:
    """A year of history for the KPI burst to report on (``bench/kpi_report.py``'s generator)."""
    await asyncio.to_thread(load_fast, "drill", stack.database_url, Generator(calls, 12), Load(calls=calls))


def prepare_work() -> Path:
    """The run's directory: the flow, the logs, the Redis and PostgreSQL data."""
    work = Path(tempfile.mkdtemp(prefix="cti-drills-"))
    work.chmod(0o755)  # the drill's PostgreSQL runs as postgres and keeps its data in here
    (work / "flows").mkdir()
    (work / "flows" / "hotline.yaml").write_text(STRAIGHT_TO_SALES_FLOW)
    return work


async def run(args: argparse.Namespace) -> list[Outcome]:
    await asyncio.to_thread(subprocess.run, [PROJECT / "scripts" / "asterisk.sh", "up"], check=True)
    settings = load_settings(PROJECT / "config" / "cti.toml")
    target = urlsplit(settings.ari.url)
    work = await asyncio.to_thread(prepare_work)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 8088)
    await proxy.start()
    faults: dict[str, Fault] = {
        "ws_cut": ws_cut,
        "ws_cut_30s": ws_cut_30s,
        "kill9": kill9,
        "sigterm": sigterm,
        "redis_restart": redis_restart,
        "redis_freeze": redis_freeze,
        "db_outage": db_outage(args.db_outage_s),
        "poison": poison,
        "kpi_burst": kpi_burst,
        "second_instance": second_instance,
    }
    chosen = [name for name in faults if not args.only or name in args.only]
    async with AriClient(
        settings.ari.url, settings.ari.username, settings.ari.password.get_secret_value()
    ) as ari:
        postgres = OwnPostgres(work / "pg", free_port())
        stack = Stack(work, ari, f"drill-{uuid.uuid4().hex[:8]}", free_port(), free_port(), proxy, postgres)
        failed = False
        try:
            await postgres.start()
            await asyncio.to_thread(schema.upgrade, postgres.url)  # as `cti db upgrade` does
            await stack.start_redis()
            stack.start_service()
            await stack.until_ready()
            if "kpi_burst" in chosen:
                await seed(stack, args.kpi_calls)
            results = []
            for _ in range(args.rounds):
                for name in chosen:
                    results.append(await drill(stack, name, faults[name], args.calls))
                    print(json.dumps(results[-1].__dict__), file=sys.stderr)
            return results
        except BaseException:
            failed = True
            raise
        finally:
            stack.kill_all()
            stack.stop_redis()
            postgres.stop()
            await proxy.close()
            if failed or args.keep:
                print(f"the drill's logs are in {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--calls", type=int, default=3, help="bridged callers per drill (at most 3)")
    parser.add_argument("--only", action="append", default=[], help="run this drill only (repeatable)")
    parser.add_argument("--db-outage-s", type=float, default=300.0, help="how long the store is away")
    parser.add_argument("--kpi-calls", type=int, default=100_000, help="calls of history for kpi_burst")
    parser.add_argument("--keep", action="store_true", help="keep the services' logs")
    args = parser.parse_args()
    args.calls = min(args.calls, len(SALES_AGENTS))
    results = uvloop.run(run(args))
    header = ("drill", "calls", "bridged_cut", "lost", "dup", "stuck", "recovery_s")
    print(f"{header[0]:<16} " + " ".join(f"{h:>{max(5, len(h))}}" for h in header[1:]) + "  note")
    for r in results:
        print(
            f"{r.drill:<16} {r.calls:>5} {r.bridged_cut:>11} {r.lost:>5} {r.duplicated:>5} {r.stuck:>5}"
            f" {r.recovery_s:>10.2f}  {r.note}"
        )
    print(
        f"drills {len(results)} bridged_cut {sum(r.bridged_cut for r in results)}"
        f" lost {sum(r.lost for r in results)} duplicated {sum(r.duplicated for r in results)}"
        f" worst_recovery_s {max(r.recovery_s for r in results):.2f}"
    )


if __name__ == "__main__":
    main()
