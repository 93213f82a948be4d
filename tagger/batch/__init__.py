"""Batch annotation of files and folders: ``inputs`` (what to tag), ``engine`` (tagging files into outputs,
several files per batch), ``manifest`` (what is done, the folder lock), ``run`` (a resumable run into a folder),
``stream`` (many inputs into one stream, and ``annotate``, which chooses between the two)."""

from tagger.batch.engine import BatchOptions, FileResult, FileTask, tag_files
from tagger.batch.inputs import InputFile, find_inputs
from tagger.batch.run import Listener, annotate_folder
from tagger.batch.stream import annotate, tag_to_stream

__all__ = [
    "BatchOptions",
    "FileResult",
    "FileTask",
    "InputFile",
    "Listener",
    "annotate",
    "annotate_folder",
    "find_inputs",
    "tag_files",
    "tag_to_stream",
]
