"""A Hugging Face dataset saved on disk (``save_to_disk``), read and written as one corpus file is.

Written: one ``Dataset`` with ``tokens`` (strings), ``tags`` (a ClassLabel sequence) and ``document`` (the
sentence's document number). Read: any saved ``Dataset`` with a words column (``tokens`` or ``words``) and
optionally a tags column (``ner_tags``, ``tags``, ``pos_tags`` or ``upos``), ClassLabel ids mapped to names.
A row's "line" in messages is its row number, from 1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tagger.config import CorpusConfig
from tagger.corpus.sentence import Sentence, document_ids
from tagger.errors import CorpusFormatError

WORD_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("ner_tags", "tags", "pos_tags", "upos")
MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def is_saved_dataset(path: str | Path) -> bool:
    return Path(path).is_dir() and any((Path(path) / marker).is_file() for marker in MARKERS)


def read_saved_dataset(
    path: str | Path,
    config: CorpusConfig = CorpusConfig(),
    *,
    tags_required: bool = True,
    repairs: Counter[str] | None = None,
) -> Iterator[Sentence]:
    dataset = load_split(Path(path))
    words_column = first_present(dataset, WORD_COLUMNS, path, "a words column")
    tags_column = next((c for c in TAG_COLUMNS if c in dataset.column_names), None)
    if tags_column is None and tags_required:
        raise CorpusFormatError(
            str(path),
            0,
            f"no tags column (columns: {', '.join(dataset.column_names)})",
            f"one of {', '.join(TAG_COLUMNS)}",
        )
    names = label_names(dataset, tags_column)
    previous_document = None
    for row_number, row in enumerate(dataset, start=1):
        words = [str(word) for word in row[words_column]]
        tags = [names[t] if names else str(t) for t in row[tags_column]] if tags_column else []
        document = row.get("document")
        metadata = {"newdoc": ""} if document is not None and document != previous_document and row_number > 1 else {}
        previous_document = document
        yield Sentence(words, tags, str(path), row_number, metadata)


def load_split(path: Path) -> Any:
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CorpusFormatError(
            str(path),
            0,
            f"not a dataset written by save_to_disk ({error})",
            "a folder written by datasets' save_to_disk",
        ) from None
    if isinstance(dataset, datasets.DatasetDict):
        raise CorpusFormatError(
            str(path),
            0,
            f"a dataset of splits ({', '.join(dataset)})",
            "one split's folder",
            f"e.g. {path / next(iter(dataset))}",
        )
    return dataset


def first_present(dataset: Any, columns: tuple[str, ...], path: str | Path, what: str) -> str:
    for column in columns:
        if column in dataset.column_names:
            return column
    raise CorpusFormatError(
        str(path), 0, f"no {what} (columns: {', '.join(dataset.column_names)})", f"one of {', '.join(columns)}"
    )


def label_names(dataset: Any, column: str | None) -> list[str] | None:
    feature = getattr(dataset.features.get(column), "feature", None) if column else None
    names = getattr(feature, "names", None)
    return list(names) if names is not None else None


def write_saved_dataset(sentences: Iterable[Sentence], directory: str | Path) -> None:
    """Write the sentences as a saved dataset; the folder appears (or replaces the old one) only when complete."""
    import datasets

    sentences = list(sentences)
    labels = sorted({tag for sentence in sentences for tag in sentence.tags})
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "tags": datasets.Sequence(datasets.ClassLabel(names=labels or ["O"])),
            "document": datasets.Value("int64"),
        }
    )
    dataset = datasets.Dataset.from_dict(
        {
            "tokens": [s.words for s in sentences],
            "tags": [s.tags for s in sentences],
            "document": document_ids(sentences),
        },
        features=features,
    )
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        dataset.save_to_disk(str(temporary / "dataset"))
        replace_folder(temporary / "dataset", directory)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; an old ``target`` is moved aside first and removed only after."""
    old = target.with_name(f".{target.name}.old") if target.exists() else None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
