"""Adversarial losses (by name) and discriminator gradient penalties."""

from genforge.losses.gan import (
    LOSSES,
    GANLoss,
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    WGANGPLoss,
    get_loss,
)
from genforge.losses.penalties import gradient_penalty, r1_penalty

__all__ = [
    "GANLoss",
    "LOSSES",
    "get_loss",
    "MinimaxLoss",
    "NonSaturatingLoss",
    "LeastSquaresLoss",
    "HingeLoss",
    "WGANGPLoss",
    "r1_penalty",
    "gradient_penalty",
]
