"""Issue 16's security items on the server: no server path in any response, job parameters that cannot name
files, decompression limits as 413s, chunked bodies over the limit, and the API key read from a file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import free_port
from tests.data.helpers import blank_png, png_claiming

from .conftest import TINY_GAN, evaluate, install_model, npz_bytes, upload, wait_for


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def saved_cnn(tmp_path_factory) -> Path:
    import genforge as gf
    from tests.conftest import make_frame

    cnn = gf.CNNEstimator(epochs=1, batch_size=8, verbose=False, run_dir=str(tmp_path_factory.mktemp("run")))
    cnn.train(training_frame=make_frame(n=16, size=8))
    return gf.save_model(cnn, tmp_path_factory.mktemp("models"))


# ------------------------------------------------------------------------------ no server path in any error
def test_no_error_response_carries_a_server_path(make_client, tmp_path, saved_gan):
    client = make_client()
    data_dir = tmp_path / "data"
    (data_dir / "imports" / "sub").mkdir()
    (data_dir / "imports" / "sub" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (data_dir / "imports" / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    (data_dir / "imports" / "rows.csv").write_text("path,label\nmissing.png,1\n../../x.png,0\n")
    frame = upload(client)["id"]
    model = install_model(client, saved_gan)["id"]
    private = [str(data_dir), str(tmp_path), tempfile.gettempdir() + "/", "upload-", os.getcwd() + "/",
               str(Path.home()) + "/", sys.prefix]
    sources = ["sub", "sub/bad.png", "broken.npz", "rows.csv", "../frames", str(data_dir), str(data_dir / "frames"),
               str(tmp_path), "/etc/passwd", "/proc/self/environ", "~/", "~root/x", "a\0b", "x" * 5000, "/" * 300,
               tempfile.gettempdir(), ".", "..", "imports", "/"]
    responses = [client.post("/api/v1/frames", json={"source": s}) for s in sources]
    uploads = {"broken.npz": b"PK\x03\x04 junk", "broken.zip": b"PK\x05\x06" + b"\0" * 18, "x.csv": b"path\n/etc/passwd\n",
               "a.png": b"\x89PNG\r\n\x1a\n", "t-images-idx3-ubyte": b"\0\0\x08\x03\0\0\0\x09", "x.parquet": b"PAR1",
               "../../../etc/x.npz": b"1", "huge.png": png_claiming(10_000, 10_000), "b.npy": b"\x93NUMPY junk",
               "z.zip": zipped({"../evil.png": blank_png(8)}), "c.zip": zipped({"a/x.png": b"not png"})}
    responses += [client.post("/api/v1/frames", files={"file": (name, data)}) for name, data in uploads.items()]
    responses += [client.post("/api/v1/models", files={"file": (name, data)})
                  for name, data in [("m.zip", b"junk"), ("m.onnx", b"junk"), ("m.zip", zipped({"model.json": b"{"}))]]
    for params in ({"evaluator": str(data_dir)}, {"evaluator": "/etc"}, {"evaluator": "../models"},
                   {"checkpoint": str(data_dir / "models")}, {"stopping_metric": str(data_dir)}, {"run_dir": "/tmp"}):
        responses.append(client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame, "parameters": params}))
    responses += [client.post(f"/api/v1/models/{model}/evaluate", json={"frame": "nope"}),
                  client.get("/api/v1/frames/..%2F..%2Fetc"), client.get(f"/api/v1/models/{data_dir}"),
                  client.post("/v2/models/nope/infer", json={"inputs": []}),
                  client.post(f"/v2/models/{model}/infer", json={"inputs": [{"name": "x"}]})]
    assert len(responses) > 40
    for response in responses:
        assert response.status_code >= 400, (response.request.url, response.text)
        for secret in private:
            assert secret not in response.text, (response.request.url, response.text)


def test_job_messages_and_events_name_no_server_path(make_client, tmp_path):
    client = make_client(max_jobs=1)
    data_dir = str(tmp_path / "data")
    first, second = upload(client)["id"], upload(client)["id"]
    long = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": first,
                                             "parameters": {**TINY_GAN, "epochs": 30}}).json()
    queued = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": second,
                                               "parameters": {**TINY_GAN, "epochs": 1}}).json()
    (tmp_path / "data" / "frames" / f"{second}.npz").write_bytes(b"damaged")  # the worker's read will fail
    wait_for(client, long["id"], ("running",))
    client.post(f"/api/v1/jobs/{long['id']}/cancel")
    failed = wait_for(client, queued["id"], ("failed",))
    assert f"frames/{second}.npz" in failed["message"] and data_dir not in failed["message"]
    assert data_dir not in client.get("/api/v1/jobs").text
    events = client.get(f"/api/v1/jobs/{queued['id']}/events").text
    assert f"frames/{second}.npz" in events and data_dir not in events


def test_the_scrubber_rules():
    from genforge.server.scrub import PrivatePaths

    data = Path(tempfile.gettempdir()) / "gf-data"
    paths = PrivatePaths(data, [Path("/mnt/datasets")])
    assert paths.public(f"{data}/upload-ab12/cats.zip: broken") == "cats.zip: broken"
    assert paths.public(f"see {data}/runs/job-1/worker.log.") == "see runs/job-1/worker.log."
    assert paths.public("/mnt/datasets/cifar/x.png: bad") == "cifar/x.png: bad"
    assert paths.public("'/etc/passwd' and '/no/such/file'") == "'passwd' and 'file'"  # alike, exists or not
    kept = "list them at /api/v1/models; 10 images/s; http://127.0.0.1:54321/v2/health; 0..1 / 255"
    assert paths.public(kept) == kept
    assert paths.public("/etc/passwd", strict=False) == "/etc/passwd"


# ------------------------------------------------------------------------------ job parameters naming files
def test_a_jobs_evaluator_is_a_builtin_name_or_a_cnn_model_id(client, tmp_path, saved_cnn, saved_gan):
    frame = upload(client)["id"]

    def post(**params):
        return client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                                 "parameters": {**TINY_GAN, "epochs": 1, **params}})

    existing, missing = tmp_path / "cnn-here", tmp_path / "cnn-not-here"
    existing.mkdir()
    answers = set()
    for value in (str(existing), str(missing), str(saved_cnn), "../models", "inception:/x.pth", "w.safetensors", ""):
        response = post(evaluator=value)
        assert response.status_code == 422, value
        assert "parameters.evaluator" in response.json()["detail"]
        answers.add(response.json()["detail"].split(" is neither", 1)[1])
    assert len(answers) == 1  # the same refusal whether the folder exists or not
    gan_id = install_model(client, saved_gan)["id"]
    assert post(evaluator=gan_id).status_code == 422  # a model, but no classifier
    assert post(stopping_metric="/etc/passwd").status_code == 422  # no other parameter may name a file
    assert post(evaluator="digits").status_code == 201
    assert post(evaluator="auto").status_code == 201

    cnn_id = install_model(client, saved_cnn)["id"]
    job = post(evaluator=cnn_id, score_every=1, score_samples=16).json()
    done = wait_for(client, job["id"], ("done", "failed"))
    assert done["status"] == "done", done["message"]
    assert "fid" in done["history"][-1]  # scored with the CNN stored on the server, resolved by the worker
    trained = client.get(f"/api/v1/models/{done['model_id']}").json()
    assert trained["parameters"]["evaluator"] == cnn_id  # the id, not the server's folder


def test_evaluate_never_reads_an_evaluator_path_from_an_uploaded_model(client, tmp_path, saved_gan, saved_cnn):
    import json

    folder = tmp_path / "gan"
    folder.mkdir()
    for name in ("model.json", "weights.safetensors"):
        (folder / name).write_bytes((saved_gan / name).read_bytes())
    meta = json.loads((folder / "model.json").read_text())
    import shutil

    shutil.copytree(saved_cnn, tmp_path / "elsewhere")  # a CNN folder the uploader's model.json names
    meta["params"]["evaluator"] = str(tmp_path / "elsewhere")
    meta["model_id"] = "gan-with-a-path"
    (folder / "model.json").write_text(json.dumps(meta))
    model = install_model(client, folder)["id"]
    frame = upload(client)["id"]
    result = evaluate(client, model, frame)  # a job, run by a worker
    metrics = result["metrics"]
    assert "fid" not in metrics and "quality" in metrics["skipped"]  # no built-in evaluator fits 8x8 images
    assert str(tmp_path) not in json.dumps(result)


# ------------------------------------------------------------------------------ decompression limits
def test_decompression_limits_answer_413_naming_the_server_option(make_client):
    client = make_client(max_frame_bytes=1_000_000)
    info = client.get("/api/v1/info").json()
    assert info["max_image_pixels"] == 2048 * 2048 and info["max_frame_bytes"] == 1_000_000
    huge = client.post("/api/v1/frames", files={"file": ("huge.zip", zipped({"a/x.png": png_claiming(10_000, 10_000)}))})
    assert huge.status_code == 413, huge.text
    detail = huge.json()["detail"]
    assert "10000x10000" in detail and "genforge start --max-image-pixels 100000000" in detail
    assert "pass max_image_pixels" not in detail  # the Python option means nothing to a client
    blank = zipped({f"a/{i:03d}.png": blank_png(128) for i in range(100)})
    assert len(blank) < 100_000  # 100 KB that would decode to 1.6 MB
    many = client.post("/api/v1/frames", files={"file": ("blank.zip", blank)})
    assert many.status_code == 413 and "genforge start --max-frame-mb 2" in many.json()["detail"]
    zeros = io.BytesIO()
    np.savez_compressed(zeros, images=np.zeros((200, 100, 100), np.uint8))
    bomb = client.post("/api/v1/frames", files={"file": ("zeros.npz", zeros.getvalue())})
    assert bomb.status_code == 413 and "--max-frame-mb" in bomb.json()["detail"]
    assert client.post("/api/v1/frames", files={"file": ("ok.npz", npz_bytes())}).status_code == 201


def test_server_side_imports_get_the_limits_too(make_client, tmp_path):
    client = make_client(max_image_pixels=63)
    imports = tmp_path / "data" / "imports" / "d"
    imports.mkdir(parents=True)
    (imports / "a.png").write_bytes(blank_png(8))
    response = client.post("/api/v1/frames", json={"source": "d"})
    assert response.status_code == 413 and "--max-image-pixels 64" in response.json()["detail"]


# ------------------------------------------------------------------------------ chunked bodies
def _chunks(kind: str = "application/json", n: int = 40, size: int = 1000):
    """A chunked body of n * size bytes. A multipart one starts as a well-formed file part, so that the form
    parser keeps reading (a malformed start may be refused with a 400 before the limit is reached)."""
    if kind.startswith("multipart/"):
        boundary = kind.split("boundary=", 1)[1]
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.npz\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(n):
        yield b"0" * size


ROUTES = [("/api/v1/jobs", "application/json"), ("/api/v1/frames", "application/json"),
          ("/api/v1/frames", "multipart/form-data; boundary=xyz"), ("/api/v1/models", "multipart/form-data; boundary=x"),
          ("/v2/models/x/infer", "application/json"), ("/api/v1/models/x/generate", "application/json")]


def test_chunked_bodies_over_the_limit_get_413_in_the_asgi_app(make_client):
    client = make_client(max_upload_bytes=20_000)
    for path, kind in ROUTES:
        response = client.post(path, content=_chunks(kind), headers={"content-type": kind})
        assert response.status_code == 413, (path, response.text)
        assert "--max-upload-mb" in response.json()["detail"]
    small = client.post("/api/v1/jobs", content=_chunks(n=2, size=10), headers={"content-type": "application/json"})
    assert small.status_code == 422  # under the limit the route answers as usual



def test_chunked_bodies_over_the_limit_get_413_from_a_real_uvicorn(tmp_path):
    import httpx
    import uvicorn

    from genforge.server import create_app

    from .conftest import settings_for

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings_for(tmp_path / "data", max_upload_bytes=20_000)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for path, kind in ROUTES:
                response = http.post(path, content=_chunks(kind), headers={"content-type": kind})
                assert response.status_code == 413, (path, response.text)
                assert response.request.headers.get("transfer-encoding") == "chunked"
            assert http.get("/v2/health/live").status_code == 200  # the server is fine afterwards
    finally:
        server.should_exit = True
        thread.join(30)


# ------------------------------------------------------------------------------ the API key from a file
def test_key_file_checks(tmp_path):
    from genforge.server.keyfile import KeyFileError, read_key_file

    key = tmp_path / "key"
    with pytest.raises(KeyFileError, match="does not exist"):
        read_key_file(key)
    key.write_text("")
    key.chmod(0o600)
    with pytest.raises(KeyFileError, match="empty"):
        read_key_file(key)
    key.write_text("s3cret\n")
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_key_file(key)
    key.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_key_file(key)
    key.chmod(0o600)
    assert read_key_file(key) == "s3cret"
    with pytest.raises(KeyFileError, match="not a regular file"):
        read_key_file(tmp_path)


def test_genforge_start_refuses_a_bad_key_file(tmp_path):
    from click.testing import CliRunner

    from genforge.server.cli import start

    key = tmp_path / "key"
    key.write_text("s3cret\n")
    key.chmod(0o644)
    runner = CliRunner()
    result = runner.invoke(start, ["--api-key-file", str(key), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code != 0 and "chmod 600" in result.output
    result = runner.invoke(start, ["--api-key-file", str(tmp_path / "none"), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(start, ["--api-key", "x", "--api-key-file", str(key)])
    assert result.exit_code != 0 and "not both" in result.output


def test_genforge_start_with_a_key_file_requires_that_key(tmp_path):
    import httpx

    key = tmp_path / "key"
    key.write_text("from-a-file\n")
    key.chmod(0o600)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("GENFORGE_API_KEY", None)
    process = subprocess.Popen([sys.executable, "-m", "genforge", "start", "--port", str(port), "--preload", "none",
                                "--data-dir", str(tmp_path / "d"), "--api-key-file", str(key)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/api/v1/frames"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"X-API-Key": "from-a-file"}).status_code == 200
        assert "from-a-file" not in " ".join(process.args)  # what `ps` shows holds no key
    finally:
        process.terminate()
        process.wait(30)


def test_a_dataset_name_is_read_from_genforge_data_not_the_working_folder(client, tmp_path, monkeypatch):
    from tests.conftest import make_frame

    shared, cwd = tmp_path / "shared", tmp_path / "cwd"
    shared.mkdir(), cwd.mkdir()
    frame = make_frame(n=12, size=8)
    np.savez(shared / "shapes.npz", images=frame.images)
    (cwd / "shapes").mkdir()  # the same name in the server's working folder
    for i in range(3):
        (cwd / "shapes" / f"{i}.png").write_bytes(blank_png(8))
    monkeypatch.setenv("GENFORGE_DATA", str(shared))
    monkeypatch.chdir(cwd)
    response = client.post("/api/v1/frames", json={"source": "shapes"})
    assert response.status_code == 201 and response.json()["rows"] == 12, response.text


def test_settings_read_the_key_file_from_the_environment(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from genforge.server import create_app
    from genforge.server.keyfile import KeyFileError
    from genforge.server.settings import Settings

    key = tmp_path / "key"
    key.write_text("env-file-key")
    key.chmod(0o600)
    monkeypatch.setenv("GENFORGE_API_KEY_FILE", str(key))
    monkeypatch.setenv("GENFORGE_API_KEY", "ignored-for-the-file")
    settings = Settings.from_env(data_dir=tmp_path / "d", preload=())
    assert settings.api_key == "env-file-key"
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/frames").status_code == 401
        assert client.get("/api/v1/frames", headers={"X-API-Key": "env-file-key"}).status_code == 200
    assert Settings.from_env(data_dir=tmp_path / "d", api_key="given").api_key == "given"  # an explicit key wins
    key.chmod(0o604)
    with pytest.raises(KeyFileError, match="chmod 600"):
        Settings.from_env(data_dir=tmp_path / "d")
