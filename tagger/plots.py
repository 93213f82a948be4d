"""The training curves of a model: loss, dev score and learning rate by epoch, as one PNG for its card.

The only module that imports matplotlib, and only when drawing (it takes half a second to import).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tagger.atomic import write_atomic

PLOT_FILE = "training.png"


def write_training_plot(directory: Path, log: Sequence[dict[str, Any]], metric: str) -> None:
    """``log``: one record per epoch (``EpochRecord`` fields); ``metric`` names the dev score."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    epochs = [record["epoch"] for record in log]
    best = max(log, key=lambda record: record["dev_score"])
    figure, (loss, score, rate) = pyplot.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    loss.plot(epochs, [record["loss"] for record in log], marker=".", color="#4c72b0")
    loss.set(title="training loss", xlabel="epoch")
    score.plot(epochs, [100 * record["dev_score"] for record in log], marker=".", color="#55a868")
    score.scatter(
        [best["epoch"]],
        [100 * best["dev_score"]],
        s=80,
        color="#c44e52",
        zorder=3,
        label=f"best: {100 * best['dev_score']:.2f} (epoch {best['epoch']})",
    )
    score.set(title=f"dev {metric}", xlabel="epoch")
    score.legend(loc="lower right")
    rate.plot(epochs, [record["lr"] for record in log], marker=".", color="#8172b3")
    rate.set(title="learning rate", xlabel="epoch")
    for axes in (loss, score, rate):
        axes.grid(alpha=0.3)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110, metadata={"Software": None})  # no version stamp: same log, same bytes
    pyplot.close(figure)
    write_atomic(directory / PLOT_FILE, png.getvalue())
