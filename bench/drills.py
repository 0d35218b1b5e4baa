"""Failure drills on the real stack: does a bridged conversation survive what happens to the service?

Run: ``.venv/bin/python bench/drills.py [--rounds 2] [--calls 3]`` (it brings up the project's
Asterisk; Redis is the drill's own).

The service runs as ``cti run`` processes on the drill's own ARI app name, its own
``redis-server`` (own port and data directory, append-only file on, as shipped) and its own
SQLite store, with the demo's simulated agents and a flow that sends every caller straight to
sales. Each drill bridges ``--calls`` callers to agents, then does one fault:

- ``ws_cut``: the ARI connection (through a loopback relay) is cut, once;
- ``kill9``: the service is killed with SIGKILL and started again;
- ``sigterm``: the service is stopped with SIGTERM and started again;
- ``redis_restart``: the drill's Redis is stopped (SIGTERM, by its pid) and started again.

It measures the time from the fault to the service being ready again (``/ready`` answers 200
and it has reconnected), then, a second later, whether each conversation's bridge still holds
both legs (``bridged_cut``). It hangs the callers up and reads the store: a conversation
without exactly one ``completed`` and one ``call_ended`` is ``lost`` (none) or ``duplicated``
(more); an agent not back to ready after wrap-up is ``stuck``. Everything the drill made
(processes, channels, its Redis, its files) is removed at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import uvloop

from cti.acd import AgentState
from cti.ari import AriClient
from cti.errors import AriNotFound
from cti.events import EventKind
from cti.live import AcdState, connect_redis
from cti.settings import load_settings
from cti.sim import place_simulated_call
from cti.sim.drill import STRAIGHT_TO_SALES_FLOW, free_port
from cti.sim.relay import TcpProxy
from cti.store import events_between, make_engine

PROJECT = Path(__file__).resolve().parents[1]

SALES_AGENTS = ("1001", "1002", "1004")  # config/acd.demo.toml: sales at level 3 or more


@dataclass
class Stack:
    """What one drill run owns: its Redis, its service processes, its relay, its files."""

    work: Path
    ari: AriClient
    app: str
    redis_port: int
    web_port: int
    proxy: TcpProxy
    redis: subprocess.Popen[bytes] | None = None
    service: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.work / 'cti.sqlite3'}"

    async def start_redis(self) -> None:
        where = ["--bind", "127.0.0.1", "--port", str(self.redis_port), "--dir", str(self.work)]
        durable = ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"]
        binary = shutil.which("redis-server") or "redis-server"
        self.redis = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; it is waited for below)
            [binary, *where, "--save", "", *durable], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = connect_redis(self.redis_url)
        try:
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise RuntimeError("the drill's redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()  # by its own pid: SIGTERM writes the append-only file out
            self.redis.wait(20)

    def start_service(self) -> None:
        env = {
            **os.environ,
            "CTI_CONFIG": str(PROJECT / "config" / "cti.toml"),
            "CTI_ARI_APP": self.app,
            "CTI_ARI_URL": f"http://127.0.0.1:{self.proxy.port}/ari",
            "CTI_REDIS_URL": self.redis_url,
            "CTI_DATABASE_URL": self.database_url,
            "CTI_IVR_FLOWS_DIR": str(self.work / "flows"),
            "CTI_WEB_PORT": str(self.web_port),
        }
        log = (self.work / f"service-{self.starts}.log").open("wb")
        self.starts += 1
        cti = str(Path(sys.executable).with_name("cti"))
        self.service = subprocess.Popen([cti, "run"], cwd=PROJECT, env=env, stdout=log, stderr=log)

    def signal_service(self, signum: int) -> None:
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signum)
            self.service.wait(30)

    async def connects(self) -> int:
        """ARI websockets the running service opened (0: not answering yet)."""
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{self.web_port}"
                async with http.get(f"{url}/ready") as ready:
                    if ready.status != 200:
                        return 0
                async with http.get(f"{url}/metrics") as metrics:
                    for line in (await metrics.text()).splitlines():
                        if line.startswith("cti_ari_connects "):
                            return int(float(line.split()[1]))
        except aiohttp.ClientError:
            return 0
        return 0

    async def until_ready(self, after: int = 0, within_s: float = 60) -> float:
        """Seconds until the service is ready with more than ``after`` connects."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            if self.service is not None and self.service.poll() is not None:
                raise RuntimeError(f"the service stopped; see {self.work}/service-{self.starts - 1}.log")
            if await self.connects() > after:
                return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the service was not ready within {within_s} s")


