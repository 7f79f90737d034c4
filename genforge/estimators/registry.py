"""Estimators by algorithm name ("gan", "vae", "cnn"): the CLI, the server and saved models use these
names, never import paths taken from user input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genforge.errors import ParameterError

if TYPE_CHECKING:
    from genforge.estimators.base import Estimator

ESTIMATORS: dict[str, type["Estimator"]] = {}


def register(cls: type["Estimator"]) -> type["Estimator"]:
    """Class decorator: make an estimator reachable by its ``algo`` name."""
    ESTIMATORS[cls.algo] = cls
    return cls


def get_estimator(algo: str) -> type["Estimator"]:
    try:
        return ESTIMATORS[algo]
    except KeyError:
        raise ParameterError(f"Unknown algorithm {algo!r}; choose one of: {', '.join(sorted(ESTIMATORS))}.") from None
