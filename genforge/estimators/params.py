"""Declared estimator parameters: one ``Param`` per name, with type, default, allowed values and help.

The same declarations validate ``train``'s parameters, parse CLI flags (``--epochs 3``) and, later, build
the server's parameter schema and the web UI's forms, so every entry point checks values the same way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from genforge.errors import ParameterError

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", dict: "dict", list: "list"}


@dataclass(frozen=True)
class Param:
    """One estimator parameter.

    ``kind`` is the Python type (bool, int, float, str, dict or list); ``choices`` lists the allowed
    values; ``low``/``high`` bound numbers (inclusive); ``nullable`` admits None.
    """

    name: str
    kind: type
    default: Any
    help: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    nullable: bool = False
    aliases: tuple[str, ...] = field(default=())

    def validate(self, value: Any) -> Any:
        """Return ``value`` checked (ints accepted for floats), or raise ParameterError naming it."""
        if value is None:
            if self.nullable:
                return None
            raise ParameterError(f"Parameter {self.name!r} may not be None; {self._expectation()}.")
        value = self._coerce_type(value)
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"Parameter {self.name!r} got {value!r}; allowed values: {', '.join(map(repr, self.choices))}."
            )
        if self.kind in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"Parameter {self.name!r} got {value!r}; pass a finite number.")
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise ParameterError(f"Parameter {self.name!r} got {value!r}; {self._expectation()}.")
        return value

    def _coerce_type(self, value: Any) -> Any:
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.kind is bool and not isinstance(value, bool):
            raise ParameterError(f"Parameter {self.name!r} got {value!r} ({type(value).__name__}); pass True or False.")
        if self.kind is int and isinstance(value, float):
            # 2.0 for an int is a sign of a computed or mistyped value; say so rather than truncate.
            whole = f" (pass {int(value)})" if math.isfinite(value) and value.is_integer() else ""
            raise ParameterError(f"Parameter {self.name!r} got the float {value!r}; it takes an int{whole}.")
        if self.kind is not bool and isinstance(value, bool) or not isinstance(value, self.kind):
            raise ParameterError(
                f"Parameter {self.name!r} got {value!r} of type {type(value).__name__}; {self._expectation()}."
            )
        return value

    def _expectation(self) -> str:
        text = f"expected {_TYPE_NAMES.get(self.kind, self.kind.__name__)}"
        if self.low is not None and self.high is not None:
            text += f" in [{self.low}, {self.high}]"
        elif self.low is not None:
            text += f" >= {self.low}"
        elif self.high is not None:
            text += f" <= {self.high}"
        if self.nullable:
            text += " or None"
        return text

    def parse(self, text: str) -> Any:
        """Parse a command-line string into this parameter's type (then validate it)."""
        if text.lower() in ("none", "null") and self.nullable:
            return None
        try:
            if self.kind is bool:
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                value: Any = lowered in ("true", "1", "yes")
            elif self.kind in (dict, list):
                value = json.loads(text)
            else:
                value = self.kind(text)
        except ValueError:
            raise ParameterError(f"Parameter {self.name!r} got {text!r}; {self._expectation()}.") from None
        return self.validate(value)

    def schema(self) -> dict:
        """A JSON-ready description, for the server's estimator schema and the web UI's forms."""
        return {
            "name": self.name,
            "type": _TYPE_NAMES.get(self.kind, self.kind.__name__),
            "default": self.default,
            "help": self.help,
            "choices": list(self.choices) if self.choices is not None else None,
            "min": self.low,
            "max": self.high,
            "nullable": self.nullable,
        }


