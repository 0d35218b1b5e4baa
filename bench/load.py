"""Does the service hold a busy center? 200 callers at once through the hotline IVR into queues
served by 50 agents, for 5 minutes, with the service's CPU and event-loop lag beside Asterisk's.

Run: ``.venv/bin/python bench/load.py [--callers 200] [--agents 50] [--duration-s 300]``
(Asterisk, Redis and PostgreSQL are the bench's own, as in ``bench/drills.py``).

The service is one ``cti run`` on the bench's own ARI app name, Redis and PostgreSQL, with the
shipped hotline flow open around the clock (its hours and holidays lifted, so the bench runs
at any hour) and an ACD of ``--agents`` simulated agents (``Local/13xx@agent-sim``) over the
demo's queues; each agent rings 1-3 s, talks 20-40 s, then wraps up. Callers are signalling-only
Local channels (``cti.sim.place_simulated_call``): no RTP, and no media in Asterisk either (a
Local call that carries sound costs Asterisk about 6 % of a core here): the flow's prompts are
files of no sound in the bench's own prompt cache, the queues play no music and announce
nothing. So Asterisk is not the limit, and the service does all it does on a real call. Each
keys a path through the menus (sales, service booking, repair, roadside with an area code,
complaints, an agent) as the prompts play, then waits at most 60-120 s in line. The bench keeps
``--callers`` calls up: a caller who leaves is replaced.

Measured over the window after the ramp: the service's CPU (% of one core, /proc), its resident
memory (highest sample), the event loop's lag p99 (``cti_event_loop_lag_seconds``) and the
routing p99 (``cti_acd_routing_seconds``: from the start of the routing pass that offered a call
to the agent's dial being accepted), both read from the service's ``/metrics`` histograms at the
start and end of the window (a p99 within a bucket is interpolated, as Prometheus does), and
Asterisk's CPU. The last line: ``load callers <n> service_cpu_pct <x> loop_lag_p99_ms <x>
routing_p99_ms <x>``. The service and the bench's Asterisk (with every channel of the run), Redis
and PostgreSQL are removed at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import re
import tempfile
import time
import uuid
import wave
from collections.abc import Mapping
from pathlib import Path

import uvloop
from drill_stack import PROJECT, Stack, own_stack
from procstat import CpuWindow

from cti.ivr import load_flows
from cti.settings import load_settings
from cti.sim import place_simulated_call, set_agent_timing
from cti.tts import PromptRenderer, flow_prompts

CALLER_PREFIX = "load-"
RAMP_PER_S = 20  # callers placed per second until the target is reached
POLL_S = 1.0
#: Paths through the hotline's menus (ivr_flows/hotline.yaml) and how often callers take them.
#: 'w' is a 0.5 s pause: the second key waits for the submenu.
PATHS = {
    "1": 35,  # sales
    "2wwww1": 20,  # service: maintenance booking
    "2wwww2": 10,  # service: repair
    "3wwww010#": 10,  # roadside, with Beijing's area code
    "4": 10,  # complaints
    "0": 15,  # an agent
}
#: Skills of the demo's queues (config/acd.demo.toml), dealt round the agents.
TEAMS = (
    {"sales": 5, "general": 3},
    {"service": 5, "general": 3},
    {"service": 4, "roadside": 5},
    {"complaints": 5, "vip": 4, "general": 2},
    {"sales": 3, "service": 3, "general": 5},
)


def open_all_day(flow_text: str) -> str:
    """The hotline flow with its hours lifted: open every day, all day, no public calendar.
    Edited as text: a YAML round trip would turn the flow's ``on:`` keys into booleans."""
    every_day = "".join(
        f'  {day}: ["00:00-23:59"]\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    hours = re.compile(r"^business_hours:.*\n(?:  \w+: .*\n)+", re.M)
    text = hours.sub(lambda _: "business_hours:\n" + every_day, flow_text, count=1)
    return re.sub(r"^calendar: .*\n(?: +#.*\n)*", "", text, count=1, flags=re.M)


def acd_config(agents: list[str], demo_text: str) -> str:
    """The demo's queues (and callback dial string) with ``agents`` simulated agents in teams."""
    queues = demo_text[demo_text.index("[[queues]]") :]
    lines = ['callback_dial = "Local/{number}@agent-sim"', ""]
    for index, agent in enumerate(agents):
        skills = ", ".join(f"{queue} = {level}" for queue, level in TEAMS[index % len(TEAMS)].items())
        lines += [
            "[[agents]]",
            f'id = "{agent}"',
            f'name = "Load agent {agent}"',
            f'endpoint = "Local/{agent}@agent-sim"',
            f"skills = {{ {skills} }}",
            "",
        ]
    # No music on hold (a class Asterisk does not have plays nothing) and no spoken position:
    # the waiting callers send no media either.
    quiet = queues.replace("[[queues]]\n", '[[queues]]\nmoh_class = "bench-no-music"\nannounce_every_s = 0\n')
    return "\n".join(lines) + quiet


def silent_prompts(flows_dir: Path, sounds_dir: Path) -> None:
    """Every prompt of the flows as a WAV file of no sound, where the service looks for it
    (its cache): playing one sends no media, so the callers stay signalling-only."""
    renderer = PromptRenderer.from_settings(load_settings(PROJECT / "config" / "cti.toml").sounds)
    renderer.sounds_dir = sounds_dir
    for flow in load_flows(flows_dir, None).values():
        for text, language in flow_prompts(flow):
            path = renderer.path_for(text, language)
            path.parent.mkdir(parents=True, exist_ok=True)
            with wave.open(str(path), "wb") as silent:
                silent.setnchannels(1)
                silent.setsampwidth(2)
                silent.setframerate(8000)


def prepare_work(agents: list[str]) -> Path:
    work = Path(tempfile.mkdtemp(prefix="cti-load-"))
    work.chmod(0o755)  # the bench's PostgreSQL runs as postgres and keeps its data in here
    (work / "flows").mkdir()
    hotline = (PROJECT / "ivr_flows" / "hotline.yaml").read_text()
    (work / "flows" / "hotline.yaml").write_text(open_all_day(hotline))
    silent_prompts(work / "flows", work / "sounds")
    demo = (PROJECT / "config" / "acd.demo.toml").read_text()
    (work / "acd.toml").write_text(acd_config(agents, demo))
    return work


def histogram(samples: Mapping[str, float], name: str) -> list[tuple[float, float]]:
    """A /metrics histogram's cumulative buckets, (upper bound, count), in order."""
    prefix = f'{name}_bucket{{le="'
    buckets = [
        (float(key[len(prefix) : -2]), value) for key, value in samples.items() if key.startswith(prefix)
    ]
    return sorted(buckets)


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float:
    """The ``q`` quantile of what a histogram counted between two scrapes, interpolated within
    its bucket (Prometheus' ``histogram_quantile``); NaN if nothing was counted."""
    earlier = dict(before)
    window = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]
    total = window[-1][1] if window else 0.0
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in window:
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all one can say
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


