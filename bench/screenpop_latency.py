"""How fast does a screen-pop reach the desktop once the agent's phone starts ringing?

Run: ``.venv/bin/python bench/screenpop_latency.py [--agents 50] [--rounds 5]`` (Asterisk, Redis
and PostgreSQL are the bench's own, as in ``bench/drills.py``).

One ``cti run`` on the bench's own stack, callers straight into the sales queue, ``--agents``
simulated agents (``Local/13xx@agent-sim``: they ring 1 s, answer, hang up a second later), each
with a desktop: a websocket signed in as that agent. Each round places one caller per agent at
once; each caller rings one agent. A pop's latency runs from the agent's channel starting to
ring, on Asterisk's clock (AMI ``Newstate Ringing`` with ``timestampevents``, read in a child
process as ``bench/acd_latency.py`` does), to the pop frame arriving at the desktop (this
machine's wall clock, the same clock). It covers the event's way through the outbox stream,
the publisher (the call's journey, the pop, the push topic), the instance's pub/sub fan-out and
the websocket (the service reaches ARI directly, not through the stack's relay). One unmeasured
round first (connections open); then ``--rounds`` rounds, pooled, with the service's and
Asterisk's CPU (% of one core) over them. The last line: ``screenpop p50 <ms> p99 <ms> n <count>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from ami_clock import AmiClock
from drill_stack import Stack, own_stack
from procstat import CpuWindow

from cti.kpi.definitions import percentile
from cti.settings import load_settings
from cti.sim import place_simulated_call, set_agent_timing
from cti.sim.desktop import add_agent_users, sign_in_token
from cti.sim.drill import STRAIGHT_TO_SALES_FLOW, free_port

PROJECT = Path(__file__).resolve().parents[1]


def acd_config(agents: list[str]) -> str:
    lines = []
    for agent in agents:
        lines += ["[[agents]]", f'id = "{agent}"', f'name = "Agent {agent}"']
        lines += [f'endpoint = "Local/{agent}@agent-sim"', "skills = { sales = 3 }", ""]
    lines += ["[[queues]]", 'name = "sales"', "ring_timeout_s = 30", "wrapup_s = 0", "auto_pause_after = 0"]
    lines += ['moh_class = "bench-no-music"', "announce_every_s = 0"]
    return "\n".join(lines) + "\n"


@dataclass
class Desktop:
    """One agent's websocket: when each pop arrived (call id -> epoch seconds), its agent's state."""

    agent: str
    ws: aiohttp.ClientWebSocketResponse
    pops: dict[str, float] = field(default_factory=dict)
    offered: dict[str, float] = field(default_factory=dict)  # call id -> the pop's rang_at
    state: str = ""
    task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for message in self.ws:
            arrived = time.time()
            frame: dict[str, Any] = message.json()
            event = frame.get("event") or {}
            if event.get("kind") == "pop":
                self.pops.setdefault(event["call_id"], arrived)
                rang_at = datetime.fromisoformat(event["rang_at"]).timestamp()
                self.offered.setdefault(event["call_id"], rang_at)
            elif event.get("kind") == "agent_state":
                self.state = event["state"]
            elif frame.get("type") == "snapshot":
                self.state = frame["state"]["agent"]["state"]


async def until(check: Any, what: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not seen within {within_s} s: {what}")
        await asyncio.sleep(0.02)


async def round_of_calls(
    stack: Stack, ami: AmiClock, desktops: list[Desktop]
) -> tuple[list[float], list[float]]:
    """One caller per agent at once; once every agent is ready again, each pop's latency (ms)
    from its agent's ringing, and from its offer (``agent_offered`` recorded: the push's part)."""
    callers = await asyncio.gather(
        *(
            place_simulated_call(stack.ari, delay_s=0, hold_s=60, variables={"CTI_APP": stack.app})
            for _ in desktops
        )
    )
    ringing = await ami.ringing_at({caller.id for caller in callers}, within_s=30)
    rang = ringing.keys()  # a caller whose agent did not ring in time is left out (and said so)
    await until(lambda: rang <= {c for d in desktops for c in d.pops}, "a pop for every ringing agent")
    arrived = {c: at for d in desktops for c, at in d.pops.items() if c in rang}
    offered = {c: at for d in desktops for c, at in d.offered.items() if c in rang}
    await asyncio.gather(*(stack.ari.hangup(caller.id, missing_ok=True) for caller in callers))
    with contextlib.suppress(RuntimeError):  # an agent the ACD left stuck is the ACD's matter
        await until(lambda: all(d.state == "ready" for d in desktops), "every agent ready", within_s=10)
    if len(rang) < len(callers):
        print(f"{len(callers) - len(rang)} of {len(callers)} callers' agents did not ring within 30 s")
    from_ring = [(arrived[c] - ringing[c]) * 1000 for c in rang]
    return from_ring, [(arrived[c] - offered[c]) * 1000 for c in rang]


def prepare_work(agents: list[str]) -> Path:
    work = Path(tempfile.mkdtemp(prefix="cti-screenpop-"))
    work.chmod(0o755)  # the bench's PostgreSQL runs as postgres and keeps its data in here
    (work / "flows").mkdir()
    (work / "flows" / "hotline.yaml").write_text(STRAIGHT_TO_SALES_FLOW)
    (work / "acd.toml").write_text(acd_config(agents))
    return work


async def run(args: argparse.Namespace) -> tuple[list[str], list[float]]:
    agents = [str(1300 + i) for i in range(args.agents)]
    work = await asyncio.to_thread(prepare_work, agents)
    ami_port = free_port()
    async with own_stack(work, "screenpop", keep=args.keep, ami_port=ami_port) as stack:
        stack.env["CTI_ACD_CONFIG_FILE"] = str(work / "acd.toml")
        # ARI straight to Asterisk, as in production: the stack's relay (there for drills to cut
        # it) runs on this process's loop, so every ARI request and event of the burst's hundred
        # channels waited for the bench's own turns as well as the service's.
        stack.env["CTI_ARI_URL"] = stack.asterisk.ari_url
        await asyncio.to_thread(add_agent_users, stack.database_url, agents)
        for agent in agents:
            await set_agent_timing(stack.ari, agent, ring_s=1, talk_s=1)
        service = stack.start_service()
        await stack.until_ready()
        ami = AmiClock()
        await ami.start(ami_port)
        settings = load_settings(PROJECT / "config" / "cti.toml")
        async with aiohttp.ClientSession() as http:
            desktops = []
            for agent in agents:
                ws = await http.ws_connect(f"http://127.0.0.1:{stack.web_port}/api/ws")
                await ws.send_json(
                    {"type": "hello", "token": sign_in_token(settings, agent), "topics": ["agent"]}
                )
                desktop = Desktop(agent, ws)
                desktop.task = asyncio.create_task(desktop.read())
                desktops.append(desktop)
            await until(lambda: all(d.state == "ready" for d in desktops), "every desktop's snapshot")
            await round_of_calls(stack, ami, desktops)  # unmeasured: connections open
            window = CpuWindow.start({"service": [service.pid], "asterisk": [stack.asterisk.pid]})
            rows, pooled, pushed = [], [], []
            for number in range(1, args.rounds + 1):
                latencies, from_offer = await round_of_calls(stack, ami, desktops)
                pooled += latencies
                pushed += from_offer
                rows.append(row(f"round {number}", latencies, from_offer))
            cpu = window.stop()
            for desktop in desktops:
                await desktop.ws.close()
                if desktop.task is not None:
                    with contextlib.suppress(Exception):
                        await desktop.task
        await ami.stop()
    cpu_note = f"service cpu {cpu['service']:.1f} % of a core, asterisk {cpu['asterisk']:.1f} %"
    return [*rows, row(f"all x{args.rounds}", pooled, pushed), cpu_note], pooled


HEADER = (
    f"{'rounds':<12} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    f" {'offer p50':>10} {'offer p99':>10}"
)


def row(name: str, latencies: list[float], from_offer: list[float]) -> str:
    """Ring to pop (percentiles, worst), and offer recorded to pop (the push's own share)."""
    p = {q: percentile(latencies, q) or 0.0 for q in (50, 90, 99)}
    worst = max(latencies, default=0.0)
    push = [percentile(from_offer, q) or 0.0 for q in (50, 99)]
    numbers = f"{p[50]:>8.2f} {p[90]:>8.2f} {p[99]:>8.2f} {worst:>8.2f} {push[0]:>10.2f} {push[1]:>10.2f}"
    return f"{name:<12} {len(latencies):>4} {numbers}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50, help="at most 100 (extensions 1300-1399)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds, pooled")
    parser.add_argument("--keep", action="store_true", help="keep the service's log")
    args = parser.parse_args()
    if not 1 <= args.agents <= 100:
        parser.error("--agents must be 1-100")
    rows, pooled = uvloop.run(run(args))
    print(HEADER)
    for line in rows:
        print(line)
    p50, p99 = percentile(pooled, 50) or 0.0, percentile(pooled, 99) or 0.0
    print(f"screenpop p50 {p50:.1f} p99 {p99:.1f} n {len(pooled)}")


if __name__ == "__main__":
    main()
