"""Contract tests for the GAN generators and discriminators (tiny widths so the suite stays fast)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from genforge.errors import ParameterError
from genforge.nets import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator, check_image_shape

ARCHS = ["mlp", "dcgan", "resnet"]
SIZES = [(8, 8), (16, 16), (28, 28), (32, 32), (12, 20)]
LATENT = 8
N = 4


def _pair(arch, shape, num_classes=0, spectral_norm=False, seed=0):
    torch.manual_seed(seed)
    g = build_generator(arch, latent_dim=LATENT, image_shape=shape, num_classes=num_classes, width=4)
    d = build_discriminator(arch, image_shape=shape, num_classes=num_classes, width=4, spectral_norm=spectral_norm)
    return g, d


def _labels(num_classes):
    return torch.arange(N) % num_classes if num_classes else None


def test_registries_have_the_three_architectures():
    assert sorted(GENERATORS) == sorted(DISCRIMINATORS) == ["dcgan", "mlp", "resnet"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("num_classes", [0, 3], ids=["uncond", "cond"])
def test_shapes_range_and_gradients(arch, channels, size, num_classes):
    shape = (channels, *size)
    g, d = _pair(arch, shape, num_classes, spectral_norm=(arch != "mlp"))
    assert (g.latent_dim, g.image_shape, g.num_classes) == (LATENT, shape, num_classes)
    labels = _labels(num_classes)
    fake = g(torch.randn(N, LATENT), labels)
    assert fake.shape == (N, *shape)
    assert fake.min() >= -1 and fake.max() <= 1
    scores = d(fake, labels)
    assert scores.shape == (N,)
    scores.mean().backward()
    # Every parameter gets a gradient: nothing unused (DistributedDataParallel-safe) and nothing cut off.
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("size", [(4, 4), (7, 7), (8, 6)])
def test_too_small_images_name_the_minimum(arch, size):
    with pytest.raises(ParameterError, match="at least 8x8"):
        check_image_shape(arch, (1, *size))
    with pytest.raises(ParameterError, match="at least 8x8"):
        build_generator(arch, latent_dim=LATENT, image_shape=(1, *size))
    with pytest.raises(ParameterError, match="at least 8x8"):
        build_discriminator(arch, image_shape=(3, *size))


def test_mlp_takes_small_images_and_odd_sizes_crop_exactly():
    check_image_shape("mlp", (1, 4, 4))
    for arch in ["dcgan", "resnet"]:
        g, d = _pair(arch, (3, 30, 9))
        out = g(torch.randn(2, LATENT))
        assert out.shape == (2, 3, 30, 9)
        assert d(out).shape == (2,)


@pytest.mark.parametrize("bad", [(1, 8), (0, 8, 8), (1, 8.0, 8), "1x8x8", None])
def test_bad_image_shape(bad):
    with pytest.raises(ParameterError):
        check_image_shape("dcgan", bad)


def test_unknown_architecture_lists_allowed_values():
    with pytest.raises(ParameterError, match="dcgan, mlp, resnet"):
        build_generator("stylegan", latent_dim=LATENT, image_shape=(1, 8, 8))
    with pytest.raises(ParameterError, match="dcgan, mlp, resnet"):
        build_discriminator("stylegan", image_shape=(1, 8, 8))
    with pytest.raises(ParameterError, match="dcgan, mlp, resnet"):
        check_image_shape("stylegan", (1, 8, 8))


@pytest.mark.parametrize("arch", ARCHS)
def test_unknown_activation(arch):
    with pytest.raises(ParameterError, match="elu, gelu, leaky_relu, relu, sigmoid, silu, tanh"):
        build_generator(arch, latent_dim=LATENT, image_shape=(1, 8, 8), activation="swish")
    with pytest.raises(ParameterError, match="allowed values"):
        build_discriminator(arch, image_shape=(1, 8, 8), activation="swish")


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "elu", "gelu", "silu"])
def test_every_activation_builds(activation):
    g = build_generator("mlp", latent_dim=LATENT, image_shape=(1, 8, 8), activation=activation, width=4)
    assert g(torch.randn(2, LATENT)).shape == (2, 1, 8, 8)


def test_bad_numbers_and_hidden_dims():
    with pytest.raises(ParameterError, match="latent_dim"):
        build_generator("mlp", latent_dim=0, image_shape=(1, 8, 8))
    with pytest.raises(ParameterError, match="num_classes"):
        build_discriminator("mlp", image_shape=(1, 8, 8), num_classes=-1)
    with pytest.raises(ParameterError, match="width"):
        build_discriminator("dcgan", image_shape=(1, 8, 8), width=0)
    with pytest.raises(ParameterError, match="hidden_dims"):
        build_generator("mlp", latent_dim=4, image_shape=(1, 8, 8), hidden_dims=[16, 0])
    with pytest.raises(ParameterError, match="mlp.* only"):
        build_generator("dcgan", latent_dim=4, image_shape=(1, 8, 8), hidden_dims=[16])


def test_h2o_style_mlp():
    # generator_architecture={"input_dim": 100, "hidden_dim": 128, "output_dim": 784, "activation": "relu"}
    g = build_generator("mlp", latent_dim=100, image_shape=(1, 28, 28), hidden_dims=[128], activation="relu")
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 128), (128, 784)]
    assert g(torch.randn(3, 100)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("arch", ARCHS)
def test_conditional_models_require_valid_labels(arch):
    g, d = _pair(arch, (1, 8, 8), num_classes=3)
    z, x = torch.randn(N, LATENT), torch.randn(N, 1, 8, 8)
    with pytest.raises(ParameterError, match="class-conditional .*pass labels"):
        g(z)
    with pytest.raises(ParameterError, match="class-conditional .*pass labels"):
        d(x)
    with pytest.raises(ParameterError, match=r"\[0, 3\)"):
        g(z, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ParameterError, match="1-D tensor of 4"):
        d(x, torch.tensor([0, 1]))
    with pytest.raises(ParameterError, match="integer"):
        d(x, torch.zeros(N))


@pytest.mark.parametrize("arch", ARCHS)
def test_wrong_input_shapes(arch):
    g, d = _pair(arch, (1, 8, 8))
    with pytest.raises(ParameterError, match=r"\(N, 8\)"):
        g(torch.randn(N, LATENT + 1))
    with pytest.raises(ParameterError, match=r"\(N, 1, 8, 8\)"):
        d(torch.randn(N, 3, 8, 8))


def test_unconditional_models_ignore_labels():
    g, d = _pair("dcgan", (1, 8, 8))
    g.eval()
    z = torch.randn(N, LATENT)
    assert torch.equal(g(z), g(z, torch.zeros(N, dtype=torch.long)))


@pytest.mark.parametrize("arch", ARCHS)
def test_deterministic_given_seed(arch):
    g1, d1 = _pair(arch, (3, 8, 8), num_classes=2, spectral_norm=True, seed=3)
    g2, d2 = _pair(arch, (3, 8, 8), num_classes=2, spectral_norm=True, seed=3)
    for a, b in zip([*g1.state_dict().values(), *d1.state_dict().values()], [*g2.state_dict().values(), *d2.state_dict().values()]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("arch", ARCHS)
def test_spectral_norm_state_dict_round_trip(arch):
    shape, labels = (3, 16, 16), _labels(2)
    g, d = _pair(arch, shape, num_classes=2, spectral_norm=True, seed=0)
    assert any(parametrize.is_parametrized(m, "weight") for m in d.modules())
    for _ in range(2):  # training-mode forwards move the power-iteration vectors and BN statistics
        d(g(torch.randn(N, LATENT), labels), labels)
    g2, d2 = _pair(arch, shape, num_classes=2, spectral_norm=True, seed=1)
    g2.load_state_dict(g.state_dict())
    d2.load_state_dict(d.state_dict())
    for m in (g, d, g2, d2):
        m.eval()
    z = torch.randn(N, LATENT)
    with torch.no_grad():
        assert torch.equal(g(z, labels), g2(z, labels))
        x = g(z, labels)
        assert torch.equal(d(x, labels), d2(x, labels))


def test_spectral_norm_bounds_the_weights():
    torch.manual_seed(0)
    d = build_discriminator("dcgan", image_shape=(1, 16, 16), width=4, spectral_norm=True)
    for _ in range(20):
        d(torch.randn(N, 1, 16, 16))
    sigma = torch.linalg.matrix_norm(d.head.linear.weight.detach(), ord=2).item()
    assert sigma == pytest.approx(1.0, abs=0.05)
