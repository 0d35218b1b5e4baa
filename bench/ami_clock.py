"""Asterisk's own clock for a bench, read in a process of its own.

``bench/acd_latency.py`` times each call on Asterisk's clock: AMI events with
``timestampevents=yes``. Reading and indexing them is the bench's work, not the systems' under
test, so it runs here, in a child process, and never on the event loop that the ACD and the
floor share. Asterisk sends only the two events the bench reads (``eventfilter`` in
``config/asterisk/manager.conf``).

Protocol, one JSON object per line: the child prints ``{"ready": true}`` once logged in; then
for each request ``{"callers": [uniqueid, ...], "within_s": 20}`` on its stdin it waits until
every caller's agent is ringing (or the time is up) and prints ``{"latencies": {uniqueid: ms}}``;
for ``{"ringing": [uniqueid, ...], "within_s": 20}`` it prints when each caller's agent started
ringing, ``{"ringing": {uniqueid: epoch seconds}}`` (``bench/screenpop_latency.py``). The AMI
port is the first argument (default 5038, the project's Asterisk).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

AMI_USER, AMI_SECRET = "cti-bench", "cti-bench-secret"
AGENT_CHANNEL = "Local/13"  # the bench's agents' channels: Local/13xx@agent-sim-...;1


@dataclass
class Ami:
    """Indexes, as they arrive, the two moments of each call.

    A call's start is the ``Newexten`` of its caller's ``Stasis`` or ``Queue`` application; its
    end is the first ``Newstate Ringing`` of an agent's channel with the caller's Linkedid (app_queue
    dials the agent from the caller; ARI creates it with ``originator`` = the caller).
    """

    entered: dict[str, float] = field(default_factory=dict)
    ringing: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, reader: asyncio.StreamReader) -> None:
        current: dict[str, str] = {}
        while line := await reader.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            if text:
                key, _, value = text.partition(": ")
                current[key] = value
            elif current:
                self._index(current)
                current = {}

    def _index(self, event: dict[str, str]) -> None:
        kind, timestamp = event.get("Event"), float(event.get("Timestamp", 0))
        if kind == "Newexten" and event.get("Application") in ("Stasis", "Queue"):
            self.entered.setdefault(event.get("Uniqueid", ""), timestamp)
        elif (
            kind == "Newstate"
            and event.get("ChannelStateDesc") == "Ringing"
            and event.get("Channel", "").startswith(AGENT_CHANNEL)
            and self.ringing.setdefault(event.get("Linkedid", ""), timestamp) == timestamp
        ):
            self.changed.set()

    async def ringing_at(self, callers: set[str], within_s: float) -> dict[str, float]:
        """Caller uniqueid -> when its agent's channel started ringing, once all ring or
        ``within_s`` has passed (the callers that did not ring are left out)."""
        deadline = time.monotonic() + within_s
        while not callers <= self.ringing.keys() and (left := deadline - time.monotonic()) > 0:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return {caller: self.ringing[caller] for caller in callers & self.ringing.keys()}

    async def latencies_ms(self, callers: set[str], within_s: float) -> dict[str, float]:
        """Caller uniqueid -> ms from entering the queue to its agent's channel ringing (see
        ``ringing_at``)."""
        await self.ringing_at(callers, within_s)
        both = callers & self.entered.keys() & self.ringing.keys()
        return {caller: (self.ringing[caller] - self.entered[caller]) * 1000 for caller in both}


async def serve(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()  # banner
    writer.write(
        f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\nEvents: on\r\n\r\n".encode()
    )
    await writer.drain()
    ami = Ami()
    reading = asyncio.create_task(ami.read(reader))
    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(requests), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await requests.readline():
        request = json.loads(line)
        if "ringing" in request:
            ringing = await ami.ringing_at(set(request["ringing"]), request["within_s"])
            print(json.dumps({"ringing": ringing}), flush=True)
        else:
            latencies = await ami.latencies_ms(set(request["callers"]), request["within_s"])
            print(json.dumps({"latencies": latencies}), flush=True)
    reading.cancel()
    writer.close()


class AmiClock:
    """The bench's side: starts the child, asks it for latencies."""

    async def start(self, port: int = 5038) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__)),
            str(port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        if self._child.stdin is None or self._child.stdout is None:
            raise RuntimeError("the AMI clock has no pipes")
        self._requests, self._answers = self._child.stdin, self._child.stdout
        if json.loads(await self._answer()) != {"ready": True}:
            raise RuntimeError("the AMI clock did not log in")

    async def latencies_ms(self, callers: set[str], within_s: float = 20) -> dict[str, float]:
        request = {"callers": sorted(callers), "within_s": within_s}
        self._requests.write(json.dumps(request).encode() + b"\n")
        await self._requests.drain()
        return dict(json.loads(await self._answer())["latencies"])

    async def ringing_at(self, callers: set[str], within_s: float = 20) -> dict[str, float]:
        self._requests.write(json.dumps({"ringing": sorted(callers), "within_s": within_s}).encode() + b"\n")
        await self._requests.drain()
        return dict(json.loads(await self._answer())["ringing"])

    async def _answer(self) -> bytes:
        line = await self._answers.readline()
        if not line:
            raise RuntimeError(f"the AMI clock ended (exit {await self._child.wait()})")
        return line

    async def stop(self) -> None:
        self._requests.close()
        await self._child.wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 5038))
