"""The report as a job and its routes (HTML, JSON), the directions and the traversal, through the real app."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.server.conftest import install_model, upload, wait_for


def _digits_npz(start: int = 0, n: int = 300) -> bytes:
    import genforge as gf

    frame = gf.import_file("digits")[start : start + n]
    buffer = io.BytesIO()
    np.savez(buffer, images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digits_gan(tmp_path_factory):
    import genforge as gf

    frame = gf.import_file("digits")
    gan = gf.GANEstimator(epochs=2, batch_size=32, width=8, latent_dim=8, seed=1, verbose=False,
                          run_dir=str(tmp_path_factory.mktemp("run"))).train(training_frame=frame)
    return gf.save_model(gan, tmp_path_factory.mktemp("models"))


def test_report_job_then_html_json_directions_and_traversal(client, digits_gan):
    model = install_model(client, digits_gan)
    frame = upload(client, _digits_npz(), name="digits.npz")
    training = upload(client, _digits_npz(300, 600), name="digits-train.npz")
    mid = model["id"]
    assert client.get(f"/api/v1/models/{mid}/report.html").status_code == 404
    response = client.post(f"/api/v1/models/{mid}/report", json={"frame": frame["id"], "training_frame": training["id"],
                                                                 "samples": 200})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "report" and job["model_id"] == mid
    done = wait_for(client, job["id"], ("done", "failed", "cancelled"), timeout=180)
    assert done["status"] == "done", done["message"]
    assert done["result"]["samples"] == 200 and set(done["result"]["seconds"]) >= {"setup", "samples", "directions"}
    page = client.get(f"/api/v1/models/{mid}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    for section in ("samples", "copies", "bias", "health", "directions"):
        assert f'id="{section}"' in text
    assert "data:image/png;base64," in text and "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    figures = client.get(f"/api/v1/models/{mid}/report.json").json()
    assert figures["report"]["samples"] == 200 and figures["copies"]["n_training"] == 600
    assert str(digits_gan) not in text and "runs/" not in client.get(f"/api/v1/jobs/{job['id']}").text

    listed = client.get(f"/api/v1/models/{mid}/directions").json()
    assert listed["source"] == "report" and [d["id"] for d in listed["main"]][:2] == ["pc1", "pc2"]
    assert "vector" not in listed["main"][0]
    assert len(client.get(f"/api/v1/models/{mid}/directions?vectors=true").json()["main"][0]["vector"]) == 8
    png = client.post(f"/api/v1/models/{mid}/traverse", json={"direction": "pc1", "seed": 3, "rows": 2, "steps": 5})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    width, height = Image.open(io.BytesIO(png.content)).size
    assert width == 5 * 10 + 2 and height == 2 * 10 + 2  # 8x8 images, 2-pixel padding
    one_class = listed["classes"][0]["id"]
    assert client.post(f"/api/v1/models/{mid}/traverse", json={"direction": one_class}).status_code == 200


def test_directions_found_in_the_request_without_a_report(client, digits_gan):
    mid = install_model(client, digits_gan)["id"]
    listed = client.get(f"/api/v1/models/{mid}/directions").json()
    assert listed["source"] == "computed" and len(listed["main"]) == 5
    assert client.post(f"/api/v1/models/{mid}/traverse", json={"direction": "pc2", "steps": 3}).status_code == 200


def test_report_and_traversal_refuse_bad_input(client, digits_gan, saved_gan):
    mid = install_model(client, digits_gan)["id"]
    frame = upload(client, _digits_npz(), name="digits.npz")
    blobs = upload(client)  # 8x8 too: the shape matches, so it is accepted by the route
    base = f"/api/v1/models/{mid}"
    for body, code, words in [
        ({"frame": frame["id"], "samples": 10}, 422, "samples"),
        ({"frame": frame["id"], "samples": 10**9}, 422, "samples"),
        ({"frame": "frame-nope"}, 404, "frame-nope"),
        ({"frame": frame["id"], "training_frame": "frame-nope"}, 404, "frame-nope"),
        ({"frame": frame["id"], "bogus": 1}, 422, "bogus"),
        ({}, 422, "frame"),
    ]:
        response = client.post(f"{base}/report", json=body)
        assert response.status_code == code and words in response.text, (body, response.text)
    assert client.post("/api/v1/models/model-nope/report", json={"frame": blobs["id"]}).status_code == 404
    big = upload(client, __import__("tests.server.conftest", fromlist=["npz_bytes"]).npz_bytes(size=16))
    response = client.post(f"{base}/report", json={"frame": big["id"]})
    assert response.status_code == 422 and "16" in response.text
    assert client.get("/api/v1/models/model-nope/report.html").status_code == 404
    for body, code, words in [
        ({"direction": "pc99"}, 422, "pc99"),
        ({"direction": "class:nope"}, 422, "class:nope"),
        ({"direction": "sideways"}, 422, "direction"),
        ({"direction": "pc1", "steps": 1}, 422, "steps"),
        ({"direction": "pc1", "steps": 10**6}, 422, "steps"),
        ({"direction": "pc1", "scale": 0}, 422, "scale"),
        ({"direction": "pc1", "scale": 1e9}, 422, "scale"),
        ({"direction": "pc1", "rows": 100}, 422, "rows"),
        ({"direction": "pc1", "label": 3}, 422, "conditional"),
    ]:
        response = client.post(f"{base}/traverse", json=body)
        assert response.status_code == code and words in response.text, (body, response.text)


def test_the_python_client_writes_a_report_through_the_server(client, digits_gan, tmp_path):
    import genforge as gf
    from genforge.errors import OverwriteError

    conn = gf.connect("http://testserver", client=client)
    model = conn.get_model(install_model(client, digits_gan)["id"])
    frame = upload(client, _digits_npz(), name="digits.npz")
    training = upload(client, _digits_npz(300, 600), name="digits-train.npz")
    figures = model.report(frame["id"], path=tmp_path / "r.html", samples=100, training_frame=training["id"], timeout=180)
    assert figures["report"]["samples"] == 100 and 'id="copies"' in (tmp_path / "r.html").read_text()
    assert (tmp_path / "r.json").is_file()
    with pytest.raises(OverwriteError):
        model.report(frame["id"], path=tmp_path / "r.html")
    assert [d["name"] for d in model.directions()["main"]][:1] == ["pc1"]


def test_a_diffusion_model_needs_a_report_before_its_directions(client, tmp_path):
    pytest.importorskip("diffusers")
    import genforge as gf

    model = gf.DiffusionEstimator(epochs=1, batch_size=64, width=8, channel_mults=[1, 2], warmup_steps=2, seed=3,
                                  verbose=False, run_dir=str(tmp_path / "run")).train(
                                      training_frame=gf.import_file("digits")[:256])
    mid = install_model(client, gf.save_model(model, tmp_path / "models"))["id"]
    for method, route, body in (("GET", "directions", None), ("POST", "traverse", {"direction": "pc1"})):
        response = client.request(method, f"/api/v1/models/{mid}/{route}", json=body)
        assert response.status_code == 409 and "report" in response.json()["detail"], response.text


def test_an_onnx_export_walks_its_directions_but_has_no_report(client, digits_gan, tmp_path):
    pytest.importorskip("onnxruntime")
    import genforge as gf

    onnx = gf.export_onnx(gf.load_model(digits_gan), tmp_path / "g.onnx")
    response = client.post("/api/v1/models", files={"file": ("g.onnx", onnx.read_bytes())})
    assert response.status_code == 201, response.text
    mid = response.json()["id"]
    assert client.get(f"/api/v1/models/{mid}/directions").json()["source"] == "computed"
    assert client.post(f"/api/v1/models/{mid}/traverse", json={"direction": "pc1", "steps": 3}).status_code == 200
    frame = upload(client, _digits_npz(), name="digits.npz")
    refused = client.post(f"/api/v1/models/{mid}/report", json={"frame": frame["id"]})
    assert refused.status_code == 409 and "ONNX" in refused.json()["detail"]


def test_generate_takes_truncation(client, digits_gan):
    mid = install_model(client, digits_gan)["id"]
    base = f"/api/v1/models/{mid}/generate"
    plain = client.post(base, json={"n": 8, "seed": 1, "format": "json"}).json()["images"]
    tight = client.post(base, json={"n": 8, "seed": 1, "format": "json", "truncation": 0.3}).json()["images"]
    assert plain != tight
    for body in ({"n": 8, "truncation": 0}, {"n": 8, "truncation": 99}, {"n": 8, "temperature": 0.5}):
        response = client.post(base, json=body)
        assert response.status_code == 422, (body, response.text)