class Callers:
    """Keeps ``target`` simulated callers up: places new ones as others leave."""

    def __init__(self, stack: Stack, target: int, rng: random.Random) -> None:
        self.stack, self.target, self.rng = stack, target, rng
        self.live: set[str] = set()
        self.placed = 0
        self.failed = 0
        self.full = asyncio.Event()  # set once ``target`` callers were up at the same time

    async def keep_up(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            channels = {c.id for c in await self.stack.ari.list_channels()}
            self.live &= channels
            missing = self.target - len(self.live)
            await asyncio.gather(*(self._place() for _ in range(min(missing, RAMP_PER_S))))
            if len(self.live) >= self.target:
                self.full.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)

    async def _place(self) -> None:
        channel_id = f"{CALLER_PREFIX}{uuid.uuid4().hex[:16]}"
        digits = self.rng.choices(list(PATHS), weights=list(PATHS.values()))[0]
        self.live.add(channel_id)
        self.placed += 1
        try:
            await place_simulated_call(
                self.stack.ari,
                digits=digits,
                delay_s=1.0,
                hold_s=self.rng.uniform(60, 120),
                caller_number=f"139{self.rng.randrange(10**8):08d}",
                channel_id=channel_id,
                variables={"CTI_APP": self.stack.app},
            )
        except Exception:
            self.live.discard(channel_id)
            self.failed += 1


