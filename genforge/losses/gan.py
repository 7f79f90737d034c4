"""Adversarial losses, keyed by name. Scores are raw discriminator outputs (logits), never probabilities.

Every loss is written in a numerically stable form (softplus rather than log(sigmoid)) and computed in
float32, so bf16/fp16 autocast scores do not lose precision in the reduction.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from genforge.errors import ParameterError


class GANLoss:
    """Base class: ``discriminator_loss(real, fake)`` and ``generator_loss(fake)``, both scalars to minimise."""

    name: str = ""
    uses_gradient_penalty: bool = False

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class MinimaxLoss(GANLoss):
    """The original minimax GAN (Goodfellow et al. 2014): G minimises log(1 - D(G(z))).

    log(1 - sigmoid(s)) = -softplus(s), so G's loss is -softplus(fake). It saturates early in training;
    "non_saturating" is usually the better choice.
    """

    name = "bce"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # -log sigmoid(real) - log(1 - sigmoid(fake))
        return F.softplus(-real_scores.float()).mean() + F.softplus(fake_scores.float()).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -F.softplus(fake_scores.float()).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Minimax D loss; G minimises -log D(G(z)) = softplus(-fake) instead (Goodfellow et al. 2014)."""

    name = "non_saturating"

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return F.softplus(-fake_scores.float()).mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real) for D and c=1 for G, and the paper's 1/2."""

    name = "mse"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((real_scores.float() - 1).pow(2).mean() + fake_scores.float().pow(2).mean())

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * (fake_scores.float() - 1).pow(2).mean()


class HingeLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017; SNGAN, BigGAN): D relu(1 - real) + relu(1 + fake), G -fake."""

    name = "hinge"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores.float()).mean() + F.relu(1 + fake_scores.float()).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.float().mean()


class WGANGPLoss(GANLoss):
    """Wasserstein loss (Arjovsky et al. 2017) for use with the gradient penalty of Gulrajani et al. 2017.

    The caller adds ``weight * gradient_penalty(...)`` to the D loss (the paper's weight is 10).
    """

    name = "wgan-gp"
    uses_gradient_penalty = True

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.float().mean() - real_scores.float().mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.float().mean()


LOSSES: dict[str, type[GANLoss]] = {
    cls.name: cls for cls in (MinimaxLoss, NonSaturatingLoss, LeastSquaresLoss, HingeLoss, WGANGPLoss)
}


def get_loss(name: str) -> GANLoss:
    """A fresh loss object by its registry name; ParameterError naming the allowed values otherwise."""
    if not isinstance(name, str) or name not in LOSSES:
        raise ParameterError(f"Unknown loss {name!r}; allowed values: {', '.join(sorted(LOSSES))}.")
    return LOSSES[name]()
