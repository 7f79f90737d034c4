"""genforge's REST server (``genforge start``): frames, training jobs, models and the Open Inference Protocol v2.

``create_app(settings)`` builds the FastAPI app; FastAPI, uvicorn and SQLAlchemy come with the ``server``
extra (``pip install genforge[server]``).
"""

from genforge.server.settings import Settings

__all__ = ["Settings", "create_app"]


def create_app(settings: Settings | None = None):
    """The FastAPI app for ``settings`` (imported lazily so that ``genforge.server.settings`` stays light)."""
    from genforge.server.app import create_app as _create_app

    return _create_app(settings)
