"""The API key guard, error bodies without stack traces, and the default bind."""

from __future__ import annotations

from .conftest import npz_bytes


def test_every_route_but_liveness_needs_the_key(make_client):
    client = make_client(api_key="s3cret")
    assert client.get("/v2/health/live").status_code == 200
    for method, path in [("GET", "/api/v1/frames"), ("GET", "/api/v1/estimators"), ("GET", "/v2/health/ready"),
                         ("GET", "/docs"), ("GET", "/openapi.json"), ("POST", "/"), ("POST", "/api/v1/jobs"),
                         ("GET", "/v2/models/x"), ("GET", "/api/v1/jobs/x/events")]:
        response = client.request(method, path)
        assert response.status_code == 401, path
        assert "API key" in response.json()["detail"]
    assert client.get("/api/v1/frames", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/api/v1/frames", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/api/v1/frames", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/v1/frames", headers={"Authorization": "Basic s3cret"}).status_code == 401
    # The key is checked before the body is read: a large upload without it is refused as unauthorised.
    upload = client.post("/api/v1/frames", files={"file": ("t.npz", npz_bytes())})
    assert upload.status_code == 401
    schema = client.get("/openapi.json", headers={"X-API-Key": "s3cret"}).json()
    assert "APIKeyHeader" in schema["components"]["securitySchemes"]
    # The web UI's shell and assets hold no data and are open (the page asks for the key); the API is not.
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/ui/js/app.js").status_code == 200
    assert client.get("/ui/../api/v1/frames").status_code in (401, 404)


def test_unexpected_errors_are_json_without_a_traceback(make_client, monkeypatch):
    from genforge.server import routes_jobs

    client = make_client()
    monkeypatch.setattr(routes_jobs, "estimator_out", lambda algo: 1 / 0)
    client_no_raise = type(client)(client.app, raise_server_exceptions=False)
    response = client_no_raise.get("/api/v1/estimators")
    assert response.status_code == 500
    assert "internal server error" in response.json()["detail"]
    assert "ZeroDivisionError" not in response.text and "Traceback" not in response.text


def test_not_found_and_method_errors_are_json(client):
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}
    assert client.put("/api/v1/frames").status_code == 405
    bad_json = client.post("/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 422 and isinstance(bad_json.json()["detail"], str)


def test_default_settings_bind_locally():
    from genforge.server.settings import DEFAULT_HOST, DEFAULT_PORT

    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 54321)
