"""Real SIP softphones for tests and benches: headless baresip instances driven over ctrl_tcp.

Each :class:`Softphone` is one ``baresip -f <dir>`` process (Debian's ``baresip-core`` 1.0.0,
installed by ``scripts/services.sh up baresip``) registered to the project's Asterisk as an
endpoint of ``config/asterisk/pjsip_wizard.conf``: an agent (user ``<ext>``, password
``agent<ext>``), steered like an agent's hands would (accept a ringing call, hang up), or a
caller (password ``caller<ext>``) that dials the hotline and keys digits (``dial``, ``press``).

Facts measured on baresip 1.0.0 that shape this module (docs/architecture.md, "The test stack"):

- ``ctrl_tcp`` speaks netstrings (``<len>:<json>,``) of JSON. A command is
  ``{"command": "accept", "params": "...", "token": "t1"}``; its reply is
  ``{"response": true, "ok": ..., "data": "...", "token": "t1"}``; events look like
  ``{"event": true, "class": "call", "type": "CALL_INCOMING", "peeruri": "sip:...",
  "peerdisplayname": "...", "id": "<call id>", "param": "..."}``. Only one client at a time: a
  second connection silently replaces the first, so each phone keeps exactly one.
- The account registers as soon as the process starts, before a control client can connect,
  so REGISTER_OK is usually missed: :meth:`Softphone.wait_registered` polls ``reginfo`` instead.
- ``aufile`` ends the call when its wav file ends (AUDIO_ERROR "end of file", then CALL_CLOSED),
  so the wav must outlast every call of a test: see :func:`write_tone_wav`.
- Without ``net_interface 127.0.0.1`` baresip puts the host's eth0 address in its SDP; with it
  media stays on loopback (``net_interface lo`` fails with "No such device").
- ``sip_listen 127.0.0.1:P`` binds UDP and TCP P and TCP P+1; we give each phone a block of
  ten ports: SIP P, P+1, ctrl_tcp P+2, RTP/RTCP P+4..P+9.
- ``sndcode`` sends each key as an RFC 4733 event (``dtmf_mode=rfc4733`` on the endpoint), which
  Asterisk reports as ``ChannelDtmfReceived`` when the event ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import shutil
import socket
import struct
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
REGISTRAR = "127.0.0.1:5060"  # config/asterisk/pjsip.conf: transport-udp
BLOCK = 10  # ports per phone (see the module docstring)
PORT_RANGE = (21000, 29990)
MODULE_PATH = "/usr/lib/baresip/modules"

Message = dict[str, Any]


class SoftphoneError(RuntimeError):
    """A softphone refused a command, or did not register: a failure of the stack under test."""


class SoftphoneUnavailable(SoftphoneError):
    """baresip is missing, or did not start and listen: a missing service, not a failed test."""


# --- files: pure renderers ----------------------------------------------------------------
@dataclass(frozen=True)
class PhoneSetup:
    """Everything one instance's config dir says; the port block starts at ``base_port``."""

    extension: str
    password: str
    base_port: int
    audio_file: Path
    registrar: str = REGISTRAR

    @property
    def sip_port(self) -> int:
        return self.base_port

    @property
    def ctrl_port(self) -> int:
        return self.base_port + 2

    @property
    def aor(self) -> str:
        return f"sip:{self.extension}@{self.registrar.split(':')[0]}"


def render_accounts(setup: PhoneSetup) -> str:
    """One account line. Manual answer: baresip has no answer-delay option, the test accepts."""
    # Asterisk allows only ulaw/alaw for agents (pjsip_wizard.conf), hence g711 alone.
    params = [
        f"auth_pass={setup.password}",
        "answermode=manual",
        "regint=600",
        "audio_codecs=PCMU,PCMA",
    ]
    return f"<{setup.aor}>;{';'.join(params)}\n"


def render_config(setup: PhoneSetup) -> str:
    """A headless config: wav in, audio thrown away, control over TCP, all on loopback."""
    lines = {
        "poll_method": "epoll",
        "net_interface": HOST,
        "sip_listen": f"{HOST}:{setup.sip_port}",
        "call_max_calls": "1",
        "audio_source": f"aufile,{setup.audio_file}",
        "audio_player": "aubridge,null",
        "audio_alert": "aubridge,null",
        "rtp_ports": f"{setup.base_port + 4}-{setup.base_port + 9}",
        "ctrl_tcp_listen": f"{HOST}:{setup.ctrl_port}",
        "module_path": MODULE_PATH,
    }
    modules = [
        ("module", "g711.so"),
        ("module", "aufile.so"),
        ("module", "aubridge.so"),
        ("module_tmp", "account.so"),
        ("module_app", "menu.so"),
        ("module_app", "ctrl_tcp.so"),
    ]
    return "".join(f"{key}\t{value}\n" for key, value in [*lines.items(), *modules])


