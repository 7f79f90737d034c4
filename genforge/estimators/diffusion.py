"""DiffusionEstimator: denoising diffusion models (DDPM) behind the estimator contract, on diffusers.

Training (one loop step): draw noise and timesteps, noise the batch with the DDPM schedule, predict the
noise (``epsilon``) or the velocity (``v_prediction``) with diffusers' ``UNet2DModel``, and minimise the mean
squared error weighted by min-SNR-gamma; then update the EMA copy that ``predict`` samples from. A
conditional model drops the label (replaces it with a "no label" class) with ``class_dropout`` probability,
which is what classifier-free guidance (``guidance_scale`` at predict time) needs.

Sampling: the latent ``z`` of the generator base is the initial noise x_T, flattened to ``C*H*W`` values
per image (``latent_size``); ``predict(n, seed=..., steps=..., sampler="ddpm" | "ddim" | "dpm++")`` runs
the chosen diffusers scheduler from it. DDIM and DPM-Solver++ are deterministic given z; DDPM's fresh noise
comes from a generator seeded from z, so a seed always gives the same images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genforge.errors import DataError, ParameterError
from genforge.estimators.base import Estimator
from genforge.estimators.generator import Generator
from genforge.estimators.inputs import check_same_classes, conform_frame, frame_labels, to_uint8_images
from genforge.estimators.params import Param, ParamSet, common_params, guard_params, lr_schedule_param
from genforge.estimators.quality import quality_scores
from genforge.estimators.registry import register
from genforge.frame import Frame
from genforge.nets.diffusion import (BETA_SCHEDULES, PREDICTION_TYPES, SAMPLERS, Denoiser, build_unet, check_sampling,
                                     check_saved_patch, check_scheduler, check_unet_shape, make_scheduler, min_snr_weight,
                                     require_diffusers, sample_loop, sampler_scheduler, scheduler_config, snr,
                                     unet_config)
from genforge.nets.export import OnnxGraph
from genforge.training.ema import make_ema, update_ema
from genforge.training.loop import TrainingPlan
from genforge.training.lr_schedule import LRSchedule
from genforge.training.runtime import autocast

DIFFUSION_PARAMS = ParamSet(common_params() + [
    Param("width", int, 16, "Channels of the UNet's first level (times channel_mults per level).", low=4, high=1024),
    Param("channel_mults", list, [1, 2], "Channel multiplier per UNet level; each level after the first halves "
          "the patch grid, so height and width must divide by patch_size * 2 ** (levels - 1).", ),
    Param("patch_size", int, 2, "Side of the square patches folded into the UNet's channels (1 = none, the pixels "
          "themselves); 2 makes a 28x28 model several times faster to train and sample on a CPU.", low=1, high=8),
    Param("layers_per_block", int, 1, "Residual blocks per UNet level.", low=1, high=8),
    Param("attention", bool, False, "Self-attention at the lowest resolution and in the middle block."),
    Param("prediction_type", str, "v_prediction", "What the UNet predicts: the velocity ('v_prediction') or the "
          "noise ('epsilon').", choices=PREDICTION_TYPES),
    Param("beta_schedule", str, "cosine", "Noise schedule: 'linear' (DDPM's) or 'cosine' (squaredcos_cap_v2).",
          choices=tuple(BETA_SCHEDULES)),
    Param("num_train_timesteps", int, 1000, "Diffusion steps of the training schedule.", low=10, high=4000),
    Param("min_snr_gamma", float, 5.0, "Min-SNR-gamma loss weighting (0 = plain MSE).", low=0, high=1000),
    Param("ema_decay", float, 0.999, "Decay of the UNet's moving average used for sampling (0 = no EMA).",
          low=0, high=0.99999),
    Param("lr", float, 3e-3, "Learning rate (AdamW).", low=0, high=1),
    Param("warmup_steps", int, 100, "Steps over which the learning rate rises linearly to lr (0 = none).", low=0),
    lr_schedule_param(),
    Param("conditional", bool, False, "Class-conditional model with classifier-free guidance (needs labels)."),
    Param("class_dropout", float, 0.1, "Share of training labels replaced by 'no label' (conditional models; what "
          "guidance_scale at predict time needs).", low=0, high=1),
    Param("score_every", int, 0, "Record FID in the history every this many epochs (0 = only with "
          "stopping_metric='fid', then every epoch).", low=0),
    Param("score_samples", int, 1000, "Generated (and reference) images behind the per-epoch FID.", low=2, high=100000),
    Param("evaluator", str, None, "Feature extractor of the FID during training and of model_performance (None = the "
          "built-in evaluator that fits the frame).", nullable=True),
] + guard_params(False))

_EVAL_BATCH = 256
GRID_STEPS = 10  # DDIM steps of the per-epoch sample grid: enough to see progress, cheap on a CPU
GRID_IMAGES = 36


@register
class DiffusionEstimator(Generator, Estimator):
    """Train a denoising diffusion model on a Frame and sample new images from it.

    >>> model = DiffusionEstimator(epochs=5, seed=1).train(training_frame=frame)
    >>> model.predict(64, seed=0, steps=25, sampler="dpm++").to_png("samples.png")
    """

    algo = "diffusion"
    PARAMS = DIFFUSION_PARAMS

    # ------------------------------------------------------------------------------ checks
    def _check_params(self, params: dict) -> None:
        require_diffusers()
        mults = params["channel_mults"]
        if not mults or len(mults) > 6 or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 16
                                                  for m in mults):
            raise ParameterError(f"channel_mults must be a list of 1 to 6 integers from 1 to 16, got {mults!r}.")

    def _check_frame(self, params: dict, frame: Frame) -> None:
        if params["conditional"] and frame.labels is None:
            raise DataError("conditional=True needs a frame with labels; import one with labels or set conditional=False.")
        if len(frame) < params["batch_size"]:
            raise DataError(f"the training frame has {len(frame)} images, fewer than batch_size={params['batch_size']}; "
                            "lower batch_size or train on more images.")
        h, w, c = frame.image_shape
        check_unet_shape((c, h, w), len(params["channel_mults"]), params["patch_size"])

    # ------------------------------------------------------------------------------ networks
    def _build(self, params: dict, schema: dict, info: dict | None = None) -> None:
        image_shape = (schema["channels"], schema["height"], schema["width"])
        if info is not None and "unet" in info:  # a saved model: its own configs, checked
            num_classes = int(info.get("num_classes") or 0)
            unet_cfg = info["unet"]
            schedule = check_scheduler(info.get("scheduler"))
            patch_size = check_saved_patch(info.get("patch_size", 1), image_shape, unet_cfg)
        else:
            num_classes = len(schema["class_names"] or []) if params["conditional"] else 0
            patch_size = params["patch_size"]
            unet_cfg = unet_config(image_shape, params["width"], params["channel_mults"], params["layers_per_block"],
                                   params["attention"], num_classes, patch_size)
            schedule = scheduler_config(params["beta_schedule"], params["prediction_type"],
                                        params["num_train_timesteps"])
        self._info.update({"latent_dim": int(np.prod(image_shape)), "num_classes": num_classes,
                           "image_shape": list(image_shape), "unet": unet_cfg, "patch_size": patch_size,
                           "scheduler": {"name": "DDPMScheduler", "config": schedule}})
        self._modules = {"unet": Denoiser(build_unet(unet_cfg), patch_size).to(self._device)}
        self._info["min_snr_gamma"] = params["min_snr_gamma"]  # what model_performance weights by
        if params["ema_decay"] > 0:
            self._modules["unet_ema"] = make_ema(self._modules["unet"])

    @property
    def latent_size(self) -> int:
        """Values of the initial noise per image: channels x height x width."""
        self._require_fitted()
        return int(self._info["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images the model makes."""
        self._require_fitted()
        return tuple(self._info["image_shape"])  # type: ignore[return-value]

    @property
    def schedule(self) -> dict[str, Any]:
        """The training noise schedule (diffusers' scheduler config) that every sampler uses."""
        self._require_fitted()
        return dict(self._info["scheduler"]["config"])

    def _make_task(self, params: dict, frame: Frame, validation_frame: Frame | None) -> "DiffusionTask":
        if self.num_classes:
            check_same_classes(frame, self.class_names)
            if validation_frame is not None:
                validation_frame = Frame(validation_frame.images, frame_labels(validation_frame, self.class_names,
                                                                               "validation_frame"), self.class_names)
        self._has_validation = validation_frame is not None
        return DiffusionTask(self, params, validation_frame)

    def _default_stopping_metric(self) -> str | None:
        return "valid_loss" if getattr(self, "_has_validation", False) else "loss"

    # ------------------------------------------------------------------------------ sampling
    def _denoiser(self, use_ema: bool = True) -> Denoiser:
        self._require_fitted()
        net = self._modules.get("unet_ema") if use_ema else None
        return (net or self._modules["unet"]).eval()

    @torch.no_grad()
    def _images(self, z: torch.Tensor, labels: np.ndarray | None, steps: int = 25, sampler: str = "dpm++",
                guidance_scale: float = 1.0, use_ema: bool = True, batch_size: int = 256) -> np.ndarray:
        check_sampling(steps, sampler, guidance_scale, self.num_classes, self.schedule["num_train_timesteps"])
        net = self._denoiser(use_ema)

        def denoise(x, t, y):
            with autocast(self._device):
                return net(x, t, y)

        chunks = []
        for start in range(0, len(z), batch_size):
            y = torch.from_numpy(labels[start : start + batch_size]) if labels is not None else None
            images = sample_loop(denoise, sampler_scheduler(sampler, self.schedule), z[start : start + batch_size],
                                 self.image_shape, int(steps), y, self.num_classes, float(guidance_scale), self._device)
            chunks.append(to_uint8_images(images))
        return np.concatenate(chunks)

    def _predict(self, n: int | np.ndarray | None = 64, seed: int | None = None, labels: Any = None, steps: int = 25,
                 sampler: str = "dpm++", guidance_scale: float = 1.0, use_ema: bool = True) -> Frame:
        """A Frame of generated images: ``n`` of them from ``seed``'s initial noise, or one per row of a noise
        array (N, C*H*W); ``steps`` of ``sampler`` ("ddpm", "ddim" or "dpm++"); ``guidance_scale`` > 1 steers
        a conditional model harder towards ``labels`` (classifier-free guidance)."""
        return self.sample(64 if n is None else n, seed=seed, labels=labels, steps=steps, sampler=sampler,
                           guidance_scale=guidance_scale, use_ema=use_ema)

    def onnx_graph(self) -> OnnxGraph:
        """The denoiser (its EMA copy when trained with one): (sample, timestep[, class_labels]) -> model_output;
        ``genforge.artifacts.OnnxDiffusion`` runs the sampling loop over it."""
        c, h, w = self.image_shape
        inputs: tuple = (torch.zeros(2, c, h, w), torch.full((2,), 10, dtype=torch.long))
        names = ["sample", "timestep"]
        if self.num_classes:
            inputs, names = inputs + (torch.zeros(2, dtype=torch.long),), names + ["class_labels"]
        return OnnxGraph(self._denoiser(True), inputs, names, ["model_output"],
                         {"latent_dim": self.latent_size, "num_classes": self.num_classes, "kind": "diffusion",
                          "scheduler": self._info["scheduler"]})

    # ------------------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _performance(self, frame: Any, resize: bool = False, n: int | None = None, extractor: Any = None,
                     training_frame: Frame | None = None, seed: int = 0) -> dict[str, Any]:
        """The denoising loss on ``frame`` (up to 2048 images, fixed noise and timesteps: ``denoising_loss``,
        the plain MSE, and ``weighted_loss``, the min-SNR-weighted one that training minimises), plus the
        sample-quality scores of ``n`` generated images against ``frame`` (FID, KID, precision/recall, class
        coverage, memorization given ``training_frame``: see ``genforge.metrics.evaluate``)."""
        frame = conform_frame(frame, self._info["frame_schema"], resize)
        labels = frame_labels(frame, self.class_names, "frame")[:2048] if self.num_classes else None
        scheduler = make_scheduler("DDPMScheduler", self.schedule)
        plain, weighted = denoising_loss(self._modules["unet"].eval(), scheduler, frame[:2048], labels, self._device,
                                         float(self._info.get("min_snr_gamma", 0.0)), seed=0)
        scores = {"denoising_loss": plain, "weighted_loss": weighted, "n_images": min(len(frame), 2048)}
        scores.update(quality_scores(self, frame, n=n, extractor=extractor, training=training_frame, seed=seed))
        return scores


