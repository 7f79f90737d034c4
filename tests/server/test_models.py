"""Models: list, details, generation (png, zip, json), evaluation, download and upload, delete, and the Open
Inference Protocol v2 routes."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

import genforge as gf

from .conftest import DATABASES, evaluate, install_model, upload, zip_model

pytestmark = DATABASES  # every scenario on SQLite and on PostgreSQL


def test_generate_in_every_format_reproducibly(client, saved_gan):
    model = install_model(client, saved_gan)
    mid = model["id"]
    assert model["algo"] == "gan" and model["generator"] and model["frame_schema"]["height"] == 8
    assert [m["id"] for m in client.get("/api/v1/models").json()] == [mid]
    details = client.get(f"/api/v1/models/{mid}").json()
    assert len(details["history"]) == 2 and "run_dir" not in details["parameters"]

    def gen(**body):
        return client.post(f"/api/v1/models/{mid}/generate", json=body)

    first, again = gen(n=5, seed=3, format="json").json(), gen(n=5, seed=3, format="json").json()
    assert first["shape"] == [5, 8, 8, 1] and first["images"] == again["images"]
    local = gf.load_model(saved_gan).predict(5, seed=3).images
    assert np.array_equal(np.asarray(first["images"], np.uint8), local)  # the server gives what Python gives
    png = gen(n=4, format="png", nrow=2)
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    with zipfile.ZipFile(io.BytesIO(gen(n=3, format="zip").content)) as archive:
        assert len(archive.namelist()) == 3
    assert client.get(f"/api/v1/models/{mid}/samples.png").content[:4] == b"\x89PNG"
    assert gen(n=0).status_code == 422
    assert gen(n=2, labels=[1, 2]).status_code == 422  # not a conditional model
    assert gen(n=2, format="gif").status_code == 422


def test_evaluate_download_upload_roundtrip_and_delete(client, saved_gan, tmp_path):
    mid = install_model(client, saved_gan)["id"]
    frame = upload(client)["id"]
    scores = evaluate(client, mid, frame)  # a job now: 202, then its result when done
    assert "d_real" in scores["metrics"] and scores["model_id"] == mid and scores["frame"] == frame
    assert "d_real" in client.get(f"/api/v1/models/{mid}").json()["metrics"]  # stored with the model
    assert client.post(f"/api/v1/models/{mid}/evaluate", json={"frame": "nope"}).status_code == 404

    download = client.get(f"/api/v1/models/{mid}/download")
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        archive.extractall(tmp_path / "dl")
    loaded = gf.load_model(tmp_path / "dl" / mid)
    assert loaded.metrics["d_real"] == scores["metrics"]["d_real"]
    copy = client.post("/api/v1/models", files={"file": ("m.zip", download.content)})
    assert copy.status_code == 201 and copy.json()["id"] != mid  # same id taken: a new one
    assert client.delete(f"/api/v1/models/{mid}").status_code == 204
    assert client.get(f"/api/v1/models/{mid}").status_code == 404
    assert client.post(f"/api/v1/models/{mid}/generate", json={"n": 1}).status_code == 404


def test_uploaded_models_are_read_as_json_and_safetensors_only(client, saved_gan):
    def post(data: bytes):
        return client.post("/api/v1/models", files={"file": ("m.zip", data)})

    assert post(b"not a zip").status_code == 422
    pickled = zip_model(saved_gan, {"evil.pkl": b"cos\nsystem\n(S'echo hi'\ntR."})
    assert post(pickled).status_code == 201  # anything but model.json + weights is ignored
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.json", (saved_gan / "model.json").read_text())
        archive.writestr("weights.safetensors", b"\x00" * 64)
    broken = post(buffer.getvalue())
    assert broken.status_code == 422 and "Traceback" not in broken.text
    meta = json.loads((saved_gan / "model.json").read_text())
    meta["format_version"] = 99
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.json", json.dumps(meta))
        archive.write(saved_gan / "weights.safetensors", "weights.safetensors")
    newer = post(buffer.getvalue())
    assert newer.status_code == 422 and "upgrade genforge" in newer.json()["detail"]
    assert client.post("/api/v1/models", json={"file": "x"}).status_code == 415


def test_open_inference_protocol_v2(client, saved_gan, saved_conditional_gan):
    mid = install_model(client, saved_gan)["id"]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get(f"/v2/models/{mid}").json()
    assert meta["inputs"] == [{"name": "z", "datatype": "FP32", "shape": [-1, 8]}]
    assert meta["outputs"] == [{"name": "images", "datatype": "UINT8", "shape": [-1, 8, 8, 1]}]
    assert client.get(f"/v2/models/{mid}/ready").json()["ready"] is True
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    body = {"id": "r1", "inputs": [{"name": "z", "datatype": "FP32", "shape": [3, 8], "data": z.ravel().tolist()}]}
    out = client.post(f"/v2/models/{mid}/infer", json=body).json()
    assert out["model_name"] == mid and out["id"] == "r1"
    (images,) = out["outputs"]
    assert images["datatype"] == "UINT8" and images["shape"] == [3, 8, 8, 1]
    expected = gf.load_model(saved_gan).predict(z).images
    assert np.array_equal(np.asarray(images["data"], np.uint8).reshape(3, 8, 8, 1), expected)
    assert client.post(f"/v2/models/{mid}/versions/1/infer", json=body).status_code == 200

    bad = {"inputs": [{"name": "z", "datatype": "FP32", "shape": [2, 8], "data": [0.0] * 15}]}
    response = client.post(f"/v2/models/{mid}/infer", json=bad)
    assert response.status_code == 400 and "16" in response.json()["error"]
    wrong_width = {"inputs": [{"name": "z", "datatype": "FP32", "shape": [1, 4], "data": [0.0] * 4}]}
    assert client.post(f"/v2/models/{mid}/infer", json=wrong_width).status_code == 400
    assert client.post("/v2/models/nope/infer", json=body).status_code == 404
    assert client.get("/v2/models/nope").json()["error"]

    cond = install_model(client, saved_conditional_gan)["id"]
    assert {"name": "label", "datatype": "INT64", "shape": [-1]} in client.get(f"/v2/models/{cond}").json()["inputs"]
    labelled = {"inputs": [body["inputs"][0], {"name": "label", "datatype": "INT64", "shape": [3], "data": [0, 1, 3]}]}
    assert client.post(f"/v2/models/{cond}/infer", json=labelled).json()["outputs"][0]["shape"] == [3, 8, 8, 1]
    out_of_range = {"inputs": [body["inputs"][0], {"name": "label", "datatype": "INT64", "shape": [3], "data": [0, 1, 9]}]}
    assert client.post(f"/v2/models/{cond}/infer", json=out_of_range).status_code in (400, 422)
    assert client.post(f"/api/v1/models/{cond}/generate", json={"n": 2, "labels": "class1", "format": "json"}).json()["labels"] == [1, 1]


def test_classifiers_are_not_generators(client, tmp_path):
    from tests.conftest import make_frame

    cnn = gf.CNNEstimator(epochs=1, batch_size=8, verbose=False, run_dir=str(tmp_path / "run"))
    cnn.train(training_frame=make_frame(n=16, size=8))
    mid = install_model(client, gf.save_model(cnn, tmp_path / "models"))["id"]
    assert client.post(f"/api/v1/models/{mid}/generate", json={"n": 1}).status_code == 409
    assert client.get(f"/v2/models/{mid}").status_code == 404
    frame = upload(client)["id"]
    scores = evaluate(client, mid, frame)
    assert "accuracy" in scores["metrics"]


def test_vaes_generate_and_serve_v2_too(client, tmp_path):
    vae = gf.VAEEstimator(epochs=1, batch_size=8, latent_dim=4, width=8, seed=0, verbose=False,
                          run_dir=str(tmp_path / "run"))
    from tests.conftest import make_frame

    vae.train(training_frame=make_frame(n=16, size=8))
    mid = install_model(client, gf.save_model(vae, tmp_path / "models"))["id"]
    meta = client.get(f"/v2/models/{mid}").json()
    assert meta["inputs"][0]["shape"] == [-1, 4] and meta["outputs"][0]["shape"] == [-1, 8, 8, 1]
    z = np.zeros((2, 4), np.float32)
    out = client.post(f"/v2/models/{mid}/infer", json={"inputs": [
        {"name": "z", "datatype": "FP32", "shape": [2, 4], "data": z.ravel().tolist()}]}).json()
    assert np.array_equal(np.asarray(out["outputs"][0]["data"], np.uint8).reshape(2, 8, 8, 1), vae.predict(z).images)
    assert client.post(f"/api/v1/models/{mid}/generate", json={"n": 3, "format": "json"}).json()["shape"] == [3, 8, 8, 1]
