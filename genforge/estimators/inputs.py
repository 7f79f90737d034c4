"""Checks on the data a fitted model is asked about: image shape, channels and class names.

A model knows the frame schema it was trained on (``model.json``); a frame handed to ``predict``,
``encode`` or ``model_performance`` must match it, or be converted explicitly with ``resize=True``.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np
import torch

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame


def as_frame(data: Any, what: str = "frame") -> Frame:
    """A Frame from a Frame or an image array (``(N, H, W)``, ``(N, H, W, C)``, ``(N, C, H, W)``)."""
    if isinstance(data, Frame):
        return data
    if isinstance(data, np.ndarray) or torch.is_tensor(data):
        return Frame.from_numpy(np.asarray(data))
    raise DataError(f"{what} must be a Frame or an image array, got {type(data).__name__}.")


def conform_frame(data: Any, schema: dict, resize: bool = False, what: str = "frame") -> Frame:
    """``data`` as a Frame of the model's image shape; converted when ``resize`` is True, else checked."""
    frame = as_frame(data, what)
    want = (schema["height"], schema["width"], schema["channels"])
    if frame.image_shape == want:
        return frame
    if not resize:
        h, w, c = want
        raise DataError(
            f"{what} images are {_describe(frame.image_shape)} but this model was trained on {_describe(want)}; "
            f"pass resize=True to resize and convert them, or call frame.resize(({h}, {w})).to_channels({c}).",
            suggests={"resize": True})
    if frame.image_shape[:2] != want[:2]:
        frame = frame.resize(want[:2])
    if frame.channels != want[2]:
        frame = frame.to_channels(want[2])
    return frame


def frame_labels(frame: Frame, class_names: Sequence[str], what: str = "frame") -> np.ndarray:
    """The frame's labels as indices into the model's ``class_names``, matched by name.

    A frame whose classes are the model's in another order is remapped; one with a class the model does
    not know is a DataError that names it.
    """
    if frame.labels is None:
        raise DataError(f"{what} has no labels; this needs a labelled frame (import one with labels).")
    names = list(frame.class_names or [])
    model_names = list(class_names)
    if names == model_names[: len(names)]:
        return frame.labels
    present = sorted(set(frame.labels.tolist()))
    unknown = [names[i] for i in present if names[i] not in model_names]
    if unknown:
        raise DataError(
            f"{what} has classes {unknown} that this model does not know; its classes are {model_names}. "
            "Relabel the frame with the model's class names."
        )
    mapping = np.array([model_names.index(n) if n in model_names else -1 for n in names], dtype=np.int64)
    return mapping[frame.labels]


def check_same_classes(frame: Frame, class_names: list[str]) -> None:
    """A checkpoint's classes must be the training frame's (their labels index the same outputs)."""
    names = list(frame.class_names or [])
    if names != list(class_names)[: len(names)]:
        raise DataError(
            f"the training frame's classes {names} differ from the checkpoint's {list(class_names)}; "
            "train on a frame with the same class names (in the same order)."
        )


def sample_labels(labels: Any, n: int, num_classes: int, class_names: Sequence[str] | None) -> np.ndarray | None:
    """Class indices for ``n`` generated samples: as given (indices or names), or every class in turn;
    None for an unconditional model, which refuses labels."""
    if not num_classes:
        if labels is not None:
            raise DataError("labels were given but this model is not conditional (train with conditional=True).")
        return None
    if labels is None:
        return np.arange(n) % num_classes
    return label_indices(labels, class_names or [], n)


def label_indices(labels: Any, class_names: Sequence[str], n: int) -> np.ndarray:
    """Class indices for ``labels``: one int or name for all ``n`` rows, or one per row."""
    names = list(class_names)
    if isinstance(labels, (int, np.integer, str)):
        labels = [labels] * n
    out = []
    for label in np.asarray(labels, dtype=object).reshape(-1).tolist():
        if isinstance(label, str):
            if label not in names:
                raise DataError(f"label {label!r} is not a class of this model; classes: {names}.")
            out.append(names.index(label))
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            out.append(int(label))
        else:
            raise DataError(f"label {label!r} must be a class index or a class name; classes: {names}.")
    array = np.asarray(out, dtype=np.int64)
    bad = (array < 0) | (array >= len(names))
    if bad.any():
        raise DataError(f"label {int(array[bad][0])} is outside 0..{len(names) - 1} ({names}).")
    if len(array) != n:
        raise DataError(f"got {len(array)} labels for {n} rows; pass one label per row (or one for all).")
    return array


