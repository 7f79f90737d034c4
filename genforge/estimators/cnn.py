"""CNNEstimator: an image classifier behind the estimator contract, and the metrics' domain feature extractor.

Labels come from the training frame (or ``y``). ``predict(frame)`` gives a Table aligned with the frame
(class name, class index and one probability column per class), ``model_performance(frame)`` accuracy,
log loss, per-class precision and recall and the confusion matrix, and ``features(frame)`` the
penultimate activations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genforge.errors import DataError
from genforge.estimators.base import Estimator
from genforge.estimators.inputs import check_same_classes, conform_frame, frame_labels
from genforge.estimators.params import Param, ParamSet, common_params, lr_schedule_param
from genforge.estimators.registry import register
from genforge.frame import Frame
from genforge.nets.cnn import CNN_ARCHITECTURES, build_classifier
from genforge.nets.export import OnnxGraph, classifier_graph
from genforge.table import Table
from genforge.training.loop import TrainingPlan
from genforge.training.lr_schedule import LRSchedule

CNN_PARAMS = ParamSet(common_params() + [
    Param("architecture", str, "small",
          "'small' (conv 32 3x3, max-pool, dense 128) or 'deep' (up to 3 conv blocks with batch norm and dropout).",
          choices=CNN_ARCHITECTURES),
    Param("width", int, 32, "Channels of the first conv layer (the deep net doubles them per block).", low=1, high=1024),
    Param("dense", int, 128, "Width of the dense layer before the softmax (the feature dimension).", low=1, high=65536),
    Param("dropout", float, 0.25, "Dropout rate (after the dense layer; deep: after every block too).", low=0, high=0.95),
    Param("optimizer", str, "adam", "'adam', 'adamw' or 'sgd' (momentum 0.9, Nesterov).", choices=("adam", "adamw", "sgd")),
    Param("lr", float, 1e-3, "Learning rate.", low=0, high=10),
    lr_schedule_param(),
    Param("weight_decay", float, 0.0, "L2 weight decay (decoupled for adamw).", low=0, high=1),
])

_EVAL_BATCH = 512


@register
class CNNEstimator(Estimator):
    """Train an image classifier on a labelled Frame.

    >>> cnn = CNNEstimator(epochs=5, seed=1).train(training_frame=train, validation_frame=valid)
    >>> cnn.predict(test)["predict"][:3]
    >>> cnn.model_performance(test)["accuracy"]
    """

    algo = "cnn"
    PARAMS = CNN_PARAMS

    # ------------------------------------------------------------------------------ training hooks
    def _check_frame(self, params: dict, frame: Frame) -> None:
        if frame.labels is None:
            raise DataError(
                "CNNEstimator is a classifier and the training frame has no labels; import a labelled dataset "
                "(a folder with one sub-folder per class, a CSV with a label column, ...) or pass y=labels."
            )
        if frame.num_classes < 2:
            raise DataError(f"CNNEstimator needs at least two classes; the training frame has {frame.class_names}.")

    def _build(self, params: dict, schema: dict, info: dict | None = None) -> None:
        image_shape = (schema["channels"], schema["height"], schema["width"])
        num_classes = len(schema["class_names"] or [])
        self._info.update({"num_classes": num_classes, "image_shape": list(image_shape),
                           "architecture": params["architecture"]})
        net = build_classifier(params["architecture"], image_shape=image_shape, num_classes=num_classes,
                               width=params["width"], dense=params["dense"], dropout=params["dropout"])
        self._modules = {"classifier": net.to(self._device)}

    def _make_task(self, params: dict, frame: Frame, validation_frame: Frame | None) -> "CNNTask":
        check_same_classes(frame, self.class_names)
        validation = None
        if validation_frame is not None:
            labels = frame_labels(validation_frame, self.class_names, "validation_frame")
            validation = Frame(validation_frame.images, labels, self.class_names)
        self._has_validation = validation is not None
        return CNNTask(self, params, frame, validation)

    def _default_stopping_metric(self) -> str | None:
        return "valid_loss" if getattr(self, "_has_validation", False) else "loss"

    # ------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def _run(self, frame: Frame, what: str) -> torch.Tensor:
        net = self._modules["classifier"].eval()
        out = []
        for start in range(0, len(frame), _EVAL_BATCH):
            x = torch.from_numpy(frame[start : start + _EVAL_BATCH].to_numpy((-1, 1), channels_first=True))
            value = net(x.to(self._device)) if what == "logits" else net.features(x.to(self._device))
            out.append(value.float().cpu())
        return torch.cat(out)

    def _frame(self, frame: Any, resize: bool) -> Frame:
        self._require_fitted()
        return conform_frame(frame, self._info["frame_schema"], resize)

    def predict_proba(self, frame: Any, resize: bool = False) -> np.ndarray:
        """Class probabilities, float32 ``(N, num_classes)`` in the order of ``class_names``."""
        return torch.softmax(self._run(self._frame(frame, resize), "logits"), dim=1).numpy()

    def _predict(self, frame: Any, resize: bool = False) -> Table:
        """One row per image of ``frame``: ``predict`` (class name), ``label_index`` and ``p_<class>`` columns."""
        proba = self.predict_proba(frame, resize)
        names = self.class_names
        index = proba.argmax(axis=1)
        columns = ["predict", "label_index", *(f"p_{name}" for name in names)]
        rows = [{"predict": names[i], "label_index": int(i), **{f"p_{n}": float(p) for n, p in zip(names, row)}}
                for i, row in zip(index, proba)]
        return Table(rows, columns)

    def features(self, frame: Any, resize: bool = False) -> np.ndarray:
        """Penultimate activations, float32 ``(N, dense)``: the domain features the metrics use."""
        return self._run(self._frame(frame, resize), "features").numpy()

    def _performance(self, frame: Any, resize: bool = False) -> dict[str, Any]:
        """Accuracy, log loss, per-class precision and recall and the confusion matrix on a labelled ``frame``."""
        frame = self._frame(frame, resize)
        truth = frame_labels(frame, self.class_names)
        proba = self.predict_proba(frame)
        return classification_scores(truth, proba, self.class_names)

    def onnx_graph(self) -> OnnxGraph:
        """The classifier with a softmax: images in [-1, 1] -> class probabilities."""
        self._require_fitted()
        schema = self._info["frame_schema"]
        return classifier_graph(self._modules["classifier"], (schema["channels"], schema["height"], schema["width"]),
                                len(schema.get("class_names") or []))


def classification_scores(truth: np.ndarray, proba: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, log loss, per-class precision/recall and the confusion matrix (rows: true, columns: predicted)."""
    k = len(class_names)
    predicted = proba.argmax(axis=1)
    confusion = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    hits = np.diag(confusion)
    chosen = np.clip(proba[np.arange(len(truth)), truth].astype(np.float64), 1e-15, 1.0)
    return {
        "accuracy": float(hits.sum() / len(truth)),
        "logloss": float(-np.log(chosen).mean()),
        "precision": {n: (float(hits[i] / predicted_counts[i]) if predicted_counts[i] else None)
                      for i, n in enumerate(class_names)},
        "recall": {n: (float(hits[i] / true_counts[i]) if true_counts[i] else None) for i, n in enumerate(class_names)},
        "confusion_matrix": confusion.tolist(),
        "class_names": list(class_names),
        "n_images": int(len(truth)),
    }


