"""Pieces shared by the GAN networks: activations, conditional batch norm, spectral norm, init, shapes.

Nothing here updates a buffer in place inside the autograd graph and no parameter is created that the
forward pass does not use, so every network built from these pieces works under DistributedDataParallel
with ``find_unused_parameters=False``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from genforge.errors import ParameterError

LEAKY_SLOPE = 0.2

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def check_activation(name: object) -> str:
    """Return the activation name, or raise ParameterError naming the allowed values."""
    if not isinstance(name, str) or name.strip().lower() not in ACTIVATIONS:
        raise ParameterError(f"Unknown activation {name!r}; allowed values: {', '.join(sorted(ACTIVATIONS))}.")
    return name.strip().lower()


def make_activation(name: str) -> nn.Module:
    """A fresh activation module; LeakyReLU uses slope 0.2 as in DCGAN. Never in place (safer for autograd)."""
    name = check_activation(name)
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    return ACTIVATIONS[name]()


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are looked up per class (de Vries et al. 2017, Miyato & Koyama 2018).

    With ``num_classes == 0`` it is a plain affine ``BatchNorm2d`` and ignores labels, so an
    unconditional network has no embedding parameters that would go unused.
    """

    def __init__(self, num_features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=num_classes == 0)
        if num_classes > 0:
            self.gain = nn.Embedding(num_classes, num_features)
            self.bias = nn.Embedding(num_classes, num_features)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        out = self.bn(x)
        if self.num_classes == 0:
            return out
        if labels is None:
            raise ParameterError("ConditionalBatchNorm2d is class-conditional: labels are required.")
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return out * gain + bias


def check_labels(labels: Tensor | None, num_classes: int, batch_size: int, owner: str) -> Tensor | None:
    """Validate the labels given to a network; return them (or None for an unconditional network).

    An unconditional network ignores labels, so a training loop may pass them either way. The range check
    only runs on CPU tensors: on an accelerator it would force a host-device sync every step.
    """
    if num_classes == 0:
        return None
    if labels is None:
        raise ParameterError(
            f"This {owner} is class-conditional (num_classes={num_classes}): pass labels, a LongTensor of "
            f"{batch_size} class indices in [0, {num_classes})."
        )
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.shape[0] != batch_size:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ParameterError(f"{owner} labels must be a 1-D tensor of {batch_size} class indices, got {shape}.")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ParameterError(f"{owner} labels must be integer class indices, got dtype {labels.dtype}.")
    if labels.device.type == "cpu" and labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ParameterError(
            f"{owner} labels must lie in [0, {num_classes}), got values from {int(labels.min())} to {int(labels.max())}."
        )
    return labels.long()


def check_input(x: Tensor, image_shape: tuple[int, int, int], owner: str) -> None:
    """Raise ParameterError unless ``x`` is an ``(N, C, H, W)`` batch of the network's image shape."""
    if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != tuple(image_shape):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ParameterError(f"{owner} expects images of shape (N, {', '.join(map(str, image_shape))}), got {shape}.")


def check_latent(z: Tensor, latent_dim: int, owner: str) -> None:
    if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != latent_dim:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ParameterError(f"{owner} expects noise of shape (N, {latent_dim}), got {shape}.")


SN_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


class ProjectionHead(nn.Module):
    """A discriminator's output on features ``h``: ``linear(h)``, plus ``<embed(y), h>`` for class-conditional
    models (the projection discriminator of Miyato & Koyama 2018)."""

    def __init__(self, feature_dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.linear = nn.Linear(feature_dim, 1)
        self.embed = nn.Embedding(num_classes, feature_dim) if num_classes else None

    def forward(self, h: Tensor, labels: Tensor | None) -> Tensor:
        out = self.linear(h).squeeze(1)
        if labels is not None and self.embed is not None:
            out = out + (self.embed(labels) * h).sum(1)
        return out


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every conv, linear and embedding weight under ``module`` in spectral norm (in place).

    Uses ``torch.nn.utils.parametrizations.spectral_norm``: the power-iteration vectors are buffers in the
    state_dict, so a state_dict loads into a freshly built model with the same arguments. Call it after
    the weights are initialised: the first power iterations run on the weights as they are then.
    """
    for sub in list(module.modules()):
        if isinstance(sub, SN_TYPES) and not parametrize.is_parametrized(sub, "weight"):
            _spectral_norm(sub)
    return module


def init_weights(module: nn.Module, scheme: str) -> None:
    """Initialise conv/linear/embedding weights: ``"dcgan"`` N(0, 0.02), or ``"xavier"`` (SNGAN).

    Batch-norm scales start at 1 (N(1, 0.02) under "dcgan") and biases at 0. Conditional batch-norm
    embeddings are left as set by :class:`ConditionalBatchNorm2d` (gain 1, bias 0).
    """
    cbn_embeddings = {
        id(e) for m in module.modules() if isinstance(m, ConditionalBatchNorm2d) and m.num_classes for e in (m.gain, m.bias)
    }
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding) and id(m) not in cbn_embeddings:
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 1.0, 0.02)
            else:
                nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------- shapes

MIN_CONV_SIZE = 8  # the conv nets upsample at least once from a base of at least 4 px


def upsampling_plan(height: int, width: int) -> tuple[int, int, int]:
    """Return ``(k, base_h, base_w)``: k doublings from a base of ceil(H/2^k) x ceil(W/2^k).

    k is the largest number of doublings that keeps the smaller side's base at least 4 px, so the base
    is 4-7 px along that side (28 -> 7 x 4, exact; 32 -> 4 x 8; 30 -> 8 x 4 = 32, cropped to 30).
    """
    side, k = min(height, width), 1
    while side >= 4 * 2 ** (k + 1):
        k += 1
    return k, math.ceil(height / 2**k), math.ceil(width / 2**k)


def channel_plan(width: int, k: int, cap: int = 8) -> list[int]:
    """Channels at each of the k coarsest resolution levels, base first: width*2^(k-1) ... width (capped)."""
    return [width * min(2 ** (k - 1 - j), cap) for j in range(k)]


def center_crop(x: Tensor, height: int, width: int) -> Tensor:
    """Crop the centre ``height`` x ``width`` of an ``(N, C, H', W')`` batch with H' >= height, W' >= width."""
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    top, left = (h - height) // 2, (w - width) // 2
    return x[:, :, top : top + height, left : left + width]


def check_image_shape_tuple(image_shape: object) -> tuple[int, int, int]:
    """Return ``image_shape`` as a ``(C, H, W)`` tuple of positive ints, or raise ParameterError."""
    if (
        not isinstance(image_shape, Sequence)
        or isinstance(image_shape, str)
        or len(image_shape) != 3
        or not all(_is_int(v) and v > 0 for v in image_shape)
    ):
        raise ParameterError(f"image_shape must be (channels, height, width) with positive integers, got {image_shape!r}.")
    return tuple(int(v) for v in image_shape)  # type: ignore[return-value]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if not _is_int(value) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)