class ParamSet:
    """The ordered parameters of one estimator, looked up by name or alias."""

    def __init__(self, params: Iterable[Param]) -> None:
        self._params = {p.name: p for p in params}
        self._aliases = {alias: p.name for p in self._params.values() for alias in p.aliases}

    def __iter__(self):
        return iter(self._params.values())

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Param:
        return self._params[self.canonical(name)]

    def names(self) -> list[str]:
        return list(self._params)

    def canonical(self, name: str) -> str:
        """The parameter's own name for ``name`` or one of its aliases; ParameterError when unknown."""
        if name in self._params:
            return name
        if name in self._aliases:
            return self._aliases[name]
        import difflib

        close = difflib.get_close_matches(name, list(self._params) + list(self._aliases), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"Unknown parameter {name!r}.{hint} Known parameters: {', '.join(sorted(self._params))}."
        )

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` keyed by canonical names. A parameter given under two of its names (``loss`` and its
        alias ``loss_function``) with different values is a ParameterError, never a silent choice."""
        out: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for name, value in given.items():
            canonical = self.canonical(name)
            if canonical in out and not _same(out[canonical], value):
                raise ParameterError(
                    f"Parameter {canonical!r} was given twice with different values: {spelled[canonical]}="
                    f"{out[canonical]!r} and {name}={value!r} ({name!r} and {spelled[canonical]!r} name the same "
                    "parameter); pass one of them."
                )
            out[canonical], spelled[canonical] = value, name
        return out

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self._params.values()}

    def schema(self) -> list[dict]:
        return [p.schema() for p in self._params.values()]


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and the like: only the very same object counts as the same value
        return a is b


def common_params() -> list[Param]:
    """Parameters every estimator takes (DESIGN section 3)."""
    return [
        Param("epochs", int, 10, "Total passes over the training frame (a checkpoint's epochs count too).", low=1),
        Param("batch_size", int, 64, "Images per optimisation step.", low=1, high=65536),
        Param("seed", int, None, "Random seed; the same seed gives the same model. None picks one.", nullable=True, low=0),
        Param("max_runtime_secs", float, 0.0, "Stop training after this many seconds (0 = no limit).", low=0),
        Param("stopping_rounds", int, 0, "Stop when the stopping metric has not improved for this many epochs (0 = off).", low=0),
        Param("stopping_metric", str, "auto", "History column to monitor for early stopping; 'auto' picks the estimator's main score."),
        Param("stopping_tolerance", float, 1e-3, "Relative improvement that counts as progress for early stopping.", low=0),
        Param("checkpoint", str, None, "A saved model (folder) to continue training from.", nullable=True),
        Param("device", str, "auto", "'auto' (GPU when there is one), 'cpu', 'cuda', 'cuda:N' or 'mps'."),
        Param("verbose", bool, True, "Show a progress bar."),
        Param("checkpoint_every", int, 1, "Write run_dir/checkpoint every this many epochs (and after the last).",
              low=1),
        Param("run_dir", str, None, "Folder for checkpoints, sample grids and history.png (None = a temporary folder).", nullable=True),
        Param("deterministic", bool, False, "Use deterministic algorithms only (slower, exactly reproducible)."),
        Param("overwrite", bool, False, "Let train() replace another run's checkpoint, sample grids and history.png "
              "in run_dir (default: refuse; resuming from run_dir's own checkpoint needs no overwrite)."),
    ]


def lr_schedule_param() -> Param:
    """The learning-rate schedule (genforge.training.lr_schedule), constant by default."""
    from genforge.training.lr_schedule import LR_SCHEDULES

    return Param("lr_schedule", str, "constant", "'constant', or 'cosine': every learning rate decays to 0 over the "
                 "planned epochs, or over max_runtime_secs if that ends sooner.", choices=LR_SCHEDULES)


def guard_params(enabled: bool) -> list[Param]:
    """The divergence guard's parameters (genforge.training.guard; docs/estimators.md, "Divergence guard"),
    on by default where ``enabled``."""
    return [
        Param("divergence_guard", bool, enabled, "Watch training for NaN/inf or exploding losses and a collapse of "
              "sample diversity; on each, roll back to the last good epoch and lower the learning rates."),
        Param("guard_lr_factor", float, 0.5, "Divergence guard: every learning rate is multiplied by this at each "
              "rollback.", low=0.001, high=0.999),
        Param("guard_max_rollbacks", int, 3, "Divergence guard: rollbacks allowed; the next event stops training "
              "(0 = stop at the first).", low=0, high=100),
        Param("guard_collapse", float, 0.1, "Divergence guard: a collapse is a spread of the fixed-noise samples "
              "below this share of the real images' spread and of the run's best (0 = no collapse check).",
              low=0, high=1),
        Param("guard_explode", float, 1000.0, "Divergence guard: a loss explodes when it grows past this many "
              "times its healthy scale.", low=2, high=1e12),
    ]
