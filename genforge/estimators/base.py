"""The estimator contract shared by every genforge model (scikit-learn's, with H2O's names).

- ``__init__`` takes keyword parameters only and stores them unchanged (unknown names fail at once);
  values are validated in ``train``.
- ``train(x=None, y=None, training_frame=None, validation_frame=None)`` returns self.
- ``get_params`` / ``set_params``, ``scoring_history()``, ``model_performance(frame)``.

Subclasses declare ``algo`` and ``PARAMS`` and fill in the hooks at the bottom: building their networks,
their training phases, and what they save. Saving, checkpoints and resuming are done here, once.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from genforge._version import __version__
from genforge.errors import DataError, ModelFormatError, NotFittedError, ParameterError
from genforge.estimators.params import ParamSet
from genforge.frame import Frame
from genforge.serialization import (
    META_FILE, STATE_META_FILE, STATE_TENSORS_FILE, WEIGHTS_FILE, existing_folder, flatten_state, read_json,
    read_tensors, replace_folder, staging_folder, unflatten_state, write_json, write_tensors,
)
from genforge.table import Table
from genforge.training.loop import LoopConfig, LoopState, TrainingTask, loop_state_from_dict, run_training
from genforge.training.run_folder import open_run_folder
from genforge.training.runtime import new_seed, resolve_device, restore_rng, rng_snapshot, seed_everything

FORMAT = "genforge.model"
FORMAT_VERSION = 1


class Estimator:
    """Base class of GANEstimator, VAEEstimator and CNNEstimator."""

    algo: ClassVar[str] = ""
    PARAMS: ClassVar[ParamSet]
    # Optional progress hook, not a parameter: called with the training loop's snapshots (see
    # genforge.training.loop.progress_snapshot); the server's workers set it to report job progress.
    on_progress: Any = None

    def __init__(self, **params: Any) -> None:
        given = self.PARAMS.resolve(params)  # canonical names; alias + name with different values -> error
        for param in self.PARAMS:
            setattr(self, param.name, given.get(param.name, param.default))
        self._modules: dict[str, nn.Module] = {}
        self._info: dict[str, Any] = {}  # what the fitted networks were built from (saved in model.json)
        self._history: list[dict[str, Any]] = []
        self._metrics: dict[str, Any] = {}
        self._device = torch.device("cpu")
        self.model_id: str | None = None
        self.last_run_dir: str | None = None  # where the latest train() wrote checkpoints and grids

    # ------------------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """All parameters with their current values (as given, unvalidated)."""
        return {name: getattr(self, name) for name in self.PARAMS.names()}

    def set_params(self, **params: Any) -> "Estimator":
        for name, value in self.PARAMS.resolve(params).items():
            setattr(self, name, value)
        return self

    def validated_params(self) -> dict[str, Any]:
        """The parameters checked against their declarations (type, range, allowed values)."""
        values = {p.name: p.validate(getattr(self, p.name)) for p in self.PARAMS}
        self._check_params(values)
        return values

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != self.PARAMS[k].default}
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        state = f" fitted, model_id={self.model_id!r}" if self.is_fitted else ""
        return f"{type(self).__name__}({inner}){state}"

    @property
    def class_names(self) -> list[str] | None:
        """The class names of the frame the model was trained on (None for unlabelled data)."""
        return (self._info.get("frame_schema") or {}).get("class_names")

    @property
    def is_fitted(self) -> bool:
        return bool(self._modules)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} is not trained yet; call train(...) or load_model(path) first.")

    # ------------------------------------------------------------------------------ training
    def train(self, x: Any = None, y: Any = None, training_frame: Frame | None = None,
              validation_frame: Frame | None = None) -> "Estimator":
        """Fit on ``training_frame`` (or ``x``: a Frame or an image array, with labels ``y``); returns self."""
        frame = _training_frame(x, y, training_frame)
        if validation_frame is not None and not isinstance(validation_frame, Frame):
            raise DataError(f"validation_frame must be a Frame, got {type(validation_frame).__name__}.")
        params = self.validated_params()
        self._check_frame(params, frame)
        if validation_frame is not None and validation_frame.image_shape != frame.image_shape:
            raise DataError(
                f"validation_frame images are {validation_frame.image_shape}, training images {frame.image_shape}; "
                "resize one to match."
            )
        seed = params["seed"] if params["seed"] is not None else new_seed()
        self._device = resolve_device(params["device"])
        run = open_run_folder(params["run_dir"], params["checkpoint"], params["overwrite"])  # refuses another run's
        self.last_run_dir = str(run.path)

        deterministic_before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(params["deterministic"])
        try:
            seed_everything(seed)
            resume = self._prepare(params, frame, seed)
            task = self._with_scores(params, frame, validation_frame, self._make_task(params, frame, validation_frame))
            state = self._resume_state(task, resume)
            if state.epoch >= params["epochs"]:
                raise ParameterError(
                    f"epochs={params['epochs']} but the checkpoint has already trained {state.epoch} epochs; "
                    "epochs counts the total, so pass a larger value."
                )
            config = LoopConfig(
                epochs=params["epochs"], batch_size=params["batch_size"], seed=seed, device=self._device,
                max_runtime_secs=params["max_runtime_secs"], stopping_rounds=params["stopping_rounds"],
                stopping_metric=self._stopping_metric(params), stopping_tolerance=params["stopping_tolerance"],
                minimize_metric=self._minimize(self._stopping_metric(params)), verbose=params["verbose"],
                run_dir=run.path, save_checkpoint=lambda folder, loop: self._write_folder(folder, task, loop),
                drop_last=self._drop_last, on_progress=self.on_progress,
            )
            self._configure_loop(config)
            state = run_training(task, frame, config, state)
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
            self.last_run_dir = run.close()  # a temporary folder is removed (None), a named one kept
        self._history = state.history
        self._info["stopped_reason"] = state.stopped_reason
        return self

    _drop_last: ClassVar[bool] = True

    def _configure_loop(self, config: LoopConfig) -> None:
        """Hook for the distributed launcher: under an initialised process group (torchrun), set rank and
        world size and add the DDP hook; a no-op in a single process."""
        from genforge.training.distributed import configure_loop

        configure_loop(config)

    def _with_scores(self, params: dict, frame: Frame, validation_frame: Frame | None, task: TrainingTask) -> TrainingTask:
        """A generator's task that also records FID every ``score_every`` epochs (every epoch when
        ``stopping_metric="fid"`` and ``score_every`` is 0 or not declared), on ``score_samples`` images
        against the validation frame (else the training frame), with the ``evaluator`` extractor."""
        every = params.get("score_every") or (1 if self._stopping_metric(params) == "fid" else 0)
        if not every:
            return task
        if not callable(getattr(self, "noise", None)):
            raise ParameterError(f"stopping_metric='fid' needs a generator; a {self.algo!r} model does not generate images.")
        # The metrics sit above the estimators; they are imported only when scoring was asked for.
        from genforge.metrics.evaluate import fid_scorer
        from genforge.training.scoring import ScoredTask

        reference = validation_frame if validation_frame is not None else frame
        try:
            scorer = fid_scorer(self, reference, samples=params.get("score_samples") or 1000,
                                extractor=params.get("evaluator"), seed=0)
        except ParameterError as error:
            raise ParameterError(f"stopping_metric 'fid' cannot be computed: {error} (For training, name it with the "
                                 "evaluator parameter.)") from None
        return ScoredTask(task, scorer, every)

    def _stopping_metric(self, params: dict) -> str | None:
        metric = params["stopping_metric"]
        return self._default_stopping_metric() if metric == "auto" else metric

    def _minimize(self, metric: str | None) -> bool:
        return not (metric or "").endswith(("accuracy", "precision", "recall", "coverage", "inception_score"))

    def _prepare(self, params: dict, frame: Frame, seed: int) -> dict | None:
        """Build fresh networks, or those of ``checkpoint``; returns the checkpoint's training state, if any."""
        self._info = {"seed": seed, "frame_schema": frame.schema()}
        self.model_id = f"{self.algo}-{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        if not params["checkpoint"]:
            self._build(params, frame.schema())
            self._metrics = {}
            return None
        folder = existing_folder(Path(params["checkpoint"]))
        if folder is None:
            raise ParameterError(f"checkpoint {params['checkpoint']!r} is not a saved genforge model folder.")
        meta = read_meta(folder)
        if meta["estimator"] != self.algo:
            raise ParameterError(
                f"checkpoint {str(folder)!r} is a {meta['estimator']!r} model; this is a {self.algo!r} estimator."
            )
        if _shape(meta["frame_schema"]) != _shape(frame.schema()):
            raise DataError(
                f"checkpoint was trained on {_shape(meta['frame_schema'])} images (H, W, C), this frame has "
                f"{_shape(frame.schema())}; resize the frame to match."
            )
        self._info = {**meta["info"], "seed": seed, "frame_schema": meta["frame_schema"]}
        self._build(params, meta["frame_schema"], meta["info"])
        self._load_weights(folder, meta)
        self._history = list(meta.get("history", []))
        if (folder / STATE_META_FILE).is_file():
            return {"folder": folder, **read_json(folder / STATE_META_FILE)}
        return {"folder": None, "loop": {"epoch": len(self._history), "history": self._history,
                                         "step": self._history[-1]["step"] if self._history else 0}}

    def _resume_state(self, task: TrainingTask, resume: dict | None) -> LoopState:
        if resume is None:
            return LoopState()
        if resume["folder"] is not None:
            tensors = read_tensors(resume["folder"] / STATE_TENSORS_FILE, resume.get("sha256"))
            optimizers = unflatten_state(resume["optimizers"], tensors)
            for name, optimizer in task.optimizers.items():
                optimizer.load_state_dict(optimizers[name])
            restore_rng(unflatten_state(resume["rng"], tensors))
        return loop_state_from_dict(resume["loop"])

    # ------------------------------------------------------------------------------ results
    def scoring_history(self) -> Table:
        """One row per epoch: losses, validation scores, seconds and images/s."""
        return Table(self._history)

    @property
    def metrics(self) -> dict[str, Any]:
        """Scores recorded by ``model_performance`` (saved with the model)."""
        return dict(self._metrics)

    # ------------------------------------------------------------------------------ on disk
    def export_onnx(self, path: str | Path, force: bool = False) -> Path:
        """Write the inference network to an ONNX file (see ``genforge.artifacts.onnx_export``); an existing
        file is replaced only with ``force=True``."""
        from genforge.artifacts.onnx_export import export_onnx

        return export_onnx(self, path, force=force)

    def _model_meta(self, weights_sha256: str) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "genforge_version": __version__,
            "estimator": self.algo,
            "model_id": self.model_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "params": {k: v for k, v in self.get_params().items()},
            "frame_schema": self._info.get("frame_schema"),
            "info": self._info,
            "history": self._history,
            "metrics": self._metrics,
            "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256, "modules": sorted(self._modules)},
        }

    def _write_folder(self, target: Path, task: TrainingTask | None = None, loop: dict | None = None) -> Path:
        """Write model.json + weights (and, for a checkpoint, the training state) atomically to ``target``."""
        self._require_fitted()
        staging = staging_folder(target)
        tensors = {f"{name}.{key}": value for name, module in self._modules.items()
                   for key, value in module.state_dict().items()}
        meta = self._model_meta(write_tensors(staging / WEIGHTS_FILE, tensors))
        if loop is not None:
            meta["history"] = loop["history"]
        write_json(staging / META_FILE, meta)
        if task is not None and loop is not None:
            optimizers, optimizer_tensors = flatten_state(
                {n: o.state_dict() for n, o in task.optimizers.items()}, "optimizers")
            rng, rng_tensors = flatten_state(rng_snapshot(), "rng")
            sha = write_tensors(staging / STATE_TENSORS_FILE, {**optimizer_tensors, **rng_tensors})
            write_json(staging / STATE_META_FILE, {"loop": loop, "optimizers": optimizers, "rng": rng, "sha256": sha})
        replace_folder(staging, target)
        return target

    def _load_weights(self, folder: Path, meta: dict) -> None:
        tensors = read_tensors(folder / meta["weights"]["file"], meta["weights"].get("sha256"))
        for name, module in self._modules.items():
            prefix = f"{name}."
            part = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                module.load_state_dict(part, strict=True)
            except RuntimeError as error:
                raise ModelFormatError(
                    f"weights in {folder} do not fit the {name} network built from model.json: "
                    f"{' '.join(str(error).split())}"
                ) from None

    @classmethod
    def _from_meta(cls, folder: Path, meta: dict) -> "Estimator":
        """Rebuild a fitted estimator from a saved folder (called by ``genforge.load_model``)."""
        model = cls(**{k: v for k, v in meta["params"].items() if k in cls.PARAMS})
        params = {p.name: getattr(model, p.name) for p in cls.PARAMS}
        model._info = dict(meta["info"])
        model._build(params, meta["frame_schema"], meta["info"])
        model._load_weights(folder, meta)
        model._history = list(meta.get("history", []))
        model._metrics = dict(meta.get("metrics", {}))
        model.model_id = meta.get("model_id")
        for module in model._modules.values():
            module.eval()
        return model

    # ------------------------------------------------------------------------------ subclass hooks
    def _check_params(self, params: dict) -> None:
        """Cross-parameter checks (after each value passed its own)."""

    def _check_frame(self, params: dict, frame: Frame) -> None:
        """Checks that need the training frame (image size, labels)."""

    def _build(self, params: dict, schema: dict, info: dict | None = None) -> None:
        """Create ``self._modules`` on ``self._device`` and record what they need in ``self._info``."""
        raise NotImplementedError

    def _make_task(self, params: dict, frame: Frame, validation_frame: Frame | None) -> TrainingTask:
        raise NotImplementedError

    def _default_stopping_metric(self) -> str | None:
        return None


