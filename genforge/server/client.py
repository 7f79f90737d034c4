"""``gf.connect(url, api_key=None)``: a Python client of the genforge server that mirrors the local API.

    conn = gf.connect("http://127.0.0.1:54321")
    frame = conn.import_file("digits")                  # a built-in, a server-side path, a local file or a Frame
    gan = conn.GANEstimator(epochs=5, seed=7).train(training_frame=frame)   # waits, with a progress bar
    gan.predict(16, seed=1).to_png("samples.png")       # a local Frame of generated images
    gan.download("models")                              # model.json + weights.safetensors, for gf.load_model

Needs httpx (``pip install 'genforge[server]'``).
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from genforge.errors import GenforgeError
from genforge.files import claim_path
from genforge.frame import Frame, PixelTable
from genforge.server.client_search import SearchMethods

FINAL = ("done", "failed", "cancelled", "interrupted")


class RemoteError(GenforgeError):
    """The server refused a request; ``status`` is the HTTP status, ``detail`` its message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status})")
        self.status, self.detail = status, detail


class Connection(SearchMethods):
    """A session with one server. Create it with ``genforge.connect``; its searches: ``client_search``."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 120.0, client: Any = None) -> None:
        try:
            import httpx
        except ImportError:
            raise GenforgeError("gf.connect needs httpx: pip install 'genforge[server]'") from None
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = url.rstrip("/")
        # ``client``: an httpx.Client to send through (the tests pass the app's TestClient).
        if client is None:
            import socket

            # TCP_NODELAY: otherwise each POST body waits on Nagle's algorithm and the server's delayed ACK.
            transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self.http = client
        self.http.headers.update(headers)
        self.GANEstimator = _Factory(self, "gan")
        self.VAEEstimator = _Factory(self, "vae")
        self.CNNEstimator = _Factory(self, "cnn")

    def __repr__(self) -> str:
        return f"<genforge connection {self.url}>"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------ plumbing
    def request(self, method: str, path: str, **kwargs) -> Any:
        """Send a request; JSON answers are decoded, others returned as bytes; errors raise RemoteError."""
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise GenforgeError(f"cannot reach the genforge server at {self.url}: {error}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text
            raise RemoteError(response.status_code, str(detail))
        if response.status_code == 204:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def info(self) -> dict:
        return self.request("GET", "/api/v1/info")

    def estimators(self) -> list[dict]:
        """Every algorithm with its parameter schema."""
        return self.request("GET", "/api/v1/estimators")

    def list_datasets(self) -> list[dict]:
        return self.request("GET", "/api/v1/datasets")

    # ------------------------------------------------------------------------------ frames
    def import_file(self, source: str | Path | Frame, name: str | None = None, **options) -> "RemoteFrame":
        """A built-in name or server-side path (imported by the server), or a local file or Frame (uploaded)."""
        if isinstance(source, Frame) or (isinstance(source, (str, Path)) and Path(source).is_file()):
            return self.upload_frame(source, name=name, **options)
        body = {"source": str(source), "name": name, **options}
        return RemoteFrame(self, self.request("POST", "/api/v1/frames", json=body))

    def upload_frame(self, data: str | Path | Frame, name: str | None = None, **options) -> "RemoteFrame":
        if isinstance(data, Frame):
            buffer = io.BytesIO()
            arrays = {"images": np.asarray(data.images)}
            if data.labels is not None:
                arrays.update(labels=data.labels, class_names=np.asarray(data.class_names, dtype=str))
            np.savez(buffer, **arrays)
            filename, payload = f"{data.name or 'frame'}.npz".replace("/", "_"), buffer.getvalue()
        else:
            filename, payload = Path(data).name, Path(data).read_bytes()
        fields = {k: str(v) for k, v in {"name": name or filename, **options}.items() if v is not None}
        record = self.request("POST", "/api/v1/frames", files={"file": (filename, payload)}, data=fields)
        return RemoteFrame(self, record)

    def frames(self) -> list["RemoteFrame"]:
        return [RemoteFrame(self, r) for r in self.request("GET", "/api/v1/frames")]

    def get_frame(self, frame_id: str) -> "RemoteFrame":
        return RemoteFrame(self, self.request("GET", f"/api/v1/frames/{frame_id}"))

    # ------------------------------------------------------------------------------ jobs and models
    def train(self, algo: str, training_frame: "RemoteFrame | str", validation_frame: "RemoteFrame | str | None" = None,
              wait: bool = True, progress: bool = True, **params) -> "RemoteModel | RemoteJob":
        """Start a training job; with ``wait`` (default) follow it and return the model."""
        body = {"algo": algo, "training_frame": _id(training_frame),
                "validation_frame": _id(validation_frame) if validation_frame is not None else None,
                "parameters": params}
        job = RemoteJob(self, self.request("POST", "/api/v1/jobs", json=body))
        return job.wait(progress=progress) if wait else job

    def jobs(self) -> list["RemoteJob"]:
        return [RemoteJob(self, r) for r in self.request("GET", "/api/v1/jobs")]

    def get_job(self, job_id: str) -> "RemoteJob":
        return RemoteJob(self, self.request("GET", f"/api/v1/jobs/{job_id}"))

    def models(self) -> list["RemoteModel"]:
        return [RemoteModel(self, r) for r in self.request("GET", "/api/v1/models")]

    def get_model(self, model_id: str) -> "RemoteModel":
        return RemoteModel(self, self.request("GET", f"/api/v1/models/{model_id}"))

    def upload_model(self, path: str | Path) -> "RemoteModel":
        """Upload a saved model: its folder (model.json + weights.safetensors), the zip /download gives, or an
        exported generator ``*.onnx`` (``genforge export MODEL --format onnx``), served for generation only."""
        path = Path(path)
        if path.suffix.lower() == ".onnx":
            return RemoteModel(self, self.request("POST", "/api/v1/models",
                                                  files={"file": (path.name, path.read_bytes())}))
        if path.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name in ("model.json", "weights.safetensors"):
                    archive.write(path / name, name)
            payload = buffer.getvalue()
        else:
            payload = path.read_bytes()
        return RemoteModel(self, self.request("POST", "/api/v1/models", files={"file": (f"{path.stem}.zip", payload)}))


class RemoteFrame(PixelTable):  # nrow, ncol, shape as a local Frame
    """A frame stored on the server."""

    def __init__(self, conn: Connection, record: dict) -> None:
        self.conn, self.record, self.id = conn, record, record["id"]

    def __len__(self) -> int:
        return int(self.record["rows"])

    def __repr__(self) -> str:
        r = self.record
        classes = f", {len(r['class_names'])} classes" if r.get("class_names") else ""
        return f"<RemoteFrame {self.id} {r['name']!r}: {r['rows']} images of {r['height']}x{r['width']}x{r['channels']}{classes}>"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.record["height"], self.record["width"], self.record["channels"])

    @property
    def class_names(self) -> list[str] | None:
        return list(self.record["class_names"]) if self.record.get("class_names") else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names or [])

    def class_counts(self) -> dict[str, int]:
        return dict(self.record.get("class_counts") or {})

    def to_png(self, path: str | Path, n: int = 64, force: bool = False) -> Path:
        """Write the server's preview grid of the first ``n`` images (an existing file only with ``force``)."""
        path = claim_path(path, force, "PNG file")
        path.write_bytes(self.conn.request("GET", f"/api/v1/frames/{self.id}/preview.png", params={"n": n}))
        return path

    def delete(self) -> None:
        self.conn.request("DELETE", f"/api/v1/frames/{self.id}")


