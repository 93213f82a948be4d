"""Batch annotation of files and folders: ``inputs`` (what to tag), ``engine`` (tagging files into outputs,
several files per batch), ``manifest`` (what is done, the folder lock), ``run`` (a resumable run into a folder)."""

from tagger.batch.engine import BatchOptions, FileResult, FileTask, tag_files
from tagger.batch.inputs import InputFile, find_inputs
from tagger.batch.run import Listener, annotate_folder

__all__ = ["BatchOptions", "FileResult", "FileTask", "InputFile", "Listener", "annotate_folder", "find_inputs",
           "tag_files"]
