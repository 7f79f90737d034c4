"""Inference graphs for export: what an estimator hands ``genforge.artifacts.export_onnx``.

An :class:`OnnxGraph` is a module with example inputs and the names of its inputs and outputs. Generators
export ``z`` (and ``label``) -> ``images`` float32 NCHW in [-1, 1]; classifiers ``images`` -> ``probabilities``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


@dataclass
class OnnxGraph:
    """What one estimator exports: a module, example inputs and the names of inputs and outputs."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    metadata: dict = field(default_factory=dict)


class GeneratorGraph(nn.Module):
    """z (and label) -> images in [-1, 1]; ``post`` turns a decoder's raw output into images."""

    def __init__(self, net: nn.Module, conditional: bool, post: Callable | None = None) -> None:
        super().__init__()
        self.net, self.conditional, self.post = net, conditional, post

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(z, label if self.conditional else None)
        return self.post(out) if self.post is not None else out


class ClassifierGraph(nn.Module):
    """images -> class probabilities (softmax of the classifier's logits)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(images).float(), dim=1)


def generator_graph(net: nn.Module, latent_dim: int, num_classes: int, post: Callable | None = None) -> OnnxGraph:
    """The graph of a generator network taking ``(z, label)``: a GAN's generator, a VAE's decoder."""
    z = torch.zeros(2, latent_dim)
    inputs, names = ((z, torch.zeros(2, dtype=torch.long)), ["z", "label"]) if num_classes else ((z,), ["z"])
    return OnnxGraph(GeneratorGraph(net, bool(num_classes), post), inputs, names, ["images"],
                     {"latent_dim": int(latent_dim), "num_classes": int(num_classes)})


def classifier_graph(net: nn.Module, image_shape: tuple[int, int, int], num_classes: int) -> OnnxGraph:
    """The graph of a classifier network on ``image_shape`` (C, H, W) images."""
    example = torch.zeros(2, *image_shape)
    return OnnxGraph(ClassifierGraph(net), (example,), ["images"], ["probabilities"], {"num_classes": int(num_classes)})