class RemoteJob:
    """A training or evaluate job; ``wait()`` follows it (with a progress bar) and returns its model,
    ``result()`` an evaluate job's scores."""

    def __init__(self, conn: Connection, record: dict) -> None:
        self.conn, self.record, self.id = conn, record, record["id"]

    def __repr__(self) -> str:
        return f"<RemoteJob {self.id} {self.record['algo']} {self.record['status']} {self.record['progress']:.0%}>"

    @property
    def status(self) -> str:
        return self.record["status"]

    def refresh(self) -> "RemoteJob":
        self.record = self.conn.request("GET", f"/api/v1/jobs/{self.id}")
        return self

    def cancel(self) -> "RemoteJob":
        self.record = self.conn.request("POST", f"/api/v1/jobs/{self.id}/cancel")
        return self

    def resume(self) -> "RemoteJob":
        self.record = self.conn.request("POST", f"/api/v1/jobs/{self.id}/resume")
        return self

    @property
    def kind(self) -> str:
        return self.record.get("kind", "train")

    def follow(self, progress: bool = True, poll: float = 0.5, timeout: float | None = None) -> dict:
        """Poll until the job ends (a progress bar with ``progress``); its final record, or GenforgeError when
        it did not finish ``done`` or is still going after ``timeout`` seconds (it keeps running then)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=100, unit="%", desc=self.id, disable=not progress, leave=True)
        started = time.monotonic()
        try:
            while True:
                self.refresh()
                r = self.record
                bar.n = round(100 * float(r["progress"] or 0), 1)
                bar.set_postfix_str(f"{r['status']} epoch {r['epoch']}/{r['epochs']}"
                                    + (f", {r['images_per_sec']:.0f} img/s" if r.get("images_per_sec") else ""),
                                    refresh=True)
                if r["status"] in FINAL:
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    raise GenforgeError(f"job {self.id} is still {r['status']} after {timeout} s.")
                time.sleep(poll)
        finally:
            bar.close()
        if r["status"] != "done":
            raise GenforgeError(f"job {self.id} {r['status']}: {r['message']}")
        return r

    def wait(self, progress: bool = True, poll: float = 0.5, timeout: float | None = None) -> "RemoteModel":
        """Follow the job to its end and return its model (for an evaluate job: the model it scored)."""
        return self.conn.get_model(self.follow(progress=progress, poll=poll, timeout=timeout)["model_id"])

    def result(self, progress: bool = False, poll: float = 0.5, timeout: float | None = None) -> dict:
        """Follow an evaluate job to its end; its ``{"model_id", "frame", "metrics"}``."""
        return self.follow(progress=progress, poll=poll, timeout=timeout)["result"]


class RemoteModel:
    """A model stored on the server: generate, evaluate, download."""

    def __init__(self, conn: Connection, record: dict) -> None:
        self.conn, self.record, self.id = conn, record, record["id"]
        self.model_id = self.id

    def __repr__(self) -> str:
        return f"<RemoteModel {self.id} ({self.record['algo']})>"

    @property
    def metrics(self) -> dict:
        return dict(self.record.get("metrics") or {})

    def scoring_history(self):
        from genforge.table import Table

        history = self.record.get("history")
        if history is None:
            history = self.conn.request("GET", f"/api/v1/models/{self.id}")["history"]
        return Table(history or [])

    def training_events(self) -> list[dict]:
        """What the divergence guard found and did during training (as ``Estimator.training_events``)."""
        events = self.record.get("training_events")
        if events is None:
            events = self.conn.request("GET", f"/api/v1/models/{self.id}").get("training_events")
        return [dict(event) for event in events or []]

    def predict(self, n: int = 64, seed: int | None = None, labels: Any = None, **options: Any) -> Frame:
        """``n`` generated images as a local Frame (the same seed gives the same images); diffusion models
        take ``steps``, ``sampler`` and ``guidance_scale``."""
        body = {"n": int(n), "seed": seed, "labels": labels, "format": "json", **options}
        data = self.conn.request("POST", f"/api/v1/models/{self.id}/generate", json=body)
        images = np.asarray(data["images"], dtype=np.uint8).reshape(data["shape"])
        return Frame(images, data.get("labels"), data.get("class_names"), name=f"{self.id} samples")

    def infer(self, z: np.ndarray, labels: Any = None, **parameters: Any) -> np.ndarray:
        """Images for latent vectors ``z`` through the Open Inference Protocol route (``parameters``: a
        diffusion model's ``steps``, ``sampler``, ``guidance_scale``)."""
        z = np.asarray(z, dtype=np.float32)
        inputs = [{"name": "z", "datatype": "FP32", "shape": list(z.shape), "data": z.reshape(-1).tolist()}]
        if labels is not None:
            lab = np.asarray(labels, dtype=np.int64).reshape(-1)
            inputs.append({"name": "label", "datatype": "INT64", "shape": [len(lab)], "data": lab.tolist()})
        body = {"inputs": inputs, **({"parameters": parameters} if parameters else {})}
        out = self.conn.request("POST", f"/v2/models/{self.id}/infer", json=body)["outputs"][0]
        return np.asarray(out["data"], dtype=np.uint8).reshape(out["shape"])

    def evaluate(self, frame: RemoteFrame | str) -> RemoteJob:
        """Start scoring the model on ``frame`` on the server (a job); ``job.result()`` waits for the scores."""
        return RemoteJob(self.conn, self.conn.request("POST", f"/api/v1/models/{self.id}/evaluate",
                                                      json={"frame": _id(frame)}))

    def model_performance(self, frame: RemoteFrame | str, timeout: float | None = None, progress: bool = False) -> dict:
        """Score the model on ``frame`` (an evaluate job on the server, waited for up to ``timeout`` seconds,
        None: as long as it takes); the metrics, which the server also stores with the model."""
        metrics = self.evaluate(frame).result(progress=progress, timeout=timeout)["metrics"]
        self.record["metrics"] = {**self.metrics, **metrics}
        return metrics

    def report(self, frame: RemoteFrame | str, path: str | Path = "report.html", samples: int = 2000,
               training_frame: RemoteFrame | str | None = None, seed: int = 0, force: bool = False,
               timeout: float | None = None, progress: bool = False) -> dict:
        """The model report written on the server (a report job, waited for up to ``timeout`` seconds), saved
        to ``path`` (HTML) and the ``.json`` beside it; returns the JSON's content (see docs/report.md)."""
        import json

        from genforge.report.build import report_paths

        html_path, json_path = report_paths(path)
        for target in (html_path, json_path):
            claim_path(target, force, "report file")
        body = {"frame": _id(frame), "samples": int(samples), "seed": int(seed),
                "training_frame": _id(training_frame) if training_frame is not None else None}
        job = RemoteJob(self.conn, self.conn.request("POST", f"/api/v1/models/{self.id}/report", json=body))
        job.result(progress=progress, timeout=timeout)
        page = self.conn.request("GET", f"/api/v1/models/{self.id}/report.html")
        figures = self.conn.request("GET", f"/api/v1/models/{self.id}/report.json")
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_bytes(page)
        json_path.write_text(json.dumps(figures, indent=1) + "\n")
        return figures

    def directions(self, vectors: bool = True) -> dict:
        """The model's latent directions on the server (``main``: pc1..., ``classes``: class:NAME), with their
        unit vectors when ``vectors``."""
        return self.conn.request("GET", f"/api/v1/models/{self.id}/directions",
                                 params={"vectors": "true" if vectors else "false"})

    def download(self, path: str | Path = "models", force: bool = False) -> Path:
        """Save the model folder under ``path`` (``path/<id>/``); load it with ``gf.load_model``. An ONNX model
        is saved as ``path/<id>.onnx`` (run it with ``OnnxGenerator``). An existing one is replaced only
        with ``force=True``."""
        onnx = self.record.get("format") == "onnx"
        target = claim_path(Path(path) / (f"{self.id}.onnx" if onnx else self.id), force, "model")
        data = self.conn.request("GET", f"/api/v1/models/{self.id}/download")
        if onnx:
            Path(path).mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return target
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = Path(info.filename).name
                if name in ("model.json", "weights.safetensors"):
                    (target / name).write_bytes(archive.read(info))
        return target

    def delete(self) -> None:
        self.conn.request("DELETE", f"/api/v1/models/{self.id}")


class _Factory:
    """``conn.GANEstimator(**params)``: an estimator-shaped handle whose ``train`` runs on the server."""

    def __init__(self, conn: Connection, algo: str) -> None:
        self.conn, self.algo = conn, algo

    def __call__(self, **params) -> "RemoteEstimator":
        return RemoteEstimator(self.conn, self.algo, params)


class RemoteEstimator:
    def __init__(self, conn: Connection, algo: str, params: dict) -> None:
        self.conn, self.algo, self.params = conn, algo, dict(params)
        self.model: RemoteModel | None = None
        self.job: RemoteJob | None = None

    def __repr__(self) -> str:
        return f"<Remote {self.algo} estimator {self.params}{' fitted ' + self.model.id if self.model else ''}>"

    def get_params(self) -> dict:
        return dict(self.params)

    def set_params(self, **params) -> "RemoteEstimator":
        self.params.update(params)
        return self

    def train(self, training_frame: RemoteFrame | str, validation_frame: RemoteFrame | str | None = None,
              progress: bool = True) -> "RemoteEstimator":
        body = {"algo": self.algo, "training_frame": _id(training_frame),
                "validation_frame": _id(validation_frame) if validation_frame is not None else None,
                "parameters": self.params}
        self.job = RemoteJob(self.conn, self.conn.request("POST", "/api/v1/jobs", json=body))
        self.model = self.job.wait(progress=progress)
        return self

    def _fitted(self) -> RemoteModel:
        if self.model is None:
            from genforge.errors import NotFittedError

            raise NotFittedError("This remote estimator is not trained yet; call train(...) first.")
        return self.model

    @property
    def model_id(self) -> str | None:
        return self.model.id if self.model else None

    def predict(self, n: int = 64, seed: int | None = None, labels: Any = None, **options: Any) -> Frame:
        return self._fitted().predict(n, seed=seed, labels=labels, **options)

    def model_performance(self, frame: RemoteFrame | str, timeout: float | None = None) -> dict:
        return self._fitted().model_performance(frame, timeout=timeout)

    def scoring_history(self):
        return self._fitted().scoring_history()

    def training_events(self) -> list[dict]:
        return self._fitted().training_events()

    def download(self, path: str | Path = "models", force: bool = False) -> Path:
        return self._fitted().download(path, force=force)


def _id(item: Any) -> str:
    return item if isinstance(item, str) else item.id


def connect(url: str = "http://127.0.0.1:54321", api_key: str | None = None, timeout: float = 120.0,
            client: Any = None) -> Connection:
    """Connect to a genforge server (``genforge start``); ``api_key`` when it was started with one.

    Fails at once when the server cannot be reached or refuses the key."""
    conn = Connection(url, api_key=api_key, timeout=timeout, client=client)
    conn.info()
    return conn
