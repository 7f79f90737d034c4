"""GANEstimator: generative adversarial networks behind the estimator contract.

One training step is two phases, as in stylegan2-ada-pytorch's loop: a discriminator phase (adversarial
loss on real and generated images, plus R1 or the WGAN gradient penalty when asked) and, every
``n_critic`` steps, a generator phase, followed by the update of the generator's moving average (EMA),
which is what ``predict`` samples from by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from genforge.errors import DataError, ParameterError
from genforge.estimators.base import Estimator
from genforge.estimators.generator import Generator, truncate
from genforge.estimators.h2o_form import check_h2o_form
from genforge.estimators.inputs import to_uint8_images
from genforge.estimators.params import Param, ParamSet, common_params, guard_params, lr_schedule_param
from genforge.estimators.quality import quality_scores
from genforge.estimators.registry import register
from genforge.frame import Frame
from genforge.losses import LOSSES, get_loss
from genforge.losses.penalties import gradient_penalty, r1_penalty
from genforge.nets import build_discriminator, build_generator, check_image_shape
from genforge.nets.export import OnnxGraph, generator_graph
from genforge.training.augment import AUGMENT_POLICIES, diff_augment
from genforge.training.ema import make_ema, update_ema
from genforge.training.loop import TrainingPlan
from genforge.training.lr_schedule import LRSchedule
from genforge.training.runtime import autocast

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "elu", "gelu", "silu")
_H2O_KEYS = {"input_dim", "hidden_dim", "hidden_dims", "output_dim", "activation"}

GAN_PARAMS = ParamSet(common_params() + [
    Param("architecture", str, "dcgan", "Network family: 'mlp', 'dcgan' (any size from 8x8) or 'resnet' (SNGAN).",
          choices=("mlp", "dcgan", "resnet")),
    Param("loss", str, "hinge", "Adversarial loss.", choices=tuple(sorted(LOSSES)), aliases=("loss_function",)),
    Param("generator_architecture", dict, None,
          "H2O-style MLP generator: {'input_dim', 'hidden_dim' (or 'hidden_dims'), 'output_dim', 'activation'}.",
          nullable=True),
    Param("discriminator_architecture", dict, None,
          "H2O-style MLP discriminator: {'input_dim', 'hidden_dim' (or 'hidden_dims'), 'output_dim': 1, 'activation'}.",
          nullable=True),
    Param("latent_dim", int, 100, "Width of the noise vector z.", low=1, high=4096),
    Param("width", int, 32, "Base channel count (conv nets) or hidden width / 4 (mlp) of both networks.", low=4, high=1024),
    Param("conditional", bool, False, "Class-conditional generation (needs a labelled frame)."),
    Param("spectral_norm", bool, True, "Spectral normalisation in the discriminator."),
    Param("r1_gamma", float, 0.0, "Weight of the R1 penalty on real images (0 = off).", low=0),
    Param("gp_weight", float, 10.0, "Weight of the gradient penalty of the 'wgan-gp' loss.", low=0),
    Param("ema_decay", float, 0.999, "Decay of the generator's moving average used for sampling (0 = no EMA).",
          low=0, high=0.99999),
    Param("diff_augment", str, None, "DiffAugment policy, e.g. 'color,translation,cutout' (None = off).", nullable=True),
    Param("g_lr", float, 4e-4, "Generator learning rate (Adam).", low=0, high=1),
    Param("d_lr", float, 4e-4, "Discriminator learning rate (Adam); TTUR uses a larger one than g_lr.", low=0, high=1),
    lr_schedule_param(),
    Param("beta1", float, 0.0, "Adam beta1 for both networks.", low=0, high=0.9999),
    Param("beta2", float, 0.9, "Adam beta2 for both networks.", low=0, high=0.9999),
    Param("n_critic", int, 1, "Discriminator steps per generator step.", low=1, high=100),
    Param("score_every", int, 0, "Record FID in the history every this many epochs (0 = only with "
          "stopping_metric='fid', then every epoch).", low=0),
    Param("score_samples", int, 1000, "Generated (and reference) images behind the per-epoch FID.", low=2, high=100000),
    Param("evaluator", str, None, "Feature extractor of the FID during training and of model_performance: a built-in "
          "evaluator ('fashion-mnist', 'digits'), a saved CNNEstimator folder or Inception weights (None = the "
          "built-in evaluator that fits the frame).", nullable=True),
] + guard_params(True))


@register
class GANEstimator(Generator, Estimator):
    """Train a GAN on a Frame and sample new images from it.

    >>> gan = GANEstimator(epochs=5, seed=1).train(training_frame=frame)
    >>> gan.predict(64).to_png("samples.png")
    """

    algo = "gan"
    PARAMS = GAN_PARAMS

    # ------------------------------------------------------------------------------ checks
    def _check_params(self, params: dict) -> None:
        check_h2o_form(params, self.PARAMS)  # the H2O dicts must not contradict latent_dim, architecture, width
        if params["diff_augment"]:
            unknown = [p for p in params["diff_augment"].split(",") if p.strip() not in AUGMENT_POLICIES]
            if unknown:
                raise ParameterError(f"diff_augment has unknown parts {unknown}; allowed: {', '.join(AUGMENT_POLICIES)}.")
        for name in ("generator_architecture", "discriminator_architecture"):
            spec = params[name]
            if spec is None:
                continue
            unknown = set(spec) - _H2O_KEYS
            if unknown:
                raise ParameterError(f"{name} has unknown keys {sorted(unknown)}; allowed: {sorted(_H2O_KEYS)}.")
            if spec.get("activation", "relu") not in ACTIVATIONS:
                raise ParameterError(f"{name}['activation'] is {spec['activation']!r}; allowed: {', '.join(ACTIVATIONS)}.")
            for key in ("input_dim", "hidden_dim", "output_dim"):
                if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 1):
                    raise ParameterError(f"{name}['{key}'] must be a positive int, got {spec[key]!r}.")
        d_spec = params["discriminator_architecture"]
        if d_spec is not None and d_spec.get("output_dim", 1) != 1:
            raise ParameterError("discriminator_architecture['output_dim'] must be 1: the discriminator gives one score.")

    def _check_frame(self, params: dict, frame: Frame) -> None:
        if params["conditional"] and frame.labels is None:
            raise DataError("conditional=True needs a frame with labels; import one with labels or set conditional=False.")
        h, w, c = frame.image_shape
        pixels = h * w * c
        for name, key in (("generator_architecture", "output_dim"), ("discriminator_architecture", "input_dim")):
            spec = params[name]
            if spec is not None and key in spec and spec[key] != pixels:
                raise ParameterError(
                    f"{name}['{key}'] is {spec[key]} but the frame's images have {h}x{w}x{c} = {pixels} values."
                )
        check_image_shape(self._architecture(params), (c, h, w))

    @staticmethod
    def _architecture(params: dict) -> str:
        h2o = params["generator_architecture"] is not None or params["discriminator_architecture"] is not None
        return "mlp" if h2o else params["architecture"]

    # ------------------------------------------------------------------------------ networks
    def _build(self, params: dict, schema: dict, info: dict | None = None) -> None:
        image_shape = (schema["channels"], schema["height"], schema["width"])
        num_classes = len(schema["class_names"] or []) if params["conditional"] else 0
        g_spec = params["generator_architecture"] or {}
        d_spec = params["discriminator_architecture"] or {}
        latent_dim = g_spec.get("input_dim", params["latent_dim"])
        self._info.update({"latent_dim": latent_dim, "num_classes": num_classes, "image_shape": list(image_shape),
                           "architecture": self._architecture(params)})
        generator = build_generator(
            self._architecture(params), latent_dim=latent_dim, image_shape=image_shape, num_classes=num_classes,
            width=params["width"], activation=g_spec.get("activation", "relu"), hidden_dims=_hidden(g_spec),
        )
        discriminator = build_discriminator(
            self._architecture(params), image_shape=image_shape, num_classes=num_classes, width=params["width"],
            spectral_norm=params["spectral_norm"], activation=d_spec.get("activation", "leaky_relu"),
            hidden_dims=_hidden(d_spec),
        )
        if self._architecture(params) != "mlp":
            # Channels-last convolutions: about 13% more images/s on CPU (oneDNN's native layout, measured
            # with benchmarks/bench_train.py) and the layout tensor cores want on GPUs.
            generator = generator.to(memory_format=torch.channels_last)
            discriminator = discriminator.to(memory_format=torch.channels_last)
        self._modules = {"generator": generator.to(self._device), "discriminator": discriminator.to(self._device)}
        if params["ema_decay"] > 0:
            self._modules["generator_ema"] = make_ema(self._modules["generator"])

    @property
    def latent_size(self) -> int:
        """Width of the fitted generator's noise input (``latent_dim``, or the H2O form's input_dim)."""
        self._require_fitted()
        return int(self._info["latent_dim"])

    def _make_task(self, params: dict, frame: Frame, validation_frame: Frame | None) -> "GANTask":
        return GANTask(self, params, validation_frame)

    def _default_stopping_metric(self) -> str | None:
        return "g_loss"

    # ------------------------------------------------------------------------------ sampling
    def _sampler(self, use_ema: bool) -> nn.Module:
        self._require_fitted()
        return self._modules["generator_ema"] if use_ema and "generator_ema" in self._modules else self._modules["generator"]

    @torch.no_grad()
    def generate(self, z: np.ndarray | torch.Tensor, labels: Any = None, use_ema: bool = True,
                 batch_size: int = 256, truncation: float | None = None) -> np.ndarray:
        """Images for latent vectors ``z`` as uint8 ``(N, H, W, C)``."""
        z = self.check_latent(z)
        return self._images(z, self.sample_labels(labels, len(z)), use_ema=use_ema, batch_size=batch_size,
                            truncation=truncation)

    @torch.no_grad()
    def _images(self, z: torch.Tensor, labels: np.ndarray | None, use_ema: bool = True,
                batch_size: int = 256, truncation: float | None = None) -> np.ndarray:
        z = truncate(z, truncation)
        generator = self._sampler(use_ema)
        generator.eval()
        chunks = []
        for start in range(0, len(z), batch_size):
            zb = z[start : start + batch_size].to(self._device)
            lb = torch.from_numpy(labels[start : start + batch_size]).to(self._device) if labels is not None else None
            chunks.append(to_uint8_images(generator(zb, lb)))
        return np.concatenate(chunks)

    def _predict(self, n: int | np.ndarray | None = 64, seed: int | None = None, labels: Any = None,
                 use_ema: bool = True, truncation: float | None = None) -> Frame:
        """A Frame of generated images: ``n`` of them from ``seed``, or one per row of a noise array;
        ``use_ema=False`` samples the raw generator instead of its moving average; ``truncation`` (a threshold
        in standard deviations, e.g. 0.7) samples the noise from the truncated normal: less diverse, more
        typical images (BigGAN's truncation trick)."""
        return self.sample(64 if n is None else n, seed=seed, labels=labels, use_ema=use_ema, truncation=truncation)

    def onnx_graph(self) -> OnnxGraph:
        """The generator (its EMA copy when trained with one, as ``predict`` uses): z (, label) -> images."""
        return generator_graph(self._sampler(use_ema=True), self.latent_size, self.num_classes)

    # ------------------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _performance(self, frame: Frame, n: int | None = None, extractor: Any = None,
                     training_frame: Frame | None = None, seed: int = 0) -> dict[str, Any]:
        """Sample quality against ``frame``'s real images (a held-out split): FID, KID, Inception-style score,
        precision/recall/density/coverage, class coverage and, given ``training_frame``, memorization (see
        ``genforge.metrics.evaluate``), on ``n`` generated images (default: as many as ``frame`` holds);
        plus how the discriminator sees real and generated images (``d_real``, ``d_fake``)."""
        scores = self._discriminator_scores(frame)
        scores.update(quality_scores(self, frame, n=n, extractor=extractor, training=training_frame, seed=seed))
        return scores

    @torch.no_grad()
    def _discriminator_scores(self, frame: Frame) -> dict[str, Any]:
        if frame.image_shape != tuple(_shape(self._info)):
            raise DataError(f"frame images are {frame.image_shape}; this model makes {tuple(_shape(self._info))}.")
        discriminator = self._modules["discriminator"]
        was_training = discriminator.training
        discriminator.eval()
        real = torch.from_numpy(frame.to_numpy((-1, 1), channels_first=True)[:2048]).to(self._device)
        labels = torch.from_numpy(frame.labels[:2048]).to(self._device) if self.num_classes else None
        fake = torch.from_numpy(self.generate(self.noise(len(real), 0), labels.cpu() if labels is not None else None))
        fake = fake.permute(0, 3, 1, 2).float().div(127.5).sub(1).to(self._device)
        scores = {
            "d_real": float(torch.sigmoid(discriminator(real, labels)).mean()),
            "d_fake": float(torch.sigmoid(discriminator(fake, labels)).mean()),
            "n_real": len(real),
        }
        discriminator.train(was_training)
        return scores