async def measure(
    stack: Stack, service_pid: int, callers: Callers, args: argparse.Namespace
) -> dict[str, float]:
    """Once ``callers`` are all up and have settled: the window's figures."""
    before = await stack.metrics()
    window = CpuWindow.start({"service": [service_pid], "asterisk": [stack.asterisk.pid]})
    memory, live = 0.0, []
    ends = time.monotonic() + args.duration_s
    while time.monotonic() < ends:
        memory = max(memory, resident_mb(service_pid))
        live.append(len(callers.live))
        await asyncio.sleep(2)
    cpu = window.stop()
    after = await stack.metrics()

    def p(name: str, q: float) -> float:
        return 1000 * quantile(histogram(before, name), histogram(after, name), q)

    routing = "cti_acd_routing_seconds"
    return {
        "callers": float(min(live) if live else 0),
        "placed": float(callers.placed),
        "failed": float(callers.failed),
        "service_cpu_pct": cpu["service"],
        "service_rss_mb": memory,
        "asterisk_cpu_pct": cpu["asterisk"],
        "loop_lag_p99_ms": p("cti_event_loop_lag_seconds", 0.99),
        "routing_p50_ms": p(routing, 0.50),
        "routing_p99_ms": p(routing, 0.99),
        "routed": histogram(after, routing)[-1][1] - dict(histogram(before, routing)).get(math.inf, 0.0),
    }


async def load(stack: Stack, agents: list[str], args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    for agent in agents:
        await set_agent_timing(stack.ari, agent, ring_s=rng.uniform(1, 3), talk_s=rng.uniform(20, 40))
    service = stack.start_service()
    await stack.until_ready()
    callers = Callers(stack, args.callers, rng)
    stop = asyncio.Event()
    keeper = asyncio.create_task(callers.keep_up(stop))
    try:
        full = asyncio.create_task(callers.full.wait())
        await asyncio.wait([keeper, full], return_when=asyncio.FIRST_COMPLETED)
        full.cancel()
        await asyncio.sleep(args.settle_s)  # the first callers reach the queues
        figures = await measure(stack, service.pid, callers, args)
    finally:
        stop.set()
    await keeper  # raises what stopped it early
    return figures


async def run(args: argparse.Namespace) -> dict[str, float]:
    agents = [str(1300 + i) for i in range(args.agents)]
    work = await asyncio.to_thread(prepare_work, agents)
    async with own_stack(work, "load", keep=args.keep, sounds_dir=work / "sounds") as stack:
        stack.env["CTI_ACD_CONFIG_FILE"] = str(work / "acd.toml")
        stack.env["CTI_SOUNDS_DIR"] = str(work / "sounds")
        return await load(stack, agents, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--agents", type=int, default=50, help="at most 100 (extensions 1300-1399)")
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--settle-s", type=float, default=15.0, help="after the ramp, before measuring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the service's log")
    args = parser.parse_args()
    if not 1 <= args.agents <= 100:
        parser.error("--agents must be 1-100")
    r = uvloop.run(run(args))
    print(f"{'figure':<20} {'value':>10}")
    for name, value in r.items():
        print(f"{name:<20} {value:>10.1f}")
    print(
        f"load callers {r['callers']:.0f} service_cpu_pct {r['service_cpu_pct']:.1f}"
        f" loop_lag_p99_ms {r['loop_lag_p99_ms']:.1f} routing_p99_ms {r['routing_p99_ms']:.1f}"
    )


if __name__ == "__main__":
    main()
