"""Generators whose outputs the tests control, so that what the report measures can be checked against a
known truth (the measurement itself, the domain evaluator and the metrics, is never replaced)."""

from __future__ import annotations

import numpy as np
import torch

from genforge.estimators.generator import Generator
from genforge.frame import Frame


class ReplayGenerator(Generator):
    """Makes images by picking them from ``frame`` (as a model that memorised it would): the first latent
    value chooses the image, through its normal quantile, so the output distribution is the frame's.
    ``jitter`` adds small pixel noise (not exact copies)."""

    algo = "replay"
    num_classes = 0
    class_names = None

    def __init__(self, frame: Frame, jitter: float = 0.0, latent_size: int = 8, name: str = "replay") -> None:
        self.frame, self.jitter, self.latent_size, self.model_id = frame, jitter, latent_size, name
        self.image_shape = frame.image_shape

    def _ready(self) -> None:
        pass

    def _images(self, z: torch.Tensor, labels) -> np.ndarray:
        u = torch.special.ndtr(z[:, 0].double()).numpy()
        index = np.clip((u * len(self.frame)).astype(np.int64), 0, len(self.frame) - 1)
        images = self.frame.images[index].astype(np.float64)
        if self.jitter:
            rng = np.random.default_rng(0)
            images = images + rng.normal(0, self.jitter, images.shape)
        return np.clip(images, 0, 255).astype(np.uint8)


def digits_split():
    import genforge as gf

    train, test = gf.import_file("digits").split_frame([0.6], seed=0)
    return train, test


def without_class(frame: Frame, label: int) -> Frame:
    keep = frame.labels != label
    return Frame(frame.images[keep], frame.labels[keep], frame.class_names, name=f"{frame.name} without {label}")


def with_extra(frame: Frame, label: int, times: int) -> Frame:
    extra = np.flatnonzero(frame.labels == label)
    index = np.concatenate([np.arange(len(frame))] + [extra] * times)
    return Frame(frame.images[index], frame.labels[index], frame.class_names, name=f"{frame.name} + {times}x {label}")
