"""Networks by name: MLP, DCGAN and SNGAN-style ResNet generators and discriminators, VAE and CNN nets, and
the inference graphs handed to ONNX export (``export.py``)."""

from genforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genforge.nets.layers import ConditionalBatchNorm2d, apply_spectral_norm
from genforge.nets.mlp import MLPDiscriminator, MLPGenerator
from genforge.nets.registry import (
    DISCRIMINATORS,
    GENERATORS,
    build_discriminator,
    build_generator,
    check_image_shape,
)
from genforge.nets.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "GENERATORS",
    "DISCRIMINATORS",
    "build_generator",
    "build_discriminator",
    "check_image_shape",
    "ConditionalBatchNorm2d",
    "apply_spectral_norm",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "ResNetGenerator",
    "ResNetDiscriminator",
]
