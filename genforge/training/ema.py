"""An exponential moving average of a network's weights (used for the GAN generator)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to average into."""
    ema = copy.deepcopy(model).eval()
    for parameter in ema.parameters():
        parameter.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """``ema = decay * ema + (1 - decay) * model``, with a warm-up so early steps are not dominated by the
    random initial weights; buffers (batch-norm statistics) are copied, not averaged."""
    decay = min(decay, (1.0 + step) / (10.0 + step))
    ema_params = list(ema.parameters())
    model_params = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_params, model_params, 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)
