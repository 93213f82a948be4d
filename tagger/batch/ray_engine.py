"""`tagger tag --engine ray`: the files to tag as a Ray dataset, tagged by Ray actors that each load the model once.

The driver (this process) keeps everything else as the local engine does: it plans the work, holds the output
folder's lock and writes the manifest as results come back. Actors write each output themselves, atomically,
with the local engine's own code, so the outputs and failure reports are the same bytes; on a cluster, the
inputs and the output folder must be on a file system every node sees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from tagger.batch.engine import BatchOptions, FileResult, FileTask, tag_files
from tagger.batch.inputs import InputFile
from tagger.errors import ConfigError, setting
from tagger.threads import cpu_share


def run_on_ray(
    model_dir: Path, tasks: list[FileTask], options: BatchOptions, address: str | None, on_words: Any
) -> Iterator[FileResult]:
    """Results as files finish, on the Ray cluster at ``address`` or on a local instance started here."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    quiet_ray_data(ray)
    actors = options.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    threads = cpu_share(actors, int(ray.cluster_resources().get("CPU", 1)))
    rows = ray.data.from_items([task_row(task) for task in tasks], override_num_blocks=len(tasks))
    tagged = rows.map_batches(
        TagFilesActor,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads,
        fn_constructor_kwargs={"model_dir": str(model_dir), "options": asdict(options), "threads": threads},
    )
    for row in tagged.iter_rows():
        result = FileResult(**{f.name: row[f.name] for f in fields(FileResult)})
        on_words(result.words)
        yield result


def quiet_ray_data(ray: Any) -> None:
    """Ray Data's progress bars and per-dataset log lines would mix with our own progress bar and --quiet."""
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"{setting('engine', 'ray')} needs Ray: pip install 'bilstm-tagger[ray]'") from None
    return ray


def task_row(task: FileTask) -> dict[str, str]:
    """A task as plain strings: what crosses to the actors is data, not our objects."""
    return {
        "input": str(task.input.path),
        "input_relative": str(task.input.relative),
        "format": task.input.format,
        "output": str(task.output),
        "output_format": task.output_format,
        "relative": task.relative,
        "fingerprint": task.fingerprint,
    }


def row_task(row: dict[str, Any]) -> FileTask:
    row = {key: str(value) for key, value in row.items()}  # Ray hands over numpy strings
    file = InputFile(Path(row["input"]), Path(row["input_relative"]), row["format"])
    return FileTask(file, Path(row["output"]), row["output_format"], row["relative"], row["fingerprint"])


class TagFilesActor:
    """One Ray actor: the model loaded once, then files tagged as the local engine tags them."""

    def __init__(self, model_dir: str, options: dict[str, Any], threads: int):
        from tagger.tagging.loading import load_tagger

        self.options = BatchOptions(**options)
        self.tagger = load_tagger(model_dir, self.options.device, self.options.quantize, threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        tasks = [row_task(dict(zip(batch, values))) for values in zip(*batch.values())]
        results = list(tag_files(self.tagger, tasks, self.options))
        return {f.name: [getattr(result, f.name) for result in results] for f in fields(FileResult)}
