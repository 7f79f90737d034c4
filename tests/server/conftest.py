"""Fixtures of the server tests: the real app on a real SQLite file in a temporary data dir, tiny data."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_frame

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from fastapi.testclient import TestClient  # noqa: E402

from genforge.server import Settings, create_app  # noqa: E402

TINY_GAN = {"epochs": 2, "batch_size": 8, "width": 8, "latent_dim": 8, "seed": 1}


def npz_bytes(n: int = 64, size: int = 8) -> bytes:
    frame = make_frame(n=n, size=size)
    buffer = io.BytesIO()
    np.savez(buffer, images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))
    return buffer.getvalue()


def settings_for(path: Path, **overrides) -> Settings:
    values = {"data_dir": path, "preload": (), "worker_threads": 1, "max_jobs": 1}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def postgres_cluster():
    """(a throw-away PostgreSQL cluster, "") for the session, or (None, why there is none)."""
    from .postgres import start_cluster

    cluster, reason = start_cluster()
    yield cluster, reason
    if cluster is not None:
        cluster.stop()


@pytest.fixture
def db_url(request) -> str | None:
    """The database the app is created with: None (a SQLite file in the data dir), or a new PostgreSQL
    database where a module parametrizes ``db_url`` indirectly with "postgresql" (see DATABASES)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    cluster, reason = request.getfixturevalue("postgres_cluster")
    if cluster is None:
        pytest.skip(reason)
    return cluster.create_database()


# ``pytestmark = DATABASES`` runs a module's scenarios on SQLite and on PostgreSQL.
DATABASES = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def make_client(tmp_path, db_url):
    """``make_client(**settings)``: a started app (lifespan run: job supervisor on) and its TestClient."""
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(settings_for(tmp_path / "data", **{"db_url": db_url, **overrides})))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def upload(client: TestClient, data: bytes | None = None, name: str = "tiny.npz", **fields) -> dict:
    response = client.post("/api/v1/frames", files={"file": (name, data if data is not None else npz_bytes())},
                           data={k: str(v) for k, v in fields.items()})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(client: TestClient, job_id: str, statuses, timeout: float = 90.0, check=None) -> dict:
    """Poll a job until its status is in ``statuses`` (and ``check(job)`` holds, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in statuses and (check is None or check(job)):
            return job
        assert time.monotonic() < deadline, f"job stuck: {job}"
        time.sleep(0.1)


def evaluate(client: TestClient, model_id: str, frame_id: str, timeout: float = 90.0) -> dict:
    """POST .../evaluate (202 with an evaluate job), wait for the job to be done; its result."""
    response = client.post(f"/api/v1/models/{model_id}/evaluate", json={"frame": frame_id})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "evaluate" and job["model_id"] == model_id and job["status"] in ("queued", "running")
    done = wait_for(client, job["id"], ("done", "failed", "cancelled"), timeout=timeout)
    assert done["status"] == "done", done["message"]
    return done["result"]


@pytest.fixture(scope="session")
def saved_gan(tmp_path_factory) -> Path:
    """A tiny trained GAN (in this process, no worker) saved as a model folder, for model and v2 tests."""
    import genforge as gf

    frame = make_frame(n=32, size=8)
    gan = gf.GANEstimator(**TINY_GAN, verbose=False, run_dir=str(tmp_path_factory.mktemp("run"))).train(training_frame=frame)
    return gf.save_model(gan, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def saved_conditional_gan(tmp_path_factory) -> Path:
    import genforge as gf

    frame = make_frame(n=32, size=8)
    gan = gf.GANEstimator(**{**TINY_GAN, "epochs": 1}, conditional=True, verbose=False,
                          run_dir=str(tmp_path_factory.mktemp("run"))).train(training_frame=frame)
    return gf.save_model(gan, tmp_path_factory.mktemp("models"))


def zip_model(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("model.json", "weights.safetensors"):
            archive.write(folder / name, f"{folder.name}/{name}")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def install_model(client: TestClient, folder: Path) -> dict:
    response = client.post("/api/v1/models", files={"file": ("model.zip", zip_model(folder))})
    assert response.status_code == 201, response.text
    return response.json()
