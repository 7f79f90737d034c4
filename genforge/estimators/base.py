"""The estimator contract shared by every genforge model (scikit-learn's, with H2O's names).

- ``__init__`` takes keyword parameters only and stores them unchanged (unknown names fail at once);
  values are validated in ``train``. Each subclass gets a real signature built from its declared
  parameters, so ``help()``, IDEs and ``inspect.signature`` show them.
- ``train(x=None, y=None, training_frame=None, validation_frame=None, callbacks=None)`` returns self.
- ``predict(x, **options)`` and ``model_performance(frame, **options)``, declared here once.
- ``get_params(deep)`` / ``set_params``, ``clone``, ``scoring_history()``.
- What saving needs, as plain data: ``to_saved()`` / ``from_saved()`` (``genforge.artifacts`` writes and
  reads the folder); what export needs: ``onnx_graph()``.

Subclasses declare ``algo`` and ``PARAMS`` and fill in the hooks at the bottom: building their networks,
their training task (its phases), predicting and scoring. Training set-up, checkpoints and resuming are
done here, once, through the training loop's callbacks.
"""

from __future__ import annotations

import copy
import datetime as _dt
import inspect
import secrets
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Mapping

import torch
from torch import nn

from genforge.errors import DataError, ModelFormatError, NotFittedError, ParameterError
from genforge.estimators.inputs import check_options, training_data
from genforge.estimators.params import ParamSet
from genforge.frame import Frame
from genforge.model_folder import describe_shape, find_model_folder, group_tensors, read_meta, read_weights
from genforge.nets.export import OnnxGraph
from genforge.table import Table
from genforge.training.callbacks import Callback, EarlyStopping, TimeLimit
from genforge.training.checkpoint import CHECKPOINT_DIR, Checkpointer, restore, saved_loop_state
from genforge.training.distributed import ddp_callback
from genforge.training.guard import divergence_callbacks
from genforge.training.loop import LoopConfig, LoopState, TrainingLoop, TrainingTask
from genforge.training.plots import EpochImages
from genforge.training.progress import ProgressBar
from genforge.training.run_folder import open_run_folder
from genforge.training.runtime import new_seed, resolve_device, seed_everything
from genforge.training.scoring import score_callback


