"""AutoML's search space: each generator's main settings, around its tuned defaults.

The first candidates are the defaults themselves (one per algorithm, GAN first): the settings
docs/estimators.md "Why the defaults are what they are" argues for, so the search starts from what is
known to work and Optuna's sampler (TPE) explores around it. Parameters are named ``<algo>.<param>`` in the
study. Choices that cannot work on the training frame (an architecture too big for 8x8 images, say) are
dropped when the search is set up; ``fixed_params`` take a parameter out of the search.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from genforge.errors import ParameterError

# name -> ("cat", choices) | ("float", low, high, log) ; the estimator's default must lie inside.
SPACES: dict[str, dict[str, tuple]] = {
    "gan": {
        "architecture": ("cat", ["dcgan", "resnet"]),
        "loss": ("cat", ["hinge", "non_saturating", "wgan-gp"]),
        "width": ("cat", [16, 32, 64]),
        "batch_size": ("cat", [32, 64, 128]),
        "g_lr": ("float", 1e-4, 1e-3, True),
        "d_lr": ("float", 1e-4, 1.5e-3, True),
        "beta1": ("cat", [0.0, 0.5]),
        "ema_decay": ("cat", [0.99, 0.999]),
        "diff_augment": ("cat", [None, "translation", "color,translation,cutout"]),
        "n_critic": ("cat", [1, 2]),
    },
    "vae": {
        "architecture": ("cat", ["conv", "mlp"]),
        "latent_dim": ("cat", [8, 16, 32, 64]),
        "width": ("cat", [16, 32, 64]),
        "batch_size": ("cat", [32, 64, 128]),
        "beta": ("float", 0.25, 4.0, True),
        "lr": ("float", 3e-4, 3e-3, True),
        "reconstruction_loss": ("cat", ["bce", "mse"]),
    },
    "diffusion": {
        "width": ("cat", [16, 32]),
        "layers_per_block": ("cat", [1, 2]),
        "prediction_type": ("cat", ["v_prediction", "epsilon"]),
        "lr": ("float", 1e-3, 6e-3, True),
        "min_snr_gamma": ("cat", [0.0, 5.0]),
        "batch_size": ("cat", [32, 64]),
    },
}
ALGOS = tuple(SPACES)


def available_algos() -> list[str]:
    """The generators this installation can search (diffusion needs diffusers)."""
    algos = ["gan", "vae"]
    if importlib.util.find_spec("diffusers") is not None:
        algos.append("diffusion")
    return algos


def choose_algos(include: list[str] | None, exclude: list[str] | None) -> list[str]:
    """``include_algos`` minus ``exclude_algos`` (H2O's names, any case), checked."""
    def names(value, what):
        if value is None:
            return None
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ParameterError(f"{what} must be a list of algorithm names, e.g. ['gan', 'vae'], got {value!r}.")
        out = [v.lower() for v in value]
        unknown = [v for v in out if v not in ALGOS]
        if unknown:
            raise ParameterError(f"{what} names unknown algorithms {unknown}; AutoML searches {', '.join(ALGOS)}.")
        return out

    include, exclude = names(include, "include_algos"), names(exclude, "exclude_algos")
    if include is not None and exclude is not None:
        raise ParameterError("pass include_algos or exclude_algos, not both (as in H2OAutoML).")
    available = available_algos()
    if include is not None:
        missing = [a for a in include if a not in available]
        if missing:
            raise ParameterError(f"include_algos asks for {missing}, which is not installed here "
                                 "(diffusion needs pip install 'genforge[diffusion]').")
        chosen = [a for a in ALGOS if a in include]
    else:
        chosen = [a for a in available if a not in (exclude or [])]
    if not chosen:
        raise ParameterError("include_algos / exclude_algos leave no algorithm to search.")
    return chosen


def build_space(algos: list[str], fixed: dict[str, Any], frame) -> dict[str, dict[str, list]]:
    """The stored space: per algo, each searched parameter's spec with the choices that fit ``frame``."""
    from genforge.estimators import get_estimator

    space: dict[str, dict[str, list]] = {}
    for algo in algos:
        cls = get_estimator(algo)
        own = {k: v for k, v in fixed.items() if k in cls.PARAMS}
        entries: dict[str, list] = {}
        for name, spec in SPACES[algo].items():
            if name in own:
                continue
            if spec[0] == "cat":
                fits = [c for c in spec[1] if _fits(cls, {**own, name: c}, frame)]
                if not fits:
                    continue
                entries[name] = ["cat", fits]
            else:
                entries[name] = list(spec)
        space[algo] = entries
    return space


def _fits(cls, params: dict, frame) -> bool:
    try:
        cls(**params).check_training_frame(frame)
    except Exception:  # noqa: BLE001 - this choice does not fit the frame
        return False
    return True


def distributions(space: dict[str, dict[str, list]]) -> dict[str, Any]:
    """Optuna distributions of the stored space, keyed ``algo`` and ``<algo>.<param>``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out: dict[str, Any] = {"algo": CategoricalDistribution(list(space))}
    for algo, entries in space.items():
        for name, spec in entries.items():
            out[f"{algo}.{name}"] = (CategoricalDistribution(spec[1]) if spec[0] == "cat"
                                     else FloatDistribution(spec[1], spec[2], log=bool(spec[3])))
    return out


def default_point(algo: str, space: dict[str, dict[str, list]]) -> dict[str, Any]:
    """The Optuna parameters of ``algo``'s tuned defaults (nearest allowed choice where the default was dropped)."""
    from genforge.estimators import get_estimator

    cls = get_estimator(algo)
    point: dict[str, Any] = {"algo": algo}
    for name, spec in space[algo].items():
        default = cls.PARAMS[name].default
        if spec[0] == "cat":
            point[f"{algo}.{name}"] = default if default in spec[1] else spec[1][0]
        else:
            point[f"{algo}.{name}"] = min(max(float(default), spec[1]), spec[2])
    return point


def sample_params(trial, space: dict[str, dict[str, list]]) -> tuple[str, dict[str, Any]]:
    """Draw (algo, its searched parameters) through ``trial`` (Optuna's sampler decides)."""
    algo = trial.suggest_categorical("algo", list(space))
    params: dict[str, Any] = {}
    for name, spec in space[algo].items():
        key = f"{algo}.{name}"
        if spec[0] == "cat":
            params[name] = trial.suggest_categorical(key, spec[1])
        else:
            params[name] = trial.suggest_float(key, spec[1], spec[2], log=bool(spec[3]))
    return algo, params
