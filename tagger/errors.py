"""User-facing errors: each is printed by the CLI as one line, never as a traceback.

Messages are for every caller (Python, spaCy, the command line): a setting to change is named with
``setting()``, and the command line replaces it with its option."""

from __future__ import annotations


def setting(name: str, value: object = None) -> str:
    """A setting a message asks the caller to change, written the one way every caller reads it: in backquotes,
    as the Python API or the configuration names it (`encoding=latin-1`, `corpus.format=conll`, `out_dir`).
    The command line shows its own option in its place (``tagger.cli.messages``): ``--encoding latin-1``."""
    return f"`{name}`" if value is None else f"`{name}={value}`"


class TaggerError(Exception):
    """Base class for every error a user can cause and fix."""


class CorpusFormatError(TaggerError):
    """A corpus file does not match its format.

    The message reads ``path:line: found ...; expected ...`` so editors and
    terminals can jump to the place.
    """

    def __init__(self, path: str, line_no: int, found: str, expected: str, hint: str = ""):
        self.path, self.line_no, self.found, self.expected, self.hint = path, line_no, found, expected, hint
        location = f"{path}:{line_no}" if line_no else str(path)
        message = f"{location}: {found}; expected {expected}"
        super().__init__(f"{message} ({hint})" if hint else message)


class SchemeError(TaggerError):
    """A tag sequence breaks its tagging scheme; ``index`` is the offending word."""

    def __init__(self, message: str, index: int = -1):
        self.index = index
        super().__init__(message)


class ConfigError(TaggerError):
    """A configuration file or override names an unknown key or a bad value."""


class ModelDirError(TaggerError):
    """A model directory is missing, incomplete, corrupt or from another format version."""

    def __init__(self, path: str, problem: str, fix: str = ""):
        self.path = path
        super().__init__(f"{path}: {problem}" + (f" ({fix})" if fix else ""))


class ScoringError(TaggerError):
    """Gold and predicted tags cannot be compared."""


class ForeignFileError(TaggerError):
    """A file another program wrote (a pickled PyTorch checkpoint) that tagger reads only as data, refused:
    damaged, truncated, of a layout it does not know, or naming code beyond what such a file holds. Nothing in
    it was imported or run: it is never unpickled."""

    def __init__(self, path: str, problem: str):
        self.path = path
        super().__init__(f"{path}: {problem}")
