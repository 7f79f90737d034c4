"""DiffAugment."""

from __future__ import annotations

import pytest
import torch

from genforge.errors import ParameterError
from genforge.training.augment import AUGMENT_POLICIES, diff_augment, parse_policy

POLICIES = ["color", "translation", "cutout", "color,translation,cutout"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("shape", [(4, 1, 8, 8), (4, 3, 16, 16), (4, 3, 12, 20)])
def test_shape_and_gradient(policy, shape):
    x = (torch.rand(shape) * 2 - 1).requires_grad_(True)
    out = diff_augment(x, policy)
    assert out.shape == x.shape and out.dtype == x.dtype
    out.pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("policy", POLICIES)
def test_reproducible_with_a_seeded_generator(policy):
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    a = diff_augment(x, policy, generator=torch.Generator().manual_seed(5))
    b = diff_augment(x, policy, generator=torch.Generator().manual_seed(5))
    c = diff_augment(x, policy, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_global_rng_by_default():
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(1)
    a = diff_augment(x)
    torch.manual_seed(1)
    assert torch.equal(a, diff_augment(x))


def test_translation_pads_with_zeros_and_moves_whole_images():
    x = torch.ones(64, 1, 16, 16)
    out = diff_augment(x, "translation", generator=torch.Generator().manual_seed(0))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    kept = out.sum(dim=(1, 2, 3))
    assert (kept >= (16 - 2 * 2) ** 2).all()  # shift of at most 2 px on each axis
    assert (kept < 256).any()  # some images did move


def test_cutout_zeros_at_most_half_by_half():
    x = torch.ones(64, 3, 16, 16)
    out = diff_augment(x, "cutout", generator=torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert (zeros > 0).all() and (zeros <= 8 * 8).all()
    assert torch.equal(out[:, 0], out[:, 2])  # same hole in every channel


def test_color_on_one_channel_is_brightness_and_contrast_only():
    x = torch.rand(4, 1, 8, 8)
    out = diff_augment(x, "color", generator=torch.Generator().manual_seed(0))
    # brightness and contrast are affine per image: out = a * x + b
    for i in range(4):
        a = torch.linalg.lstsq(torch.stack([x[i].flatten(), torch.ones(64)], 1), out[i].flatten()[:, None]).solution
        torch.testing.assert_close(a[0] * x[i] + a[1], out[i], atol=1e-5, rtol=1e-5)


def test_policy_validation():
    assert parse_policy("color, translation") == ("color", "translation")
    assert parse_policy(["cutout"]) == ("cutout",)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(ParameterError, match="'flip'.*color, cutout, translation"):
        diff_augment(x, "color,flip")
    with pytest.raises(ParameterError):
        diff_augment(x, 3)
    with pytest.raises(ParameterError, match=r"\(N, C, H, W\)"):
        diff_augment(torch.rand(8, 8), "color")
    assert AUGMENT_POLICIES == ("color", "translation", "cutout")
