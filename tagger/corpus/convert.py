"""A corpus rewritten in another format (CoNLL, CoNLL-U, JSONL, spaCy DocBin, a saved Hugging Face dataset) or
span scheme: what ``tagger convert`` runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from tagger.atomic import check_output_file, check_output_folder
from tagger.config import CorpusConfig
from tagger.corpus.docbin import ATTRIBUTES
from tagger.corpus.formats import CORPUS_FORMATS, corpus_format, suffix_format
from tagger.corpus.reading import read_corpus
from tagger.corpus.saved_dataset import is_saved_dataset
from tagger.corpus.sentence import CorpusReport, Sentence
from tagger.errors import ConfigError, setting
from tagger.schemes import NO_SCHEME, SCHEMES, convert_tags

AUTO = "auto"


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    """How to convert; checked when made, so a bad value is refused before anything is read."""

    source_format: str = AUTO  # of the input: auto (detected) or a corpus format
    target_format: str = AUTO  # of the output: auto (from its extension) or a corpus format
    attr: str = AUTO  # where a DocBin keeps the tags: ents, tag, pos, or auto from the tags
    scheme: str = "IOB2"  # of span tags written as tags (every format but a DocBin)
    overwrite: bool = False  # replace an existing output

    def __post_init__(self) -> None:
        for name, valid in (
            ("source_format", (AUTO, *CORPUS_FORMATS)),
            ("target_format", (AUTO, *CORPUS_FORMATS)),
            ("attr", ATTRIBUTES),
            ("scheme", SCHEMES),
        ):
            check_choice(name, getattr(self, name), valid)


@dataclass(frozen=True)
class Conversion:
    """What was converted: the input as ``read_corpus`` reported it, and the format written."""

    report: CorpusReport
    target: Path
    target_format: str


def check_choice(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"{setting(name, repr(value))}: expected one of {', '.join(valid)}")


def convert_corpus(
    source: str | Path,
    target: str | Path,
    options: ConvertOptions = ConvertOptions(),
    config: CorpusConfig = CorpusConfig(),
) -> Conversion:
    """Read ``source`` as ``config`` says (its format from ``options.source_format`` unless auto) and write it to
    ``target`` in ``options.target_format`` (auto: from the extension; ``.gz`` compresses text), span tags in
    ``options.scheme``. The target is replaced only once complete, and never when it is the source."""
    source, target = Path(source), Path(target)
    target_format = choose_target_format(target, options.target_format)
    written = corpus_format(target_format)
    check_target(source, target, options.overwrite, written.folder)
    if options.source_format != AUTO:
        config = dataclasses.replace(config, format=options.source_format)
    sentences, report = read_corpus(source, config)
    if written.spans_as_tags:
        sentences = with_scheme(sentences, report.scheme, options.scheme)
    written.write(sentences, target, options.attr)
    return Conversion(report, target, target_format)


def with_scheme(sentences: list[Sentence], scheme_read: str, scheme: str) -> list[Sentence]:
    """Span tags (which read_corpus gives in IOB2) in the scheme asked for; other tags as they are."""
    if scheme_read == NO_SCHEME:
        return sentences
    return [dataclasses.replace(s, tags=convert_tags(s.tags, "IOB2", scheme)) for s in sentences]


def check_target(source: Path, target: Path, overwrite: bool, folder: bool = False) -> None:
    """Before anything is read: ``target`` (a file, or a ``folder`` for a saved dataset) can be written, and
    replaces neither the input nor, without ``overwrite``, anything that exists; a folder that is not a saved
    dataset is never replaced (the dataset replaces the whole folder)."""
    if target.resolve() == source.resolve():
        raise ConfigError(f"{setting('target', target)} is the input; refusing to overwrite an input file")
    if not folder:
        check_output_file(target, "target", [source], overwrite)
        return
    if source.resolve().is_relative_to(target.resolve()):
        raise ConfigError(f"{setting('target', target)} holds the input; refusing to overwrite an input file")
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise ConfigError(f"{setting('target', target)} exists; pass {setting('overwrite', True)} to replace it")
        if not is_saved_dataset(target):
            raise ConfigError(
                f"{setting('target', target)} exists and is not a saved dataset, which writing one there would "
                f"replace as a whole; choose another {setting('target')}"
            )
    # the dataset is made beside the target and renamed over it: the folder it goes into must take new entries
    check_output_folder(target.parent if target.exists() else target, "target")


def choose_target_format(target: Path, requested: str) -> str:
    chosen = suffix_format(target) if requested == AUTO else requested
    if chosen is None:
        raise ConfigError(
            f"cannot tell the format of {setting('target', target)} from its extension; "
            f"pass {setting('target_format')} with one of {', '.join(CORPUS_FORMATS)}"
        )
    if not corpus_format(chosen).text and target.name.endswith(".gz"):
        raise ConfigError(
            f"{setting('target', target)}: a {corpus_format(chosen).description} is compressed "
            "already; name it without .gz"
        )
    return chosen
