"""Process-wide defaults: the CPUs a process may use, from its affinity and a container's quota; the cycle collector
held off while tagging."""

from __future__ import annotations

import os

from tagger import runtime


def test_cpu_max_quota_is_rounded_up_to_whole_cpus():
    assert runtime._parse_cpu_max(["max", "100000"]) is None  # no quota
    assert runtime._parse_cpu_max(["200000", "100000"]) == 2
    assert runtime._parse_cpu_max(["150000", "100000"]) == 2  # 1.5 CPUs' worth: two threads can each run part-time


def test_usable_cpus_is_capped_by_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7})
    monkeypatch.setattr(runtime, "cgroup_quota", lambda: 2)
    assert runtime.usable_cpus() == 2  # a 2-CPU container on an 8-core host
    monkeypatch.setattr(runtime, "cgroup_quota", lambda: None)
    assert runtime.usable_cpus() == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    assert runtime.usable_cpus() == 1  # pinned to one core (taskset)


def test_tagging_holds_the_cycle_collector_off_and_leaves_it_as_it_found_it(trained_model, monkeypatch):
    import gc

    from tagger.tagging.torch_tagger import Tagger

    tagger = Tagger.load(trained_model)
    seen = []
    predict_batch = tagger.predict_batch
    monkeypatch.setattr(tagger, "predict_batch", lambda *a: seen.append(gc.isenabled()) or predict_batch(*a))
    try:
        assert gc.isenabled()
        tagger.tag([["Alice", "lives", "in", "Paris"]])
        assert seen == [False] and gc.isenabled()
        gc.disable()  # a caller's choice is kept
        tagger.tag_texts(["Alice lives in Paris."])
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()
    with runtime.collector_paused():
        with runtime.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one found it off
    assert gc.isenabled()
