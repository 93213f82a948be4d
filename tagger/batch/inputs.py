"""What to tag: input files found from paths, folders and globs, and each file as a stream of sentences."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tagger.config import CorpusConfig
from tagger.corpus import Sentence, detect_format, read_sentences
from tagger.errors import ConfigError, CorpusFormatError
from tagger.outputs.tagged import Offsets  # each word's place in a raw text, beside its sentence
from tagger.tokenize import raw_text_sentences, read_text_blocks

GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: Path  # where it sits below the folder (or glob root) it was found in: mirrored under --out
    format: str  # text | conll | conllu | jsonl | spacy
    stream: IO[bytes] | None = None  # read from this instead (raw text on standard input), ``path`` naming it


def find_inputs(names: list[str], input_format: str = "auto", exclude: Path | None = None) -> list[InputFile]:
    """Files named, found recursively in folders, or matched by globs, in a stable order; hidden files and
    files found inside ``exclude`` (the output folder) are left out. A name that matches nothing is an error."""
    found: dict[Path, InputFile] = {}
    for name in names:
        named_file = Path(name).is_file()
        for path, relative in expand(name):
            resolved = path.resolve()
            if exclude is not None and not named_file and resolved.is_relative_to(exclude.resolve()):
                continue  # earlier outputs inside an input folder are not inputs
            if resolved not in found:
                chosen = detect_format(path) if input_format == "auto" else input_format
                found[resolved] = InputFile(path, relative, chosen)
    return list(found.values())


def expand(name: str) -> list[tuple[Path, Path]]:
    """(path, relative path) of every file ``name`` stands for."""
    if GLOB_CHARACTERS & set(name):
        root = glob_root(name)
        matches = sorted(Path(p) for p in glob.glob(name, recursive=True) if Path(p).is_file())
        if not matches:
            raise ConfigError(f"{name}: the pattern matches no file")
        return [(p, p.relative_to(root)) for p in matches if not is_hidden(p.relative_to(root))]
    path = Path(name)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not is_hidden(p.relative_to(path)))
        return [(p, p.relative_to(path)) for p in files]
    if not path.is_file():
        raise CorpusFormatError(name, 0, "no such file or folder", "an existing file, folder or glob pattern")
    return [(path, Path(path.name))]


def glob_root(pattern: str) -> Path:
    """The folder above the first part of ``pattern`` with a wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts[:-1]:
        if GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def read_units(file: InputFile, encoding: str, nlp: Any) -> Iterator[tuple[Sentence, Offsets | None]]:
    """The sentences of a file, each with its words' character offsets when the file is raw text.

    Raw text is read by the one raw-text reader (``tokenize.raw_text_sentences``: each paragraph a document,
    sentences and words by spaCy's ``nlp``); the other formats by their readers, documents as they mark them.
    """
    if file.format != "text":
        config = CorpusConfig(format=file.format, encoding=encoding)
        for sentence in read_sentences(file.path, config, tags_required=False):
            yield sentence, None
        return
    found = False
    blocks = read_text_blocks(file.path, encoding, stream=file.stream)
    for _, sentence, offsets in raw_text_sentences(blocks, nlp, str(file.path)):
        found = True
        yield sentence, offsets
    if not found:
        raise CorpusFormatError(str(file.path), 0, "no sentences (the file is empty or only whitespace)", "text to tag")
