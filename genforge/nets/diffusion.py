"""The diffusion denoiser and its noise schedules, built from plain config dicts with diffusers.

diffusers (``pip install 'genforge[diffusion]'``) supplies the denoiser, ``UNet2DModel``, and the
schedulers: DDPM for training and for ancestral sampling, DDIM and DPM-Solver++ for fast sampling. Nothing
is fetched from a hub: the networks and schedulers are made from the dicts that ``unet_config`` and
``scheduler_config`` return, which a saved model keeps in its ``model.json``.

``sample_loop`` is the one sampling loop: the estimator runs it over the PyTorch UNet, the ONNX runtime
over an onnxruntime session, with the same scheduler and therefore the same pixels.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genforge.errors import GenforgeError, ModelFormatError, ParameterError

SAMPLERS = ("ddpm", "ddim", "dpm++")
BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
PREDICTION_TYPES = ("epsilon", "v_prediction")
# The scheduler classes a saved model may name (model.json); nothing else is ever instantiated.
_SCHEDULER_CLASSES = {"DDPMScheduler": "scheduling_ddpm", "DDIMScheduler": "scheduling_ddim",
                      "DPMSolverMultistepScheduler": "scheduling_dpmsolver_multistep"}
_SAMPLER_CLASSES = {"ddpm": "DDPMScheduler", "ddim": "DDIMScheduler", "dpm++": "DPMSolverMultistepScheduler"}
_UNET_KEYS = {"sample_size", "in_channels", "out_channels", "down_block_types", "up_block_types",
              "block_out_channels", "layers_per_block", "norm_num_groups", "attention_head_dim", "add_attention",
              "num_class_embeds", "dropout"}
_SCHEDULE_KEYS = {"num_train_timesteps", "beta_schedule", "prediction_type", "beta_start", "beta_end"}


def require_diffusers() -> None:
    """Raise a genforge error naming the extra when diffusers is not installed."""
    try:
        import diffusers  # noqa: F401
    except ImportError:
        raise GenforgeError("the diffusion estimator needs diffusers: pip install 'genforge[diffusion]' "
                            "(or pip install diffusers).") from None


# ---------------------------------------------------------------------------------------------- the UNet
def check_unet_shape(image_shape: tuple[int, int, int], levels: int, patch_size: int = 1) -> None:
    """The UNet works on ``patch_size`` x ``patch_size`` patches folded into channels and halves that grid
    ``levels - 1`` times: height and width must divide by patch_size * 2 ** (levels - 1)."""
    c, h, w = image_shape
    if c not in (1, 3):
        raise ParameterError(f"the diffusion UNet takes 1 or 3 channels, got {c}.")
    if h % patch_size or w % patch_size:
        raise ParameterError(f"{h}x{w} images do not split into {patch_size}x{patch_size} patches; use a patch_size "
                             "that divides the height and width (1 = none), or resize the frame.")
    factor = 2 ** (levels - 1)
    gh, gw = h // patch_size, w // patch_size
    if gh % factor or gw % factor or gh < factor * 2 or gw < factor * 2:
        raise ParameterError(
            f"{h}x{w} images ({gh}x{gw} patches of {patch_size}x{patch_size}) cannot be halved {levels - 1} times by "
            f"a UNet with {levels} levels (channel_mults); use fewer channel_mults, a smaller patch_size, or resize "
            f"the frame to a height and width that divide by {patch_size * factor} (and at least "
            f"{patch_size * factor * 2})."
        )


def unet_config(image_shape: tuple[int, int, int], width: int, channel_mults: list[int], layers_per_block: int,
                attention: bool, num_classes: int, patch_size: int = 1) -> dict[str, Any]:
    """The ``UNet2DModel`` keyword arguments: one level per channel multiplier, attention (when asked) only at
    the lowest resolution and in the middle block; ``num_classes + 1`` class embeddings for a conditional
    model (the last one is the "no label" of classifier-free guidance). The UNet sees the image as its grid
    of ``patch_size`` x ``patch_size`` patches, each folded into channels (see ``Denoiser``)."""
    c, h, w = image_shape
    c, h, w = c * patch_size**2, h // patch_size, w // patch_size
    channels = [int(width * m) for m in channel_mults]
    levels = len(channels)
    down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D" if attention else "DownBlock2D"]
    up = ["AttnUpBlock2D" if attention else "UpBlock2D"] + ["UpBlock2D"] * (levels - 1)
    groups = math.gcd(*channels) if len(channels) > 1 else channels[0]
    return {
        "sample_size": [h, w], "in_channels": c, "out_channels": c, "down_block_types": down, "up_block_types": up,
        "block_out_channels": channels, "layers_per_block": int(layers_per_block), "norm_num_groups": min(32, groups),
        "attention_head_dim": min(8, channels[-1]), "add_attention": bool(attention),
        "num_class_embeds": num_classes + 1 if num_classes else None, "dropout": 0.0,
    }


def check_saved_patch(patch_size: Any, image_shape: tuple[int, int, int], config: dict[str, Any]) -> int:
    """A saved model's ``patch_size`` (1 in models saved before it existed), checked against its UNet config."""
    c, h, w = image_shape
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or not 1 <= patch_size <= 8 \
            or h % patch_size or w % patch_size:
        raise ModelFormatError(f"model.json's patch_size {patch_size!r} is not a patch side from 1 to 8 that divides "
                               f"the {h}x{w} images.")
    if config.get("in_channels") != c * patch_size**2:
        raise ModelFormatError(f"model.json's UNet takes {config.get('in_channels')!r} channels, but {c}-channel "
                               f"images in {patch_size}x{patch_size} patches give {c * patch_size**2}.")
    return patch_size


