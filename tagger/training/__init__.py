"""Training: data and vocabulary (data.py), the epoch loop (loop.py), multi-seed runs (seeds.py)."""

from tagger.training.data import DataSource
from tagger.training.loop import EpochRecord, StepInfo, TrainingResult, TrainingStart, run_training, train
from tagger.training.seeds import SeedsResult, describe, run_seeds

__all__ = ["DataSource", "EpochRecord", "SeedsResult", "StepInfo", "TrainingResult", "TrainingStart",
           "describe", "run_seeds", "run_training", "train"]
