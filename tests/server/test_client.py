"""``gf.connect``: the Python client mirrors the local API (frames, train with progress, predict, download)."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf
from genforge.server.client import RemoteError
from tests.conftest import make_frame

from .conftest import TINY_GAN


def test_client_mirrors_the_local_api(client, tmp_path):
    conn = gf.connect("http://testserver", client=client)
    frame = conn.import_file(make_frame(n=64, size=8))  # a local Frame is uploaded
    assert len(frame) == 64 and frame.image_shape == (8, 8, 1) and frame.class_counts()["class0"] == 16
    gan = conn.GANEstimator(**TINY_GAN).train(training_frame=frame)
    samples = gan.predict(4, seed=2)
    assert isinstance(samples, gf.Frame) and samples.images.shape == (4, 8, 8, 1)
    assert [row["epoch"] for row in gan.scoring_history().rows] == [1, 2]
    local = gf.load_model(gan.download(tmp_path / "models"))
    assert np.array_equal(local.predict(4, seed=2).images, samples.images)
    z = local.noise(3, seed=5)
    assert np.array_equal(gan.model.infer(z), local.predict(z).images)
    assert "d_real" in gan.model_performance(frame)
    assert [m.id for m in conn.models()] == [gan.model_id]
    with pytest.raises(RemoteError, match="epocs"):
        conn.train("gan", frame, epocs=1)


def test_connect_checks_the_key(make_client):
    client = make_client(api_key="k")
    with pytest.raises(RemoteError, match="API key"):
        gf.connect("http://testserver", client=client)
    conn = gf.connect("http://testserver", api_key="k", client=client)
    assert conn.info()["auth"] is True
    assert "gan" in [e["algo"] for e in conn.estimators()]


def test_client_runs_a_search_on_the_server(client):
    from .test_search_jobs import TINY_AUTOML

    conn = gf.connect("http://testserver", client=client)
    frame = conn.import_file(make_frame(n=64, size=8))
    with pytest.raises(RemoteError, match="max_runtime_secs"):
        conn.AutoML(**{**TINY_AUTOML, "max_runtime_secs": -1}).train(training_frame=frame, progress=False)
    with pytest.raises(RemoteError, match="include_algos"):
        conn.AutoML(**{**TINY_AUTOML, "include_algos": ["gbm"]}).train(training_frame=frame, progress=False)
    aml = conn.AutoML(**TINY_AUTOML, project_name="remote").train(training_frame=frame, progress=False)
    assert aml.status == "done" and aml.project_name == "remote"
    board = aml.leaderboard
    assert len(board.rows) == 2 and board.rows[0]["fid"] <= board.rows[1]["fid"]
    by_algo = aml.get_leaderboard(sort_by="algo", decreasing=True)
    assert [r["algo"] for r in by_algo.rows] == ["vae", "gan"]
    leader = aml.leader
    assert leader.id == board.rows[0]["model_id"] and leader.predict(2, seed=1).images.shape == (2, 8, 8, 1)
    assert conn.served() == {"remote": leader.id}
    other = board.rows[1]["model_id"]
    assert aml.serve(other)["model_id"] == other and conn.served()["remote"] == other
    assert conn.serve("production", leader)["model_id"] == leader.id
    assert conn.served() == {"production": leader.id, "remote": other}
    assert [s.id for s in conn.searches()] == [aml.id] and conn.get_search(aml.id).record["models"] == 2
    assert sorted(aml.model_ids) == sorted(r["model_id"] for r in board.rows)
