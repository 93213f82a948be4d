"""Process-wide settings: the defaults the library sets before torch does any work, for every caller (the command
line, ``Tagger.load``, the spaCy component, batch workers and Ray actors; a value in the environment wins), the CPUs
a process may use, and the cycle collector held off while tagging."""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# oneDNN caches a compiled kernel, with its scratch memory, for every tensor shape it meets (1,024 by default), and
# length-bucketed batches meet many: `tagger tag` grew by ~100 MB per million words of varied sentences. 256 kernels
# keep memory bounded (599 MB peak on 4.1M words of raw text) at full speed (79,000 words/s; a cache of 0: 56,000
# words/s, 463 MB). It must be set before torch creates its first kernel.
ONEDNN_CACHE = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")


def set_runtime_defaults() -> None:
    """Bound oneDNN's kernel cache, unless the environment already sets it."""
    os.environ.setdefault(*ONEDNN_CACHE)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while tagging. Tagging allocates a few objects per word (ids, tuples, tags)
    and no cycles, so the collector finds nothing, yet its full passes over every live object (a model's vocabulary,
    the caller's corpus) cost 16% of the default model's tagging time on one thread and made it vary ±10% from
    pass to pass. Reference counting still frees everything; cycles made meanwhile wait for the next collection.
    Nested and concurrent uses leave the collector as the outermost found it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by a container's CPU quota (cgroup v2 cpu.max or
    v1 cfs quota). ``os.cpu_count()`` counts the host's: in a 2-CPU container on a 64-core host, threads and
    worker processes sized by it would queue behind each other, which is where multi-threaded training collapses."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, quota)) if quota else max(1, cpus)


def _cgroup_quota() -> int | None:
    """CPUs granted by the cgroup quota (rounded up), or None where there is none or it cannot be read."""
    for path, parse in (("/sys/fs/cgroup/cpu.max", _parse_cpu_max), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None)):
        try:
            text = open(path, encoding="ascii").read().split()
            if parse is not None:
                return parse(text)
            period = int(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii").read())
            quota = int(text[0])
            return -(-quota // period) if quota > 0 and period > 0 else None
        except (OSError, ValueError, IndexError):
            continue
    return None


def _parse_cpu_max(fields: list[str]) -> int | None:
    # "max 100000" (no quota) or "200000 100000" (2 CPUs' worth of time per period)
    if fields[0] == "max":
        return None
    quota, period = int(fields[0]), int(fields[1])
    return -(-quota // period) if quota > 0 and period > 0 else None


# /proc/stat's per-CPU fields, in order: the ones that count as a CPU at work (steal: another VM had it)
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal


class LoadFollowingThreads:
    """Intra-op threads for the CPUs other processes leave free, looked at every ``interval`` seconds.

    OpenMP's threads meet at a barrier after every parallel region: when one of two threads is parked behind
    another process, its partner waits, and a 3-second epoch took minutes beside one busy process. One thread
    per CPU left free loses only the CPU the other process takes (``scripts/benchmarks/contention.py``). Free CPUs are this
    process's CPUs' busy time in /proc/stat less this process's own CPU time. Where that cannot be read (not
    Linux) or does not tell (a container's CPU quota: /proc/stat shows the host), the count stays at ``most``.
    Changing the count does not change the numbers: the models compute the same bits on any thread count
    (tests/test_determinism.py).
    """

    def __init__(self, most: int, set_threads: Callable[[int], None], interval: float = 0.5):
        self.most, self.set_threads, self.interval = most, set_threads, interval
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.last = self._sample() if most > 1 and self.cpus and _cgroup_quota() is None else None
        self.following = self.last is not None
        # One thread until the first interval shows CPUs free: started on all of them beside a busy process, the
        # first steps crawled for seconds before the first look (an epoch of 3 s took 6.5).
        self.threads = 1 if self.following else most
        set_threads(self.threads)

    def check(self) -> int:
        """Call often (every batch): every ``interval`` seconds, set the thread count to the CPUs left free."""
        last = self.last  # None exactly when not following
        if last is None or time.monotonic() - last[0] < self.interval:
            return self.threads  # the clock alone: /proc/stat is read once per interval, not once per batch
        now = self._sample()
        if now is None:
            return self.threads
        (wall, busy, own), (wall_before, busy_before, own_before) = now, last
        self.last = now
        others = max(0.0, (busy - busy_before) - (own - own_before)) / (wall - wall_before)  # CPUs' worth
        wanted = max(1, min(self.most, math.floor(self.most - others + 0.5)))
        if wanted != self.threads:
            self.threads = wanted
            self.set_threads(wanted)
        return self.threads

    def _sample(self) -> tuple[float, float, float] | None:
        """(now, seconds these CPUs have been busy, seconds this process has run), or None when unreadable."""
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                lines = stat.read().splitlines()
        except OSError:
            return None
        wanted = {f"cpu{n}" for n in self.cpus}
        ticks = 0
        for line in lines:
            fields = line.split()
            if fields and fields[0] in wanted:
                values = fields[1:]
                ticks += sum(int(values[i]) for i in _BUSY_FIELDS if i < len(values))
        return time.monotonic(), ticks / _TICKS_PER_SECOND, time.process_time()


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
