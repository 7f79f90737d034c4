"""Property-based API tests from the OpenAPI schema: no 500s, and every answer matches the schema.

Every check runs, but for ``positive_data_acceptance`` on the operations whose bodies carry meaning a JSON
schema cannot state (an uploaded file's content, estimator parameters, tensor data that must fit its shape):
there a schema-valid request may rightly get a 4xx.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from genforge.server import create_app  # noqa: E402

from .conftest import settings_for  # noqa: E402


def _app():
    import tempfile
    from pathlib import Path

    data = Path(tempfile.mkdtemp(prefix="genforge-schemathesis-")) / "data"
    return create_app(settings_for(data, api_key=KEY))


KEY = "schemathesis-key"


CONTENT_CHECKED = {
    ("POST", "/api/v1/frames"), ("POST", "/api/v1/models"), ("POST", "/api/v1/jobs"),
    ("POST", "/v2/models/{name}/infer"), ("POST", "/v2/models/{name}/versions/{version}/infer"),
    ("POST", "/api/v1/automl"), ("POST", "/api/v1/grids"), ("POST", "/api/v1/automl/{search_id}/serve"),
    ("PUT", "/api/v1/served/{name}"),  # frame and model ids, hyper-parameter names: a valid schema, no such thing
}
schema = schemathesis.openapi.from_asgi("/openapi.json", _app(), headers={"X-API-Key": KEY})


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api_conforms_to_its_schema(case):
    excluded = [positive_data_acceptance] if (case.method, case.path) in CONTENT_CHECKED else []
    case.call_and_validate(headers={"X-API-Key": KEY}, excluded_checks=excluded)