def build_unet(config: dict[str, Any]) -> nn.Module:
    """A ``UNet2DModel`` from ``unet_config``'s dict (a saved model's config is checked first)."""
    require_diffusers()
    from diffusers.models.unets.unet_2d import UNet2DModel

    unknown = set(config) - _UNET_KEYS
    if unknown:
        raise ModelFormatError(f"the saved UNet config has unknown keys {sorted(unknown)}.")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    try:
        return UNet2DModel(**kwargs)
    except (TypeError, ValueError, AttributeError) as error:
        raise ModelFormatError(f"the saved UNet config does not build a UNet2DModel: {error}") from None


class Denoiser(nn.Module):
    """``UNet2DModel`` as a plain module: (sample, timestep[, class_labels]) -> the model output tensor.
    This is also the graph that ONNX export traces.

    With ``patch_size`` p > 1 the image's p x p patches are folded into channels before the UNet and
    unfolded after it (pixel unshuffle / shuffle, as DiT and U-ViT patchify): the UNet's costly first level
    then runs on a grid p times smaller per side, which is what makes sampling fast on a CPU."""

    def __init__(self, unet: nn.Module, patch_size: int = 1) -> None:
        super().__init__()
        self.unet = unet
        self.patch_size = int(patch_size)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor,
                class_labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.patch_size == 1:
            return self.unet(sample, timestep, class_labels=class_labels, return_dict=False)[0]
        patches = F.pixel_unshuffle(sample, self.patch_size)
        out = self.unet(patches, timestep, class_labels=class_labels, return_dict=False)[0]
        return F.pixel_shuffle(out, self.patch_size)


# ---------------------------------------------------------------------------------------------- schedules
def scheduler_config(beta_schedule: str, prediction_type: str, num_train_timesteps: int) -> dict[str, Any]:
    """The training noise schedule (DDPM's), shared by every sampler."""
    return {"num_train_timesteps": int(num_train_timesteps), "beta_schedule": BETA_SCHEDULES[beta_schedule],
            "prediction_type": prediction_type, "beta_start": 1e-4, "beta_end": 0.02}


def check_scheduler(saved: Any) -> dict[str, Any]:
    """A saved model's ``{"name", "config"}`` scheduler entry, checked: a known class, known keys."""
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise ModelFormatError("model.json has no valid diffusion scheduler entry ({'name': ..., 'config': {...}}).")
    if saved.get("name") not in _SCHEDULER_CLASSES:
        raise ModelFormatError(f"model.json names the scheduler {saved.get('name')!r}; genforge knows "
                               f"{', '.join(_SCHEDULER_CLASSES)}.")
    config = saved["config"]
    unknown = set(config) - _SCHEDULE_KEYS
    if unknown:
        raise ModelFormatError(f"the saved scheduler config has unknown keys {sorted(unknown)}.")
    if config.get("beta_schedule") not in BETA_SCHEDULES.values():
        raise ModelFormatError(f"the saved scheduler names the beta schedule {config.get('beta_schedule')!r}; "
                               f"known: {', '.join(BETA_SCHEDULES.values())}.")
    if config.get("prediction_type") not in PREDICTION_TYPES:
        raise ModelFormatError(f"the saved scheduler names the prediction type {config.get('prediction_type')!r}; "
                               f"known: {', '.join(PREDICTION_TYPES)}.")
    return config


def make_scheduler(name: str, config: dict[str, Any]):
    """A scheduler of class ``name`` (one of ``_SCHEDULER_CLASSES``) on the schedule ``config``."""
    require_diffusers()
    import importlib

    if name not in _SCHEDULER_CLASSES:
        raise ModelFormatError(f"unknown scheduler {name!r}; genforge knows {', '.join(_SCHEDULER_CLASSES)}.")
    module = importlib.import_module(f"diffusers.schedulers.{_SCHEDULER_CLASSES[name]}")
    extra: dict[str, Any] = {}
    if name == "DDIMScheduler":
        extra = {"clip_sample": True, "set_alpha_to_one": False, "timestep_spacing": "trailing"}
    elif name == "DPMSolverMultistepScheduler":
        # Thresholding keeps the x0 predictions in the pixel range (as DDIM's and DDPM's clip_sample does):
        # near t = T of the cosine schedule an epsilon error is divided by sqrt(alpha_bar) ~ 1e-4.
        extra = {"algorithm_type": "dpmsolver++", "solver_order": 2, "timestep_spacing": "trailing",
                 "thresholding": True, "sample_max_value": 1.0}
    elif name == "DDPMScheduler":
        extra = {"clip_sample": True, "timestep_spacing": "trailing"}
    with warnings.catch_warnings():
        # diffusers' own numpy call (DPM-Solver's sigmas) warns about numpy 2's copy keyword; nothing to act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(module, name)(**config, **extra)


