"""A trained model scored on gold data, as ``tagger evaluate`` scores it: the model loaded on the runtime it needs
(an export without PyTorch), the data read as its training data was, and the conlleval predictions and the HTML
report written where asked, both checked before any work. Above the rest of ``evaluation`` (layer 1, pure scores):
this file loads a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tagger.atomic import check_output_file, check_output_folder, write_atomic
from tagger.config import corpus_config
from tagger.corpus import Sentence, read_corpus
from tagger.dependencies import check_installed
from tagger.errors import ConfigError, setting
from tagger.evaluation.report import write_evaluation_report, written_by_us
from tagger.evaluation.scoring import Evaluation
from tagger.outputs import format_predictions
from tagger.tagging.loading import load_tagger


@dataclass(frozen=True)
class ModelEvaluation:
    """A model scored on gold data: the scores, the sentences as read and the predictions, and the page written."""

    evaluation: Evaluation
    sentences: list[Sentence]
    predictions: list[list[str]]
    report: Path | None = None  # the HTML report's index.html, when one was asked for


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    overrides: Sequence[str] = (),
    device: str = "auto",
    batch_size: int | None = None,
    quantize: str = "auto",
    predictions_path: str | Path | None = None,
    report_dir: str | Path | None = None,
) -> ModelEvaluation:
    """Score the model in ``model_dir`` (a model directory, or an export: then without PyTorch) on the gold corpus
    ``data``, read as the model's training data was (with ``corpus.key=value`` ``overrides``); also write
    conlleval's ``word gold pred`` lines to ``predictions_path`` and the HTML error report into ``report_dir`` when
    given. Both are checked before the model is loaded: neither may replace the gold data or a file of the user's,
    and neither fails only after the tagging."""
    check_evaluation_outputs(Path(data), predictions_path, report_dir)
    tagger = load_tagger(model_dir, device=device, quantize=quantize)
    if tagger.task == "spans":
        check_installed("seqeval", f"scoring the entities of {model_dir}")
    sentences, _ = read_corpus(data, corpus_config(overrides, tagger.config.corpus))
    evaluation, predictions = tagger.evaluate(sentences, batch_size=batch_size)
    if predictions_path is not None:
        text = "".join(format_predictions(s.words, s.tags, p) for s, p in zip(sentences, predictions))
        write_atomic(Path(predictions_path), text.encode("utf-8"))
    report = None
    if report_dir is not None:
        report = write_evaluation_report(Path(report_dir), f"{model_dir} on {data}", sentences, predictions, evaluation)
    return ModelEvaluation(evaluation, sentences, predictions, report)


def check_evaluation_outputs(data: Path, predictions_path: str | Path | None, report_dir: str | Path | None) -> None:
    """Refuse, before any work, outputs that would replace the gold ``data`` or a page not written by us, or that
    cannot be written (a file in the way, a folder for a file, a folder this process may not write)."""
    if predictions_path is not None:
        check_output_file(Path(predictions_path), "predictions_path", [data])
    if report_dir is not None:
        check_output_folder(Path(report_dir), "report_dir")
        index = Path(report_dir) / "index.html"
        if index.is_dir() or (index.exists() and not written_by_us(index)):
            raise ConfigError(
                f"{index} exists and was not written by tagger evaluate --report; "
                f"remove it or choose another {setting('report_dir')} folder"
            )
