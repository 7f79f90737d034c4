"""A diffusion model on the server: its schema, a training job through the worker, generation with the
sampling options, the v2 protocol with seed/steps/sampler/label parameters, and an uploaded ONNX export."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

import genforge as gf  # noqa: E402

from .conftest import upload, wait_for  # noqa: E402

TINY = {"epochs": 1, "batch_size": 8, "width": 8, "channel_mults": [1, 2], "seed": 2, "conditional": True}


def _v2(client, mid, parameters=None, inputs=None):
    return client.post(f"/v2/models/{mid}/infer", json={"parameters": parameters or {}, "inputs": inputs or []})


def _pixels(response) -> np.ndarray:
    (out,) = response.json()["outputs"]
    return np.asarray(out["data"], np.uint8).reshape(out["shape"])


def test_a_diffusion_model_trains_lists_generates_and_serves_v2(client, tmp_path):
    estimators = {e["algo"]: e for e in client.get("/api/v1/estimators").json()}
    assert estimators["diffusion"]["generator"]
    params = {p["name"]: p for p in estimators["diffusion"]["parameters"]}
    assert params["prediction_type"]["choices"] == ["epsilon", "v_prediction"]
    assert params["channel_mults"]["type"] == "list" and params["channel_mults"]["default"] == [1, 2]

    frame = upload(client)["id"]
    created = client.post("/api/v1/jobs", json={"algo": "diffusion", "training_frame": frame, "parameters": TINY})
    assert created.status_code == 201, created.text
    done = wait_for(client, created.json()["id"], ("done", "failed"), timeout=120)
    assert done["status"] == "done", done["message"]
    mid = done["model_id"]
    assert [m["algo"] for m in client.get("/api/v1/models").json()] == ["diffusion"]
    assert client.get(f"/api/v1/models/{mid}/samples.png", params={"n": 4}).content[:4] == b"\x89PNG"

    generated = client.post(f"/api/v1/models/{mid}/generate", json={
        "n": 3, "seed": 5, "labels": 1, "steps": 3, "sampler": "ddim", "guidance_scale": 2.0, "format": "json"})
    assert generated.status_code == 200, generated.text
    images = np.asarray(generated.json()["images"], np.uint8)
    assert images.shape == (3, 8, 8, 1)
    bad = client.post(f"/api/v1/models/{mid}/generate", json={"n": 2, "sampler": "euler"})
    assert bad.status_code == 422 and "sampler" in bad.text

    meta = client.get(f"/v2/models/{mid}").json()
    assert meta["inputs"][0] == {"name": "z", "datatype": "FP32", "shape": [-1, 64]}
    # v2 with a seed instead of z: the same images as /generate.
    label = {"name": "label", "datatype": "INT64", "shape": [3], "data": [1, 1, 1]}
    seeded = _v2(client, mid, {"seed": 5, "n": 3, "steps": 3, "sampler": "ddim", "guidance_scale": 2}, [label])
    assert seeded.status_code == 200, seeded.text
    assert np.array_equal(_pixels(seeded), images)
    # ... and with the initial noise as z.
    z = gf.load_model(client.app.state.ctx.repo.model(mid).path).noise(3, seed=5)
    with_z = _v2(client, mid, {"steps": 3, "sampler": "ddim", "guidance_scale": 2.0},
                 [{"name": "z", "datatype": "FP32", "shape": [3, 64], "data": z.ravel().tolist()}, label])
    assert np.array_equal(_pixels(with_z), images)

    # The Python client passes the same options.
    remote = gf.connect("http://testserver", client=client).get_model(mid)
    assert np.array_equal(remote.predict(3, seed=5, labels=1, steps=3, sampler="ddim", guidance_scale=2.0).images,
                          images)
    assert np.array_equal(remote.infer(z, [1, 1, 1], steps=3, sampler="ddim", guidance_scale=2.0), images)

    for parameters, status, text in (({"seed": 1, "steps": 0}, 422, "steps"),
                                     ({"seed": 1, "sampler": "euler"}, 422, "sampler"),
                                     ({"seed": 1, "steps": "many"}, 400, "steps"),
                                     ({"seed": 1, "colour": "red"}, 400, "colour"),
                                     ({"seed": -1}, 400, "seed"),
                                     ({}, 400, "seed")):
        response = _v2(client, mid, parameters)
        assert response.status_code == status and text in response.text, (parameters, response.text)
    out_of_range = _v2(client, mid, {"seed": 1, "n": 2}, [{"name": "label", "datatype": "INT64", "shape": [2],
                                                          "data": [0, 9]}])
    assert out_of_range.status_code in (400, 422) and "0..3" in out_of_range.text


def test_an_uploaded_diffusion_export_serves_the_same_pixels(client, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from tests.conftest import make_frame

    model = gf.DiffusionEstimator(**{**TINY, "conditional": False}, verbose=False).train(
        training_frame=make_frame(n=16, size=8))
    data = gf.export_onnx(model, tmp_path / "d.onnx").read_bytes()
    created = client.post("/api/v1/models", files={"file": ("d.onnx", data, "application/octet-stream")})
    assert created.status_code == 201, created.text
    mid = created.json()["id"]
    assert created.json()["algo"] == "diffusion" and created.json()["format"] == "onnx"
    response = _v2(client, mid, {"seed": 3, "n": 2, "steps": 4, "sampler": "dpm++"})
    assert response.status_code == 200, response.text
    expected = model.predict(2, seed=3, steps=4, sampler="dpm++").images
    assert (_pixels(response) == expected).mean() > 0.99
