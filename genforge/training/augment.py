"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Apply the same ``diff_augment`` to real and to generated images before every discriminator call (in
both the D and the G step). Every operation is differentiable with respect to the images, so the
generator is trained through the augmentation, and vectorised over the batch (no Python loop per image).
Images are expected in [-1, 1], as the generators produce them; the ranges follow the reference code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genforge.errors import ParameterError

AUGMENT_POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    """Split ``"color,translation,cutout"`` into its parts; ParameterError on an unknown part.

    An empty string means no augmentation. A list or tuple of part names is accepted too.
    """
    if isinstance(policy, str):
        parts = [p.strip().lower() for p in policy.split(",")]
    elif isinstance(policy, Sequence) and all(isinstance(p, str) for p in policy):
        parts = [p.strip().lower() for p in policy]
    else:
        raise ParameterError(f"DiffAugment policy must be a string like 'color,translation,cutout', got {policy!r}.")
    parts = [p for p in parts if p]
    unknown = [p for p in parts if p not in AUGMENT_POLICIES]
    if unknown:
        raise ParameterError(
            f"Unknown DiffAugment policy part(s) {', '.join(map(repr, unknown))} in {policy!r}; "
            f"allowed values: {', '.join(sorted(AUGMENT_POLICIES))} (comma-separated)."
        )
    return tuple(parts)


def diff_augment(
    x: Tensor, policy: str = "color,translation,cutout", generator: torch.Generator | None = None
) -> Tensor:
    """Augment a batch ``(N, C, H, W)`` with the comma-separated ``policy`` parts, in the order given.

    - color: random brightness (+U(-0.5, 0.5)), saturation (x U(0, 2) around the per-pixel channel mean;
      skipped for 1 channel, where it is the identity) and contrast (x U(0.5, 1.5) around the image mean);
    - translation: shift by up to 1/8 of the height and width, filling with zeros;
    - cutout: zero a random rectangle of half the height and width (clipped at the borders).

    ``generator`` makes the draws reproducible (it may live on the CPU while ``x`` is on an accelerator);
    without it the global RNG is used.
    """
    parts = parse_policy(policy)
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ParameterError(f"diff_augment expects an (N, C, H, W) batch, got {shape}.")
    for part in parts:
        if part == "color":
            x = _brightness(x, generator)
            if x.shape[1] > 1:
                x = _saturation(x, generator)
            x = _contrast(x, generator)
        elif part == "translation":
            x = _translation(x, generator)
        else:
            x = _cutout(x, generator)
    return x


def _rand(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One U(0, 1) per image, shaped (N, 1, 1, 1), on x's device and dtype."""
    device = generator.device if generator is not None else x.device
    r = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=device)
    return r.to(device=x.device, dtype=x.dtype)


def _randint(low: int, high: int, n: int, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """n integers in [low, high), as a (n, 1) tensor on x's device."""
    device = generator.device if generator is not None else x.device
    return torch.randint(low, high, (n, 1), generator=generator, device=device).to(x.device)


def _brightness(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return x + (_rand(x, generator) - 0.5)


def _saturation(x: Tensor, generator: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x, generator) * 2) + mean


def _contrast(x: Tensor, generator: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def _translation(x: Tensor, generator: torch.Generator | None, ratio: float = 0.125) -> Tensor:
    n, c, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(-shift_h, shift_h + 1, n, x, generator)  # (N, 1)
    dx = _randint(-shift_w, shift_w + 1, n, x, generator)
    rows = torch.arange(h, device=x.device)[None, :] - dy  # source row of each output row, (N, H)
    cols = torch.arange(w, device=x.device)[None, :] - dx  # (N, W)
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N, H, W)
    rows = rows.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w)
    cols = cols.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w)
    out = x.gather(2, rows).gather(3, cols)
    return out * valid[:, None].to(x.dtype)  # zero padding where the source lies outside the image


def _cutout(x: Tensor, generator: torch.Generator | None, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Centres as in the reference code; the rectangle is clipped where it runs past a border.
    top = _randint(0, h + (1 - size_h % 2), n, x, generator) - size_h // 2  # (N, 1)
    left = _randint(0, w + (1 - size_w % 2), n, x, generator) - size_w // 2
    r = torch.arange(h, device=x.device)[None, :]
    q = torch.arange(w, device=x.device)[None, :]
    in_rows = (r >= top) & (r < top + size_h)  # (N, H)
    in_cols = (q >= left) & (q < left + size_w)  # (N, W)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)
