"""Training: data and vocabulary (data.py), the epoch loop (loop.py), multi-seed runs (seeds.py), data-parallel
processes (distributed.py)."""

from tagger.training.data import DataSource
from tagger.training.distributed import reports_progress
from tagger.training.loop import EpochRecord, StepInfo, TrainingResult, TrainingStart, run_training, train
from tagger.training.seeds import SeedsResult, describe, run_seeds, run_training_job

__all__ = [
    "DataSource",
    "EpochRecord",
    "SeedsResult",
    "StepInfo",
    "TrainingResult",
    "TrainingStart",
    "describe",
    "reports_progress",
    "run_seeds",
    "run_training",
    "run_training_job",
    "train",
]
