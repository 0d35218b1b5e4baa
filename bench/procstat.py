"""CPU seconds of the processes a bench loads, read from /proc, for the tables' CPU columns.

Every bench prints Asterisk's CPU beside its latencies (docs/architecture.md), so the reader sees which
process was the bottleneck. Figures are user + system seconds (``utime`` + ``stime``, fields 14
and 15 of ``/proc/<pid>/stat``, proc(5)); a window's share of one core is its seconds over the
window's wall seconds, so on this 2-core VM 200% is the whole machine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far; NaN once it is gone (a restarted Asterisk's
    old pid), so a window it spoiled reads ``nan`` rather than a wrong number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces: split after it
    return (int(fields[11]) + int(fields[12])) / TICK


def asterisk_pid() -> int | None:
    """The Asterisk daemon's pid (not an ``asterisk -r`` console that happens to be running)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() != "asterisk":
                continue
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not any(arg.startswith(b"-r") or arg == b"-x" for arg in argv[1:]):
            return int(entry)
    return None


def asterisk_cpu_s() -> float:
    """Asterisk's user + system CPU seconds so far (NaN if it is not running)."""
    pid = asterisk_pid()
    return math.nan if pid is None else process_cpu_s(pid)


def host_busy_s() -> float:
    """CPU seconds the whole machine spent busy, all cores: user, nice, system, irq and softirq
    (the first line of /proc/stat; idle, iowait and the hypervisor's steal are not our work)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / TICK


@dataclass(frozen=True)
class CpuWindow:
    """CPU use of named processes (and the whole host) between ``start`` and ``stop``."""

    pids: dict[str, tuple[int, ...]]
    started_at: float
    before: dict[str, float]

    @classmethod
    def start(cls, pids: dict[str, Iterable[int]]) -> CpuWindow:
        groups = {name: tuple(group) for name, group in pids.items()}
        return cls(groups, time.monotonic(), _sample(groups))

    def stop(self) -> dict[str, float]:
        """Each group's share of one core over the window, in percent (``host``: the machine)."""
        wall = max(time.monotonic() - self.started_at, 1e-9)
        after = _sample(self.pids)
        return {name: 100 * (after[name] - self.before[name]) / wall for name in after}


def _sample(groups: dict[str, tuple[int, ...]]) -> dict[str, float]:
    sample = {name: sum(process_cpu_s(pid) for pid in group) for name, group in groups.items()}
    return {**sample, "host": host_busy_s()}
