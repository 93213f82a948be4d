"""Process-wide settings: the defaults the library sets before torch does any work, for every caller (the command
line, ``Tagger.load``, the spaCy component, batch workers and Ray actors; a value in the environment wins), the CPUs
a process may use (which ``tagger.threads``, the thread policy, shares out), and the cycle collector held off while
tagging."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
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
    quota = cgroup_quota()
    return max(1, min(cpus, quota)) if quota else max(1, cpus)


def cgroup_quota() -> int | None:
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
