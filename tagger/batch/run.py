"""A batch run into an output folder: plan what is missing or stale, tag it (in worker processes if asked),
and record each finished output in the manifest."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tagger.atomic import file_in_the_way, remove_temporaries, unwritable_folder
from tagger.batch.engine import BatchOptions, FileResult, FileTask, tag_files
from tagger.batch.inputs import InputFile, find_inputs
from tagger.batch.manifest import Manifest, exclusive_folder, file_fingerprint, job_fingerprint
from tagger.errors import ConfigError, setting
from tagger.outputs import output_suffix
from tagger.tagging.loading import gpu_available, load_tagger
from tagger.threads import auto_workers, cpu_share

WORKER_DONE = "done"


@dataclass
class Listener:
    """What a caller (the CLI's progress bar) hears: planned work, words tagged, files finished."""

    planned: Callable[[list[FileTask]], None] = lambda tasks: None
    words: Callable[[int], None] = lambda words: None
    finished: Callable[[FileResult], None] = lambda result: None


def annotate_folder(
    model_dir: Path, names: list[str], out_dir: Path, options: BatchOptions, listener: Listener = Listener()
) -> list[FileResult]:
    """Tag every input into ``out_dir``, mirroring the input tree; outputs already done are skipped."""
    check_folders(names, out_dir)
    inputs = find_inputs(names, options.input_format, exclude=out_dir)
    if not inputs:
        raise ConfigError(f"no input files in {' '.join(names)}")
    job = job_fingerprint(model_dir, options.output_settings())
    with exclusive_folder(out_dir):
        manifest = Manifest(out_dir)
        try:
            todo, skipped = plan(inputs, out_dir, options, manifest, job)
            remove_temporaries([task.output_file for task in todo])
            for task in todo:
                manifest.add(task.relative, "started", str(task.input.path), task.fingerprint, job)
            listener.planned(todo)
            results = list(skipped)
            for result, task in run_tasks(model_dir, todo, options, listener):
                if result.status == "done":
                    manifest.add(task.relative, "done", str(task.input.path), task.fingerprint, job)
                listener.finished(result)
                results.append(result)
        finally:
            manifest.close()
    return results


def check_folders(names: list[str], out_dir: Path) -> None:
    """Before any work: ``out_dir`` can be a folder, and is not an input folder or inside one."""
    blocker = file_in_the_way(out_dir)
    if blocker == out_dir:
        raise ConfigError(
            f"{setting('out_dir', out_dir)} is a file; {setting('out_dir')} names a folder for the "
            f"outputs ({setting('output', 'FILE')} writes one output file)"
        )
    if blocker is not None:
        raise ConfigError(
            f"{setting('out_dir', out_dir)}: {blocker} is a file, not a folder; choose another {setting('out_dir')}"
        )
    for name in names:
        if Path(name).is_dir() and Path(name).resolve().is_relative_to(out_dir.resolve()):
            raise ConfigError(
                f"{setting('out_dir', out_dir)} is or contains the input folder {name}: outputs would "
                f"overwrite the input files or mix with them; choose another {setting('out_dir')}"
            )
    if problem := unwritable_folder(out_dir):  # the lock and the manifest are written before any output
        raise ConfigError(f"{setting('out_dir', out_dir)}: {problem}; choose another {setting('out_dir')}")


def plan(
    inputs: list[InputFile], out_dir: Path, options: BatchOptions, manifest: Manifest, job: str
) -> tuple[list[FileTask], list[FileResult]]:
    """Tasks still to do, and results for the outputs that are done and current."""
    tasks = [output_task(file, out_dir, options) for file in inputs]
    check_outputs(tasks, inputs)
    todo, skipped = [], []
    for task in tasks:
        if not task.input.path.is_file():
            continue
        task = replace(task, fingerprint=file_fingerprint(task.input.path))
        if not options.overwrite and manifest.is_current(task.output_file, task.relative, task.fingerprint, job):
            skipped.append(FileResult(str(task.input.path), str(task.output), "skipped", 0, "already done"))
        elif task.output_file.exists() and not options.overwrite and not manifest.owns(task.relative):
            raise ConfigError(
                f"{task.output} exists and was not written by tagger tag into this folder; "
                f"pass {setting('overwrite', True)} to replace it or choose another {setting('out_dir')}"
            )
        else:
            todo.append(task)
    return todo, skipped


def output_task(file: InputFile, out_dir: Path, options: BatchOptions) -> FileTask:
    output_format = options.output_format_for(file.format)
    relative = output_relative(file.relative, output_suffix(output_format))
    return FileTask(file, out_dir / relative, output_format, relative.as_posix())


def output_relative(relative: Path, suffix: str) -> Path:
    """The input's path below --out, ``.gz`` dropped, the output suffix added unless the name has it:
    ``news/a.txt`` → ``news/a.txt.conll``, ``b.conll.gz`` → ``b.conll``; distinct inputs keep distinct outputs."""
    name = relative.name.removesuffix(".gz")
    return relative.with_name(name if name.endswith(suffix) else name + suffix)


def check_outputs(tasks: list[FileTask], inputs: list[InputFile]) -> None:
    sources = {file.path.resolve() for file in inputs}
    seen: dict[Path, FileTask] = {}
    for task in tasks:
        target = task.output_file.resolve()
        if target in sources:
            raise ConfigError(
                f"{task.output} would overwrite the input {task.input.path}; choose another {setting('out_dir')}"
            )
        if target in seen:
            raise ConfigError(
                f"{seen[target].input.path} and {task.input.path} would both be written to "
                f"{task.output}; tag them into different {setting('out_dir')} folders"
            )
        seen[target] = task


def run_tasks(
    model_dir: Path, tasks: list[FileTask], options: BatchOptions, listener: Listener
) -> Iterator[tuple[FileResult, FileTask]]:
    """(result, task) pairs as files finish: in this process, or spread over ``options.workers`` processes."""
    by_input = {str(task.input.path): task for task in tasks}
    if options.engine == "ray":
        from tagger.batch.ray_engine import run_on_ray

        for result in run_on_ray(model_dir, tasks, options, options.address, listener.words):
            yield result, by_input[result.input]
        return
    workers = options.workers or auto_workers_for(model_dir, options.device)
    if workers <= 1 or len(tasks) <= 1:
        tagger = load_tagger(model_dir, device=options.device, quantize=options.quantize)
        for result in tag_files(tagger, tasks, options, on_words=listener.words):
            yield result, by_input[result.input]
        return
    for result in run_in_workers(model_dir, tasks, replace(options, workers=workers), listener):
        yield result, by_input[result.input]


def auto_workers_for(model_dir: Path, device: str) -> int:
    """As many worker processes as the thread policy gives the device the model runs on (``threads.auto_workers``)."""
    return auto_workers(device == "cuda" or (device == "auto" and gpu_available(model_dir)))


def split_work(tasks: list[FileTask], workers: int) -> list[list[FileTask]]:
    """Largest files first, each to the least loaded worker; each share keeps the input order."""
    shares: list[list[FileTask]] = [[] for _ in range(workers)]
    loads = [0] * workers
    sizes = {id(task): task.input.path.stat().st_size for task in tasks}
    for task in sorted(tasks, key=lambda t: -sizes[id(t)]):
        lightest = loads.index(min(loads))
        shares[lightest].append(task)
        loads[lightest] += sizes[id(task)]
    order = {id(task): index for index, task in enumerate(tasks)}
    return [sorted(share, key=lambda t: order[id(t)]) for share in shares if share]


def run_in_workers(
    model_dir: Path, tasks: list[FileTask], options: BatchOptions, listener: Listener
) -> Iterator[FileResult]:
    context = multiprocessing.get_context("spawn")  # not fork: a forked process inherits torch's thread pools
    messages = context.Queue()
    shares = split_work(tasks, options.workers)
    threads = cpu_share(len(shares))
    processes = [
        context.Process(
            target=worker_main, args=(model_dir, share, options, threads, messages, os.getpid()), daemon=True
        )
        for share in shares
    ]
    running = len(processes)
    try:
        with sigint_ignored_by_children():
            for process in processes:
                process.start()
        while running:
            kind, payload = messages.get()
            if kind == "words":
                listener.words(payload)
            elif kind == "result":
                yield payload
            elif kind == "error":
                raise RuntimeError(f"a tagging worker failed:\n{payload}")
            else:
                running -= 1
    finally:
        stop_workers(processes, finished=running == 0)


def stop_workers(processes: list[Any], finished: bool) -> None:
    """Wait for the workers; after a Ctrl-C (or an error) in this process, first stop those still working:
    they ignore SIGINT, and SIGTERM ends them without a word."""
    started = [process for process in processes if process.pid is not None]
    if not finished:
        for process in started:
            if process.is_alive():
                process.terminate()
    for process in started:
        process.join()


@contextmanager
def sigint_ignored_by_children() -> Iterator[None]:
    """Processes started in this block ignore SIGINT from their first instruction on, so a Ctrl-C, which the
    terminal sends to every process of the group, interrupts this process alone (which then stops them)
    instead of printing a KeyboardInterrupt traceback from each worker. An ignored signal stays ignored across
    exec, and Python then installs no handler of its own; a Ctrl-C meanwhile waits, blocked, for this process."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield  # handlers belong to the main thread (and Windows has no signal masks): worker_main ignores it
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def worker_main(
    model_dir: Path, tasks: list[FileTask], options: BatchOptions, threads: int, messages: Any, parent: int
) -> None:
    """One worker process: tag ``tasks`` and report over ``messages``. It ignores SIGINT (the parent, which
    a Ctrl-C interrupts, stops it) and ends quietly on a KeyboardInterrupt that reaches it anyway."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        tag_in_worker(model_dir, tasks, options, threads, messages, parent)
    except KeyboardInterrupt:
        return


def tag_in_worker(
    model_dir: Path, tasks: list[FileTask], options: BatchOptions, threads: int, messages: Any, parent: int
) -> None:
    import traceback

    def words(count: int) -> None:
        if os.getppid() != parent:  # the parent was killed: stop rather than write into a folder nobody owns
            os._exit(1)
        messages.put(("words", count))

    try:
        # workers share the cores instead of each taking all of them
        tagger = load_tagger(model_dir, device=options.device, quantize=options.quantize, threads=threads)
        for result in tag_files(tagger, tasks, options, on_words=words):
            messages.put(("result", result))
    except Exception:  # a bug, not bad input (that is a failed file): the parent reports it and stops
        messages.put(("error", traceback.format_exc()))
    messages.put((WORKER_DONE, None))
