"""A caller's key -> the IVR's next prompt: step latency with 50 callers in the hotline at once.

Run: ``.venv/bin/python bench/ivr_steps.py`` (it brings up Redis, espeak-ng, baresip and the
project's Asterisk, and runs the service itself: ``.venv/bin/cti run`` on its own Stasis app,
Redis keys, SQLite file and web port, so the CPU it reports is the service's alone).

One clock, Asterisk's: a bench ARI app subscribes to every caller's channel and takes the
``timestamp`` of the caller's ``ChannelDtmfReceived`` and of the next ``PlaybackStarted`` of an
IVR prompt (playback id ``ivr-<hex>``) on that channel. Between the two lie the event's trip to
the service, the interpreter's step, the ARI requests (stop the prompt the key cut short, play
the next one) and Asterisk starting the new playback. ARI stamps events to the millisecond.

Every caller walks ivr_flows/hotline.yaml the same way at any hour, so no clock is forced on
the service: 9 at the menu (the language switch: the menu again, in English), 3 (roadside
help, open 24 h in the open and the closed menu alike: the area code prompt), then 0 1 0 #
(Beijing: the nearest station, spoken). Each key comes 0.3-0.8 s into the prompt asking for it
(barge-in), seeded, so runs compare. Each step is checked to start the prompt the flow says.

Two kinds of caller, one phase each, all arriving together after one warm-up caller per kind:

- **pjsip**: baresip softphones registered as 2011-2060 (config/asterisk/pjsip_wizard.conf) dial
  the hotline 4000; their context hands them to the bench's service (global ``BENCH_IVR_APP``).
  Keys are RFC 4733 events; the bench's app subscribes to each phone's endpoint.
- **local**: Local channels into the hotline 4000 (``cti.sim``), keyed through ARI from their far
  half. A Local call carrying media costs Asterisk ~6% of a core (measured here): 50 of them
  saturate this 2-core VM, and the rows show what that does to the steps.

CPU columns are each phase's user + system time over its wall time, in % of one core (200% is
this whole VM): Asterisk, the service, the 50 baresip phones, this bench, everything else on
the host (other: the kernel's share of RTP, and whatever else runs here), and the whole host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import uvloop
from ivr_callers import BenchError, Call, Observer, PlaceCall, local_callers, phone_callers
from procstat import CpuWindow, asterisk_pid

from cti.app import ari_client
from cti.ari import AriClient
from cti.ari.events import ChannelDestroyed, ChannelDtmfReceived, PlaybackStarted
from cti.errors import AriNotFound, AriServerError
from cti.ivr import load_flow
from cti.ivr.model import CollectNode, MenuNode
from cti.kpi.definitions import percentile
from cti.live import connect_redis
from cti.settings import Settings, load_settings
from cti.sim import Softphone, softphones
from cti.tts import PromptRenderer, flow_prompts

PROJECT = Path(__file__).resolve().parents[1]
SETUP = (["scripts/services.sh", "up", "redis", "tts", "baresip"], ["scripts/asterisk.sh", "up"])
PHONES = [str(2011 + i) for i in range(50)]  # bench callers of config/asterisk/pjsip_wizard.conf
THINK_S = (0.3, 0.8)  # into the prompt that asks, before the key
WITHIN_S = 90.0  # the closed-hours welcome alone is 12 s; an overloaded Asterisk stretches it


# --- what the callers hear -------------------------------------------------------------------
@dataclass(frozen=True)
class Prompts:
    """The media URIs of the prompts a step may start, as the service's renderer names them."""

    menus: dict[str, str]  # media URI -> "main_menu" / "closed_menu" (Chinese: the first one heard)
    menus_en: frozenset[str]
    area_en: str
    static: frozenset[str]  # every fixed prompt of the flow: a station's answer is none of them

    @classmethod
    async def load(cls, settings: Settings) -> Prompts:
        flow = load_flow(settings.ivr.flows_dir / "hotline.yaml")
        renderer = PromptRenderer.from_settings(settings.sounds)

        async def uri(node_id: str, language: str) -> str:
            node = flow.nodes[node_id]
            assert isinstance(node, MenuNode | CollectNode)
            return await renderer.sound_uri(node.prompt.text[language], language)

        menus = ("main_menu", "closed_menu")
        return cls(
            menus={await uri(menu, "zh"): menu for menu in menus},
            menus_en=frozenset([await uri(menu, "en") for menu in menus]),
            area_en=await uri("roadside_area", "en"),
            static=frozenset([await renderer.sound_uri(*pair) for pair in flow_prompts(flow)]),
        )


