"""Adversarial losses and gradient penalties."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genforge.errors import ParameterError
from genforge.losses import LOSSES, get_loss, gradient_penalty, r1_penalty
from genforge.nets import build_discriminator

NAMES = ["bce", "non_saturating", "mse", "hinge", "wgan-gp"]


def test_registry_names():
    assert sorted(LOSSES) == sorted(NAMES)
    for name in NAMES:
        loss = get_loss(name)
        assert loss.name == name
        assert loss.uses_gradient_penalty == (name == "wgan-gp")


def test_unknown_loss_lists_allowed_values():
    with pytest.raises(ParameterError, match="bce, hinge, mse, non_saturating, wgan-gp"):
        get_loss("wasserstein")
    with pytest.raises(ParameterError):
        get_loss(None)


@pytest.mark.parametrize("name", NAMES)
def test_signs(name):
    loss = get_loss(name)
    hi, lo = torch.full((8,), 2.0), torch.full((8,), -2.0)
    # D is happier when real scores are high and fake scores low.
    assert loss.discriminator_loss(hi, lo) < loss.discriminator_loss(lo, hi)
    # G is happier when its samples score high.
    assert loss.generator_loss(hi) < loss.generator_loss(lo)
    assert loss.discriminator_loss(hi, lo).dim() == 0 and loss.generator_loss(hi).dim() == 0


@pytest.mark.parametrize("name", NAMES)
def test_finite_for_extreme_scores_and_gradients_flow(name):
    loss = get_loss(name)
    real = torch.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    fake = torch.tensor([1e4, 0.0, -1e4], requires_grad=True)
    d, g = loss.discriminator_loss(real, fake), loss.generator_loss(fake)
    assert torch.isfinite(d) and torch.isfinite(g)
    (d + g).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_bce_is_the_minimax_game():
    real, fake = torch.randn(16), torch.randn(16)
    d_ref = -(torch.sigmoid(real).log() + (1 - torch.sigmoid(fake)).log()).mean()
    torch.testing.assert_close(get_loss("bce").discriminator_loss(real, fake), d_ref)
    torch.testing.assert_close(get_loss("bce").generator_loss(fake), (1 - torch.sigmoid(fake)).log().mean())
    torch.testing.assert_close(get_loss("non_saturating").generator_loss(fake), -torch.sigmoid(fake).log().mean())


def test_half_precision_scores_give_float32_losses():
    for name in NAMES:
        s = torch.randn(4, dtype=torch.bfloat16)
        assert get_loss(name).discriminator_loss(s, s).dtype == torch.float32


class _Linear(nn.Module):
    """D(x) = <w, x> (+ b): its input gradient is w for every sample."""

    def __init__(self, dim: int, scale: float = 1.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((dim,), scale))
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x, labels=None):
        return x.flatten(1) @ self.w + self.b


class _Constant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.ones(()))

    def forward(self, x, labels=None):
        return self.c.expand(x.shape[0])


def test_r1_zero_for_constant_d_and_exact_for_linear_d():
    x = torch.randn(4, 1, 2, 2)
    assert r1_penalty(_Constant(), x, None).item() == pytest.approx(0.0)
    d = _Linear(4, scale=0.5)
    assert r1_penalty(d, x, None).item() == pytest.approx(4 * 0.25)


def test_r1_backprops_into_d_and_not_into_the_images():
    torch.manual_seed(0)
    d = build_discriminator("dcgan", image_shape=(1, 8, 8), num_classes=2, width=4, spectral_norm=True)
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    penalty = r1_penalty(d, x, torch.tensor([0, 1, 0, 1]))
    assert penalty.item() > 0
    penalty.backward()
    assert x.grad is None
    # Every parameter gets a gradient (zero for biases), as DistributedDataParallel requires.
    grads = [p.grad for p in d.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_gradient_penalty_value_and_backprop():
    d = _Linear(4, scale=1.0)  # ||grad|| = 2 everywhere, so the penalty is (2 - 1)^2
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2, requires_grad=True)
    gp = gradient_penalty(d, real, fake, None)
    assert gp.item() == pytest.approx(1.0)
    gp.backward()
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0
    assert fake.grad is None  # the penalty trains D only

    torch.manual_seed(0)
    conv = build_discriminator("resnet", image_shape=(3, 8, 8), num_classes=2, width=4)
    gp = gradient_penalty(conv, torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 1, 0]))
    assert torch.isfinite(gp)
    gp.backward()
    assert all(p.grad is not None for name, p in conv.named_parameters() )


def test_gradient_penalty_reproducible_with_generator_and_checks_shapes():
    torch.manual_seed(0)
    d = build_discriminator("mlp", image_shape=(1, 8, 8), width=4)
    real, fake = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    a = gradient_penalty(d, real, fake, None, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(d, real, fake, None, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ParameterError, match="same shape"):
        gradient_penalty(d, real, fake[:2], None)
