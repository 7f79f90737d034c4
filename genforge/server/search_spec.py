"""A search job's stored request (``jobs.parameters`` of an "automl" or "grid" job) and what it means: the
selection API's arguments, its sort metric, its served name. Shared by the routes and the search worker."""

from __future__ import annotations

from typing import Any

AUTOML_OPTIONS = ("max_runtime_secs", "max_models", "include_algos", "exclude_algos", "sort_metric", "seed",
                  "memorization_threshold", "min_epochs", "rungs", "reduction_factor", "score_samples", "fixed_params")
GRID_OPTIONS = ("memorization_threshold", "score_samples")


def automl_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``gf.AutoML`` keyword arguments of a stored AutoML request (unset ones: the API's defaults)."""
    return {k: spec[k] for k in AUTOML_OPTIONS if spec.get(k) is not None}


def grid_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The ``gf.GridSearch`` arguments of a stored grid request, but the model and the storage."""
    criteria = {k: v for k, v in (spec.get("search_criteria") or {}).items() if v is not None}
    return {"hyper_params": spec.get("hyper_params") or {}, "search_criteria": criteria or None,
            **{k: spec[k] for k in GRID_OPTIONS if spec.get(k) is not None}}


def sort_metric_of(spec: dict[str, Any]) -> str:
    return spec.get("sort_metric") or (spec.get("search_criteria") or {}).get("stopping_metric") or "fid"


def project_name(row) -> str:
    """The name a search serves its chosen model under: project_name / grid_id, else the search id."""
    spec = row.parameters or {}
    return spec.get("project_name") or spec.get("grid_id") or row.id
