"""Gradient penalties on the discriminator. Both build a graph (create_graph=True) so they backprop into D."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genforge.errors import ParameterError


def _input_gradients(discriminator: nn.Module, x: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
    """Return (d sum(D(x)) / dx, a zero tied to D's output).

    The gradient is itself differentiable w.r.t. D's parameters (zeros if D ignores x). Parameters that do
    not change the input gradient (the last bias, say) would get no gradient from the penalty alone, which
    DistributedDataParallel rejects; adding ``0 * sum(D(x))`` gives them an exact zero instead (the same
    trick as StyleGAN2-ADA), so a penalty can have its own backward pass.
    """
    scores = discriminator(x, labels).float()
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True, allow_unused=True)
    return (torch.zeros_like(x) if grad is None else grad), scores.sum() * 0


def r1_penalty(discriminator: nn.Module, real: Tensor, labels: Tensor | None) -> Tensor:
    """R1 penalty (Mescheder et al. 2018): E_x[ ||grad_x D(x)||^2 ] over real images.

    Returns the bare expectation; the regulariser is ``gamma / 2 * r1_penalty(...)``, so multiply by
    gamma/2 at the call site. The images are detached, so no gradient reaches whatever produced them.
    """
    x = real.detach().requires_grad_(True)
    grad, zero = _input_gradients(discriminator, x, labels)
    return grad.float().pow(2).flatten(1).sum(1).mean() + zero


def gradient_penalty(
    discriminator: nn.Module,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2], x_hat = a*real + (1-a)*fake.

    One a ~ U(0, 1) per sample (from ``generator`` when given). ``labels`` are the class labels shared by
    the real/fake pairs (pass the real ones for a conditional D). Multiply by the weight (10 in the paper)
    at the call site. Real and fake are detached: the penalty trains D only.
    """
    if real.shape != fake.shape:
        raise ParameterError(f"gradient_penalty needs real and fake of the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    device = generator.device if generator is not None else real.device
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator, device=device)
    alpha = alpha.to(device=real.device, dtype=real.dtype)
    x = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    grad, zero = _input_gradients(discriminator, x, labels)
    # The epsilon keeps sqrt differentiable where a gradient is exactly zero.
    norm = (grad.float().pow(2).flatten(1).sum(1) + 1e-12).sqrt()
    return (norm - 1).pow(2).mean() + zero
