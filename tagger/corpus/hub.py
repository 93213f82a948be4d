"""``load_corpus``: local corpus files or a Hugging Face dataset -> ``datasets.DatasetDict`` with
``words`` and ``tags`` columns (IOB2 for span tags). The only place ``datasets`` is imported, and
only inside the function, so importing tagger (and CLI start-up) does not pay for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagger.config import CorpusConfig
from tagger.corpus.reading import read_corpus
from tagger.corpus.sentence import CorpusReport, Sentence
from tagger.corpus.tagsets import TagProblem, normalize_tags
from tagger.errors import ConfigError, CorpusFormatError, setting

if TYPE_CHECKING:
    import datasets

SAVED_MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")


def load_corpus(
    train: str | Path | None = None,
    validation: str | Path | None = None,
    test: str | Path | None = None,
    *,
    name: str | None = None,
    hub_config: str | None = None,
    word_column: str = "tokens",
    tag_column: str = "ner_tags",
    config: CorpusConfig = CorpusConfig(),
) -> datasets.DatasetDict:
    """Local files (any of train/validation/test) or a dataset ``name`` -> DatasetDict(words, tags).

    ``name`` may be a hub name, a local directory of data files (read by ``load_dataset``) or a
    directory written by ``save_to_disk``. ``word_column``/``tag_column`` name its columns;
    ClassLabel-encoded tags are mapped to their names.
    """
    given = {"train": train, "validation": validation, "test": test}
    files = {split: path for split, path in given.items() if path is not None}
    if name is not None and files:
        raise ConfigError("give either local corpus files or a dataset name, not both")
    if name is None:
        if not files:
            raise ConfigError("no corpus given: pass train/validation/test files or a dataset name")
        return _load_files(files, config)
    return _load_named(name, hub_config, word_column, tag_column, config)


def _load_files(files: dict[str, str | Path], config: CorpusConfig) -> datasets.DatasetDict:
    import datasets

    features = datasets.Features(
        {"words": datasets.List(datasets.Value("string")), "tags": datasets.List(datasets.Value("string"))}
    )
    splits = {}
    for split, path in files.items():
        sentences, _ = read_corpus(path, config)
        columns = {"words": [s.words for s in sentences], "tags": [s.tags for s in sentences]}
        splits[split] = datasets.Dataset.from_dict(columns, features=features)
    return datasets.DatasetDict(splits)


def _load_named(
    name: str, hub_config: str | None, word_column: str, tag_column: str, config: CorpusConfig
) -> datasets.DatasetDict:
    import datasets

    loaded = _fetch(name, hub_config)
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    splits = {}
    for split, dataset in loaded.items():
        source = f"{name}[{split}]"
        _check_columns(dataset, source, word_column, tag_column)
        words = dataset[word_column]
        tags = _tag_strings(dataset, tag_column)
        splits[split] = (source, words, tags)
    return _build_dataset_dict(splits, config)


def _fetch(name: str, hub_config: str | None) -> Any:
    import datasets

    try:
        if _is_saved_dataset(name):
            return datasets.load_from_disk(name)
        return datasets.load_dataset(name, hub_config)
    except Exception as error:  # datasets raises many types; the user needs one clear line
        raise ConfigError(
            f"cannot load dataset '{name}'{f' (config {hub_config})' if hub_config else ''}: {error}"
        ) from None


def _is_saved_dataset(name: str) -> bool:
    directory = Path(name)
    return directory.is_dir() and any((directory / marker).exists() for marker in SAVED_MARKERS)


def _check_columns(dataset: Any, source: str, word_column: str, tag_column: str) -> None:
    available = ", ".join(dataset.column_names)
    for role, column, option in (("word", word_column, "word_column"), ("tag", tag_column, "tag_column_name")):
        if column not in dataset.column_names:
            raise ConfigError(
                f"{source}: no {role} column '{column}' (available columns: {available}); "
                f"name it with {setting(option)}"
            )


def _tag_strings(dataset: Any, tag_column: str) -> list[list[str]]:
    import datasets

    inner = getattr(dataset.features[tag_column], "feature", None)
    rows = dataset[tag_column]
    if isinstance(inner, datasets.ClassLabel):
        names = inner.names
        return [[names[tag_id] for tag_id in row] for row in rows]
    return [[str(tag) for tag in row] for row in rows]


def _build_dataset_dict(splits: dict[str, tuple[str, list, list]], config: CorpusConfig) -> datasets.DatasetDict:
    import datasets

    features = datasets.Features(
        {"words": datasets.List(datasets.Value("string")), "tags": datasets.List(datasets.Value("string"))}
    )
    built = {}
    for split, (source, words, tags) in splits.items():
        _check_rows(source, words, tags)
        try:
            tags, _, _ = normalize_tags(tags, config.scheme)
        except TagProblem as problem:
            raise CorpusFormatError(
                source,
                problem.sentence_index + 1,
                problem.message,
                "a tag valid in the corpus scheme",
                "row numbers count from 1",
            ) from None
        built[split] = datasets.Dataset.from_dict({"words": words, "tags": tags}, features=features)
    return datasets.DatasetDict(built)


def _check_rows(source: str, words: list, tags: list[list[str]]) -> None:
    for row, (row_words, row_tags) in enumerate(zip(words, tags), start=1):
        if not isinstance(row_words, list) or not all(isinstance(word, str) for word in row_words):
            raise CorpusFormatError(source, row, f"words {str(row_words)[:60]}", "a list of strings")
        if len(row_words) != len(row_tags):
            raise CorpusFormatError(source, row, f"{len(row_words)} words but {len(row_tags)} tags", "one tag per word")


def read_dataset_splits(
    name: str,
    hub_config: str | None = None,
    word_column: str = "tokens",
    tag_column: str = "ner_tags",
    config: CorpusConfig = CorpusConfig(),
) -> dict[str, tuple[list[Sentence], CorpusReport]]:
    """A dataset by name as ``Sentence`` lists per split, as training reads files; ``line`` is the row."""
    from tagger.schemes import detect_scheme

    loaded = load_corpus(
        name=name, hub_config=hub_config, word_column=word_column, tag_column=tag_column, config=config
    )
    splits = {}
    for split, dataset in loaded.items():
        source = f"{name}[{split}]"
        sentences = [
            Sentence(words, tags, source, row)
            for row, (words, tags) in enumerate(zip(dataset["words"], dataset["tags"]), start=1)
            if words
        ]
        report = CorpusReport(
            source,
            "dataset",
            len(sentences),
            sum(len(s.words) for s in sentences),
            1,
            detect_scheme(s.tags for s in sentences),
            0,
            len(dataset) - len(sentences),
        )
        splits[split] = (sentences, report)
    return splits
