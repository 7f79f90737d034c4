"""The searches of ``gf.connect``: ``conn.AutoML(...)`` and ``conn.GridSearch(...)`` mirror the local
``gf.AutoML`` / ``gf.GridSearch``, but the search runs on the server (as one job under its ``--max-jobs``):

    conn = gf.connect("http://127.0.0.1:54321")
    frame = conn.import_file("digits")
    aml = conn.AutoML(max_runtime_secs=600, max_models=6, project_name="digits").train(training_frame=frame)
    aml.leaderboard                      # a genforge Table, best FID first
    aml.leader.predict(16)               # the leader, a RemoteModel (served as /v2/models/digits)
    aml.serve(aml.leaderboard.rows[1]["model_id"])   # serve another one under the project name
"""

from __future__ import annotations

import time
from typing import Any

from genforge.errors import GenforgeError

FINAL = ("done", "failed", "cancelled", "interrupted")


def _id(item: Any) -> str | None:
    return item if isinstance(item, str) or item is None else item.id


class RemoteSearch:
    """A search on the server (an "automl" or "grid" job): its leaderboard, leader and served model."""

    def __init__(self, conn, record: dict) -> None:
        self.conn, self.record, self.id = conn, record, record["id"]

    def __repr__(self) -> str:
        r = self.record
        return f"<RemoteSearch {self.id} {r['kind']} {r['status']}: {r['models']} model(s)>"

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def project_name(self) -> str:
        return self.record["project_name"]

    def refresh(self) -> "RemoteSearch":
        self.record = self.conn.request("GET", f"/api/v1/automl/{self.id}")
        return self

    def wait(self, progress: bool = True, poll: float = 1.0, timeout: float | None = None) -> "RemoteSearch":
        """Follow the search to its end (a progress bar with ``progress``); GenforgeError when it did not
        finish ``done`` or is still going after ``timeout`` seconds (it keeps running then)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=100, unit="%", desc=self.id, disable=not progress, leave=True)
        started = time.monotonic()
        try:
            while self.refresh().status not in FINAL:
                bar.n = round(100 * float(self.record["progress"] or 0), 1)
                bar.set_postfix_str(f"{self.record['models']} model(s)", refresh=True)
                if timeout is not None and time.monotonic() - started > timeout:
                    raise GenforgeError(f"search {self.id} is still {self.status} after {timeout} s.")
                time.sleep(poll)
        finally:
            bar.close()
        if self.status != "done":
            raise GenforgeError(f"search {self.id} {self.status}: {self.record['message']}")
        return self

    def get_leaderboard(self, sort_by: str | None = None, decreasing: bool | None = None):
        """The leaderboard as a genforge Table sorted by any column (default: the search's sort metric,
        best first)."""
        from genforge.table import Table

        params = {k: v for k, v in (("sort_by", sort_by), ("decreasing", decreasing)) if v is not None}
        if "decreasing" in params:
            params["decreasing"] = str(params["decreasing"]).lower()
        rows = self.conn.request("GET", f"/api/v1/automl/{self.id}/leaderboard", params=params)["rows"]
        return Table(rows)

    get_grid = get_leaderboard  # H2OGridSearch's name

    @property
    def leaderboard(self):
        return self.get_leaderboard()

    @property
    def leader(self):
        """The leader as a RemoteModel (None while no candidate may lead)."""
        lead = self.refresh().record.get("leader")
        return self.conn.get_model(lead["model_id"]) if lead else None

    @property
    def model_ids(self) -> list[str]:
        return [r["model_id"] for r in self.get_leaderboard().rows if r["model_id"]]

    def serve(self, model: Any) -> dict:
        """Serve ``model`` (a RemoteModel or id of this leaderboard) as ``/v2/models/{project_name}``."""
        served = self.conn.request("POST", f"/api/v1/automl/{self.id}/serve", json={"model_id": _id(model)})
        self.refresh()
        return served

    def cancel(self) -> "RemoteSearch":
        self.record = self.conn.request("POST", f"/api/v1/automl/{self.id}/cancel")
        return self

    def resume(self) -> "RemoteSearch":
        self.record = self.conn.request("POST", f"/api/v1/automl/{self.id}/resume")
        return self


class _SearchFactory:
    """``conn.AutoML(**options)`` / ``conn.GridSearch(model, hyper_params, ...)``: ``train`` starts the
    search on the server and (with ``wait``, the default) follows it to its end."""

    def __init__(self, conn, kind: str, options: dict[str, Any]) -> None:
        self.conn, self.kind, self.options = conn, kind, options
        self.search: RemoteSearch | None = None

    def train(self, x: Any = None, training_frame: Any = None, validation_frame: Any = None,
              leaderboard_frame: Any = None, wait: bool = True, progress: bool = True,
              timeout: float | None = None) -> RemoteSearch:
        frame = training_frame if training_frame is not None else x
        if frame is None:
            raise GenforgeError("train() needs a training_frame (a RemoteFrame or a frame id).")
        body = {**self.options, "training_frame": _id(frame), "validation_frame": _id(validation_frame),
                "leaderboard_frame": _id(leaderboard_frame)}
        route = "/api/v1/automl" if self.kind == "automl" else "/api/v1/grids"
        self.search = RemoteSearch(self.conn, self.conn.request("POST", route, json=body))
        return self.search.wait(progress=progress, timeout=timeout) if wait else self.search


def automl(conn, **options: Any) -> _SearchFactory:
    return _SearchFactory(conn, "automl", options)


def grid_search(conn, model: Any, hyper_params: dict, search_criteria: dict | None = None,
                grid_id: str | None = None, **options: Any) -> _SearchFactory:
    """``model``: an algorithm name, or a remote estimator (``conn.GANEstimator(...)``) whose parameters are
    the fixed base."""
    algo, base = (model, {}) if isinstance(model, str) else (model.algo, model.get_params())
    return _SearchFactory(conn, "grid", {"algo": algo, "parameters": base, "hyper_params": hyper_params,
                                         "search_criteria": search_criteria, "grid_id": grid_id, **options})


class SearchMethods:
    """The search and serving methods of ``genforge.server.client.Connection``."""

    def AutoML(self, **options: Any):  # noqa: N802 - gf.AutoML's name
        """``gf.AutoML`` on the server: ``conn.AutoML(max_runtime_secs=600).train(training_frame=frame)``
        returns a RemoteSearch (see genforge.server.client_search)."""
        return automl(self, **options)

    def GridSearch(self, model: Any, hyper_params: dict, search_criteria: dict | None = None,  # noqa: N802
                   grid_id: str | None = None, **options: Any):
        """``gf.GridSearch`` on the server; ``model``: an algorithm name or ``conn.GANEstimator(...)``."""
        return grid_search(self, model, hyper_params, search_criteria, grid_id, **options)

    def searches(self) -> list:
        return [RemoteSearch(self, r) for r in self.request("GET", "/api/v1/automl")]

    def get_search(self, search_id: str):
        return RemoteSearch(self, self.request("GET", f"/api/v1/automl/{search_id}"))

    def served(self) -> dict[str, str]:
        """Served name -> model id (``/v2/models/{name}`` answers with that model)."""
        return {r["name"]: r["model_id"] for r in self.request("GET", "/api/v1/served")}

    def serve(self, name: str, model: Any) -> dict:
        """Serve ``model`` under ``name`` (``/v2/models/{name}``)."""
        return self.request("PUT", f"/api/v1/served/{name}", json={"model_id": _id(model)})
