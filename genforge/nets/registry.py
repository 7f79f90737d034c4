"""Generator and discriminator registries, keyed by the architecture names users and saved models use."""

from __future__ import annotations

from torch import nn

from genforge.errors import ParameterError
from genforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genforge.nets.layers import check_activation, check_image_shape_tuple, check_positive_int
from genforge.nets.mlp import MLPDiscriminator, MLPGenerator
from genforge.nets.resnet import ResNetDiscriminator, ResNetGenerator

GENERATORS: dict[str, type[nn.Module]] = {"mlp": MLPGenerator, "dcgan": DCGANGenerator, "resnet": ResNetGenerator}
DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "mlp": MLPDiscriminator,
    "dcgan": DCGANDiscriminator,
    "resnet": ResNetDiscriminator,
}


def _check_architecture(architecture: object) -> str:
    if not isinstance(architecture, str) or architecture not in GENERATORS:
        raise ParameterError(
            f"Unknown architecture {architecture!r}; allowed values: {', '.join(sorted(GENERATORS))}."
        )
    return architecture


def check_image_shape(architecture: str, image_shape: object) -> None:
    """Raise ParameterError unless ``architecture`` can generate/score images of ``image_shape`` (C, H, W).

    mlp takes any size; dcgan and resnet need height and width of at least 8 (one doubling from a 4 px base).
    """
    arch = _check_architecture(architecture)
    c, h, w = check_image_shape_tuple(image_shape)
    minimum = GENERATORS[arch].min_size  # type: ignore[attr-defined]
    if h < minimum or w < minimum:
        raise ParameterError(
            f"Architecture {arch!r} needs images of at least {minimum}x{minimum} pixels, got {h}x{w} "
            f"(image_shape={(c, h, w)}); resize the images or use architecture='mlp'."
        )


def _check_common(architecture: str, image_shape: object, num_classes: object, width: object, hidden_dims: object) -> dict:
    check_image_shape(architecture, image_shape)
    kwargs: dict = {
        "image_shape": check_image_shape_tuple(image_shape),
        "num_classes": check_positive_int("num_classes", num_classes, minimum=0),
        "width": check_positive_int("width", width),
    }
    if architecture == "mlp":
        if hidden_dims is not None:
            if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
                raise ParameterError(f"hidden_dims must be a list of positive integers, got {hidden_dims!r}.")
            hidden_dims = [check_positive_int("each of hidden_dims", d) for d in hidden_dims]
        kwargs["hidden_dims"] = hidden_dims
    elif hidden_dims is not None:
        raise ParameterError(f"hidden_dims applies to architecture='mlp' only, not {architecture!r}; use width.")
    return kwargs


def build_generator(
    architecture: str,
    *,
    latent_dim: int,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    width: int = 64,
    activation: str = "relu",
    hidden_dims: list[int] | None = None,
) -> nn.Module:
    """Build a generator: ``forward(z[N, latent_dim], labels[N] | None) -> images[N, C, H, W]`` in [-1, 1].

    ``activation`` is used in the hidden layers. With ``num_classes > 0`` the generator is class-conditional
    and needs labels. ``hidden_dims`` (mlp only) defaults to [4*width, 8*width].
    """
    arch = _check_architecture(architecture)
    kwargs = _check_common(arch, image_shape, num_classes, width, hidden_dims)
    return GENERATORS[arch](
        latent_dim=check_positive_int("latent_dim", latent_dim), activation=check_activation(activation), **kwargs
    )


def build_discriminator(
    architecture: str,
    *,
    image_shape: tuple[int, int, int],
    num_classes: int = 0,
    width: int = 64,
    spectral_norm: bool = False,
    activation: str = "leaky_relu",
    hidden_dims: list[int] | None = None,
) -> nn.Module:
    """Build a discriminator: ``forward(x[N, C, H, W], labels[N] | None) -> raw scores[N]`` (no sigmoid).

    With ``num_classes > 0`` it is a projection discriminator and needs labels. ``spectral_norm`` wraps
    every weight in spectral norm. ``hidden_dims`` (mlp only) defaults to [8*width, 4*width].
    """
    arch = _check_architecture(architecture)
    kwargs = _check_common(arch, image_shape, num_classes, width, hidden_dims)
    if not isinstance(spectral_norm, bool):
        raise ParameterError(f"spectral_norm must be True or False, got {spectral_norm!r}.")
    return DISCRIMINATORS[arch](spectral_norm=spectral_norm, activation=check_activation(activation), **kwargs)