class GANTask:
    """The phases of one GAN training step, handed to the common training loop."""

    def __init__(self, model: GANEstimator, params: dict, validation_frame: Frame | None) -> None:
        self.model = model
        self.params = params
        self.generator = model._modules["generator"].train()
        self.discriminator = model._modules["discriminator"].train()
        # What forward/backward go through: the networks themselves, or their DDP wrappers (wrap_modules).
        # Optimizers, EMA, sampling and saving always use the networks themselves.
        self.g_train: nn.Module = self.generator
        self.d_train: nn.Module = self.discriminator
        self.ema = model._modules.get("generator_ema")
        self.modules = model._modules
        betas = (params["beta1"], params["beta2"])
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=params["g_lr"], betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=params["d_lr"], betas=betas),
        }
        self.schedule = LRSchedule(params["lr_schedule"], params["max_runtime_secs"])
        self.lr_scale = 1.0  # lowered by the divergence guard at each rollback (a scheduled rate is set every step)
        self.loss = get_loss(params["loss"])
        self.latent_dim = model._info["latent_dim"]
        self.num_classes = model._info["num_classes"]
        self.policy = params["diff_augment"]
        self.device = model._device
        # A fixed noise batch (its own generator, so the training RNG stream is untouched) for epoch grids.
        fixed = torch.Generator().manual_seed(model._info["seed"])
        self.fixed_z = torch.randn(64, self.latent_dim, generator=fixed)
        self.fixed_labels = torch.arange(64) % self.num_classes if self.num_classes else None
        self.validation = validation_frame[:512] if validation_frame is not None else None
        self._last_g_loss: torch.Tensor | None = None

    def start(self, plan: TrainingPlan) -> None:
        """The learning-rate schedule runs over the loop's planned steps (or its time limit)."""
        self.schedule.start(plan)

    def _set_lrs(self, step: int) -> None:
        if not self.schedule.active:
            return  # the optimizers keep their rates (the guard lowers them there)
        factor = self.schedule.factor(step) * self.lr_scale
        for name, base in (("generator", self.params["g_lr"]), ("discriminator", self.params["d_lr"])):
            for group in self.optimizers[name].param_groups:
                group["lr"] = base * factor

    def wrap_modules(self, wrap) -> None:
        """Route training through ``wrap(net)`` (DistributedDataParallel), one wrapper per network."""
        self.g_train, self.d_train = wrap(self.generator), wrap(self.discriminator)

    def _noise(self, batch: int) -> torch.Tensor:
        return torch.randn(batch, self.latent_dim, device=self.device)

    def history_columns(self) -> list[str]:
        columns = ["d_loss", "g_loss", "d_real", "d_fake"]
        return columns + (["valid_d_real"] if self.validation is not None else [])

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        return diff_augment(images, self.policy) if self.policy else images

    def _fake_labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return labels if self.num_classes else None  # generate the real batch's classes: balanced as the data

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]:
        labels = labels if self.num_classes else None
        batch = len(images)
        self._set_lrs(step)
        # Discriminator phase. The fakes need no gradient, so the generator itself (not its wrapper) makes them.
        z = self._noise(batch)
        with autocast(self.device):
            with torch.no_grad():
                fake = self.generator(z, self._fake_labels(labels))
            real_in = images.detach().requires_grad_(self.params["r1_gamma"] > 0)
            real_scores = self.d_train(self._augment(real_in), labels)
            fake_scores = self.d_train(self._augment(fake), labels)
            d_loss = self.loss.discriminator_loss(real_scores, fake_scores)
            if self.loss.uses_gradient_penalty and self.params["gp_weight"] > 0:
                d_loss = d_loss + self.params["gp_weight"] * gradient_penalty(self.d_train, images, fake, labels)
            if self.params["r1_gamma"] > 0:
                d_loss = d_loss + 0.5 * self.params["r1_gamma"] * r1_penalty(self.d_train, real_in, labels)
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["discriminator"].step()
        metrics = {
            "d_loss": d_loss.detach(),
            "d_real": torch.sigmoid(real_scores.detach()).mean(),
            "d_fake": torch.sigmoid(fake_scores.detach()).mean(),
        }
        # Generator phase, every n_critic steps.
        if (step + 1) % self.params["n_critic"] == 0:
            z = self._noise(batch)
            with autocast(self.device):
                fake = self.g_train(z, self._fake_labels(labels))
                # The discriminator itself, not its wrapper: its gradients from this loss are thrown away
                # (zeroed before its next step), so they need no all-reduce between ranks.
                g_loss = self.loss.generator_loss(self.discriminator(self._augment(fake), labels))
            self.optimizers["generator"].zero_grad(set_to_none=True)
            g_loss.backward()
            self.optimizers["generator"].step()
            if self.ema is not None:
                update_ema(self.ema, self.generator, self.params["ema_decay"], step)
            metrics["g_loss"] = g_loss.detach()
        return metrics

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.validation is None:
            return {}
        self.discriminator.eval()
        real = torch.from_numpy(self.validation.to_numpy((-1, 1), channels_first=True)).to(self.device)
        labels = (torch.from_numpy(self.validation.labels).to(self.device)
                  if self.num_classes and self.validation.labels is not None else None)
        score = float(torch.sigmoid(self.discriminator(real, labels)).mean())
        self.discriminator.train()
        return {"valid_d_real": round(score, 6)}

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        sampler = self.ema if self.ema is not None else self.generator
        was_training = sampler.training
        sampler.eval()
        images = sampler(self.fixed_z.to(self.device),
                         self.fixed_labels.to(self.device) if self.fixed_labels is not None else None)
        sampler.train(was_training)
        return to_uint8_images(images)


def _hidden(spec: dict) -> list[int] | None:
    if "hidden_dims" in spec:
        return list(spec["hidden_dims"])
    if "hidden_dim" in spec:
        return [spec["hidden_dim"]]
    return None


def _shape(info: dict) -> tuple[int, int, int]:
    c, h, w = info["image_shape"]
    return (h, w, c)

