"""``genforge.report``: understand and trust a generator.

``model.report(frame, path="report.html")`` writes one self-contained HTML page and a JSON file beside it:

- Samples: a grid, and precision / recall / FID across the model's trade-off knob (``samples``);
- Copies: the memorization rate, calibrated on held-out real images, and the closest pairs (``copies``);
- Bias: class (or k-means cluster) shares, real against generated, with the flagged ones (``bias``);
- Training health: curves and the events found in them (``health``, ``find_events``);
- Latent directions: GANSpace-style main directions and InterFaceGAN-style class directions (``directions``).

Importing this package installs ``report``, ``latent_directions`` and ``class_direction`` on every generator
(through ``genforge.estimators.insight``; ``import genforge`` does it).
"""

from typing import Any

from genforge.estimators.inputs import check_options
from genforge.estimators.insight import register_insight
from genforge.report.build import SECTIONS, build_report, report_paths
from genforge.report.directions import class_direction, fit_class_direction, fit_directions, latent_directions
from genforge.report.health import find_events

__all__ = ["build_report", "report_paths", "SECTIONS", "find_events", "latent_directions", "class_direction",
           "fit_directions", "fit_class_direction"]


def _report(model: Any, frame: Any, **options: Any) -> dict[str, Any]:
    check_options(build_report, options, "report", skip=2)
    return build_report(model, frame, **options)


register_insight("report", _report)
register_insight("latent_directions", latent_directions)
register_insight("class_direction", class_direction)
