"""VAE encoders and decoders (Kingma & Welling 2014), conv or mlp, for any image size, 1 or 3 channels.

The conv encoder halves the image k times with 4x4 stride-2 convolutions (the same plan as the DCGAN
discriminator, so 28 -> 14 -> 7) and maps the flattened features to the posterior's mean and
log-variance; the conv decoder mirrors the DCGAN generator: a linear projection to a 4-7 px base, k
doublings, and a centre crop when the doublings overshoot (30 -> 32). Decoders return *logits*; the
estimator maps them to [-1, 1] images (``tanh`` for mse, ``2 * sigmoid - 1`` for bce). A conditional VAE
(CVAE, Sohn et al. 2015) concatenates a learned label embedding to the encoder's features and to z.
No batch norm: reconstructions do not depend on batch statistics, so train and eval agree on tiny data.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genforge.errors import ParameterError
from genforge.nets.layers import (
    MIN_CONV_SIZE,
    center_crop,
    channel_plan,
    check_image_shape_tuple,
    check_input,
    check_labels,
    check_latent,
    check_positive_int,
    upsampling_plan,
)

VAE_ARCHITECTURES = ("conv", "mlp")
LABEL_DIM = 16


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


def mlp_hidden(width: int) -> list[int]:
    """Hidden widths of the mlp encoder (the decoder uses them reversed)."""
    return [width * 16, width * 8]


class _Conditioning(nn.Module):
    """A learned label embedding, or nothing for an unconditional network."""

    def __init__(self, num_classes: int, owner: str) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.owner = owner
        self.dim = LABEL_DIM if num_classes else 0
        if num_classes:
            self.embed = nn.Embedding(num_classes, LABEL_DIM)

    def append(self, h: Tensor, labels: Tensor | None) -> Tensor:
        labels = check_labels(labels, self.num_classes, h.shape[0], self.owner)
        if labels is None:
            return h
        return torch.cat([h, self.embed(labels).to(h.dtype)], dim=1)


class VAEEncoder(nn.Module):
    """``forward(x[N, C, H, W] in [-1, 1], labels) -> (mean[N, latent_dim], log_variance[N, latent_dim])``."""

    def __init__(self, *, architecture: str, image_shape: tuple[int, int, int], latent_dim: int,
                 width: int = 32, num_classes: int = 0) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        c, h, w = self.image_shape
        self.cond = _Conditioning(num_classes, "VAE encoder")
        if architecture == "conv":
            k, _, _ = upsampling_plan(h, w)
            chans = channel_plan(width, k)[::-1]  # width ... width*2^(k-1)
            layers: list[nn.Module] = []
            for c_in, c_out in zip([c, *chans[:-1]], chans):
                layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), _act()]
            self.features = nn.Sequential(*layers, nn.Flatten())
            feature_dim = chans[-1] * (h // 2**k) * (w // 2**k)
        else:
            layers = [nn.Flatten()]
            prev = c * h * w
            for dim in mlp_hidden(width)[:-1]:
                layers += [nn.Linear(prev, dim), _act()]
                prev = dim
            self.features = nn.Sequential(*layers)
            feature_dim = prev
        # One more hidden layer after the label joins, so the posterior can depend on image and class jointly.
        hidden = mlp_hidden(width)[-1]
        self.head = nn.Sequential(nn.Linear(feature_dim + self.cond.dim, hidden), _act(), nn.Linear(hidden, 2 * latent_dim))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_input(x, self.image_shape, "VAE encoder")
        h = self.cond.append(self.features(x), labels)
        mean, log_var = self.head(h).chunk(2, dim=1)
        return mean, log_var.clamp(-30.0, 20.0)  # keeps exp(log_var) finite early in training


class VAEDecoder(nn.Module):
    """``forward(z[N, latent_dim], labels) -> logits[N, C, H, W]`` (map to images with ``to_images``)."""

    def __init__(self, *, architecture: str, image_shape: tuple[int, int, int], latent_dim: int,
                 width: int = 32, num_classes: int = 0) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.architecture = architecture
        c, h, w = self.image_shape
        self.cond = _Conditioning(num_classes, "VAE decoder")
        prev = latent_dim + self.cond.dim
        if architecture == "conv":
            k, self.base_h, self.base_w = upsampling_plan(h, w)
            chans = channel_plan(width, k)
            self.base_channels = chans[0]
            hidden = mlp_hidden(width)[-1]
            self.project = nn.Sequential(nn.Linear(prev, hidden), _act(),
                                         nn.Linear(hidden, chans[0] * self.base_h * self.base_w), _act())
            layers: list[nn.Module] = []
            for c_in, c_out in zip(chans[:-1], chans[1:]):
                layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), _act()]
            # The last doubling goes to the image channels; a 3x3 conv after it smooths checkerboard artefacts.
            layers += [nn.ConvTranspose2d(chans[-1], chans[-1], 4, 2, 1), _act(), nn.Conv2d(chans[-1], c, 3, 1, 1)]
            self.body = nn.Sequential(*layers)
        else:
            layers = []
            for dim in mlp_hidden(width)[::-1]:
                layers += [nn.Linear(prev, dim), _act()]
                prev = dim
            self.project = nn.Sequential(*layers, nn.Linear(prev, c * h * w))
            self.body = nn.Identity()

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_latent(z, self.latent_dim, "VAE decoder")
        h = self.project(self.cond.append(z, labels))
        c, height, width = self.image_shape
        if self.architecture == "conv":
            x = self.body(h.view(z.shape[0], self.base_channels, self.base_h, self.base_w))
            return center_crop(x, height, width)
        return h.view(z.shape[0], c, height, width)


def to_images(logits: Tensor, reconstruction_loss: str) -> Tensor:
    """Decoder logits as images in [-1, 1]: the Bernoulli mean rescaled (bce) or tanh (mse)."""
    if reconstruction_loss == "bce":
        return torch.sigmoid(logits).mul(2).sub(1)
    return torch.tanh(logits)


def check_vae_shape(architecture: str, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Raise ParameterError unless ``architecture`` handles images of ``image_shape`` (C, H, W)."""
    if architecture not in VAE_ARCHITECTURES:
        raise ParameterError(f"Unknown VAE architecture {architecture!r}; allowed values: {', '.join(VAE_ARCHITECTURES)}.")
    c, h, w = check_image_shape_tuple(image_shape)
    if architecture == "conv" and min(h, w) < MIN_CONV_SIZE:
        raise ParameterError(
            f"architecture='conv' needs images of at least {MIN_CONV_SIZE}x{MIN_CONV_SIZE} pixels, got {h}x{w}; "
            "resize the images or use architecture='mlp'."
        )
    return c, h, w


def build_vae(architecture: str, *, image_shape: tuple[int, int, int], latent_dim: int, width: int = 32,
              num_classes: int = 0) -> tuple[VAEEncoder, VAEDecoder]:
    """An encoder and a decoder for ``image_shape`` (C, H, W) images."""
    image_shape = check_vae_shape(architecture, image_shape)
    kwargs = {
        "architecture": architecture,
        "image_shape": image_shape,
        "latent_dim": check_positive_int("latent_dim", latent_dim),
        "width": check_positive_int("width", width),
        "num_classes": check_positive_int("num_classes", num_classes, minimum=0),
    }
    return VAEEncoder(**kwargs), VAEDecoder(**kwargs)