def write_tone_wav(path: Path, seconds: float = 180.0, tone_s: float = 1.0) -> Path:
    """8 kHz mono 16-bit: a 440 Hz tone, then silence up to ``seconds``.

    baresip's aufile hangs up when the file ends, so ``seconds`` must outlast any call.
    """
    rate = 8000
    tone = b"".join(
        struct.pack("<h", round(6000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(tone_s * rate))
    )
    silence = b"\x00\x00" * max(0, int((seconds - tone_s) * rate))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(tone + silence)
    return path


def netstring(message: Message) -> bytes:
    """The ctrl_tcp framing: ``<decimal length>:<payload>,``."""
    payload = json.dumps(message).encode()
    return b"%d:%s," % (len(payload), payload)


def free_port_block(size: int = BLOCK, rng: random.Random | None = None, tries: int = 200) -> int:
    """A base port P such that P..P+size-1 are free on loopback for both UDP and TCP.

    Random bases keep parallel test runs on one machine apart; what remains is a small
    check-then-use race, which shows up as a clear :class:`SoftphoneError` at start.
    """
    rng = rng or random.Random()
    for _ in range(tries):
        base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1], BLOCK)
        if all(_port_free(port) for port in range(base, base + size)):
            return base
    raise SoftphoneUnavailable(f"no block of {size} free loopback ports in {PORT_RANGE}")


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                return False
    return True


