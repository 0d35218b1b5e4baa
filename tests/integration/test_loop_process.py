"""Work in a process of its own (cti.loop_process): stopped when asked, after its last act;
started again when it dies; gone with the service."""

import asyncio
import os
import signal
from pathlib import Path

from cti.loop_process import LoopProcess


async def note_pid_until_stopped(stopping: asyncio.Event, notes: Path) -> None:
    """The work: say which process runs it, and say when it ends (as the drainer flushes)."""
    with notes.open("a") as file:
        file.write(f"started {os.getpid()}\n")
    await stopping.wait()
    with notes.open("a") as file:
        file.write(f"stopped {os.getpid()}\n")


def lines_of(notes: Path) -> list[str]:
    return notes.read_text().splitlines() if notes.exists() else []


async def lines_once(notes: Path, count: int) -> list[str]:
    for _ in range(600):
        lines = lines_of(notes)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"not {count} lines in {notes}: {lines_of(notes)}")


async def test_the_work_runs_in_its_own_process_and_ends_when_asked(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    work = LoopProcess("noter", note_pid_until_stopped, notes, log_level="INFO", json_lines=False)
    work.start()
    try:
        [started] = await lines_once(notes, 1)
        assert started == f"started {work.pid}"
        assert work.pid != os.getpid()
    finally:
        await work.stop(within_s=30)
    assert lines_of(notes) == [started, started.replace("started", "stopped")]


async def test_a_process_that_dies_is_started_again(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    work = LoopProcess("noter", note_pid_until_stopped, notes, log_level="INFO", json_lines=False)
    work.start()
    try:
        await lines_once(notes, 1)
        first = work.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        lines = await lines_once(notes, 2)
        assert lines[1] == f"started {work.pid}"
        assert work.pid != first
        assert work.starts == 2
    finally:
        await work.stop(within_s=30)