def read_meta(folder: Path) -> dict:
    """Read and check ``model.json``: genforge's format, a version this package can read."""
    meta = read_json(folder / META_FILE)
    if meta.get("format") != FORMAT:
        raise ModelFormatError(f"{folder / META_FILE} is not a genforge model (format {meta.get('format')!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{folder} was saved in model format {version!r}, newer than this genforge ({__version__}) reads "
            f"(format {FORMAT_VERSION}); upgrade genforge to load it."
        )
    for key in ("estimator", "params", "frame_schema", "info", "weights"):
        if key not in meta:
            raise ModelFormatError(f"{folder / META_FILE} lacks the {key!r} entry; the file was edited or cut short.")
    return meta


def _training_frame(x: Any, y: Any, training_frame: Frame | None) -> Frame:
    if training_frame is not None and x is not None and not isinstance(x, (str, list)):
        raise DataError("Pass the training data once: either x or training_frame, not both.")
    data = training_frame if training_frame is not None else x
    if data is None:
        raise DataError("train() needs data: pass training_frame=frame (or x=frame, or x=an image array).")
    if isinstance(data, Frame):
        if y is not None and not isinstance(y, str):
            labels = np.asarray(y)
            return Frame(data.images, labels, None, name=data.name)
        return data
    if isinstance(data, np.ndarray) or torch.is_tensor(data):
        return Frame.from_numpy(np.asarray(data), labels=y)
    raise DataError(f"training data must be a Frame or an image array, got {type(data).__name__}.")


def _shape(schema: dict) -> tuple[int, int, int]:
    return (schema["height"], schema["width"], schema["channels"])
