"""Feature extractors behind one interface: a domain classifier (CNNEstimator), Inception-v3, any nn.Module.

An extractor maps a Frame to features ``(N, D)`` and, when it classifies, to class probabilities
``(N, K)``. ``get_extractor(spec, frame)`` resolves what a user names: a built-in evaluator
("fashion-mnist", "digits"), a saved CNNEstimator folder, an Inception weights file (.pth/.safetensors),
a fitted CNNEstimator, an nn.Module, or None for the built-in evaluator that matches the frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame

_BATCH = 256


class FeatureExtractor:
    """The interface the metrics use. Subclasses set ``name`` and implement ``_run``."""

    name: str = "extractor"
    feature_dim: int = 0
    class_names: list[str] | None = None  # set when the extractor is a classifier of known classes
    has_probabilities: bool = False
    image_shape: tuple[int, int, int] | None = None  # (H, W, C) it needs; None: any (it resizes)

    def extract(self, frame: Frame) -> tuple[np.ndarray, np.ndarray | None]:
        """Features float32 ``(N, D)`` and class probabilities ``(N, K)`` (None when it does not classify)."""
        frame = self._conform(frame)
        features, probabilities = self._run(frame)
        return np.asarray(features, np.float32), (None if probabilities is None else np.asarray(probabilities, np.float32))

    def features(self, frame: Frame) -> np.ndarray:
        return self.extract(frame)[0]

    def describe(self) -> dict[str, Any]:
        """What the scores record about the extractor."""
        return {"extractor": self.name, "feature_dim": self.feature_dim}

    def _conform(self, frame: Frame) -> Frame:
        if not isinstance(frame, Frame):
            raise DataError(f"metrics need Frames of images, got {type(frame).__name__}.")
        if self.image_shape is not None and frame.image_shape != self.image_shape:
            h, w, c = self.image_shape
            raise DataError(
                f"the {self.name} extractor takes {h}x{w}x{c} images, this frame ({frame.name or 'unnamed'}) has "
                f"{'x'.join(map(str, frame.image_shape))}; pass frame.resize(({h}, {w})).to_channels({c}) or "
                "another extractor."
            )
        return frame

    def _run(self, frame: Frame) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.feature_dim}-d features>"


class ClassifierExtractor(FeatureExtractor):
    """A fitted CNNEstimator: its penultimate activations (``features``) and class probabilities."""

    has_probabilities = True

    def __init__(self, model: Any, name: str | None = None, record: dict | None = None) -> None:
        if getattr(model, "algo", None) != "cnn" or not model.is_fitted:
            raise ParameterError("ClassifierExtractor needs a fitted CNNEstimator (train one, or load_model a saved one).")
        self.model = model
        self.record = dict(record or {})
        schema = model.frame_schema
        self.image_shape = (schema["height"], schema["width"], schema["channels"])
        self.class_names = list(model.class_names or [])
        self.feature_dim = int(model.get_params().get("dense") or self.record.get("feature_dim") or 0)
        self.name = name or self.record.get("extractor") or f"cnn:{model.model_id}"

    @torch.no_grad()
    def _run(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        net = self.model.networks["classifier"]
        if not callable(getattr(net, "head", None)):  # another classifier net: two passes through the public API
            return self.model.features(frame), self.model.predict_proba(frame)
        # One pass: the penultimate activations, then the head's logits from them.
        was_training = net.training
        net.eval()
        features, probabilities = [], []
        device = next(net.parameters()).device
        for start in range(0, len(frame), _BATCH * 2):
            x = torch.from_numpy(frame[start : start + _BATCH * 2].to_numpy((-1, 1), channels_first=True)).to(device)
            f = net.features(x)
            features.append(f.float().cpu())
            probabilities.append(torch.softmax(net.head(f).float(), dim=1).cpu())
        net.train(was_training)
        out = torch.cat(features).numpy()
        self.feature_dim = out.shape[1]
        return out, torch.cat(probabilities).numpy()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        if "test_accuracy" in self.record:
            info["extractor_test_accuracy"] = self.record["test_accuracy"]
        return info


class InceptionExtractor(FeatureExtractor):
    """pytorch-fid's Inception-v3: 2048-d pool features, softmax over its 1008 ImageNet logits."""

    has_probabilities = True

    def __init__(self, weights: str | Path | None, input_size: int = 299, dims: int = 2048, name: str | None = None,
                 device: str | torch.device = "cpu") -> None:
        from genforge.nets.inception import BLOCK_DIMS, load_inception

        if dims not in BLOCK_DIMS:
            raise ParameterError(f"Inception dims must be one of {BLOCK_DIMS} (pytorch-fid's --dims), got {dims}.")
        self.net = load_inception(weights, input_size).to(device)
        self.device = torch.device(device)
        self.feature_dim = self.dims = int(dims)
        self.has_probabilities = dims == 2048  # logits come after the last block only
        self.weights = None if weights is None else str(weights)
        base = "inception-v3:" + (Path(weights).name if weights is not None else "random")
        self.name = name or (base if dims == 2048 else f"{base}:{dims}")

    @torch.no_grad()
    def _run(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        features, probabilities = [], []
        for start in range(0, len(frame), _BATCH // 4):
            x = torch.from_numpy(frame[start : start + _BATCH // 4].to_numpy((0, 1), channels_first=True))
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)  # grey images as RGB, as pytorch-fid's users feed them
            f, logits = self.net(x.to(self.device), self.dims)
            features.append(f.float().cpu())
            if logits is not None:
                probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(features).numpy(), (torch.cat(probabilities).numpy() if probabilities else None)


class ModuleExtractor(FeatureExtractor):
    """Any ``nn.Module`` mapping ``(N, C, H, W)`` in [-1, 1] to features; an optional ``head`` gives logits."""

    def __init__(self, module: nn.Module, name: str, head: nn.Module | None = None,
                 class_names: list[str] | None = None, image_shape: tuple[int, int, int] | None = None) -> None:
        self.module = module.eval()
        self.head = head.eval() if head is not None else None
        self.name = name
        self.class_names = list(class_names) if class_names is not None else None
        self.has_probabilities = head is not None
        self.image_shape = tuple(image_shape) if image_shape is not None else None

    @torch.no_grad()
    def _run(self, frame: Frame) -> tuple[np.ndarray, np.ndarray | None]:
        features, probabilities = [], []
        for start in range(0, len(frame), _BATCH):
            x = torch.from_numpy(frame[start : start + _BATCH].to_numpy((-1, 1), channels_first=True))
            f = self.module(x).flatten(1).float()
            features.append(f)
            if self.head is not None:
                probabilities.append(torch.softmax(self.head(f).float(), dim=1))
        out = torch.cat(features).numpy()
        self.feature_dim = out.shape[1]
        return out, (torch.cat(probabilities).numpy() if probabilities else None)


def builtin_extractor(name: str) -> ClassifierExtractor:
    """The domain evaluator that ships with genforge for a built-in dataset ("fashion-mnist", "digits")."""
    from genforge.metrics.domain import evaluator_folder

    folder = evaluator_folder(name)
    return _cached_classifier(str(folder))


_CACHE: dict[str, ClassifierExtractor] = {}


def _cached_classifier(folder: str) -> ClassifierExtractor:
    # Loading is cheap, but the per-epoch FID of a training run asks for the same evaluator every epoch.
    if folder not in _CACHE:
        from genforge.artifacts import load_model
        from genforge.metrics.domain import read_record

        model = load_model(folder)
        if model.algo != "cnn":
            raise ParameterError(f"{folder} holds a {model.algo!r} model; a feature extractor must be a CNNEstimator.")
        _CACHE[folder] = ClassifierExtractor(model, record=read_record(folder))
    return _CACHE[folder]


def get_extractor(spec: Any = None, frame: Frame | None = None) -> FeatureExtractor:
    """Resolve ``spec`` to a FeatureExtractor (see the module docstring); None picks by ``frame``."""
    if isinstance(spec, FeatureExtractor):
        return spec
    if spec is None or spec == "auto":
        from genforge.metrics.domain import builtin_evaluators, match_evaluator

        name = match_evaluator(frame) if frame is not None else None
        if name is None:
            shape = "x".join(map(str, frame.image_shape)) if frame is not None else "these"
            raise ParameterError(
                f"No built-in evaluator fits {shape} images (built-in: {', '.join(builtin_evaluators()) or 'none'}). "
                "Pass extractor=: a CNNEstimator trained on labelled images of this kind (or its saved folder), "
                "or an Inception-v3 weights file (pytorch-fid's .pth)."
            )
        return builtin_extractor(name)
    if getattr(spec, "algo", None) == "cnn":
        return ClassifierExtractor(spec)
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec, name=type(spec).__name__)
    if isinstance(spec, (str, Path)):
        text = str(spec)
        if text.startswith("inception:"):
            return InceptionExtractor(text[len("inception:"):])
        path = Path(text)
        if path.suffix in (".pth", ".pt", ".safetensors"):
            return InceptionExtractor(path)
        if path.is_dir():
            return _cached_classifier(str(path.resolve()))
        return builtin_extractor(text)
    raise ParameterError(
        f"extractor must be a built-in evaluator name, a saved CNNEstimator folder, an Inception weights file, a "
        f"CNNEstimator, an nn.Module or a FeatureExtractor; got {type(spec).__name__}."
    )
