"""The search routes without running a search: bad requests get a 4xx naming the field (and no server path);
leaderboard rows recorded the way a search worker records them sort by any column; the serve action points
a project's served name at a model, which /v2 then answers for."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from genforge.server import leaderboard
from genforge.server.db import JobRow, ModelRow

from .conftest import install_model, upload


def _automl(client, frame, **fields):
    return client.post("/api/v1/automl", json={"training_frame": frame, "max_runtime_secs": 60, **fields})


def _grid(client, frame, **fields):
    body = {"algo": "gan", "training_frame": frame, "hyper_params": {"g_lr": [1e-3, 2e-4]}, **fields}
    return client.post("/api/v1/grids", json=body)


def _refused(response, status: int, *words: str, data_dir=None) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    for word in words:
        assert word.lower() in detail.lower(), (word, detail)
    if data_dir is not None:
        assert str(data_dir) not in detail and "/tmp/" not in detail, detail
    return detail


def test_bad_search_requests_are_refused_naming_what_is_wrong(client, tmp_path, saved_gan):
    data = tmp_path / "data"
    frame = upload(client)["id"]
    other = upload(client, name="big.npz", image_size=16)["id"]
    model = install_model(client, saved_gan)["id"]
    before = client.get("/api/v1/jobs").json()

    _refused(_automl(client, frame, include_algos=["gan", "xgboost"]), 422, "include_algos", "xgboost", "gan")
    _refused(_automl(client, frame, exclude_algos=["nope"]), 422, "exclude_algos", "nope")
    _refused(_automl(client, frame, include_algos=["gan"], exclude_algos=["gan"]), 422, "gan", "both")
    _refused(_automl(client, frame, exclude_algos=leaderboard_algos(client)), 422, "exclude_algos", "no algorithm")
    for budget in (0, -5, "soon", 1e12, None):
        _refused(_automl(client, frame, max_runtime_secs=budget), 422, "max_runtime_secs")
    _refused(client.post("/api/v1/automl", json={"training_frame": frame}), 422, "max_runtime_secs")
    _refused(_automl(client, frame, max_models=0), 422, "max_models")
    _refused(_automl(client, frame, sort_metric="accuracy"), 422, "sort_metric")
    _refused(_automl(client, frame, workers=2), 422, "workers", "--max-jobs")
    _refused(_automl(client, frame, project_name="../../etc"), 422, "project_name")
    _refused(_automl(client, frame, project_name=model), 422, "project_name", model)
    _refused(_automl(client, frame, surprise=1), 422, "surprise")
    _refused(_automl(client, "frame-missing"), 404, "frame-missing")
    _refused(_automl(client, frame, validation_frame=other), 422, "validation_frame", "(16, 16, 1)")
    _refused(_automl(client, frame, leaderboard_frame=other), 422, "leaderboard_frame")

    _refused(_grid(client, frame, algo="cnn"), 422, "algo", "cnn")
    _refused(_grid(client, frame, hyper_params={"learning_rat": [0.1]}), 422, "hyper_params", "learning_rat")
    _refused(_grid(client, frame, hyper_params={"g_lr": []}), 422, "hyper_params.g_lr", "no values")
    _refused(_grid(client, frame, hyper_params={}), 422, "hyper_params")
    _refused(_grid(client, frame, hyper_params={"epochs": [2, 0]}), 422, "hyper_params.epochs[1]")
    _refused(_grid(client, frame, hyper_params={"architecture": ["dcgan", "transformer"]}), 422,
             "hyper_params.architecture[1]", "transformer")
    _refused(_grid(client, frame, hyper_params={"run_dir": ["/tmp"]}), 422, "run_dir")
    _refused(_grid(client, frame, hyper_params={"evaluator": [str(data)]}), 422, "evaluator", data_dir=data)
    _refused(_grid(client, frame, parameters={"evaluator": "digits"}), 422, "parameters.evaluator", "'evaluator' field")
    _refused(_grid(client, frame, evaluator=str(data / "models")), 422, "evaluator", data_dir=data)
    _refused(_automl(client, frame, evaluator="../models"), 422, "evaluator")
    _refused(_automl(client, frame, fixed_params={"run_dir": "x"}), 422, "fixed_params.run_dir")
    _refused(_automl(client, frame, fixed_params={"width": str(data)}), 422, "width", data_dir=data)
    _refused(_automl(client, frame, fixed_params={"epochs": 3}), 422, "epochs")  # the API's own check
    _refused(_automl(client, frame, fixed_params={"colour": 3}), 422, "colour")
    _refused(_grid(client, frame, parameters={"g_lr": 0.1}), 422, "hyper_params.g_lr", "both")
    _refused(_grid(client, frame, parameters={"epochs": -1}), 422, "parameters")
    _refused(_grid(client, frame, hyper_params={"seed": list(range(1000)), "g_lr": [1e-4 * (i + 1) for i in range(1000)]}),
             422, "combinations")
    _refused(_grid(client, frame, search_criteria={"strategy": "Bayesian"}), 422, "strategy")
    _refused(_grid(client, frame, search_criteria={"max_runtime_secs": 0}), 422, "max_runtime_secs")
    _refused(_grid(client, frame, grid_id=model), 422, "grid_id")
    assert client.get("/api/v1/jobs").json() == before  # nothing was queued

    train = client.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                              "parameters": {"epochs": 1, "batch_size": 8, "width": 8}}).json()["id"]
    for path in ("/api/v1/automl/automl-nope", "/api/v1/automl/automl-nope/leaderboard", f"/api/v1/automl/{train}",
                 "/api/v1/grids/grid-nope/leaderboard", "/api/v1/automl/..%2F..%2Fetc/leaderboard"):
        _refused(client.get(path), 404, "not found")
    _refused(client.post("/api/v1/automl/automl-nope/cancel"), 404, "not found")
    _refused(client.post("/api/v1/automl/automl-nope/serve", json={"model_id": model}), 404, "not found")
    client.post(f"/api/v1/jobs/{train}/cancel")


def leaderboard_algos(client) -> list[str]:
    return sorted(e["algo"] for e in client.get("/api/v1/estimators").json() if e["generator"])


def _search_row(client, frame: str, ident: str = "automl-test", status: str = "done", **spec) -> str:
    """An AutoML job in the database (a finished one: what a search leaves), to record rows against."""
    ctx = client.app.state.ctx
    with ctx.db.session() as session:
        session.add(JobRow(id=ident, kind="automl", algo="automl", training_frame=frame, parameters={
            "training_frame": frame, "max_runtime_secs": 60, "sort_metric": "fid", "project_name": "faces", **spec},
            status=status, progress=1.0, message=status, epoch=0, epochs=0, history=[],
            run_dir=str(ctx.settings.runs_dir / ident), attempt=1, resume=0))
        session.commit()
    return ident


def test_a_running_search_keeps_its_frames(client):
    frame, board = upload(client)["id"], upload(client, name="board.npz")["id"]
    search = _search_row(client, frame, "automl-busy", "running", leaderboard_frame=board)
    for ident in (frame, board):
        _refused(client.delete(f"/api/v1/frames/{ident}"), 409, search)
    with client.app.state.ctx.db.session() as session:
        session.get(JobRow, search).status = "done"
        session.commit()
    assert client.delete(f"/api/v1/frames/{board}").status_code == 204


def _row(name: str, status: str, fid, precision, path=None, **more) -> dict:
    return {"model_id": name, "algo": "gan", "status": status, "reason": more.pop("reason", ""), "fid": fid, "kid": 0.1,
            "precision": precision, "recall": 0.5, "coverage": None, "memorization": more.pop("memorization", 0.0),
            "classes_covered": 4, "training_secs": 1.5, "images_per_sec": 100.0, "epochs": more.pop("epochs", 2),
            "rung": 0, "model_path": str(path) if path else None, "params": '{"lr": 0.001}', **more}


def test_recorded_rows_sort_by_any_column_and_the_serve_action(client, saved_gan):
    frame = upload(client)["id"]
    ctx = client.app.state.ctx
    search = _search_row(client, frame)
    leaderboard.record(ctx.repo, search, _row("cand-a", "ok", 30.0, 0.2, saved_gan))
    leaderboard.record(ctx.repo, search, _row("cand-b", "ok", 10.0, 0.1, saved_gan))
    leaderboard.record(ctx.repo, search, _row("cand-c", "memorizes", 5.0, 0.9, saved_gan, memorization=0.8,
                                             reason="memorization 0.8 above 0.5"))
    leaderboard.record(ctx.repo, search, _row("cand-d", "failed", None, None, reason="CUDA out of memory"))
    with ctx.db.session() as session:
        models = {r.id: r for r in session.scalars(select(ModelRow).where(ModelRow.job_id == search))}
    assert set(models) == {"cand-a", "cand-b", "cand-c"}  # the failed candidate made no model

    board = client.get(f"/api/v1/automl/{search}/leaderboard").json()
    assert board["sort_by"] == "fid" and board["decreasing"] is False
    assert [r["candidate"] for r in board["rows"]] == ["cand-c", "cand-b", "cand-a", "cand-d"]  # no FID: last
    assert board["leader"] == "cand-b"  # cand-c copies its training images: it never leads
    assert board["rows"][3]["reason"] == "CUDA out of memory" and board["rows"][3]["model_id"] is None
    assert board["rows"][1]["params"] == {"lr": 0.001} and board["rows"][1]["epochs"] == 2
    by_precision = client.get(f"/api/v1/automl/{search}/leaderboard", params={"sort_by": "precision"}).json()
    assert by_precision["decreasing"] is True and [r["candidate"] for r in by_precision["rows"]][:3] == ["cand-c", "cand-a", "cand-b"]
    ascending = client.get(f"/api/v1/automl/{search}/leaderboard", params={"sort_by": "precision", "decreasing": "false"}).json()
    assert [r["candidate"] for r in ascending["rows"]] == ["cand-b", "cand-a", "cand-c", "cand-d"]
    by_status = client.get(f"/api/v1/automl/{search}/leaderboard", params={"sort_by": "status"}).json()
    assert [r["status"] for r in by_status["rows"]] == ["failed", "memorizes", "ok", "ok"]
    _refused(client.get(f"/api/v1/automl/{search}/leaderboard", params={"sort_by": "model_path"}), 422,
             "sort_by", "model_path", "fid")
    _refused(client.get(f"/api/v1/automl/{search}/leaderboard", params={"decreasing": "sideways"}), 422, "decreasing")

    # Reported again with more budget: the same row and model id, the model replaced.
    leaderboard.record(ctx.repo, search, _row("cand-a", "ok", 8.0, 0.3, saved_gan, epochs=6))
    board = client.get(f"/api/v1/automl/{search}/leaderboard").json()
    assert len(board["rows"]) == 4 and board["leader"] == "cand-a" and board["rows"][1]["epochs"] == 6

    # The serve action: only a model of this leaderboard, never a flagged one.
    _refused(client.post(f"/api/v1/automl/{search}/serve", json={"model_id": "cand-d"}), 422, "cand-d")
    _refused(client.post(f"/api/v1/automl/{search}/serve", json={"model_id": "elsewhere"}), 422, "elsewhere")
    _refused(client.post(f"/api/v1/automl/{search}/serve", json={"model_id": "cand-c"}), 409, "copies", "PUT")
    assert client.get("/v2/models/faces").status_code == 404
    served = client.post(f"/api/v1/automl/{search}/serve", json={"model_id": "cand-b"})
    assert served.status_code == 200, served.text
    assert served.json()["name"] == "faces" and served.json()["chosen"] is True
    detail = client.get(f"/api/v1/automl/{search}").json()
    assert detail["served"]["model_id"] == "cand-b" and detail["leader"]["model_id"] == "cand-a"
    assert detail["project_name"] == "faces" and detail["models"] == 4
    body = {"inputs": [{"name": "z", "datatype": "FP32", "shape": [2, 8], "data": [0.5] * 16}]}
    by_name = client.post("/v2/models/faces/infer", json=body)
    assert by_name.status_code == 200, by_name.text
    by_id = client.post("/v2/models/cand-b/infer", json=body).json()
    assert by_name.json()["outputs"][0]["data"] == by_id["outputs"][0]["data"]
    assert client.get("/v2/models/faces").json()["name"] == "faces"
    # A search's end names its leader only where nobody chose: the user's choice stays.
    leaderboard.serve(ctx.db, "faces", "cand-a", search_id=search, chosen=False)
    assert client.get("/api/v1/served").json()[0]["model_id"] == "cand-b"

    _refused(client.delete("/api/v1/models/cand-b"), 409, "faces")
    _refused(client.put("/api/v1/served/cand-a", json={"model_id": "cand-b"}), 422, "cand-a")
    _refused(client.put("/api/v1/served/bad%20name", json={"model_id": "cand-b"}), 422, "name")
    _refused(client.put("/api/v1/served/faces", json={"model_id": "nope"}), 404, "nope")
    assert client.put("/api/v1/served/faces", json={"model_id": "cand-c"}).json()["model_id"] == "cand-c"
    assert client.delete("/api/v1/models/cand-b").status_code == 204
    assert client.delete("/api/v1/served/faces").status_code == 204
    _refused(client.delete("/api/v1/served/faces"), 404, "faces")
    assert client.get("/v2/models/faces").status_code == 404
    assert np.asarray(by_id["outputs"][0]["data"]).size == 2 * 8 * 8

    # Deleting the search removes its leaderboard, never its models.
    assert client.delete(f"/api/v1/jobs/{search}").status_code == 204
    assert client.get(f"/api/v1/automl/{search}/leaderboard").status_code == 404
    assert client.get("/api/v1/models/cand-a").status_code == 200