# --- one running phone --------------------------------------------------------------------
class Softphone:
    """One baresip process and its single ctrl_tcp connection (replies and events share it)."""

    def __init__(self, setup: PhoneSetup, workdir: Path) -> None:
        self.setup = setup
        self.workdir = workdir
        self.events: list[Message] = []
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[Message]] = {}
        self._tokens = itertools.count(1)
        self._changed = asyncio.Condition()
        self._closed = False

    @property
    def extension(self) -> str:
        return self.setup.extension

    @property
    def pid(self) -> int | None:
        """The baresip process's id once started (a bench reads its CPU time)."""
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "baresip.log"

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    async def start(self, within_s: float = 10.0) -> None:
        """Write the config dir, start baresip, connect to ctrl_tcp (it listens a moment later)."""
        baresip = shutil.which("baresip")
        if baresip is None:
            raise SoftphoneUnavailable("no baresip on PATH (scripts/services.sh up baresip installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "accounts").write_text(render_accounts(self.setup))
        (self.workdir / "config").write_text(render_config(self.setup))
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                baresip, "-f", str(self.workdir), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        reader = await self._connect(within_s)
        self._reader_task = asyncio.create_task(self._read(reader))
        await self.command("answermode", "manual")

    async def _connect(self, within_s: float) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise SoftphoneUnavailable(f"baresip {self.extension} exited: {self.log_tail()}")
            try:
                reader, self._writer = await asyncio.wait_for(
                    asyncio.open_connection(HOST, self.setup.ctrl_port), 2
                )
                return reader
            except (OSError, TimeoutError) as exc:
                if loop.time() > deadline:
                    raise SoftphoneUnavailable(
                        f"baresip {self.extension}: no ctrl_tcp on {self.setup.ctrl_port}: {exc}; "
                        f"{self.log_tail()}"
                    ) from exc
                await asyncio.sleep(0.05)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int((await reader.readuntil(b":"))[:-1])
                message: Message = json.loads((await reader.readexactly(size + 1))[:-1])
                await self._received(message)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # baresip quit or the socket broke: waiters are woken below
        finally:
            self._closed = True
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(SoftphoneError(f"baresip {self.extension}: ctrl_tcp closed"))
            async with self._changed:
                self._changed.notify_all()

    async def _received(self, message: Message) -> None:
        token = message.get("token")
        if message.get("response") and isinstance(token, str) and token in self._replies:
            future = self._replies.pop(token)
            if not future.done():
                future.set_result(message)
        elif message.get("event"):
            async with self._changed:
                self.events.append(message)
                self._changed.notify_all()

    async def command(self, name: str, params: str | None = None, within_s: float = 5.0) -> str:
        """Run one baresip command; its text output, or SoftphoneError if it failed."""
        if self._writer is None or self._closed:
            raise SoftphoneError(f"baresip {self.extension} is not running")
        token = f"t{next(self._tokens)}"
        message: Message = {"command": name, "token": token}
        if params is not None:
            message["params"] = params
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[token] = future
        self._writer.write(netstring(message))
        await self._writer.drain()
        try:
            reply = await asyncio.wait_for(future, within_s)
        finally:
            self._replies.pop(token, None)
        if not reply.get("ok"):
            raise SoftphoneError(f"baresip {self.extension}: {name} failed: {reply.get('data')}")
        return str(reply.get("data", ""))

    async def wait_registered(self, within_s: float = 10.0) -> None:
        """Until ``reginfo`` shows the account registered (200 OK from Asterisk)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            info = re.sub(r"\x1b\[[0-9;]*m", "", await self.command("reginfo"))
            if re.search(rf"{re.escape(self.setup.aor)}\s+OK\b", info):
                return
            if loop.time() > deadline:
                raise SoftphoneError(f"{self.setup.aor} not registered within {within_s}s: {info.strip()}")
            await asyncio.sleep(0.1)

    async def wait_event(
        self,
        kind: str,
        where: Callable[[Message], bool] = lambda _: True,
        within_s: float = 10.0,
        start: int = 0,
    ) -> Message:
        """The first event of type ``kind`` at index >= ``start`` that satisfies ``where``."""

        def found() -> Message | None:
            return next((e for e in self.events[start:] if e.get("type") == kind and where(e)), None)

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: found() is not None or self._closed), within_s
                )
            except TimeoutError:
                seen = [e.get("type") for e in self.events]
                raise AssertionError(f"{self.extension}: no {kind} within {within_s}s; saw {seen}") from None
        event = found()
        if event is None:
            raise AssertionError(f"{self.extension}: ctrl_tcp closed before {kind}; {self.log_tail()}")
        return event

    async def accept(self) -> None:
        await self.command("accept")

    async def dial(self, uri: str) -> None:
        """Call ``uri`` (``sip:4000@127.0.0.1``); CALL_ESTABLISHED follows once it is answered."""
        await self.command("dial", uri)

    async def press(self, keys: str, gap_s: float = 0.0) -> None:
        """Key ``keys`` in the current call, one command per key, ``gap_s`` apart (a person's pace)."""
        for index, key in enumerate(keys):
            if index and gap_s:
                await asyncio.sleep(gap_s)
            await self.command("sndcode", key)

    async def hangup(self) -> None:
        await self.command("hangup")

    async def stop(self, within_s: float = 3.0) -> None:
        """Quit politely (baresip unregisters), then terminate, then kill: never leave one behind."""
        if self._writer is not None and not self._closed:
            with contextlib.suppress(SoftphoneError, OSError, TimeoutError):
                await self.command("quit", within_s=1)
        if self._process is not None:
            await _end(self._process, within_s)
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)


async def _end(process: asyncio.subprocess.Process, within_s: float) -> None:
    """Wait for ``process`` to exit; after ``within_s`` terminate it, then kill it."""
    for escalate in ("wait", "terminate", "kill"):
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if escalate == "terminate":
                process.terminate()
            elif escalate == "kill":
                process.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), within_s)


@asynccontextmanager
async def softphones(
    extensions: Iterable[str],
    workdir: Path,
    *,
    password_prefix: str = "agent",
    register_within_s: float = 10.0,
) -> AsyncIterator[dict[str, Softphone]]:
    """Start one registered baresip per extension (password ``<password_prefix><ext>``: ``agent``
    for agents, ``caller`` for callers), all at once; stop them all."""
    audio = write_tone_wav(workdir / "tone.wav")
    phones: dict[str, Softphone] = {}
    rng = random.Random()
    try:
        for extension in extensions:
            setup = PhoneSetup(extension, f"{password_prefix}{extension}", _unused_block(phones, rng), audio)
            phones[extension] = Softphone(setup, workdir / f"baresip-{extension}")
        await _all(phone.start() for phone in phones.values())
        await _all(phone.wait_registered(register_within_s) for phone in phones.values())
        yield phones
    finally:
        await asyncio.gather(*(phone.stop() for phone in phones.values()), return_exceptions=True)


def _unused_block(phones: dict[str, Softphone], rng: random.Random) -> int:
    """A free port block that no phone of this group has taken yet (they all start together)."""
    taken = {phone.setup.base_port for phone in phones.values()}
    while (base := free_port_block(rng=rng)) in taken:
        pass
    return base


async def _all(work: Iterable[Awaitable[None]]) -> None:
    """Await all; raise the first failure once every one has ended (none left running)."""
    outcomes = await asyncio.gather(*work, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise failures[0]
