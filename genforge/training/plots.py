"""What a run leaves to look at: a fixed-noise sample grid per epoch and ``history.png``, the per-epoch
curves drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from genforge.imaging import make_grid, save_png
from genforge.training.loop import Callback, TrainingLoop

# Columns that are bookkeeping rather than curves worth plotting.
_SKIP = {"epoch", "step", "seconds", "images_per_sec"}
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def plot_history(history: Sequence[dict], path: Path, size: tuple[int, int] = (640, 400)) -> Path:
    """Draw every numeric history column against the epoch, one panel, each series min-max scaled,
    with its range in the legend so that losses of different scales stay readable."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 50, width - 10, 10, height - 30
    draw.rectangle([left, top, right, bottom], outline="#888888")
    columns = [c for c in (history[0] if history else {}) if c not in _SKIP
               and all(isinstance(r.get(c), (int, float)) and math.isfinite(r[c]) for r in history)]
    epochs = [row["epoch"] for row in history]
    for index, column in enumerate(columns[: len(_COLOURS)]):
        values = [float(row[column]) for row in history]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        points = [
            (left + (right - left) * (i / max(len(values) - 1, 1)), bottom - (bottom - top) * (v - low) / span)
            for i, v in enumerate(values)
        ]
        colour = _COLOURS[index]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        draw.text((left + 6, top + 4 + 12 * index), f"{column} [{low:.3g}, {high:.3g}]", fill=colour)
    if epochs:
        draw.text((left, bottom + 8), f"epoch {epochs[0]}", fill="black")
        draw.text((right - 70, bottom + 8), f"epoch {epochs[-1]}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


class EpochImages(Callback):
    """After each epoch, on the main process: ``samples/epoch_NNNN.png`` (the task's fixed-noise grid, for
    generators) and ``history.png`` in ``run_dir``."""

    order = 10

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def on_epoch_end(self, loop: TrainingLoop, row: dict) -> None:
        if not loop.is_main_process:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        grid = loop.task.sample_grid()
        if grid is not None:
            save_png(make_grid(grid), self.run_dir / "samples" / f"epoch_{loop.state.epoch:04d}.png")
        plot_history(loop.state.history, self.run_dir / "history.png")
