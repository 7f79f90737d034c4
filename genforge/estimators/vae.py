"""VAEEstimator: variational autoencoders (beta-VAE, conditional CVAE) behind the estimator contract.

Training minimises ``reconstruction + beta * w * KL`` per image, where w ramps from 0 to 1 over
``kl_warmup_epochs`` (Bowman et al. 2016) and the reconstruction term is the Bernoulli negative
log-likelihood of pixels mapped to [0, 1] (``bce``) or the squared error in [-1, 1] (``mse``, a Gaussian
of fixed variance 1/2 up to a constant). The history's ``loss`` is the negative ELBO ``reconstruction +
KL`` (beta and warm-up left out), so it stays comparable across runs; all terms are summed over pixels
or latent dimensions and averaged over images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genforge.errors import DataError
from genforge.estimators.base import Estimator
from genforge.estimators.generator import Generator
from genforge.estimators.inputs import check_same_classes, conform_frame, frame_labels, to_uint8_images
from genforge.estimators.params import Param, ParamSet, common_params, guard_params, lr_schedule_param
from genforge.estimators.quality import quality_scores
from genforge.estimators.registry import register
from genforge.frame import Frame
from genforge.nets.export import OnnxGraph, generator_graph
from genforge.nets.vae import VAE_ARCHITECTURES, build_vae, check_vae_shape, to_images
from genforge.training.loop import TrainingPlan
from genforge.training.lr_schedule import LRSchedule

VAE_PARAMS = ParamSet(common_params() + [
    Param("architecture", str, "conv", "Encoder/decoder family: 'conv' (images from 8x8) or 'mlp' (any size).",
          choices=VAE_ARCHITECTURES),
    Param("latent_dim", int, 16, "Width of the latent vector z.", low=1, high=4096),
    Param("width", int, 32, "Base channel count (conv) or hidden width / 8 (mlp) of encoder and decoder.",
          low=2, high=1024),
    Param("beta", float, 1.0, "Weight of the KL term (beta-VAE; 1 = the plain VAE).", low=0, high=1000),
    Param("reconstruction_loss", str, "bce", "Pixel likelihood: 'bce' (Bernoulli, pixels in [0, 1]) or 'mse'.",
          choices=("bce", "mse")),
    Param("kl_warmup_epochs", float, 0.0, "Epochs over which the KL weight rises linearly from 0 to beta (0 = off).",
          low=0),
    Param("conditional", bool, False, "Conditional VAE: the label goes into encoder and decoder (needs labels)."),
    Param("lr", float, 1e-3, "Learning rate (Adam).", low=0, high=1),
    lr_schedule_param(),
] + guard_params(False))

_EVAL_BATCH = 256


@register
class VAEEstimator(Generator, Estimator):
    """Train a variational autoencoder on a Frame; encode, decode, reconstruct and sample images.

    >>> vae = VAEEstimator(epochs=10, latent_dim=16, seed=1).train(training_frame=frame)
    >>> vae.predict(64).to_png("samples.png")
    >>> means, log_vars = vae.encode(frame)
    """

    algo = "vae"
    PARAMS = VAE_PARAMS

    # ------------------------------------------------------------------------------ training hooks
    def _check_frame(self, params: dict, frame: Frame) -> None:
        if params["conditional"] and frame.labels is None:
            raise DataError("conditional=True needs a frame with labels; import one with labels or set conditional=False.")
        h, w, c = frame.image_shape
        check_vae_shape(params["architecture"], (c, h, w))

    def _build(self, params: dict, schema: dict, info: dict | None = None) -> None:
        image_shape = (schema["channels"], schema["height"], schema["width"])
        num_classes = len(schema["class_names"] or []) if params["conditional"] else 0
        self._info.update({"latent_dim": params["latent_dim"], "num_classes": num_classes,
                           "image_shape": list(image_shape), "architecture": params["architecture"],
                           "reconstruction_loss": params["reconstruction_loss"]})
        encoder, decoder = build_vae(params["architecture"], image_shape=image_shape, latent_dim=params["latent_dim"],
                                     width=params["width"], num_classes=num_classes)
        self._modules = {"encoder": encoder.to(self._device), "decoder": decoder.to(self._device)}

    def _make_task(self, params: dict, frame: Frame, validation_frame: Frame | None) -> "VAETask":
        if self._info["num_classes"]:
            check_same_classes(frame, self.class_names)
        if validation_frame is not None and self._info["num_classes"]:
            validation_frame = Frame(validation_frame.images, frame_labels(validation_frame, self.class_names,
                                                                           "validation_frame"), self.class_names)
        self._has_validation = validation_frame is not None
        return VAETask(self, params, frame, validation_frame)

    def _default_stopping_metric(self) -> str | None:
        return "valid_loss" if getattr(self, "_has_validation", False) else "loss"

    # ------------------------------------------------------------------------------ properties
    @property
    def latent_size(self) -> int:
        self._require_fitted()
        return int(self._info["latent_dim"])

    @property
    def _loss_name(self) -> str:
        """The pixel likelihood the fitted decoder was trained with (the parameter may have changed since)."""
        self._require_fitted()
        return self._info["reconstruction_loss"]

    # ------------------------------------------------------------------------------ inference
    def _eval(self) -> None:
        self._require_fitted()
        for module in self._modules.values():
            module.eval()

    def _inputs(self, frame: Any, resize: bool, what: str = "frame") -> tuple[Frame, np.ndarray | None]:
        """The frame in the model's shape, and its labels as the model's class indices (conditional only)."""
        self._require_fitted()
        frame = conform_frame(frame, self._info["frame_schema"], resize, what)
        if not self.num_classes:
            return frame, None
        if frame.labels is None:
            raise DataError(f"this conditional VAE needs the {what}'s labels; pass a labelled frame.")
        return frame, frame_labels(frame, self.class_names, what)

    def _batches(self, frame: Frame, labels: np.ndarray | None):
        for start in range(0, len(frame), _EVAL_BATCH):
            part = frame[start : start + _EVAL_BATCH]
            x = torch.from_numpy(part.to_numpy((-1, 1), channels_first=True)).to(self._device)
            y = torch.from_numpy(labels[start : start + _EVAL_BATCH]).to(self._device) if labels is not None else None
            yield x, y

    @torch.no_grad()
    def encode(self, frame: Any, resize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The posterior of each image: ``(means, log_variances)``, float32 arrays of shape (N, latent_dim)."""
        frame, labels = self._inputs(frame, resize)
        self._eval()
        means, log_vars = [], []
        for x, y in self._batches(frame, labels):
            mean, log_var = self._modules["encoder"](x, y)
            means.append(mean.cpu())
            log_vars.append(log_var.cpu())
        return torch.cat(means).numpy(), torch.cat(log_vars).numpy()

    def decode(self, z: Any, labels: Any = None) -> Frame:
        """Images for latent vectors ``z`` (N, latent_dim); ``labels`` (conditional models) default to every class in turn."""
        return self.sample(z, labels=labels)

    @torch.no_grad()
    def _images(self, z: torch.Tensor, labels: np.ndarray | None, temperature: float = 1.0) -> np.ndarray:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature <= 10:
            raise DataError(f"temperature must be a number in (0, 10], got {temperature!r}.")
        z = z * float(temperature)  # the prior's scale: below 1, more typical and less diverse images
        self._eval()
        chunks = []
        for start in range(0, len(z), _EVAL_BATCH):
            y = torch.from_numpy(labels[start : start + _EVAL_BATCH]).to(self._device) if labels is not None else None
            logits = self._modules["decoder"](z[start : start + _EVAL_BATCH].to(self._device), y)
            chunks.append(to_uint8_images(to_images(logits, self._loss_name)))
        return np.concatenate(chunks)

    def reconstruct(self, frame: Any, resize: bool = False) -> Frame:
        """Each image passed through the encoder's mean and the decoder."""
        frame, labels = self._inputs(frame, resize)
        means, _ = self.encode(frame)
        out = self.decode(means, labels)
        return Frame(out.images, frame.labels, frame.class_names, name=f"{frame.name or 'frame'} reconstructions")

    def _predict(self, n: int | np.ndarray | None = 64, seed: int | None = None, labels: Any = None,
                 temperature: float = 1.0) -> Frame:
        """A Frame of new images: ``n`` samples from the prior (``seed`` makes them reproducible), or one
        per row of a latent array; ``temperature`` scales the latent vectors (below 1: more typical, less
        diverse images)."""
        return self.sample(64 if n is None else n, seed=seed, labels=labels, temperature=temperature)

    def onnx_graph(self) -> OnnxGraph:
        """The decoder with its output mapped to images: z (, label) -> images in [-1, 1]."""
        loss = self._loss_name
        return generator_graph(self._modules["decoder"], self.latent_size, self.num_classes,
                               post=lambda x: to_images(x, loss))

    @torch.no_grad()
    def _performance(self, frame: Any, resize: bool = False, n: int | None = None, extractor: Any = None,
                     training_frame: Frame | None = None, seed: int = 0) -> dict[str, Any]:
        """Per-image averages on ``frame``: negative ELBO (``loss``), its reconstruction and KL terms, the ELBO,
        and ``reconstruction_mse``, the mean squared pixel error (pixels in [0, 1]) of the mean reconstruction;
        plus the sample-quality scores of ``n`` generated images against ``frame`` (FID, KID, precision/recall,
        class coverage, memorization given ``training_frame``: see ``genforge.metrics.evaluate``)."""
        count = n
        frame, labels = self._inputs(frame, resize)
        self._eval()
        generator = torch.Generator().manual_seed(0)  # the ELBO's one-sample estimate, the same on every call
        totals = {"reconstruction": 0.0, "kl": 0.0, "squared_error": 0.0}
        loss = self._loss_name
        for x, y in self._batches(frame, labels):
            terms = vae_terms(self._modules["encoder"], self._modules["decoder"], x, y, loss, generator)
            totals["reconstruction"] += float(terms["reconstruction"].sum())
            totals["kl"] += float(terms["kl"].sum())
            mean_images = to_images(self._modules["decoder"](terms["mean"], y), loss)
            totals["squared_error"] += float(((mean_images - x) / 2).pow(2).mean(dim=(1, 2, 3)).sum())
        n = len(frame)
        recon, kl = totals["reconstruction"] / n, totals["kl"] / n
        scores = {"loss": recon + kl, "elbo": -(recon + kl), "reconstruction": recon, "kl": kl,
                  "reconstruction_mse": totals["squared_error"] / n, "n_images": n}
        scores.update(quality_scores(self, frame, n=count, extractor=extractor, training=training_frame, seed=seed))
        return scores