class Estimator:
    """Base class of every estimator (GANEstimator, VAEEstimator, CNNEstimator, ...)."""

    algo: ClassVar[str] = ""
    PARAMS: ClassVar[ParamSet]
    generates: ClassVar[bool] = False  # True for models that make images (see estimators.generator)
    _drop_last: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "PARAMS" in cls.__dict__:
            # Parameters are stored as attributes: one that shadows a method or property is a bug here.
            taken = [name for name in cls.PARAMS.names() if hasattr(cls, name)]
            if taken:
                raise TypeError(f"{cls.__name__}: parameters {taken} collide with attributes of the class.")
            cls.__init__ = _init_with_signature(cls)  # type: ignore[method-assign]

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
        """All parameters with their current values (as given, unvalidated). With ``deep``, parameters of
        values that have parameters themselves are included as ``name__key`` (scikit-learn's convention)."""
        params = {name: getattr(self, name) for name in self.PARAMS.names()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update({f"{name}__{key}": v for key, v in value.get_params(deep=True).items()})
        return params

    def set_params(self, **params: Any) -> "Estimator":
        """Change parameters (``name__key`` reaches into a value that has parameters); returns self."""
        nested: dict[str, dict[str, Any]] = {}
        for name, value in list(params.items()):
            outer, sep, inner = name.partition("__")
            if sep:
                nested.setdefault(self.PARAMS.canonical(outer), {})[inner] = params.pop(name)
        for name, value in self.PARAMS.resolve(params).items():
            setattr(self, name, value)
        for outer, values in nested.items():
            target = getattr(self, outer)
            if not hasattr(target, "set_params"):
                raise ParameterError(f"parameter {outer!r} holds {type(target).__name__}, which has no parameters "
                                     f"of its own; set it as a whole ({outer}=...).")
            target.set_params(**values)
        return self

    def validated_params(self) -> dict[str, Any]:
        """The parameters checked against their declarations (type, range, allowed values)."""
        values = {p.name: p.validate(getattr(self, p.name)) for p in self.PARAMS}
        self._check_params(values)
        return values

    def check_training_frame(self, frame: Frame) -> dict[str, Any]:
        """Check the parameters and that ``frame`` suits them (image size, labels) without training;
        returns the validated parameters. The server checks a job this way before queueing it."""
        params = self.validated_params()
        self._check_frame(params, frame)
        return params

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params(deep=False).items() if v != self.PARAMS[k].default}
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        state = f" fitted, model_id={self.model_id!r}" if self.is_fitted else ""
        return f"{type(self).__name__}({inner}){state}"

    # ------------------------------------------------------------------------------ fitted state
    @property
    def is_fitted(self) -> bool:
        return bool(self._modules)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} is not trained yet; call train(...) or load_model(path) first.")

    _ready = _require_fitted  # what estimators.generator.Generator calls before generating

    @property
    def networks(self) -> Mapping[str, nn.Module]:
        """The fitted networks by name (read-only mapping; e.g. ``generator``, ``discriminator``)."""
        return MappingProxyType(self._modules)

    @property
    def info(self) -> Mapping[str, Any]:
        """What the fitted networks were built from (image shape, latent size, classes, seed, ...)."""
        return MappingProxyType(self._info)

    @property
    def frame_schema(self) -> dict[str, Any] | None:
        """Height, width, channels and class names of the frame the model was trained on."""
        return self._info.get("frame_schema")

    @property
    def class_names(self) -> list[str] | None:
        """The class names of the frame the model was trained on (None for unlabelled data)."""
        return (self._info.get("frame_schema") or {}).get("class_names")

    @property
    def num_classes(self) -> int:
        """Classes the model takes or gives (0 for an unconditional generator)."""
        return int(self._info.get("num_classes") or 0)

    @property
    def compute_device(self) -> torch.device:
        """The device the fitted networks live on (the ``device`` parameter is what was asked for)."""
        return self._device

    @property
    def stopped_reason(self) -> str | None:
        """Why the last training ended early ("early_stopping", "max_runtime_secs", "divergence_guard"), or None."""
        return self._info.get("stopped_reason")

    def training_events(self) -> list[dict[str, Any]]:
        """What the divergence guard found and did, oldest first (saved with the model): one dict per event,
        ``{"epoch", "step", "kind": "nan" | "exploding" | "collapse", "evidence", "action": "rollback" | "stop"}``."""
        return [dict(event) for event in self._info.get("training_events", [])]

    # ------------------------------------------------------------------------------ training
    def train(self, x: Any = None, y: Any = None, training_frame: Frame | None = None,
              validation_frame: Frame | None = None, callbacks: Iterable[Callback] | None = None) -> "Estimator":
        """Fit on ``training_frame`` (or ``x``: a Frame or an image array, with labels ``y``); returns self.

        ``callbacks``: extra :class:`genforge.training.callbacks.Callback` objects for the training loop
        (scores, reports, ...), run beside the ones the parameters ask for."""
        frame = training_data(x, y, training_frame)
        if validation_frame is not None and not isinstance(validation_frame, Frame):
            raise DataError(f"validation_frame must be a Frame, got {type(validation_frame).__name__}.")
        params = self.check_training_frame(frame)
        if validation_frame is not None and validation_frame.image_shape != frame.image_shape:
            raise DataError(
                f"validation_frame images are {validation_frame.image_shape}, training images {frame.image_shape}; "
                "resize one to match."
            )
        self._device = resolve_device(params["device"])
        seed = params["seed"] if params["seed"] is not None else new_seed()
        ddp = ddp_callback(self._device, seed)  # None outside torchrun; else rank 0's seed for every rank
        seed = ddp.seed if ddp is not None else seed
        run = open_run_folder(params["run_dir"], params["checkpoint"], params["overwrite"])  # refuses another run's
        self.last_run_dir = str(run.path)

        deterministic_before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(params["deterministic"])
        try:
            seed_everything(seed)
            state, training_state = self._prepare(params, frame, seed)
            task = self._make_task(params, frame, validation_frame)
            restore(task, training_state)
            if state.epoch >= params["epochs"]:
                raise ParameterError(
                    f"epochs={params['epochs']} but the checkpoint has already trained {state.epoch} epochs; "
                    "epochs counts the total, so pass a larger value."
                )
            config = LoopConfig(epochs=params["epochs"], batch_size=params["batch_size"], seed=seed,
                                device=self._device, run_dir=run.path, drop_last=self._drop_last,
                                rank=ddp.rank if ddp else 0, world_size=ddp.world_size if ddp else 1)
            chosen = self._loop_callbacks(params, frame, validation_frame, run.path) + list(callbacks or [])
            state = TrainingLoop(task, frame, config, chosen + ([ddp] if ddp else []), state).run()
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
            self.last_run_dir = run.close()  # a temporary folder is removed (None), a named one kept
        self._history = state.history
        self._info["stopped_reason"] = state.stopped_reason
        return self

    def _loop_callbacks(self, params: dict, frame: Frame, validation_frame: Frame | None,
                        run_dir: Path) -> list[Callback]:
        """The callbacks the parameters ask for."""
        # The divergence guard (it records into training_events()), else the finite-loss check.
        callbacks: list[Callback] = [*divergence_callbacks(params, self._info), EpochImages(run_dir),
                                     Checkpointer(run_dir / CHECKPOINT_DIR, self.to_saved, params["checkpoint_every"])]
        if params["verbose"]:
            callbacks.append(ProgressBar())
        if params["max_runtime_secs"]:
            callbacks.append(TimeLimit(params["max_runtime_secs"]))
        metric = self._stopping_metric(params)
        if params["stopping_rounds"]:
            callbacks.append(EarlyStopping(metric, params["stopping_rounds"], params["stopping_tolerance"],
                                           minimize=self._minimize(metric)))
        every = params.get("score_every") or (1 if metric == "fid" else 0)
        if every:
            callbacks.append(self._fid_callback(params, frame, validation_frame, every))
        return callbacks

    def _fid_callback(self, params: dict, frame: Frame, validation_frame: Frame | None, every: int) -> Callback:
        """FID every ``every`` epochs on ``score_samples`` images against the validation frame (else the
        training frame), with the ``evaluator`` extractor; the callback comes from ``genforge.metrics``."""
        if not self.generates:
            raise ParameterError(f"stopping_metric='fid' needs a generator; a {self.algo!r} model does not generate images.")
        reference = validation_frame if validation_frame is not None else frame
        try:
            return score_callback("fid", self, reference, every=every, samples=params.get("score_samples") or 1000,
                                  extractor=params.get("evaluator"), seed=0)
        except ParameterError as error:
            raise ParameterError(f"stopping_metric 'fid' cannot be computed: {error} (For training, name it with the "
                                 "evaluator parameter.)") from None

    def _stopping_metric(self, params: dict) -> str | None:
        metric = params["stopping_metric"]
        return self._default_stopping_metric() if metric == "auto" else metric

    def _minimize(self, metric: str | None) -> bool:
        return not (metric or "").endswith(("accuracy", "precision", "recall", "coverage", "inception_score"))

    def _prepare(self, params: dict, frame: Frame, seed: int) -> tuple[LoopState, dict | None]:
        """Build fresh networks, or those of ``checkpoint``; returns the loop state to start from and the
        checkpoint's training state (optimizers, RNG), if any."""
        self._info = {"seed": seed, "frame_schema": frame.schema()}
        self.model_id = f"{self.algo}-{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        if not params["checkpoint"]:
            self._build(params, frame.schema())
            self._metrics = {}
            return LoopState(), None
        folder = find_model_folder(params["checkpoint"])
        if folder is None:
            raise ParameterError(f"checkpoint {params['checkpoint']!r} is not a saved genforge model folder.")
        meta = read_meta(folder)
        if meta["estimator"] != self.algo:
            raise ParameterError(
                f"checkpoint {str(folder)!r} is a {meta['estimator']!r} model; this is a {self.algo!r} estimator."
            )
        if describe_shape(meta["frame_schema"]) != describe_shape(frame.schema()):
            raise DataError(
                f"checkpoint was trained on {describe_shape(meta['frame_schema'])} images (H, W, C), this frame has "
                f"{describe_shape(frame.schema())}; resize the frame to match."
            )
        self._info = {**meta["info"], "seed": seed, "frame_schema": meta["frame_schema"]}
        self._build(params, meta["frame_schema"], meta["info"])
        self._load_weights(read_weights(folder, meta))
        self._history = list(meta.get("history", []))
        return saved_loop_state(folder, self._history)

    # ------------------------------------------------------------------------------ results
    def predict(self, x: Any = None, **options: Any) -> Any:
        """The model's output for ``x``: for a generator, ``x`` is a number of images (default 64) or a latent
        array and the result a Frame; for a classifier, ``x`` is a Frame and the result a Table. The options
        are the estimator's own (``seed``, ``labels``, ``resize``, ...; see its ``_predict``)."""
        self._require_fitted()
        check_options(self._predict, options, f"{type(self).__name__}.predict")
        return self._predict(x, **options)

    def model_performance(self, frame: Any, **options: Any) -> dict[str, Any]:
        """Scores on ``frame`` (a held-out split), kept in ``metrics`` and saved with the model. The options
        are the estimator's own (see its ``_performance``)."""
        self._require_fitted()
        check_options(self._performance, options, f"{type(self).__name__}.model_performance")
        scores = self._performance(frame, **options)
        self._metrics.update(scores)
        return scores

    def scoring_history(self) -> Table:
        """One row per epoch: losses, validation scores, seconds and images/s."""
        return Table(self._history)

    @property
    def metrics(self) -> dict[str, Any]:
        """Scores recorded by ``model_performance`` (saved with the model)."""
        return dict(self._metrics)

    # ------------------------------------------------------------------------------ saved form
    def to_saved(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """The model as plain data: the ``model.json`` entries and the flat weights (``network.key``)."""
        self._require_fitted()
        meta = {
            "estimator": self.algo,
            "model_id": self.model_id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "params": self.get_params(deep=False),
            "frame_schema": self._info.get("frame_schema"),
            "info": self._info,
            "history": self._history,
            "metrics": self._metrics,
        }
        tensors = {f"{name}.{key}": value for name, module in self._modules.items()
                   for key, value in module.state_dict().items()}
        return meta, tensors

    @classmethod
    def from_saved(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> "Estimator":
        """Rebuild a fitted estimator from ``to_saved``'s data (``genforge.load_model`` reads it from disk)."""
        model = cls(**{k: v for k, v in meta["params"].items() if k in cls.PARAMS})
        params = {p.name: getattr(model, p.name) for p in cls.PARAMS}
        model._info = dict(meta["info"])
        model._build(params, meta["frame_schema"], meta["info"])
        model._load_weights(tensors)
        model._history = list(meta.get("history", []))
        model._metrics = dict(meta.get("metrics", {}))
        model.model_id = meta.get("model_id")
        for module in model._modules.values():
            module.eval()
        return model

    def _load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        groups = group_tensors(tensors)
        for name, module in self._modules.items():
            try:
                module.load_state_dict(groups.get(name, {}), strict=True)
            except RuntimeError as error:
                cause = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
                raise ModelFormatError(
                    f"the saved weights do not fit the {name} network built from model.json: {cause}"
                ) from None

    def onnx_graph(self) -> OnnxGraph:
        """The inference network for ``genforge.artifacts.export_onnx``: module, example inputs, names."""
        raise ParameterError(f"a {self.algo!r} model cannot be exported to ONNX.")

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

    def _predict(self, x: Any, **options: Any) -> Any:
        raise NotImplementedError

    def _performance(self, frame: Any, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _default_stopping_metric(self) -> str | None:
        return None


def clone(estimator: Estimator) -> Estimator:
    """A new, untrained estimator with the same parameters (deep copies; nested estimators cloned)."""
    if not isinstance(estimator, Estimator):
        raise ParameterError(f"clone needs a genforge estimator, got {type(estimator).__name__}.")
    params = {name: clone(value) if isinstance(value, Estimator) else copy.deepcopy(value)
              for name, value in estimator.get_params(deep=False).items()}
    return type(estimator)(**params)


def _init_with_signature(cls: type[Estimator]):
    """An ``__init__`` for ``cls`` whose signature lists its declared parameters (keyword-only)."""

    def __init__(self, **params: Any) -> None:
        Estimator.__init__(self, **params)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for param in cls.PARAMS:
        annotation = param.kind | None if param.nullable else param.kind
        parameters.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=param.default,
                                            annotation=annotation))
    __init__.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    lines = [f"    {p.name}: {p.help}" for p in cls.PARAMS]
    __init__.__doc__ = f"{cls.__name__}'s parameters (validated in train):\n\n" + "\n".join(lines)
    return __init__
