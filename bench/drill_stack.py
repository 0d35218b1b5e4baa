"""What one run of ``bench/drills.py`` owns: its own Asterisk, Redis and PostgreSQL (own ports,
own config and data directories, stopped, frozen and restarted by their own pids), its ``cti run``
processes, its loopback relay to Asterisk, its files. Nothing here touches the machine's own
Redis or PostgreSQL, nor the project's Asterisk that ``scripts/asterisk.sh`` runs for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg

from cti.ari import AriClient
from cti.live import connect_redis
from cti.sim.drill import free_port
from cti.sim.own_asterisk import OwnAsterisk
from cti.sim.relay import TcpProxy
from cti.store import schema

PROJECT = Path(__file__).resolve().parents[1]
API_TOKEN = {"Authorization": "Bearer dev-api-token"}  # config/web-tokens.dev


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user (setpriv
    execs, so the pid is the server's own and a signal reaches it)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command]


def _pg_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    return shutil.which(name) or name


@dataclass
class OwnPostgres:
    """A PostgreSQL server of the drill's own: initdb'd in ``data``, listening on ``port``."""

    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://cti@127.0.0.1:{self.port}/postgres"

    async def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.data, "postgres", "postgres")
            initdb = [_pg_binary("initdb"), "-D", str(self.data), "-U", "cti", "-A", "trust", "--no-sync"]
            await asyncio.to_thread(subprocess.run, _as_postgres(initdb), check=True, capture_output=True)
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-k", str(self.data)]
        command = _as_postgres([_pg_binary("postgres"), "-D", str(self.data), "-p", str(self.port), *options])
        log = (self.data.parent / "postgres.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log)  # noqa: ASYNC220 (waited for below)
        for _ in range(300):
            if await asyncio.to_thread(self._answers):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the drill's PostgreSQL did not start; see {self.data.parent / 'postgres.log'}")

    def _answers(self) -> bool:
        try:
            psycopg.connect(
                f"host=127.0.0.1 port={self.port} user=cti dbname=postgres", connect_timeout=1
            ).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected, not waited for), by its own pid."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)


@dataclass
class Stack:
    """What one drill run owns: its Redis and PostgreSQL, its service processes, its relay, its files."""

    work: Path
    ari: AriClient
    app: str
    redis_port: int
    web_port: int
    proxy: TcpProxy
    postgres: OwnPostgres
    asterisk: OwnAsterisk
    env: dict[str, str] = field(default_factory=dict)  # the services' settings beside the stack's own
    redis: subprocess.Popen[bytes] | None = None
    redis_frozen: bool = False
    service: subprocess.Popen[bytes] | None = None  # the instance the drills act on
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)  # every one, for logs and cleanup

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        return self.postgres.url

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
            if self.redis_frozen:
                self.redis.send_signal(signal.SIGCONT)
            self.redis.terminate()  # by its own pid: SIGTERM writes the append-only file out
            self.redis.wait(20)

    def freeze_redis(self, frozen: bool) -> None:
        """SIGSTOP / SIGCONT the drill's Redis: it keeps its connections and answers nothing."""
        if self.redis is not None:
            self.redis.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)
            self.redis_frozen = frozen

    def start_service(self, web_port: int | None = None, *, primary: bool = True) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "CTI_CONFIG": str(PROJECT / "config" / "cti.toml"),
            "CTI_ARI_APP": self.app,
            "CTI_ARI_URL": f"http://127.0.0.1:{self.proxy.port}/ari",
            "CTI_REDIS_URL": self.redis_url,
            "CTI_DATABASE_URL": self.database_url,
            "CTI_IVR_FLOWS_DIR": str(self.work / "flows"),
            "CTI_WEB_PORT": str(web_port or self.web_port),
            "PYTHONFAULTHANDLER": "1",
            **self.env,
        }
        log = (self.work / f"service-{len(self.started)}.log").open("wb")
        cti = str(Path(sys.executable).with_name("cti"))
        process = subprocess.Popen([cti, "run"], cwd=PROJECT, env=env, stdout=log, stderr=log)
        self.started.append(process)
        if primary:
            self.service = process
        return process

    def signal_service(self, signum: int) -> None:
        """Send the service ``signum`` and go on (SIGUSR1: it logs its tasks)."""
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signum)

    async def stop_service(self, signum: int) -> None:
        """Signal the service and wait for it to exit, without blocking the loop (the relay
        the service's requests go through runs on it: a stop's own requests must pass). One
        that does not exit within 30 s is sent SIGABRT, so its log ends with every thread's
        traceback (PYTHONFAULTHANDLER)."""
        if self.service is None or self.service.poll() is not None:
            return
        self.service.send_signal(signum)
        try:
            await asyncio.to_thread(self.service.wait, 30)
        except subprocess.TimeoutExpired:
            self.service.send_signal(signal.SIGABRT)
            await asyncio.to_thread(self.service.wait, 10)
            raise

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    async def metrics(self) -> dict[str, float]:
        """The running service's /metrics, sample name (with labels) -> value; {} if not ready."""
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{self.web_port}"
                async with http.get(f"{url}/ready") as ready:
                    if ready.status != 200:
                        return {}
                async with http.get(f"{url}/metrics", headers=API_TOKEN) as metrics:
                    text = await metrics.text()
        except aiohttp.ClientError:
            return {}
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    async def connects(self) -> int:
        """ARI websockets the running service opened (0: not ready)."""
        return int((await self.metrics()).get("cti_ari_connects", 0))

    async def until_ready(self, after: int = 0, within_s: float = 60) -> float:
        """Seconds until the service is ready with more than ``after`` connects."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            if self.service is not None and self.service.poll() is not None:
                where = self.work / f"service-{self.started.index(self.service)}.log"
                raise RuntimeError(f"the service stopped; see {where}")
            if await self.connects() > after:
                return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the service was not ready within {within_s} s")


@contextlib.asynccontextmanager
async def own_stack(
    work: Path, app_prefix: str, *, keep: bool, sounds_dir: Path | None = None, ami_port: int | None = None
) -> AsyncIterator[Stack]:
    """Everything one drill or load run owns, set up and always taken down (a SIGTERM to the
    run takes it down too): its own Asterisk behind a relay, its PostgreSQL (migrated, as
    ``cti db upgrade`` does) and Redis; AMI on ``ami_port`` if given (a bench's clock). The run
    starts its services; they are killed at the end. ``work`` is removed unless the run failed
    or ``keep`` says to keep its logs."""
    run = asyncio.current_task()
    assert run is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, run.cancel)
    asterisk = OwnAsterisk(work.name, free_port(), free_port(), sounds_dir=sounds_dir, ami_port=ami_port)
    postgres = OwnPostgres(work / "pg", free_port())
    proxy = TcpProxy("127.0.0.1", asterisk.http_port)
    user = asterisk.settings.ari
    failed = False
    try:
        await asyncio.to_thread(asterisk.install)
        await asterisk.start()
        await proxy.start()
        async with AriClient(asterisk.ari_url, user.username, user.password.get_secret_value()) as ari:
            app = f"{app_prefix}-{uuid.uuid4().hex[:8]}"
            stack = Stack(work, ari, app, free_port(), free_port(), proxy, postgres, asterisk)
            try:
                await postgres.start()
                await asyncio.to_thread(schema.upgrade, postgres.url)
                await stack.start_redis()
                yield stack
            finally:
                stack.kill_all()
                stack.stop_redis()
    except BaseException:
        failed = True
        raise
    finally:
        postgres.stop()
        asterisk.remove()  # every channel of the run goes with it
        await proxy.close()
        if failed or keep:
            print(f"the run's logs are in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