@torch.no_grad()
def denoising_loss(net: torch.nn.Module, scheduler, frame: Frame, labels: np.ndarray | None, device: torch.device,
                   gamma: float, seed: int = 0) -> tuple[float, float]:
    """Mean plain and min-SNR-weighted denoising losses over ``frame`` with noise and timesteps drawn from
    their own generator (so the same call gives the same number, and the training RNG is untouched)."""
    generator = torch.Generator().manual_seed(seed)
    plain = weighted = 0.0
    for start in range(0, len(frame), _EVAL_BATCH):
        part = frame[start : start + _EVAL_BATCH]
        x = torch.from_numpy(part.to_numpy((-1, 1), channels_first=True))
        noise = torch.randn(x.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x),), generator=generator)
        y = torch.from_numpy(labels[start : start + _EVAL_BATCH]) if labels is not None else None
        per_image, weights = step_losses(net, scheduler, x.to(device), noise.to(device), t.to(device),
                                         y.to(device) if y is not None else None, gamma)
        plain += float(per_image.sum())
        weighted += float((per_image * weights).sum())
    return round(plain / len(frame), 6), round(weighted / len(frame), 6)


def step_losses(net: torch.nn.Module, scheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image MSE between the UNet's output and its target at timesteps ``t``, and the min-SNR weights."""
    prediction_type = scheduler.config.prediction_type
    noisy = scheduler.add_noise(x0, noise, t)
    target = noise if prediction_type == "epsilon" else scheduler.get_velocity(x0, noise, t)
    with autocast(x0.device):
        out = net(noisy, t, labels)
    per_image = F.mse_loss(out.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    weights = min_snr_weight(snr(scheduler.alphas_cumprod, t), gamma, prediction_type)
    return per_image, weights


class DiffusionTask:
    """One diffusion training step (noise, timesteps, weighted MSE, EMA) for the common training loop."""

    def __init__(self, model: DiffusionEstimator, params: dict, validation_frame: Frame | None) -> None:
        self.model = model
        self.params = params
        self.unet = model._modules["unet"].train()
        self.unet_train: torch.nn.Module = self.unet  # or its DDP wrapper (wrap_modules)
        self.ema = model._modules.get("unet_ema")
        self.modules = model._modules
        self.optimizers = {"unet": torch.optim.AdamW(self.unet.parameters(), lr=params["lr"], weight_decay=0.0)}
        self.scheduler = make_scheduler("DDPMScheduler", model.schedule)
        self.timesteps = int(self.scheduler.config.num_train_timesteps)
        self.num_classes = model.num_classes
        self.device = model._device
        self.validation = validation_frame[:512] if validation_frame is not None else None
        fixed = torch.Generator().manual_seed(model._info["seed"])
        self.fixed_z = torch.randn(GRID_IMAGES, model.latent_size, generator=fixed)
        self.fixed_labels = torch.arange(GRID_IMAGES) % self.num_classes if self.num_classes else None
        self.lr_scale = 1.0  # lowered by the divergence guard at each rollback (the rate is set every step)
        self.schedule = LRSchedule(params["lr_schedule"], params["max_runtime_secs"])

    def start(self, plan: TrainingPlan) -> None:
        """The warm-up is counted in steps, a function of the step alone (exact resumes); the schedule runs
        over the loop's planned steps (or its time limit)."""
        self.schedule.start(plan)

    def wrap_modules(self, wrap) -> None:
        """Route training through ``wrap(unet)`` (DistributedDataParallel)."""
        self.unet_train = wrap(self.unet)

    def history_columns(self) -> list[str]:
        return ["loss", "weighted_loss", "lr"] + (["valid_loss"] if self.validation is not None else [])

    def learning_rate(self, step: int) -> float:
        warmup = self.params["warmup_steps"]
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return self.params["lr"] * self.lr_scale * ramp * self.schedule.factor(step)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]:
        batch = len(images)
        noise = torch.randn_like(images)
        t = torch.randint(0, self.timesteps, (batch,), device=images.device)
        if self.num_classes:
            # Classifier-free guidance: some labels become "no label" (index num_classes).
            drop = torch.rand(batch, device=images.device) < self.params["class_dropout"]
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        else:
            labels = None
        per_image, weights = step_losses(self.unet_train, self.scheduler, images, noise, t, labels,
                                         self.params["min_snr_gamma"])
        weighted = (per_image * weights).mean()
        lr = self.learning_rate(step)
        optimizer = self.optimizers["unet"]
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        weighted.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        optimizer.step()
        if self.ema is not None:
            update_ema(self.ema, self.unet, self.params["ema_decay"], step)
        return {"loss": per_image.detach().mean(), "weighted_loss": weighted.detach(), "lr": torch.tensor(lr)}

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.validation is None:
            return {}
        labels = self.validation.labels if self.num_classes else None
        plain, _ = denoising_loss(self.unet.eval(), self.scheduler, self.validation, labels, self.device,
                                  self.params["min_snr_gamma"], seed=0)
        self.unet.train()
        return {"valid_loss": plain}

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        net = (self.ema if self.ema is not None else self.unet).eval()
        images = sample_loop(lambda x, t, y: net(x, t, y), sampler_scheduler("ddim", self.model.schedule),
                             self.fixed_z, self.model.image_shape, GRID_STEPS, self.fixed_labels, self.num_classes,
                             1.0, self.device)
        self.unet.train()
        if self.ema is not None:
            self.ema.eval()
        return to_uint8_images(images)


__all__ = ["DiffusionEstimator", "DiffusionTask", "SAMPLERS"]
