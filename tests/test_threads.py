"""The thread policy (tagger/threads.py): each kind of work's thread count, worker processes sharing the CPUs, and
the count following the load only where a probe of the work gives the same bits on one thread as on all."""

from __future__ import annotations

import os

import pytest
import torch

from tagger import threads


@pytest.fixture
def torch_threads():
    """torch's thread count as the test found it, restored after."""
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_worker_processes_share_the_cpus(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 8)
    assert threads.cpu_share(2) == 4 and threads.cpu_share(3) == 2
    assert threads.cpu_share(16) == 1  # at least one thread each
    assert threads.cpu_share(4, cpus=32) == 8  # a Ray cluster's CPUs, not this machine's
    assert threads.auto_workers(on_gpu=False) == threads.MAX_AUTO_WORKERS == 8
    assert threads.auto_workers(on_gpu=True) == 1  # one process keeps a GPU busy
    monkeypatch.setattr(threads, "usable_cpus", lambda: 3)
    assert threads.auto_workers(on_gpu=False) == 3


def test_a_server_alone_follows_the_load_and_its_workers_take_their_share(monkeypatch):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.serving_threads(1) is None  # tagging's default: every CPU, following the load where it may
    assert threads.serving_threads(4) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.serving_threads(4) is None  # an explicit count is kept: the runtime reads it


def test_training_follows_the_load_only_where_a_probe_gives_the_same_bits_on_one_thread(torch_threads):
    prepared = []

    def probe(compute):
        def prepare():
            prepared.append(True)
            return compute

        return prepare

    torch.set_num_threads(2)
    following = threads.follow_the_load(probe(lambda: [torch.arange(4.0)]))
    assert isinstance(following, threads.LoadFollowingThreads) and prepared == [True]
    torch.set_num_threads(2)
    by_count = probe(lambda: [torch.tensor([float(torch.get_num_threads())])])  # a sum split by the thread count
    assert threads.follow_the_load(by_count) is None and torch.get_num_threads() == 2  # the count stays fixed
    torch.set_num_threads(1)
    prepared.clear()
    assert threads.follow_the_load(probe(lambda: [torch.ones(1)])) is None and not prepared  # nothing to follow


def test_training_sets_its_own_count_unless_given_one_or_sharing_the_cpus(monkeypatch, torch_threads):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 1)
    assert threads.set_training_threads(0, world=1) == 1  # the CPUs this process may use
    torch.set_num_threads(2)
    assert threads.set_training_threads(0, world=2) == 2  # a data-parallel rank keeps torchrun's count
    assert threads.set_training_threads(1, world=2) == 1  # train.threads wins
    assert threads.training_may_follow_the_load(0, on_cpu=True, world=1)
    assert not threads.training_may_follow_the_load(2, on_cpu=True, world=1)
    assert not threads.training_may_follow_the_load(0, on_cpu=False, world=1)
    assert not threads.training_may_follow_the_load(0, on_cpu=True, world=2)


def test_one_thread_runs_on_one_thread_and_restores_the_count(torch_threads):
    torch.set_num_threads(2)
    with threads.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    assert threads.same_bits_on_one_thread(lambda: [torch.ones(3)])
    assert not threads.same_bits_on_one_thread(lambda: [torch.tensor([torch.get_num_threads()])])


def test_threads_follow_the_cpus_other_processes_leave_free(monkeypatch):
    # (seconds, these CPUs' busy seconds, this process's CPU seconds), half a second apart; the clock at each check
    samples = iter([(0.0, 0.0, 0.0), (0.5, 1.0, 1.0), (1.0, 2.0, 1.5), (1.5, 2.9, 1.9), (2.0, 3.9, 2.9)])
    clock = iter([0.5, 1.0, 1.2, 1.5, 2.0])
    monkeypatch.setattr(threads.LoadFollowingThreads, "_sample", lambda self: next(samples))
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(threads, "cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    chosen = []
    following = threads.LoadFollowingThreads(2, chosen.append, interval=0.5)
    assert chosen == [1]  # one thread until the first interval says the CPUs are free
    assert following.check() == 2  # all the busy time was this process's own
    assert following.check() == 1  # another process kept one CPU busy
    assert following.check() == 1  # 0.2 s later: too soon to look again, and /proc/stat is not read
    assert following.check() == 1  # half a second on: the other process still keeps a CPU busy
    assert following.check() == 2  # it stopped
    assert chosen == [1, 2, 1, 2]


def test_threads_stay_fixed_where_the_load_cannot_be_read(monkeypatch):
    monkeypatch.setattr(threads, "cgroup_quota", lambda: 2)  # a container's quota: /proc/stat shows the host
    chosen = []
    fixed = threads.LoadFollowingThreads(2, chosen.append)
    assert not fixed.following and chosen == [2] and fixed.check() == 2
    chosen.clear()
    monkeypatch.setattr(threads, "cgroup_quota", lambda: None)
    fixed = threads.LoadFollowingThreads(1, chosen.append)  # one CPU: nothing to follow
    assert not fixed.following and chosen == [1]


def test_tagging_runs_one_batch_per_cpu_each_on_one_thread_unless_given_a_count(monkeypatch, torch_threads):
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    assert threads.set_tagging_threads(None, on_cpu=True) == 4 and torch.get_num_threads() == 1
    assert threads.set_tagging_threads(3, on_cpu=True) == 1 and torch.get_num_threads() == 3  # a count given
    torch.set_num_threads(2)
    assert threads.set_tagging_threads(None, on_cpu=False) == 1 and torch.get_num_threads() == 2  # a GPU: left
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.set_tagging_threads(None, on_cpu=True) == 1 and torch.get_num_threads() == 2  # an explicit count
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "usable_cpus", lambda: 1)
    assert threads.set_tagging_threads(None, on_cpu=True) == 1 and torch.get_num_threads() == 1


def test_batches_tagged_at_once_give_the_tags_and_probabilities_of_batches_in_turn(trained_model, ner_files):
    from tagger.corpus import read_corpus
    from tagger.tagging.torch_tagger import Tagger

    tagger = Tagger.load(trained_model, device="cpu", threads=1)
    assert tagger.batch_workers == 1  # an explicit thread count: one batch at a time, as before
    words = [sentence.words for sentence in read_corpus(ner_files[1])[0]]
    in_turn = tagger.predict(words, batch_size=2)
    tagger.batch_workers = 3
    assert tagger.predict(words, batch_size=2) == in_turn  # several batches, results in the sentences' order
    assert [tags for tags, _ in tagger.predict_distributions(words, batch_size=2)] == [tags for tags, _ in in_turn]


def test_each_tagger_tags_with_its_own_thread_count_whatever_was_loaded_after_it(trained_model, torch_threads):
    from tagger.tagging.torch_tagger import Tagger

    two = Tagger.load(trained_model, device="cpu", threads=2)
    one = Tagger.load(trained_model, device="cpu", threads=1)  # PyTorch's count is one for the whole process
    two.predict([["Peter", "lives", "here"]])
    assert torch.get_num_threads() == 2
    one.predict([["Peter", "lives", "here"]])
    assert torch.get_num_threads() == 1
