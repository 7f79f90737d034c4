"""What a Frame shows of itself, the H2O way: the first rows as a table, ``describe()`` and pandas.

A Frame reads as a table of ``nrow`` rows (one per image) and ``ncol`` columns (the H*W*C pixel values of
an image, in ``(H, W, C)`` order: the columns of an MNIST-style CSV); labels are not a pixel column, they
are the frame's ``labels`` (and the ``label`` column of ``as_data_frame``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genforge.errors import GenforgeError
from genforge.table import Table

# The functions take a genforge Frame (``frame``); it is not imported here: frame.py imports this module.
Frame = Any

SHOWN_ROWS = 10   # frames this small print their rows; larger ones their summary line only
SHOWN_PIXELS = 6  # leading pixel values shown per row
_CHUNK = 4096     # images per step of the statistics (a memory-mapped frame is never read at once)


def rows_table(frame: Frame, n: int = SHOWN_ROWS) -> Table:
    """One row per image (the first ``n``): position, label, source, leading pixel values, mean, min, max."""
    rows = []
    for i in range(min(n, len(frame))):
        pixels = np.asarray(frame.images[i]).reshape(-1)
        row: dict[str, Any] = {"row": i}
        if frame.labels is not None:
            row["label"] = frame.class_names[int(frame.labels[i])] if frame.class_names else int(frame.labels[i])
        row["source"] = frame.source(i)
        row["pixels"] = " ".join(str(int(v)) for v in pixels[:SHOWN_PIXELS]) + (" ..." if len(pixels) > SHOWN_PIXELS else "")
        row.update(mean=round(float(pixels.mean()), 1), min=int(pixels.min()), max=int(pixels.max()))
        rows.append(row)
    return Table(rows)


class Description(dict):
    """``Frame.describe()``'s answer: a dict (``nrow``, ``ncol``, ``image_shape``, ``channels``,
    ``class_counts``) that prints as a short report."""

    def __repr__(self) -> str:
        h, w, c = self["image_shape"]
        lines = [f"{self['nrow']} images (rows) of {h}x{w}x{c} = {self['ncol']} pixel values (columns)",
                 repr(Table(self["channels"]))]
        if self["class_counts"]:
            lines.append(repr(Table([{"class": k, "count": v} for k, v in self["class_counts"].items()])))
        else:
            lines.append("no labels")
        return "\n".join(lines)


def describe(frame: Frame) -> Description:
    """Per-channel pixel statistics (mean, std, min, max on 0..255) and the class counts."""
    c = frame.channels
    total = np.zeros(c)
    squares = np.zeros(c)
    low = np.full(c, 255)
    high = np.zeros(c, dtype=np.int64)
    for start in range(0, len(frame), _CHUNK):
        part = np.asarray(frame.images[start : start + _CHUNK]).reshape(-1, c)
        values = part.astype(np.float64)
        total += values.sum(axis=0)
        squares += np.square(values).sum(axis=0)
        low = np.minimum(low, part.min(axis=0))
        high = np.maximum(high, part.max(axis=0))
    count = len(frame) * frame.image_shape[0] * frame.image_shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    names = ["grey"] if c == 1 else ["red", "green", "blue"]
    channels = [{"channel": names[i], "mean": round(float(mean[i]), 3), "std": round(float(std[i]), 3),
                 "min": int(low[i]), "max": int(high[i])} for i in range(c)]
    return Description(nrow=frame.nrow, ncol=frame.ncol, image_shape=frame.image_shape, channels=channels,
                       class_counts=frame.class_counts())


def as_data_frame(frame: Frame):
    """A pandas DataFrame with one row per image: ``label`` (the class name, when labelled) and
    ``pixel0`` ... ``pixel{ncol-1}`` (needs pandas: ``pip install 'genforge[pandas]'``)."""
    try:
        import pandas as pd
    except ImportError:
        raise GenforgeError("as_data_frame needs pandas: pip install 'genforge[pandas]' (or pandas).") from None
    pixels = np.asarray(frame.images).reshape(len(frame), -1)
    data = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(pixels.shape[1])])
    if frame.labels is not None:
        names = np.asarray(frame.class_names, dtype=object)
        data.insert(0, "label", names[frame.labels])
    return data


def html(frame: Frame) -> str:
    """The summary line and a grid PNG of at most 64 images, for notebooks (``Frame._repr_html_``)."""
    import base64

    from genforge.imaging import make_grid, png_bytes

    grid = base64.b64encode(png_bytes(make_grid(np.asarray(frame.images[:64])))).decode()
    summary = repr(frame).splitlines()[0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f'<div><code>{summary}</code><br><img src="data:image/png;base64,{grid}" '
            'style="image-rendering: pixelated"></div>')