class CNNTask:
    """One classifier step (cross-entropy on the batch) for the common training loop."""

    def __init__(self, model: CNNEstimator, params: dict, frame: Frame, validation: Frame | None) -> None:
        self.model = model
        self.params = params
        self.net = model._modules["classifier"].train()
        self.modules = model._modules
        self.net_train: torch.nn.Module = self.net  # or its DDP wrapper (wrap_modules)
        self.optimizers = {"classifier": _optimizer(params, self.net.parameters())}
        self.device = model._device
        self.schedule = LRSchedule(params["lr_schedule"], params["max_runtime_secs"])
        self.validation = validation

    def start(self, plan: TrainingPlan) -> None:
        """The cosine schedule runs over the loop's planned steps, however many ranks share them."""
        self.schedule.start(plan)

    def wrap_modules(self, wrap) -> None:
        """Route training through ``wrap(net)`` (DistributedDataParallel)."""
        self.net_train = wrap(self.net)

    def history_columns(self) -> list[str]:
        return ["loss", "accuracy", "lr"] + (["valid_loss", "valid_accuracy"] if self.validation is not None else [])

    def _set_lr(self, step: int) -> float:
        # A function of the step (and clock, under a time limit): no scheduler state to save or resume.
        lr = self.params["lr"] * self.schedule.factor(step)
        for group in self.optimizers["classifier"].param_groups:
            group["lr"] = lr
        return lr

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, step: int) -> dict[str, torch.Tensor]:
        lr = self._set_lr(step)
        logits = self.net_train(images)
        loss = F.cross_entropy(logits, labels)
        self.optimizers["classifier"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["classifier"].step()
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return {"loss": loss.detach(), "accuracy": accuracy, "lr": torch.tensor(lr)}

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.validation is None:
            return {}
        logits = self.model._run(self.validation, "logits")
        self.net.train()
        labels = torch.from_numpy(self.validation.labels)
        return {"valid_loss": round(float(F.cross_entropy(logits, labels)), 6),
                "valid_accuracy": round(float((logits.argmax(dim=1) == labels).float().mean()), 6)}

    def sample_grid(self) -> None:
        return None


def _optimizer(params: dict, parameters) -> torch.optim.Optimizer:
    lr, decay = params["lr"], params["weight_decay"]
    if params["optimizer"] == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=decay)
    if params["optimizer"] == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=decay)
    return torch.optim.Adam(parameters, lr=lr, weight_decay=decay)
