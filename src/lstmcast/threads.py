"""How many CPU threads torch trains with: the idle cores, not every core.

torch's default is one intra-op thread per core. Each LSTM step is a short parallel region that
every thread must finish before the next begins; when another process holds one of the cores,
the thread sharing it runs only in the scheduler's time slices, and every region waits for it.
On 2 cores with one busy, training was tens of times slower with 2 threads than with 1
(benchmarks/RESULTS.md, "Threads on a busy machine"). So unless the thread count was pinned,
lstmcast measures how busy other processes kept the CPUs since it last looked (since import, or
since the last training ended) and trains each network with the idle cores only: at least one,
never more than torch is set to. Pinned means: ``lstmcast --threads N``,
:func:`pin_threads` (``lc.pin_threads``), ``OMP_NUM_THREADS`` in the environment, or
torch's thread count changed since lstmcast was imported.

The thread count can change a network's last bits (how sums are split between threads), so a
run repeats bit for bit only with the same count: each ``History`` records the one it trained
with, and pinning it makes runs on a busy and an idle machine equal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

# A sample shorter than this is extended (the kernel counts CPU time in ticks of 1-10 ms); one
# older than STALE_SECONDS is replaced by a fresh one of this length.
MIN_SAMPLE_SECONDS, STALE_SECONDS = 0.1, 5.0
# A core counts as busy when others used more than this share of it during the sample.
BUSY_SHARE = 0.5
_STAT = Path("/proc/stat")
_pinned: int | None = None
_AT_IMPORT = torch.get_num_threads()  # torch's own choice, unless the caller changed it first


def pin_threads(threads: int | None) -> None:
    """Train with ``threads`` torch threads whatever the load (None: choose again before each
    training, from torch's count)."""
    global _pinned
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    _pinned = threads


def usable_cores() -> set[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Sample:
    """CPU time counters at one moment: busy and total clock ticks over this process's CPUs
    (/proc/stat), this process's own CPU seconds, and the wall clock."""

    busy_ticks: int
    total_ticks: int
    own_seconds: float
    wall: float

    @classmethod
    def now(cls) -> Sample | None:
        """The counters now; None where the system does not give them (no /proc/stat)."""
        cpus = usable_cores()
        busy = total = 0
        try:
            for line in _STAT.read_text().splitlines():
                name, *fields = line.split()
                if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                    continue
                ticks = [int(field) for field in fields[:8]]  # guest time is in user time
                total += sum(ticks)
                busy += sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait
        except (OSError, ValueError, IndexError):  # no /proc/stat, or not the expected one
            return None
        return cls(busy, total, time.process_time(), time.perf_counter())

    def others_busy(self, later: Sample) -> float:
        """Cores' worth of CPU time other processes used between this sample and ``later``."""
        elapsed = later.wall - self.wall
        total = later.total_ticks - self.total_ticks
        if elapsed <= 0 or total <= 0:
            return 0.0
        cores = len(usable_cores()) * (later.busy_ticks - self.busy_ticks) / total
        own = (later.own_seconds - self.own_seconds) / elapsed
        return max(cores - own, 0.0)


_last: Sample | None = Sample.now()  # since import; then since the last training ended


def others_busy() -> float:
    """Cores' worth of CPU time other processes used lately: since the last sample if it is
    recent, else over a fresh short one (0 where the system does not say)."""
    start = _last
    if start is None or time.perf_counter() - start.wall > STALE_SECONDS:
        start = Sample.now()
        if start is None:
            return 0.0
    wait = MIN_SAMPLE_SECONDS - (time.perf_counter() - start.wall)
    if wait > 0:
        time.sleep(wait)
    end = Sample.now()
    return 0.0 if end is None else start.others_busy(end)


def pinned() -> bool:
    """Whether the user fixed the thread count (see the module's docstring)."""
    if _pinned is not None or os.environ.get("OMP_NUM_THREADS"):
        return True
    return torch.get_num_threads() != _AT_IMPORT


def idle_threads(busy: float, cores: int) -> int:
    """Threads for ``cores`` CPUs of which others keep ``busy`` cores' worth busy: one per idle
    core, at least one."""
    taken = int(busy // 1 + (busy % 1 > BUSY_SHARE))
    return max(1, cores - taken)


@contextmanager
def for_training() -> Iterator[int]:
    """Train with one torch thread per idle core in the block (unless pinned), yield the count
    in use, and restore torch's count after."""
    global _last
    before = torch.get_num_threads()
    chosen = before
    if not pinned() and before > 1:
        chosen = min(before, idle_threads(others_busy(), len(usable_cores())))
    if chosen != before:
        torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        if chosen != before:
            torch.set_num_threads(before)
        _last = Sample.now()
