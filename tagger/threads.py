"""Thread and determinism policy, in one place: how many threads each kind of work runs on (training, tagging on
PyTorch, the worker processes of batch annotation and of the server), when that count may follow the machine's
load, and what runs on one thread so that no result depends on the count.

The same seed gives the same weights, and a model the same tags and probabilities, on any thread count. A sum whose
order would depend on the count is avoided (the orthogonal initialisation runs on one thread) or probed: a matrix
product with few output rows splits its sums by the thread count on some CPUs, so a sample of the work runs on one
thread and on all, and training's count follows the load only where the bits agree. Tagging by default runs one
batch per CPU at once, each on one thread: one thread's bits whatever the number of cores. Counts a caller sets (``train.threads``,
``threads=``, OMP_NUM_THREADS, worker processes and data-parallel ranks sharing the cores) are kept as given.

torch is imported inside the functions that set or probe its threads, so that a process tagging or serving an export
takes its worker counts and shares from here without importing torch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tagger.runtime import cgroup_quota, usable_cpus

if TYPE_CHECKING:
    import torch

# Measured on 2 cores (1M words in 101 files): 2 workers of 1 thread 29,200 words/s, 1 worker of 2 threads 25,200.
# Each worker holds its own model and spaCy (~0.7 GB), hence the cap.
MAX_AUTO_WORKERS = 8

Probe = Callable[[], Callable[[], list["torch.Tensor"]]]  # prepares a sample of the work, returns it to be computed


def set_training_threads(explicit: int, world: int) -> int:
    """Training's threads, set, and returned: ``explicit`` (``train.threads``) when set, else the CPUs this process
    may use (affinity, container quota), not the host's cores; data-parallel ranks (``world`` > 1) keep the count
    torchrun gave them (OMP_NUM_THREADS=1 each), so that ranks x threads fit the cores."""
    import torch

    if explicit or world == 1:
        torch.set_num_threads(explicit or usable_cpus())
    return torch.get_num_threads()


def training_may_follow_the_load(explicit: int, on_cpu: bool, world: int) -> bool:
    """Only a count training chose itself may follow the load: not ``train.threads``, on the CPU, in one process
    (data-parallel ranks already share the cores between them, docs/distributed.md)."""
    return not explicit and on_cpu and world == 1


def set_tagging_threads(threads: int | None, on_cpu: bool) -> int:
    """PyTorch's threads for tagging, set, and how many batches run at once on them: ``threads`` when given (worker
    processes share the cores), one batch at a time; unchanged with OMP_NUM_THREADS or on a GPU, one batch at a time;
    else one batch per CPU this process may use, each on one thread, which gives one thread's bits whatever the
    number of cores (the same tags as one batch on all of them, on CoNLL-2003 test for each shipped model, on
    AVX-512 and AVX2 kernels). One batch on two threads left its Python share (encoding, decoding, about 40% of the
    default model's time) on one core; two batches overlap it, and a busy CPU slows two one-thread batches
    gradually, where threads that wait on each other collapse."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
        return 1
    if "OMP_NUM_THREADS" in os.environ or not on_cpu:  # an explicit count is kept
        return 1
    torch.set_num_threads(1)
    return usable_cpus()


def auto_workers(on_gpu: bool) -> int:
    """Worker processes for batch annotation when not asked for: one per CPU this process may use (at most
    ``MAX_AUTO_WORKERS``); one on a GPU, which a single process keeps busy."""
    return 1 if on_gpu else max(1, min(usable_cpus(), MAX_AUTO_WORKERS))


def cpu_share(workers: int, cpus: int | None = None) -> int:
    """The threads of each of ``workers`` processes sharing ``cpus`` (default: the CPUs this process may use):
    an equal share, at least one, instead of each taking all of them."""
    return max(1, (usable_cpus() if cpus is None else cpus) // workers)


def serving_threads(workers: int) -> int | None:
    """The threads of each model in one of the server's ``workers`` processes: one process alone takes tagging's
    default (None: every CPU, following the load where it may); several take their share of the CPUs, unless
    OMP_NUM_THREADS sets the count."""
    if workers <= 1 or "OMP_NUM_THREADS" in os.environ:
        return None
    return cpu_share(workers)


def follow_the_load(probe: Probe) -> LoadFollowingThreads | None:
    """Threads that follow the load (one fewer for each CPU other processes keep busy: a 2-thread epoch beside one
    busy process took minutes instead of seconds), where that cannot change a result: ``probe()`` prepares a sample
    of the work (only where there are threads to follow), whose outputs must be the same bits on one thread as on
    torch's present count. Where they differ (a kernel that splits a sum by the thread count, e.g. an output layer
    of 5 to 11 labels on some CPUs), None: the count stays fixed, so the same seed still gives the same model."""
    import torch

    if torch.get_num_threads() < 2:
        return None
    if not same_bits_on_one_thread(probe()):
        return None
    return LoadFollowingThreads(torch.get_num_threads(), torch.set_num_threads)


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for a while, then on as many as before."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def orthogonal_on_one_thread(tensor: torch.Tensor) -> None:
    """``nn.init.orthogonal_`` with one thread: its QR decomposition (LAPACK) splits the work by the thread count,
    and with it the last bits of the result, so the same seed started on 1 and 2 threads trained different models."""
    from torch import nn

    with one_thread():
        nn.init.orthogonal_(tensor)


def same_bits_on_one_thread(compute: Callable[[], list[torch.Tensor]]) -> bool:
    """Whether ``compute`` gives the same bits on one thread as on torch's present thread count (kept). Then the
    count may follow the machine's load without changing a result; most kernels split their work so that it
    cannot, but a matrix product with a few output rows splits its sums by the thread count on some CPUs."""
    import torch

    with one_thread():
        alone = compute()
    return all(torch.equal(a, b) for a, b in zip(alone, compute(), strict=True))


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
        self.last = self._sample() if most > 1 and self.cpus and cgroup_quota() is None else None
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
