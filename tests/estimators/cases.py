"""The estimators that the contract suite runs, each with tiny parameters that train in a blink.

Add a new estimator here and the whole contract suite runs over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from genforge.estimators import CNNEstimator, DiffusionEstimator, GANEstimator, VAEEstimator

TINY = {"epochs": 2, "batch_size": 8, "seed": 3, "verbose": False}
# A tiny UNet (two levels of 8 and 16 channels) sampled in 2 steps.
TINY_UNET = {**TINY, "width": 8, "channel_mults": [1, 2], "warmup_steps": 2}


@dataclass
class Case:
    id: str
    cls: type
    params: dict
    # How this estimator is asked for its output on a frame (what "same model" compares).
    predict: Callable[[Any, Any], Any]
    # A parameter name with a value of the right type but outside its allowed values.
    bad_value: tuple[str, Any] = field(default=("epochs", 0))


CASES = [
    Case("gan", GANEstimator, {**TINY, "width": 8, "latent_dim": 8}, lambda m, f: m.predict(4, seed=0).images,
         ("architecture", "transformer")),
    Case("gan-mlp", GANEstimator, {**TINY, "architecture": "mlp", "width": 8, "latent_dim": 8, "lr_schedule": "cosine"},
         lambda m, f: m.predict(4, seed=0).images, ("loss", "l1")),
    Case("vae", VAEEstimator, {**TINY, "width": 4, "latent_dim": 4}, lambda m, f: m.predict(4, seed=0).images,
         ("architecture", "dcgan")),
    Case("vae-mlp-cvae", VAEEstimator, {**TINY, "architecture": "mlp", "width": 4, "latent_dim": 4, "conditional": True,
                                        "reconstruction_loss": "mse", "kl_warmup_epochs": 1,
                                        "lr_schedule": "cosine"},
         lambda m, f: m.reconstruct(f).images, ("reconstruction_loss", "l1")),
    Case("cnn", CNNEstimator, {**TINY, "width": 4, "dense": 8}, lambda m, f: m.predict_proba(f),
         ("architecture", "resnet")),
    Case("cnn-deep", CNNEstimator, {**TINY, "architecture": "deep", "width": 4, "dense": 8, "lr_schedule": "cosine"},
         lambda m, f: m.predict_proba(f), ("optimizer", "lbfgs")),
    Case("diffusion", DiffusionEstimator, TINY_UNET, lambda m, f: m.predict(4, seed=0, steps=2).images,
         ("beta_schedule", "sigmoid")),
    Case("diffusion-cfg-v", DiffusionEstimator, {**TINY_UNET, "conditional": True, "prediction_type": "v_prediction",
                                                 "beta_schedule": "linear", "attention": False, "ema_decay": 0.0,
                                                 "lr_schedule": "cosine"},
         lambda m, f: m.predict(4, seed=0, steps=2, sampler="ddpm", guidance_scale=2.0).images,
         ("prediction_type", "sample")),
]
