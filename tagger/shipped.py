"""Models that ship inside the package (``tagger/models/NAME/``, model directories as ``tagger train`` writes them,
each with its card), named by NAME wherever a model directory is asked for: ``tagger tag en-ner FILE``,
``Tagger.load("en-ner")``, ``tagger serve en-ner``, the spaCy component's ``{"model": "en-ner"}``. A folder of that
name where the caller runs wins over the shipped model, as a path always does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SHIPPED_FOLDER = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class ShippedModel:
    name: str
    path: Path
    size: int  # bytes of its files

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "path": str(self.path), "size": self.size}


def shipped_models() -> list[ShippedModel]:
    """The models installed with the package, by name."""
    if not SHIPPED_FOLDER.is_dir():
        return []
    folders = [p for p in sorted(SHIPPED_FOLDER.iterdir()) if (p / "config.json").is_file()]
    return [ShippedModel(p.name, p, sum(f.stat().st_size for f in p.iterdir() if f.is_file())) for p in folders]


def model_path(model: str | Path) -> Path:
    """The folder ``model`` names: a path that exists, else a shipped model of that name, else the path as given
    (whose reader then says it does not exist)."""
    path = Path(model)
    if path.exists():
        return path
    shipped = {m.name: m.path for m in shipped_models()}
    return shipped.get(str(model), path)


def shipped_names_hint() -> str:
    names = [m.name for m in shipped_models()]
    return f"; or a shipped model: {', '.join(names)} (tagger models)" if names else ""