@dataclass(frozen=True)
class Step:
    name: str
    before: str  # keys that start no prompt (the area code's digits)
    key: str  # the key whose DtmfReceived starts the clock
    expect: Callable[[str], bool]  # does this media URI belong to the prompt the flow plays next?


def steps(prompts: Prompts) -> tuple[Step, ...]:
    return (
        Step("9 menu -> menu (en)", "", "9", lambda uri: uri in prompts.menus_en),
        Step("3 menu -> area code", "", "3", lambda uri: uri == prompts.area_en),
        Step("010# -> station", "010", "#", lambda uri: uri not in prompts.static),
    )


@dataclass(frozen=True)
class Sample:
    step: str
    ms: float


def _asterisk_time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


async def walk(call: Call, prompts: Prompts, think: random.Random, samples: list[Sample]) -> str:
    """Wait for the menu, then take every step, adding its latency to ``samples`` as it goes (a
    caller that fails midway keeps the steps it took); returns the menu heard."""
    menu = await call.inbox.next(
        "menu prompt",
        lambda e: isinstance(e, PlaybackStarted) and e.playback.media_uri in prompts.menus,
        WITHIN_S,
    )
    assert isinstance(menu, PlaybackStarted)
    sent = ""
    for step in steps(prompts):
        await asyncio.sleep(think.uniform(*THINK_S))
        await call.press(step.before + step.key)
        sent += step.before + step.key
        key = await call.inbox.next(
            f"key {step.key}",
            lambda e, k=step.key: isinstance(e, ChannelDtmfReceived) and e.digit == k,
            WITHIN_S,
        )
        prompt = await call.inbox.next(
            f"prompt after {step.name}",
            lambda e: isinstance(e, PlaybackStarted) and e.playback.id.startswith("ivr-"),
            WITHIN_S,
        )
        assert isinstance(prompt, PlaybackStarted)
        if not step.expect(prompt.playback.media_uri):
            heard = "".join(e.digit for e in call.inbox.events if isinstance(e, ChannelDtmfReceived))
            raise BenchError(
                f"{step.name}: keyed {sent!r}, Asterisk received {heard!r},"
                f" the service played {prompt.playback.media_uri.rsplit('/', 1)[-1]}"
            )
        ms = (_asterisk_time(prompt.timestamp) - _asterisk_time(key.timestamp)) * 1000
        samples.append(Sample(step.name, ms))
    return prompts.menus[menu.playback.media_uri]


async def end(call: Call) -> None:
    """Hang up and wait until Asterisk has destroyed the channel (the next phase starts clean)."""
    await call.hang_up()
    with contextlib.suppress(BenchError):
        await call.inbox.next("hang-up", lambda e: isinstance(e, ChannelDestroyed), within_s=10)


# --- phases --------------------------------------------------------------------------------
@dataclass
class Phase:
    kind: str
    callers: int
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    menus: set[str] = field(default_factory=set)
    cpu: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


async def run_phase(
    kind: str, place: PlaceCall, callers: int, prompts: Prompts, pids: dict[str, list[int]]
) -> Phase:
    """``callers`` calls placed at once, each walking every step; CPU over the whole walk."""
    phase = Phase(kind, callers)
    calls: list[Call] = []

    async def one(index: int) -> str:
        call = await place(index)
        calls.append(call)
        return await walk(call, prompts, random.Random(index), phase.samples)

    window, started = CpuWindow.start(pids), time.monotonic()
    outcomes = await asyncio.gather(*(one(i) for i in range(callers)), return_exceptions=True)
    phase.cpu, phase.wall_s = window.stop(), time.monotonic() - started
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            phase.failures.append(f"{type(outcome).__name__}: {outcome}")
        else:
            phase.menus.add(outcome)
    await asyncio.gather(*(end(call) for call in calls))
    return phase