def sampler_scheduler(sampler: str, config: dict[str, Any]):
    """The scheduler that samples with ``sampler`` ("ddpm", "ddim" or "dpm++")."""
    if sampler not in SAMPLERS:
        raise ParameterError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}.")
    return make_scheduler(_SAMPLER_CLASSES[sampler], config)


def snr(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio alpha_bar / (1 - alpha_bar) at ``timesteps``."""
    alpha = alphas_cumprod.to(timesteps.device)[timesteps]
    return alpha / (1.0 - alpha)


def min_snr_weight(ratio: torch.Tensor, gamma: float, prediction_type: str) -> torch.Tensor:
    """Min-SNR-gamma loss weights (Hang et al. 2023) for an epsilon or v-prediction loss (1 when gamma is 0)."""
    if gamma <= 0:
        return torch.ones_like(ratio)
    clipped = torch.clamp(ratio, max=gamma)
    return clipped / ratio if prediction_type == "epsilon" else clipped / (ratio + 1.0)


# ---------------------------------------------------------------------------------------------- sampling
# (sample (N, C, H, W), timesteps int64 (N,), class labels int64 (N,) or None) -> model output (N, C, H, W)
Denoise = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def noise_generator(z: torch.Tensor) -> torch.Generator:
    """The generator of a sampler's fresh noise (DDPM's), seeded from the initial noise itself: the same
    seed (the same z) gives the same images, in PyTorch and over ONNX alike."""
    digest = hashlib.sha256(np.ascontiguousarray(z.numpy(), dtype=np.float32).tobytes()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


@torch.no_grad()
def sample_loop(denoise: Denoise, scheduler, z: torch.Tensor, image_shape: tuple[int, int, int], steps: int,
                labels: torch.Tensor | None = None, null_label: int | None = None,
                guidance_scale: float = 1.0, device: torch.device | str = "cpu") -> torch.Tensor:
    """Images in [-1, 1] (N, C, H, W) from the initial noise ``z`` (N, C*H*W), float32 on the CPU: ``steps``
    of ``scheduler``. With ``labels`` and ``guidance_scale != 1``, classifier-free guidance: the output is
    ``uncond + guidance_scale * (cond - uncond)``, the unconditional pass taking ``null_label``. The loop
    runs on ``device``; the fresh noise is drawn on the CPU (the same numbers on every device)."""
    generator = noise_generator(z)
    x = z.reshape(len(z), *image_shape).to(device)
    labels = labels.to(device) if labels is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # diffusers' numpy 2 copy-keyword warning
        scheduler.set_timesteps(steps, device=x.device)
    guided = labels is not None and guidance_scale != 1.0
    for t in scheduler.timesteps:
        model_in = scheduler.scale_model_input(x, t)
        if guided:
            both = torch.cat([model_in, model_in])
            both_labels = torch.cat([labels, torch.full_like(labels, int(null_label))])
            out = denoise(both, torch.full((len(both),), int(t), dtype=torch.long, device=x.device), both_labels).float()
            cond, uncond = out.chunk(2)
            out = uncond + guidance_scale * (cond - uncond)
        else:
            out = denoise(model_in, torch.full((len(x),), int(t), dtype=torch.long, device=x.device), labels).float()
        x = scheduler.step(out, t, x, generator=generator, return_dict=False)[0]
    return x.clamp(-1.0, 1.0)


def check_sampling(steps: Any, sampler: Any, guidance_scale: Any, num_classes: int, num_train_timesteps: int) -> None:
    """Refuse sampling options that cannot work, naming what to pass instead."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise ParameterError(f"steps must be a whole number of sampling steps, got {steps!r}.")
    if steps < 1 or steps > min(1000, num_train_timesteps):
        raise ParameterError(f"steps must be from 1 to {min(1000, num_train_timesteps)} (the model's training "
                             f"timesteps), got {steps}; 10 to 50 is typical for 'ddim' and 'dpm++'.")
    if sampler not in SAMPLERS:
        raise ParameterError(f"unknown sampler {sampler!r}; choose one of: {', '.join(SAMPLERS)}.")
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(guidance_scale)) or not 0 <= float(guidance_scale) <= 50:
        raise ParameterError(f"guidance_scale must be a number from 0 to 50, got {guidance_scale!r}.")
    if float(guidance_scale) != 1.0 and not num_classes:
        raise ParameterError(f"guidance_scale={guidance_scale} needs a class-conditional model (trained with "
                             "conditional=True); leave it at 1 for this one.")
