"""What a generator's ``report``, ``latent_directions`` and ``class_direction`` need from above.

They read the domain evaluator's features and the metrics, a layer above the estimators; ``genforge.report``
installs its functions here when it is imported (``import genforge`` does), as ``genforge.metrics`` installs
the sample-quality scorer in ``estimators.quality``, so that an estimator offers them without importing it.
"""

from __future__ import annotations

from typing import Any, Callable

from genforge.errors import GenforgeError

# name ("report", "latent_directions", "class_direction") -> function(model, *args, **options)
_INSIGHTS: dict[str, Callable[..., Any]] = {}


def register_insight(name: str, function: Callable[..., Any]) -> None:
    """Install the function behind ``model.<name>(...)`` (``genforge.report`` does)."""
    _INSIGHTS[name] = function


def insight(name: str, model: Any, *args: Any, **options: Any) -> Any:
    """Call the installed function ``name`` for ``model``; a clear error when none is installed."""
    if name not in _INSIGHTS:
        raise GenforgeError(f"{name} needs genforge.report, which is not imported; run `import genforge` "
                            "(or `import genforge.report`) first.")
    return _INSIGHTS[name](model, *args, **options)