def check_options(method: Any, options: dict, where: str, skip: int = 1) -> None:
    """Refuse ``options`` that ``method`` does not take (its first ``skip`` parameters are not options);
    a method with ``**options`` checks its own."""
    parameters = list(inspect.signature(method).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters[skip:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise ParameterError(f"{where} got unknown option(s) {unknown}; it takes: {', '.join(accepted) or 'none'}.")


def training_data(x: Any, y: Any, training_frame: Frame | None) -> Frame:
    """The training Frame from ``train``'s arguments: ``x`` (a Frame or an image array) or ``training_frame``,
    with labels ``y`` (an array, or H2O's ``y="label"`` for the frame's own); H2O's column lists are refused."""
    if isinstance(x, (str, list, tuple)) or isinstance(y, (list, tuple)) and all(isinstance(v, str) for v in y):
        raise DataError(
            "x (and y) name columns in H2O; genforge trains on whole images. Pass the images as x=frame or "
            "training_frame=frame, and labels, if any, in the frame or as y=array."
        )
    if training_frame is not None and x is not None:
        raise DataError("Pass the training data once: either x or training_frame, not both.")
    data = training_frame if training_frame is not None else x
    if data is None:
        raise DataError("train() needs data: pass training_frame=frame (or x=frame, or x=an image array).")
    if isinstance(data, Frame):
        if isinstance(y, str):  # H2O's y="label": the frame's own labels
            if data.labels is None:
                raise DataError(f"y={y!r} names the labels, but the training frame has none; import a labelled "
                                "frame or pass y=an array of labels.")
            return data
        if y is not None:
            return Frame(data.images, np.asarray(y), None, name=data.name)
        return data
    if isinstance(data, np.ndarray) or torch.is_tensor(data):
        if isinstance(y, str):
            raise DataError(f"y={y!r} names a column, but an image array has none; pass y=an array of labels.")
        return Frame.from_numpy(np.asarray(data), labels=y)
    raise DataError(f"training data must be a Frame or an image array, got {type(data).__name__}.")


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` floats in [-1, 1] as uint8 ``(N, H, W, C)``."""
    return images.add(1).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _describe(shape: tuple[int, int, int]) -> str:
    h, w, c = shape
    return f"{h}x{w} with {c} channel{'s' if c != 1 else ''}"


# Generating more than this many images in one call is far more likely a typo (an extra zero, a size
# passed as a count) than a wish; a loop of calls does it on purpose.
MAX_SAMPLES = 1_000_000
# ... and the uint8 pixels of one call's result must fit this budget (2 GiB).
MAX_SAMPLE_BYTES = 2 * 1024**3


def check_sample_count(n: Any, image_shape: Sequence[int] | None = None, what: str = "n",
                       limit: int = MAX_SAMPLES) -> Any:
    """``n`` as an int in ``1..limit`` (and its images within MAX_SAMPLE_BYTES), checked before anything is
    allocated; a bool, a float, a negative or an absurd count is a DataError that names it. A noise array
    (``predict(z)``) passes through unchanged: the model's noise check looks at its rows."""
    if isinstance(n, (np.ndarray, list, tuple)) or torch.is_tensor(n):
        return n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"{what} must be a whole number of images (an int), got {n!r} ({type(n).__name__}); "
                        "or pass a noise array with one row per image.")
    n = int(n)
    if n < 1:
        raise DataError(f"{what} must be at least 1, got {n}.")
    if n > limit:
        raise DataError(f"{what}={n:,} images is more than one call makes (at most {limit:,}); "
                        "generate in several calls of fewer images.")
    if image_shape is not None:
        size = n * int(np.prod([int(s) for s in image_shape]))
        if size > MAX_SAMPLE_BYTES:
            raise DataError(f"{what}={n:,} images of {tuple(image_shape)} would need {size / 1024**3:.1f} GiB; "
                            f"at most {MAX_SAMPLE_BYTES // 1024**3} GiB per call: generate in several calls.")
    return n


def noise_rows(z: Any, latent_dim: int) -> torch.Tensor:
    """Noise as a float32 ``(N, latent_dim)`` tensor, one latent vector per row.

    H2O-style code writes one noise vector as a column, ``np.random.randn(100, 1)`` for a latent of 100,
    or as a flat vector ``(100,)``: both mean one sample. Only a ``(latent_dim, 1)`` column with
    latent_dim > 1 is turned; with latent_dim = 1 a column is N one-value rows, as written.
    """
    z = z.detach().float().cpu() if torch.is_tensor(z) else torch.as_tensor(np.asarray(z, dtype=np.float32))
    if z.ndim == 1 and z.shape[0] == latent_dim:
        return z[None]
    if z.ndim == 2 and latent_dim > 1 and tuple(z.shape) == (latent_dim, 1):
        return z.T.contiguous()
    return z
