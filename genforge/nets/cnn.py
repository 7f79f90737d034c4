"""Image classifiers for CNNEstimator: a small default and a deeper net with batch norm and dropout.

- ``small``: Conv(32, 3x3) + ReLU, max-pool 2, dense 128 + ReLU (dropout), linear to the classes
  (the classic Keras MNIST net; softmax is applied by the estimator, training uses the logits).
- ``deep``: up to three blocks (3x3 conv + BN + ReLU, max-pool 2, dropout), doubling the channels from
  ``width``, as many as the image allows (a block needs at least 4 px), then dense + BN + ReLU + dropout
  and the linear head. One conv per block keeps it fast enough on a CPU (fashion-mnist: see
  benchmarks/bench_cnn.py); ``convs_per_block=2`` gives the VGG-style variant.

``features(x)`` returns the penultimate activations (the dense layer's output), which the metrics use
as a domain feature extractor.
"""

from __future__ import annotations

from torch import Tensor, nn

from genforge.errors import ParameterError
from genforge.nets.layers import check_image_shape_tuple, check_input, check_positive_int

CNN_ARCHITECTURES = ("small", "deep")


class ClassifierNet(nn.Module):
    """What every classifier here shares: ``body`` maps images to ``feature_dim`` penultimate activations,
    ``head`` maps those to logits. Subclasses build ``body``, ``head`` and set ``feature_dim``."""

    image_shape: tuple[int, int, int]
    body: nn.Module
    head: nn.Module
    feature_dim: int

    def features(self, x: Tensor) -> Tensor:
        check_input(x, self.image_shape, "CNN classifier")
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class SmallCNN(ClassifierNet):
    def __init__(self, *, image_shape: tuple[int, int, int], num_classes: int, width: int = 32, dense: int = 128,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        pool = 2 if min(h, w) >= 2 else 1
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(pool), nn.Flatten(),
            nn.Linear(width * (h // pool) * (w // pool), dense), nn.ReLU(), nn.Dropout(dropout),
        )
        self.head = nn.Linear(dense, num_classes)
        self.feature_dim = dense


class DeepCNN(ClassifierNet):
    def __init__(self, *, image_shape: tuple[int, int, int], num_classes: int, width: int = 32, dense: int = 128,
                 dropout: float = 0.25, max_blocks: int = 3, convs_per_block: int = 1) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        layers: list[nn.Module] = []
        channels = c
        for block in range(max_blocks):
            if min(h, w) < 4 and block > 0:
                break
            out = width * 2**block
            for conv in range(convs_per_block):
                layers += [nn.Conv2d(channels if conv == 0 else out, out, 3, padding=1, bias=False),
                           nn.BatchNorm2d(out), nn.ReLU()]
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            layers.append(nn.Dropout(dropout))
            channels = out
        self.body = nn.Sequential(
            *layers, nn.Flatten(),
            nn.Linear(channels * h * w, dense, bias=False), nn.BatchNorm1d(dense), nn.ReLU(), nn.Dropout(dropout),
        )
        self.head = nn.Linear(dense, num_classes)
        self.feature_dim = dense


def build_classifier(architecture: str, *, image_shape: tuple[int, int, int], num_classes: int, width: int = 32,
                     dense: int = 128, dropout: float = 0.0) -> nn.Module:
    """A classifier ``forward(x[N, C, H, W] in [-1, 1]) -> logits[N, num_classes]`` with ``features(x)``."""
    if architecture not in CNN_ARCHITECTURES:
        raise ParameterError(f"Unknown CNN architecture {architecture!r}; allowed values: {', '.join(CNN_ARCHITECTURES)}.")
    kwargs = {
        "image_shape": check_image_shape_tuple(image_shape),
        "num_classes": check_positive_int("num_classes", num_classes, minimum=2),
        "width": check_positive_int("width", width),
        "dense": check_positive_int("dense", dense),
        "dropout": float(dropout),
    }
    return (SmallCNN if architecture == "small" else DeepCNN)(**kwargs)
