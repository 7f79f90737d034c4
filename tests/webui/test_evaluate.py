"""The Evaluate button in headless Chromium against a real ``genforge start``: it starts an evaluate job, shows
the job's state while it waits in the queue behind a training job, then the scores; the job's page and the
jobs list show it as an evaluation; a frame of the wrong size is refused at once with the server's message."""

from __future__ import annotations

import io
import zipfile

import httpx

import genforge as gf
from tests.conftest import make_frame

from .conftest import npz_bytes

TINY = {"epochs": 2, "batch_size": 8, "width": 8, "latent_dim": 8, "seed": 1}


def _model_zip(tmp_path) -> bytes:
    gan = gf.GANEstimator(**TINY, verbose=False, run_dir=str(tmp_path / "run")).train(training_frame=make_frame(n=32, size=8))
    folder = gf.save_model(gan, tmp_path / "models")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("model.json", "weights.safetensors"):
            archive.write(folder / name, name)
    return buffer.getvalue()


def test_evaluate_button_runs_a_job_and_shows_the_scores(server, page, tmp_path):
    api = httpx.Client(base_url=server.url, timeout=30)
    model = api.post("/api/v1/models", files={"file": ("m.zip", _model_zip(tmp_path))}).json()
    frame = api.post("/api/v1/frames", files={"file": ("eval.npz", npz_bytes(n=32))}).json()["id"]
    big = api.post("/api/v1/frames", files={"file": ("big.npz", npz_bytes(n=16, size=16))}).json()["id"]
    # The server runs one job at a time (--max-jobs 1): a long training job makes the evaluation wait.
    blocker = api.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                             "parameters": {**TINY, "epochs": 2000}}).json()["id"]
    try:
        page.goto(f"{server.url}/#/models/{model['id']}")
        page.wait_for_selector("#evaluate")
        assert page.locator("#model-metrics dd[data-key=d_real]").count() == 0

        page.select_option("#eval-frame", big)  # 16x16 images for an 8x8 model: refused before any job
        page.click("#evaluate")
        page.wait_for_selector("#eval-error:has-text('frame')")
        assert page.locator("#evaluate").is_enabled()

        page.select_option("#eval-frame", frame)
        page.click("#evaluate")
        page.wait_for_selector("#eval-status[data-status=queued]")
        assert page.locator("#eval-error").inner_text() == ""
        assert page.locator("#evaluate").is_disabled() and page.locator("#model-metrics dd[data-key=d_real]").count() == 0
        page.shot("evaluate-queued")
        api.post(f"/api/v1/jobs/{blocker}/cancel")  # frees the slot: the evaluation runs

        page.wait_for_selector("#model-metrics dd[data-key=d_real]", timeout=90_000)
        assert page.locator("#eval-status").get_attribute("data-status") == "done"
        assert page.locator("#evaluate").is_enabled()
        stored = api.get(f"/api/v1/models/{model['id']}").json()["metrics"]
        assert "d_real" in stored
        page.shot("evaluate-done")

        job_id = page.locator("#eval-job").inner_text()
        page.click("#eval-job")
        page.wait_for_selector("#job-status[data-status=done]")
        page.wait_for_selector("#job-scores dd[data-key=d_real]")
        assert page.locator("#job-samples").count() == 0  # an evaluation has no training curves or samples
        page.shot("evaluate-job")
        page.click("#nav a[data-page=jobs]")
        row = page.locator(f"#jobs-table tr[data-id='{job_id}']")
        row.wait_for()
        assert "evaluate" in row.inner_text()
    finally:
        api.post(f"/api/v1/jobs/{blocker}/cancel")
