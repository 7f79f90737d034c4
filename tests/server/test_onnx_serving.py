"""Exported generators (.onnx) uploaded to the server: listed, served by /api/v1 and the v2 protocol with the
PyTorch model's pixels, and refused with a 422 when they are not genforge generator exports."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

pytest.importorskip("onnx", reason="exporting the test models needs onnx (pip install 'genforge[onnx]')")
pytest.importorskip("onnxruntime", reason="serving ONNX models needs onnxruntime (pip install 'genforge[onnx]')")

import genforge as gf  # noqa: E402
from genforge.artifacts.onnx_export import export_onnx  # noqa: E402

from .conftest import install_model, upload  # noqa: E402


@pytest.fixture(scope="module")
def exports(saved_gan, saved_conditional_gan, tmp_path_factory):
    """(PyTorch model, .onnx bytes) for the tiny unconditional and conditional GANs (width 8, 8x8 images)."""
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, saved in (("plain", saved_gan), ("conditional", saved_conditional_gan)):
        model = gf.load_model(saved)
        out[name] = (model, export_onnx(model, folder / f"{name}.onnx").read_bytes())
    return out


def post_onnx(client, data: bytes, name: str = "gen.onnx"):
    return client.post("/api/v1/models", files={"file": (name, data, "application/octet-stream")})


def v2_inputs(z: np.ndarray, labels=None) -> dict:
    inputs = [{"name": "z", "datatype": "FP32", "shape": list(z.shape), "data": z.ravel().tolist()}]
    if labels is not None:
        inputs.append({"name": "label", "datatype": "INT64", "shape": [len(labels)], "data": list(labels)})
    return {"inputs": inputs}


def close(images, expected) -> None:
    """The same pixels, up to one level where float rounding lands on the other side of x.5."""
    images, expected = np.asarray(images, np.int64), np.asarray(expected, np.int64)
    assert images.shape == expected.shape
    assert np.abs(images - expected).max() <= 1 and (images == expected).mean() > 0.99


def test_an_uploaded_export_is_listed_and_served_like_its_pytorch_model(client, exports, tmp_path):
    gan, data = exports["plain"]
    created = post_onnx(client, data)
    assert created.status_code == 201, created.text
    model = created.json()
    mid = model["id"]
    assert (model["algo"], model["format"], model["generator"], model["source"]) == ("gan", "onnx", True, "upload")
    assert model["frame_schema"]["height"] == 8 and model["frame_schema"]["channels"] == 1
    assert [(m["id"], m["format"]) for m in client.get("/api/v1/models").json()] == [(mid, "onnx")]
    assert (client.app.state.ctx.settings.models_dir / mid / "model.onnx").read_bytes() == data

    meta = client.get(f"/v2/models/{mid}").json()
    assert meta["inputs"] == [{"name": "z", "datatype": "FP32", "shape": [-1, 8]}]
    assert meta["outputs"] == [{"name": "images", "datatype": "UINT8", "shape": [-1, 8, 8, 1]}]
    assert client.get(f"/v2/models/{mid}/ready").json() == {"name": mid, "ready": True}
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    (out,) = client.post(f"/v2/models/{mid}/infer", json=v2_inputs(z)).json()["outputs"]
    assert out["datatype"] == "UINT8" and out["shape"] == [4, 8, 8, 1]
    close(np.asarray(out["data"]).reshape(4, 8, 8, 1), gan.generate(z))
    wrong = client.post(f"/v2/models/{mid}/infer", json=v2_inputs(np.zeros((1, 4), np.float32)))
    assert wrong.status_code == 400 and "[N, 8]" in wrong.json()["error"]

    def gen(**body):
        return client.post(f"/api/v1/models/{mid}/generate", json=body)

    first = gen(n=5, seed=3, format="json").json()
    assert first["shape"] == [5, 8, 8, 1] and first["labels"] is None
    close(first["images"], gan.predict(5, seed=3).images)
    assert gen(n=4, format="png", nrow=2).content[:4] == b"\x89PNG"
    with zipfile.ZipFile(io.BytesIO(gen(n=3, seed=1, format="zip").content)) as archive:
        assert len(archive.namelist()) == 3
    assert gen(n=2, labels=[1, 2]).status_code == 422  # not conditional
    assert client.get(f"/api/v1/models/{mid}/samples.png?n=4").content[:4] == b"\x89PNG"
    walk = client.post(f"/api/v1/models/{mid}/interpolate", json={"seed_a": 1, "seed_b": 2, "steps": 3})
    assert walk.status_code == 200 and walk.headers["content-type"] == "image/png"

    job = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": upload(client)["id"],
                                            "parameters": {"checkpoint": mid}})
    assert job.status_code == 422 and "ONNX" in job.json()["detail"], job.text  # no training from an export
    evaluate = client.post(f"/api/v1/models/{mid}/evaluate", json={"frame": "whatever"})
    assert evaluate.status_code == 409 and "ONNX" in evaluate.json()["detail"]
    download = client.get(f"/api/v1/models/{mid}/download")
    assert download.status_code == 200 and download.content == data
    assert f'filename="{mid}.onnx"' in download.headers["content-disposition"]
    assert client.delete(f"/api/v1/models/{mid}").status_code == 204
    assert client.get(f"/v2/models/{mid}").status_code == 404
    assert not (client.app.state.ctx.settings.models_dir / mid).exists()


def test_a_conditional_export_takes_labels(client, exports):
    gan, data = exports["conditional"]
    mid = post_onnx(client, data, "cond.ONNX").json()["id"]
    assert {"name": "label", "datatype": "INT64", "shape": [-1]} in client.get(f"/v2/models/{mid}").json()["inputs"]
    z, labels = gan.noise(4, seed=5), [0, 1, 3, 2]
    (out,) = client.post(f"/v2/models/{mid}/infer", json=v2_inputs(z, labels)).json()["outputs"]
    close(np.asarray(out["data"]).reshape(4, 8, 8, 1), gan.generate(z, np.asarray(labels)))
    bad = client.post(f"/v2/models/{mid}/infer", json=v2_inputs(z, [0, 1, 2, 9]))
    assert bad.status_code in (400, 422) and "9" in bad.json()["error"]
    body = client.post(f"/api/v1/models/{mid}/generate", json={"n": 3, "seed": 2, "labels": "class1",
                                                               "format": "json"}).json()
    assert body["labels"] == [1, 1, 1] and body["class_names"] == gan.class_names
    close(body["images"], gan.predict(3, seed=2, labels="class1").images)
    default = client.post(f"/api/v1/models/{mid}/generate", json={"n": 5, "seed": 0, "format": "json"}).json()
    assert default["labels"] == gan.predict(5, seed=0).labels.tolist()  # every class in turn, as predict does


def test_uploads_that_are_not_generator_exports_are_refused(client, saved_gan, exports, tmp_path):
    from tests.conftest import make_frame

    kept = install_model(client, saved_gan)["id"]
    cnn = gf.CNNEstimator(width=4, dense=8, epochs=1, batch_size=8, verbose=False, run_dir=str(tmp_path / "run"))
    cnn.train(training_frame=make_frame(n=16, size=8))
    _, good = exports["plain"]
    cases = {
        "classifier": (export_onnx(cnn, tmp_path / "cnn.onnx").read_bytes(), "'cnn'"),
        "random": (np.random.default_rng(1).bytes(4096), "ONNX"),
        "truncated": (good[: len(good) // 2], "ONNX"),
        "empty": (b"", "ONNX"),
        "wrong shape": (_with_meta(good, image_shape="[3, 8, 8]"), "shape"),
        "external data": (_external(good, tmp_path), "external"),
    }
    for name, (data, words) in cases.items():
        response = post_onnx(client, data, f"{name}.onnx")
        assert response.status_code == 422, (name, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("file: ") and "genforge export" in detail and words in detail, (name, detail)
        assert "Traceback" not in detail and ".upload-" not in detail, detail
    # An export sent without the .onnx suffix is read as a zip: the message says how to send it.
    assert "*.onnx" in post_onnx(client, good, "gen.bin").json()["detail"]
    assert [m["id"] for m in client.get("/api/v1/models").json()] == [kept]  # nothing stored, nothing lost
    models_dir = client.app.state.ctx.settings.models_dir
    assert sorted(p.name for p in models_dir.iterdir()) == [kept]  # no staging folder left behind
    assert client.post(f"/api/v1/models/{kept}/generate", json={"n": 2, "format": "json"}).status_code == 200


def _with_meta(data: bytes, **props: str) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    meta = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**meta, **props})
    return proto.SerializeToString()


def _external(data: bytes, folder) -> bytes:
    """The export with its weights moved to a side file (which an upload of one file cannot bring)."""
    import onnx

    path = folder / "external.onnx"
    onnx.save_model(onnx.load_from_string(data), str(path), save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    return path.read_bytes()


def test_the_python_client_uploads_and_downloads_exports(client, exports, tmp_path):
    from genforge.artifacts.onnx_runtime import OnnxGenerator

    gan, data = exports["plain"]
    (tmp_path / "gen.onnx").write_bytes(data)
    conn = gf.connect("http://testserver", client=client)
    remote = conn.upload_model(tmp_path / "gen.onnx")
    assert remote.record["format"] == "onnx"
    z = gan.noise(2, seed=9)
    close(remote.infer(z), gan.generate(z))
    saved = remote.download(tmp_path / "dl")
    assert saved.name == f"{remote.id}.onnx" and OnnxGenerator(saved).latent_dim == 8
