"""Fully connected GAN networks (Goodfellow et al. 2014), also the target of H2O-style architecture dicts."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genforge.nets.layers import (
    ProjectionHead,
    apply_spectral_norm,
    check_input,
    check_labels,
    check_latent,
    init_weights,
    make_activation,
)


def default_hidden_dims(width: int) -> list[int]:
    return [width * 4, width * 8]


class MLPGenerator(nn.Module):
    """z (plus a label embedding when conditional) -> hidden layers -> C*H*W -> tanh -> (C, H, W)."""

    min_size = 1

    def __init__(
        self,
        *,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
        activation: str = "relu",
        hidden_dims: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        hidden = list(hidden_dims) if hidden_dims is not None else default_hidden_dims(width)
        # Conditional: concatenate a learned label embedding to z (as in Mirza & Osindero 2014).
        self.label_dim = min(latent_dim, 64) if num_classes else 0
        if num_classes:
            self.embed = nn.Embedding(num_classes, self.label_dim)
        layers: list[nn.Module] = []
        prev = latent_dim + self.label_dim
        for dim in hidden:
            layers += [nn.Linear(prev, dim), make_activation(activation)]
            prev = dim
        c, h, w = self.image_shape
        layers += [nn.Linear(prev, c * h * w), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, "xavier")

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_latent(z, self.latent_dim, "MLP generator")
        labels = check_labels(labels, self.num_classes, z.shape[0], "MLP generator")
        if labels is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """flatten -> hidden layers (LeakyReLU 0.2 by default) -> 1 logit; projection head when conditional."""

    min_size = 1

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
        spectral_norm: bool = False,
        activation: str = "leaky_relu",
        hidden_dims: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        # Mirror the generator: widest layer next to the image.
        hidden = list(hidden_dims) if hidden_dims is not None else default_hidden_dims(width)[::-1]
        c, h, w = self.image_shape
        layers: list[nn.Module] = [nn.Flatten()]
        prev = c * h * w
        for dim in hidden:
            layers += [nn.Linear(prev, dim), make_activation(activation)]
            prev = dim
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(prev, num_classes)
        init_weights(self, "xavier")
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        check_input(x, self.image_shape, "MLP discriminator")
        labels = check_labels(labels, self.num_classes, x.shape[0], "MLP discriminator")
        h = self.features(x)
        return self.head(h, labels)
