"""SNGAN-style residual GAN networks (Miyato et al. 2018; Gulrajani et al. 2017), any size from 8x8 up.

Generator: z -> linear to a base of 4-7 px (``upsampling_plan``) -> k up-blocks
(BN-act-upsample-conv3x3-BN-act-conv3x3, with an upsampled 1x1 shortcut; conditional batch norm when
class-conditional), channels halving from width*2^(k-1) to width -> BN-act-conv3x3 -> tanh -> centre
crop to (H, W). Discriminator: an "optimized" first block, k-1 downsampling blocks and one more block at
the coarsest size -> act -> global sum pool -> linear, plus a projection head when class-conditional;
spectral norm on every weight when asked.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from genforge.nets.layers import (
    MIN_CONV_SIZE,
    ConditionalBatchNorm2d,
    ProjectionHead,
    apply_spectral_norm,
    center_crop,
    channel_plan,
    check_input,
    check_labels,
    check_latent,
    init_weights,
    make_activation,
    upsampling_plan,
)


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class GeneratorBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_classes: int, activation: str) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)
        self.act = make_activation(activation)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = self.conv1(_up(self.act(self.bn1(x, labels))))
        h = self.conv2(self.act(self.bn2(h, labels)))
        # A 1x1 conv commutes with nearest upsampling; doing it first is 4x cheaper.
        return h + _up(self.shortcut(x))


class DiscriminatorBlock(nn.Module):
    """Pre-activation residual block; ``optimized`` is SNGAN's first block (no activation on the input)."""

    def __init__(self, c_in: int, c_out: int, activation: str, downsample: bool, optimized: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.act = make_activation(activation)
        self.downsample, self.optimized = downsample, optimized
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (optimized or downsample or c_in != c_out) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.optimized else self.act(x)
        h = self.conv2(self.act(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.optimized:
            s = self.shortcut(F.avg_pool2d(x, 2))  # pool first: fewer pixels for the 1x1 conv
        elif self.shortcut is not None:
            s = self.shortcut(s)
            if self.downsample:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    min_size = MIN_CONV_SIZE

    def __init__(
        self,
        *,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        c, h, w = self.image_shape
        k, self.base_h, self.base_w = upsampling_plan(h, w)
        chans = [*channel_plan(width, k), width]
        self.base_channels = chans[0]
        self.project = nn.Linear(latent_dim, chans[0] * self.base_h * self.base_w)
        self.blocks = nn.ModuleList(GeneratorBlock(a, b, num_classes, activation) for a, b in zip(chans[:-1], chans[1:]))
        self.bn = ConditionalBatchNorm2d(width, 0)  # SNGAN's last norm is unconditional
        self.act = make_activation(activation)
        self.to_image = nn.Conv2d(width, c, 3, 1, 1)
        init_weights(self, "xavier")

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_latent(z, self.latent_dim, "ResNet generator")
        labels = check_labels(labels, self.num_classes, z.shape[0], "ResNet generator")
        x = self.project(z).view(z.shape[0], self.base_channels, self.base_h, self.base_w)
        for block in self.blocks:
            x = block(x, labels)
        x = self.to_image(self.act(self.bn(x))).tanh()
        return center_crop(x, self.image_shape[1], self.image_shape[2])


class ResNetDiscriminator(nn.Module):
    min_size = MIN_CONV_SIZE

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
        spectral_norm: bool = False,
        activation: str = "leaky_relu",
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        c, h, w = self.image_shape
        k, _, _ = upsampling_plan(h, w)
        chans = channel_plan(width, k)[::-1]  # width ... width*2^(k-1)
        blocks = [DiscriminatorBlock(c, chans[0], activation, downsample=True, optimized=True)]
        blocks += [DiscriminatorBlock(a, b, activation, downsample=True) for a, b in zip(chans[:-1], chans[1:])]
        blocks.append(DiscriminatorBlock(chans[-1], chans[-1], activation, downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.act = make_activation(activation)
        self.head = ProjectionHead(chans[-1], num_classes)
        init_weights(self, "xavier")
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        check_input(x, self.image_shape, "ResNet discriminator")
        labels = check_labels(labels, self.num_classes, x.shape[0], "ResNet discriminator")
        h = self.act(self.blocks(x)).sum(dim=(2, 3))  # global sum pool
        return self.head(h, labels)