@dataclass
class Outcome:
    drill: str
    calls: int
    bridged_cut: int
    lost: int
    duplicated: int
    stuck: int
    recovery_s: float


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


async def drill(stack: Stack, name: str, fault: Callable[[], Awaitable[None]], calls: int) -> Outcome:
    before = await stack.connects()
    callers = []
    for _ in range(calls):
        channel = await place_simulated_call(stack.ari, hold_s=600, variables={"CTI_APP": stack.app})
        callers.append(channel.id)
    created = list(callers)
    try:
        pairs = await bridged(stack.ari, callers)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await fault()
        await stack.until_ready(after=before if name == "ws_cut" else 0)
        recovery_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        cut = await cut_bridges(stack.ari, pairs)
        for caller in callers:
            await stack.ari.hangup(caller, missing_ok=True)
        lost, duplicated = await outcomes(stack, callers)
        stuck = await stuck_agents(stack)
        return Outcome(name, calls, cut, lost, duplicated, stuck, recovery_s)
    finally:
        for channel_id in created:
            await stack.ari.hangup(channel_id, missing_ok=True)


async def outcomes(stack: Stack, callers: list[str], within_s: float = 20) -> tuple[int, int]:
    """(lost, duplicated): conversations without, or with more than one, completed/call_ended."""
    engine = make_engine(stack.database_url)
    try:
        deadline = time.monotonic() + within_s
        while True:
            events = await events_between(engine, None, None)
            counts = {
                caller: [
                    sum(1 for e in events if e.call_id == caller and e.kind is kind)
                    for kind in (EventKind.COMPLETED, EventKind.CALL_ENDED)
                ]
                for caller in callers
            }
            if all(min(n) >= 1 for n in counts.values()) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
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


async def run(rounds: int, calls: int, only: list[str], keep: bool) -> list[Outcome]:
    await asyncio.to_thread(subprocess.run, [PROJECT / "scripts" / "asterisk.sh", "up"], check=True)
    settings = load_settings(PROJECT / "config" / "cti.toml")
    target = urlsplit(settings.ari.url)
    work = Path(tempfile.mkdtemp(prefix="cti-drills-"))
    (work / "flows").mkdir()
    (work / "flows" / "hotline.yaml").write_text(STRAIGHT_TO_SALES_FLOW)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 8088)
    await proxy.start()
    async with AriClient(
        settings.ari.url, settings.ari.username, settings.ari.password.get_secret_value()
    ) as ari:
        stack = Stack(work, ari, f"drill-{uuid.uuid4().hex[:8]}", free_port(), free_port(), proxy)
        failed = False
        try:
            await stack.start_redis()
            stack.start_service()
            await stack.until_ready()

            async def ws_cut() -> None:
                proxy.drop_connections()

            async def restart(signum: int) -> None:
                stack.signal_service(signum)
                stack.start_service()

            async def kill9() -> None:
                await restart(signal.SIGKILL)

            async def sigterm() -> None:
                await restart(signal.SIGTERM)

            async def redis_restart() -> None:
                stack.stop_redis()
                await stack.start_redis()

            faults = {"ws_cut": ws_cut, "kill9": kill9, "sigterm": sigterm, "redis_restart": redis_restart}
            results = []
            for _ in range(rounds):
                for name, fault in faults.items():
                    if not only or name in only:
                        results.append(await drill(stack, name, fault, calls))
            return results
        except BaseException:
            failed = True
            raise
        finally:
            stack.signal_service(signal.SIGKILL)
            stack.stop_redis()
            await proxy.close()
            if failed or keep:
                print(f"the drill's logs are in {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=3, help="bridged callers per drill (at most 3)")
    parser.add_argument("--only", action="append", default=[], help="run this drill only (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the services' logs")
    args = parser.parse_args()
    results = uvloop.run(run(args.rounds, min(args.calls, len(SALES_AGENTS)), args.only, args.keep))
    header = ("drill", "calls", "bridged_cut", "lost", "dup", "stuck", "recovery_s")
    print(f"{header[0]:<14} " + " ".join(f"{h:>{max(5, len(h))}}" for h in header[1:]))
    for r in results:
        print(
            f"{r.drill:<14} {r.calls:>5} {r.bridged_cut:>11} {r.lost:>5} {r.duplicated:>5} {r.stuck:>5}"
            f" {r.recovery_s:>10.2f}"
        )
    print(
        f"drills {len(results)} bridged_cut {sum(r.bridged_cut for r in results)}"
        f" lost {sum(r.lost for r in results)} duplicated {sum(r.duplicated for r in results)}"
        f" worst_recovery_s {max(r.recovery_s for r in results):.2f}"
    )


if __name__ == "__main__":
    main()