# --- the service under test ---------------------------------------------------------------
@dataclass
class Service:
    """``cti run`` in its own process, on its own app, Redis keys, SQLite file and web port."""

    process: asyncio.subprocess.Process
    log: Path

    @classmethod
    async def start(cls, ari: AriClient, app: str, prefix: str, workdir: Path) -> Service:
        env = {
            **os.environ,
            "CTI_ARI_APP": app,
            "CTI_REDIS_OUTBOX_STREAM": f"{prefix}:events",
            "CTI_ACD_REDIS_PREFIX": f"{prefix}:acd",
            "CTI_ACD_AUTO_LOGIN": "false",  # callers leave before the queue: no agents needed
            "CTI_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'cti.sqlite3'}",
            "CTI_WEB_PORT": str(_free_port()),
        }
        log = workdir / "service.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                str(PROJECT / ".venv/bin/cti"), "run", cwd=PROJECT, env=env, stdout=out, stderr=out
            )
        service = cls(process, log)
        try:
            await service._until_serving(ari, app)
        except BaseException:
            await service.stop()  # never leave a service behind, whatever stopped the start
            raise
        return service

    async def _until_serving(self, ari: AriClient, app: str, within_s: float = 120) -> None:
        """Until Asterisk lists the app (the service's websocket is up), or the service died.

        A just-restarted Asterisk answers 503 "not booted" for a moment: it is waited out too.
        """
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and self.process.returncode is None:
            with contextlib.suppress(AriNotFound, AriServerError):
                await ari.get_application(app)
                return
            await asyncio.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:]
        raise BenchError(f"the service did not serve app {app}:\n{tail}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def forget(redis_url: str, prefix: str) -> None:
    redis = connect_redis(redis_url)
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


# --- the table -----------------------------------------------------------------------------
HEADER = (
    f"{'callers':<7} {'step':<20} {'calls':>5} {'samples':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    f" {'asterisk%':>9} {'service%':>8} {'phones%':>7} {'bench%':>6} {'other%':>6} {'host%':>6}"
)


def rows(phase: Phase, prompts: Prompts) -> list[str]:
    by_step = {step.name: [s.ms for s in phase.samples if s.step == step.name] for step in steps(prompts)}
    by_step["all steps"] = [s.ms for s in phase.samples]
    calls = phase.callers - len(phase.failures)
    cpu = phase.cpu
    phones = f"{cpu['phones']:>7.0f}" if cpu.get("phones") else f"{'-':>7}"
    tail = f" {cpu['asterisk']:>9.0f} {cpu['service']:>8.0f} {phones}"
    # The host's tick counts and the processes' own differ by a few %: never below nothing.
    other = max(0.0, cpu["host"] - sum(cpu[name] for name in ("asterisk", "service", "phones", "bench")))
    tail += f" {cpu['bench']:>6.0f} {other:>6.0f} {cpu['host']:>6.0f}"
    lines = []
    for name, values in by_step.items():
        p50, p99 = percentile(values, 50) or 0.0, percentile(values, 99) or 0.0
        numbers = f"{p50:>7.0f} {p99:>7.0f} {max(values, default=0.0):>7.0f}"
        lines.append(f"{phase.kind:<7} {name:<20} {calls:>5} {len(values):>7} {numbers}{tail}")
    return lines


def summary(phase: Phase) -> str:
    values = [s.ms for s in phase.samples]
    p50, p99 = percentile(values, 50) or 0.0, percentile(values, 99) or 0.0
    return (
        f"ivr {phase.callers} callers ({phase.kind}): dtmf->prompt p50 {p50:.0f} p99 {p99:.0f}"
        f" asterisk cpu {phase.cpu['asterisk']:.0f}% service cpu {phase.cpu['service']:.0f}%"
    )


def report(phases: list[Phase], prompts: Prompts) -> None:
    low, high = THINK_S
    print(
        f"each phase: {phases[0].callers} callers arriving together, keys {low:g}-{high:g} s into the"
        " prompt asking for them; ms from ChannelDtmfReceived to the next PlaybackStarted (Asterisk's"
        " timestamps); cpu in % of one core"
    )
    print(HEADER)
    for phase in phases:
        print("\n".join(rows(phase, prompts)), flush=True)
    for phase in phases:
        heard = ", ".join(sorted(phase.menus)) or "-"
        print(f"{phase.kind}: {phase.wall_s:.1f} s for the phase; menu heard: {heard}")
        if phase.failures:
            print(f"{phase.kind}: {len(phase.failures)} of {phase.callers} callers failed; first: ", end="")
            print(phase.failures[0])
    for phase in phases:
        print(summary(phase))


# --- the run -------------------------------------------------------------------------------
async def main(callers: int, kinds: list[str]) -> None:
    for command in SETUP:
        await asyncio.to_thread(subprocess.run, [PROJECT / command[0], *command[1:]], check=True)
    settings = load_settings(PROJECT / "config/cti.toml")
    app = f"bench-ivr-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        async with ari_client(settings) as ari, contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(forget, settings.redis.url, f"bench:{app}")
            service = await Service.start(ari, app, f"bench:{app}", Path(tmp))
            stack.push_async_callback(service.stop)
            observer = Observer(ari, f"{app}-watch")
            await observer.start()
            stack.push_async_callback(observer.close)
            await ari.set_global_var("BENCH_IVR_APP", app)  # [bench-callers] in extensions.conf
            stack.push_async_callback(ari.set_global_var, "BENCH_IVR_APP", "")
            extensions = PHONES[:callers] if "pjsip" in kinds else []
            phones = await start_phones(stack, ari, observer, extensions, Path(tmp) / "phones")
            places = {"local": local_callers(ari, observer, app), "pjsip": phone_callers(phones, observer)}
            prompts = await Prompts.load(settings)
            await warm_up([places[kind] for kind in kinds], prompts)
            cpu_of = {"asterisk": [_asterisk()], "service": [service.process.pid], "bench": [os.getpid()]}
            phases = []
            for kind in kinds:
                pids = {**cpu_of, "phones": [p.pid for p in phones if p.pid] if kind == "pjsip" else []}
                phases.append(await run_phase(kind, places[kind], callers, prompts, pids))
            report(phases, prompts)


async def start_phones(
    stack: contextlib.AsyncExitStack,
    ari: AriClient,
    observer: Observer,
    extensions: list[str],
    workdir: Path,
) -> list[Softphone]:
    """The caller softphones, registered, their endpoints' events heard by the observer."""
    if not extensions:
        return []
    phones = await stack.enter_async_context(softphones(extensions, workdir, password_prefix="caller"))
    for extension in extensions:
        await ari.subscribe(observer.app, f"endpoint:PJSIP/{extension}")
    return list(phones.values())


def _asterisk() -> int:
    pid = asterisk_pid()
    if pid is None:
        raise BenchError("no Asterisk process to read the CPU of")
    return pid


async def warm_up(places: list[PlaceCall], prompts: Prompts) -> None:
    """One caller of each kind, all the way: first renders, pools and code paths are paid here."""
    started = time.monotonic()
    calls = await asyncio.gather(*(place(0) for place in places))
    await asyncio.gather(*(walk(call, prompts, random.Random(0), []) for call in calls))
    await asyncio.gather(*(end(call) for call in calls))
    print(f"warm-up: {len(calls)} caller(s) in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=50, help=f"callers at once (at most {len(PHONES)})")
    parser.add_argument(
        "--kinds",
        default="pjsip,local",
        help="caller kinds, in order: pjsip (baresip), local (Local channels)",
    )
    options = parser.parse_args()
    chosen = [kind.strip() for kind in options.kinds.split(",") if kind.strip()]
    if not chosen or set(chosen) - {"pjsip", "local"}:
        parser.error("--kinds takes pjsip, local or both")
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(max(1, min(options.callers, len(PHONES))), chosen))