class VAETask:
    """One VAE training step (encode, sample, decode, ELBO) for the common training loop."""

    def __init__(self, model: VAEEstimator, params: dict, frame: Frame, validation_frame: Frame | None) -> None:
        self.model = model
        self.params = params
        self.encoder = model._modules["encoder"].train()
        self.decoder = model._modules["decoder"].train()
        self.modules = model._modules
        # What training steps go through: the networks, or their DDP wrappers (wrap_modules).
        self.encoder_train: torch.nn.Module = self.encoder
        self.decoder_train: torch.nn.Module = self.decoder
        self.optimizers = {"vae": torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()],
                                                   lr=params["lr"])}
        self.schedule = LRSchedule(params["lr_schedule"], params["max_runtime_secs"])
        self.lr_scale = 1.0  # lowered by the divergence guard at each rollback (a scheduled rate is set every step)
        self.loss_name = params["reconstruction_loss"]
        self.conditional = bool(model._info["num_classes"])
        self.device = model._device
        self.warmup_steps = 0.0  # set from the loop's plan in start()
        self.validation = validation_frame
        fixed = torch.Generator().manual_seed(model._info["seed"])
        self.fixed_z = torch.randn(64, model._info["latent_dim"], generator=fixed)
        self.fixed_labels = torch.arange(64) % model._info["num_classes"] if self.conditional else None

    def start(self, plan: TrainingPlan) -> None:
        """The KL warm-up lasts ``kl_warmup_epochs`` of the loop's epochs, however many ranks share them."""
        self.warmup_steps = self.params["kl_warmup_epochs"] * plan.steps_per_epoch
        self.schedule.start(plan)

    def wrap_modules(self, wrap) -> None:
        """Route training through ``wrap(net)`` (DistributedDataParallel), one wrapper per network."""
        self.encoder_train, self.decoder_train = wrap(self.encoder), wrap(self.decoder)

    def history_columns(self) -> list[str]:
        columns = ["loss", "reconstruction", "kl", "kl_weight"]
        return columns + (["valid_loss", "valid_reconstruction", "valid_kl"] if self.validation is not None else [])

    def kl_weight(self, step: int) -> float:
        """beta, ramped linearly over the warm-up steps (a function of the step alone, so resumes are exact)."""
        ramp = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        return self.params["beta"] * ramp

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]:
        labels = labels if self.conditional else None
        terms = vae_terms(self.encoder_train, self.decoder_train, images, labels, self.loss_name)
        recon, kl = terms["reconstruction"].mean(), terms["kl"].mean()
        weight = self.kl_weight(step)
        objective = recon + weight * kl
        if self.schedule.active:
            for group in self.optimizers["vae"].param_groups:
                group["lr"] = self.params["lr"] * self.lr_scale * self.schedule.factor(step)
        self.optimizers["vae"].zero_grad(set_to_none=True)
        objective.backward()
        self.optimizers["vae"].step()
        return {"loss": (recon + kl).detach(), "reconstruction": recon.detach(), "kl": kl.detach(),
                "kl_weight": torch.tensor(weight)}

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.validation is None:
            return {}
        self.encoder.eval()
        self.decoder.eval()
        # Its own generator: validation must not move the training RNG stream.
        generator = torch.Generator().manual_seed(epoch)
        recon = kl = 0.0
        frame = self.validation
        for start in range(0, len(frame), _EVAL_BATCH):
            part = frame[start : start + _EVAL_BATCH]
            x = torch.from_numpy(part.to_numpy((-1, 1), channels_first=True)).to(self.device)
            y = torch.from_numpy(part.labels).to(self.device) if self.conditional else None
            terms = vae_terms(self.encoder, self.decoder, x, y, self.loss_name, generator)
            recon += float(terms["reconstruction"].sum())
            kl += float(terms["kl"].sum())
        self.encoder.train()
        self.decoder.train()
        n = len(frame)
        return {"valid_loss": round((recon + kl) / n, 6), "valid_reconstruction": round(recon / n, 6),
                "valid_kl": round(kl / n, 6)}

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        self.decoder.eval()
        labels = self.fixed_labels.to(self.device) if self.fixed_labels is not None else None
        images = to_images(self.decoder(self.fixed_z.to(self.device), labels), self.loss_name)
        self.decoder.train()
        return to_uint8_images(images)


def vae_terms(encoder: torch.nn.Module, decoder: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None,
              loss_name: str, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Per-image reconstruction NLL and KL(q(z|x) || N(0, I)) for a batch ``x`` in [-1, 1] (one z sample)."""
    mean, log_var = encoder(x, labels)
    if generator is None:
        eps = torch.randn_like(mean)
    else:
        eps = torch.randn(mean.shape, generator=generator).to(mean.device)
    z = mean + eps * torch.exp(0.5 * log_var)
    logits = decoder(z, labels)
    if loss_name == "bce":
        recon = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2, reduction="none")
    else:
        recon = (torch.tanh(logits) - x).pow(2)
    kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var)
    return {"reconstruction": recon.flatten(1).sum(1), "kl": kl.sum(1), "mean": mean}

