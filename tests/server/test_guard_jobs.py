"""The divergence guard through the server: its parameters in the estimator schema (what the web UI's
train form is built from), bad values refused with a 422, and a job trained to diverge on purpose whose
model reports the guard's events (REST and the Python client)."""

from __future__ import annotations

import genforge as gf
from tests.conftest import make_frame

from .conftest import upload


def test_the_guard_parameters_are_in_the_schema(client):
    gan = {p["name"]: p for p in client.get("/api/v1/estimators/gan").json()["parameters"]}
    assert gan["divergence_guard"]["type"] == "bool" and gan["divergence_guard"]["default"] is True
    assert (gan["guard_lr_factor"]["min"], gan["guard_lr_factor"]["max"], gan["guard_lr_factor"]["default"]) == (
        0.001, 0.999, 0.5)
    assert gan["guard_max_rollbacks"]["type"] == "int" and gan["guard_max_rollbacks"]["default"] == 3
    for algo in ("vae", "diffusion"):
        params = {p["name"]: p for p in client.get(f"/api/v1/estimators/{algo}").json()["parameters"]}
        assert params["divergence_guard"]["default"] is False and "guard_collapse" in params
    cnn = {p["name"] for p in client.get("/api/v1/estimators/cnn").json()["parameters"]}
    assert not any(name.startswith(("guard_", "divergence_")) for name in cnn)


def test_bad_guard_values_are_refused_before_queueing(client):
    frame = upload(client)["id"]
    for parameters, field in [({"guard_lr_factor": 2.0}, "guard_lr_factor"),
                              ({"guard_max_rollbacks": -1}, "guard_max_rollbacks"),
                              ({"divergence_guard": "often"}, "divergence_guard"),
                              ({"guard_explode": 0}, "guard_explode")]:
        response = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": parameters})
        assert response.status_code == 422 and field in response.json()["detail"], response.text
    cnn = client.post("/api/v1/jobs", json={"algo": "cnn", "training_frame": frame,
                                            "parameters": {"divergence_guard": True}})
    assert cnn.status_code == 422 and "divergence_guard" in cnn.json()["detail"]
    assert client.get("/api/v1/jobs").json() == []


def test_a_diverging_job_is_rolled_back_and_its_model_lists_the_events(client):
    conn = gf.connect("http://testserver", client=client)
    frame = conn.import_file(make_frame(n=64, size=8))
    gan = conn.GANEstimator(epochs=8, batch_size=8, width=8, latent_dim=8, seed=1, g_lr=1.0, d_lr=1.0,
                            guard_lr_factor=0.1).train(training_frame=frame)
    events = gan.training_events()
    assert events and all(e["action"] == "rollback" for e in events)
    record = client.get(f"/api/v1/models/{gan.model_id}").json()
    assert record["training_events"] == events
    assert record["history"][-1]["guard_rollbacks"] == len(events) and len(record["history"]) == 8
    job = client.get(f"/api/v1/jobs/{record['job_id']}").json()
    assert job["history"][-1]["guard_rollbacks"] == len(events)
    assert client.get("/api/v1/models").json()[0]["training_events"] is None  # the list leaves details out
