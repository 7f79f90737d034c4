"""DCGAN (Radford et al. 2015), sized for any image from 8x8 up, square or not.

The generator projects z to a small base (4-7 px on the shorter side, see ``upsampling_plan``), then
doubles k times with 4x4 stride-2 transposed convolutions, halving channels from width*2^(k-1) down to
width; the last doubling goes straight to the image channels, then tanh. When the doublings overshoot
(30 -> base 8 -> 32) the centre is cropped. The discriminator mirrors it with 4x4 stride-2 convolutions
and LeakyReLU(0.2), no batch norm (so spectral norm needs nothing else switched off), and a linear layer
on the flattened features; class-conditional models use a projection head (Miyato & Koyama 2018).
"""

from __future__ import annotations

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


class DCGANGenerator(nn.Module):
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
        chans = channel_plan(width, k)
        self.base_channels = chans[0]
        # No biases before batch norm: BN's shift makes them redundant.
        self.project = nn.Linear(latent_dim, chans[0] * self.base_h * self.base_w, bias=False)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(chans[0], num_classes)])
        self.ups = nn.ModuleList()
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            self.ups.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False))
            self.norms.append(ConditionalBatchNorm2d(c_out, num_classes))
        self.to_image = nn.ConvTranspose2d(chans[-1], c, 4, 2, 1)
        self.act = make_activation(activation)
        init_weights(self, "dcgan")

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_latent(z, self.latent_dim, "DCGAN generator")
        labels = check_labels(labels, self.num_classes, z.shape[0], "DCGAN generator")
        x = self.project(z).view(z.shape[0], self.base_channels, self.base_h, self.base_w)
        x = self.act(self.norms[0](x, labels))
        for up, norm in zip(self.ups, self.norms[1:]):
            x = self.act(norm(up(x), labels))
        x = self.to_image(x).tanh()
        return center_crop(x, self.image_shape[1], self.image_shape[2])


class DCGANDiscriminator(nn.Module):
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
        chans = channel_plan(width, k)[::-1]  # width ... width*2^(k-1), mirroring the generator
        layers: list[nn.Module] = []
        for c_in, c_out in zip([c, *chans[:-1]], chans):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), make_activation(activation)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        # A 4x4 stride-2 conv with padding 1 maps n to floor(n / 2).
        feature_dim = chans[-1] * (h // 2**k) * (w // 2**k)
        self.head = ProjectionHead(feature_dim, num_classes)
        init_weights(self, "dcgan")
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        check_input(x, self.image_shape, "DCGAN discriminator")
        labels = check_labels(labels, self.num_classes, x.shape[0], "DCGAN discriminator")
        h = self.features(x)
        return self.head(h, labels)
