"""The web UI in headless Chromium against a real ``genforge start``: upload a tiny dataset, see its preview,
train a tiny GAN from the form, watch the job reach done with its sample grid, open the model, generate, walk
the latent space, evaluate, download; a broken upload shows the server's error; the API-key prompt."""

from __future__ import annotations

import zipfile

import httpx

from .conftest import npz_bytes

TINY = {"epochs": "2", "batch_size": "8", "width": "8", "latent_dim": "8", "seed": "1"}


def _loaded(page, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && !i.hidden && i.complete && i.naturalWidth > 0 }",
        arg=selector)


def test_upload_train_watch_generate_and_download(server, page, tmp_path):
    page.goto(server.url + "/")
    page.wait_for_selector("#upload-form")
    assert page.locator("#nav a.active").inner_text() == "Frames"

    # Frames: upload a tiny labelled .npz; its preview grid and class counts show.
    data = tmp_path / "tiny.npz"
    data.write_bytes(npz_bytes(n=64, size=8))
    page.set_input_files("#upload-file", str(data))
    page.click("#upload-submit")
    page.wait_for_selector("#frame-detail h2:text('tiny.npz')")
    _loaded(page, "#frame-preview")
    assert page.locator("#frame-rows").inner_text() == "64"
    assert page.locator("#class-counts").inner_text().count("16") == 4  # 4 classes of 16
    page.shot("frames")

    # Train: the form comes from the schema; a 422 is shown next to the field it names.
    page.click("#train-on-frame")
    page.wait_for_selector("#param-form #param-epochs")
    assert page.locator("#param-loss").evaluate("el => el.tagName") == "SELECT"
    assert page.locator("#param-conditional").get_attribute("type") == "checkbox"
    assert page.locator("#param-epochs").input_value() == "10"  # the default
    page.fill("#param-epochs", "0")
    page.click("#start-training")
    page.wait_for_selector("#field-epochs.invalid")
    assert "epochs" in page.locator("#error-epochs").inner_text()
    page.shot("train-error")
    for name, value in TINY.items():
        page.fill(f"#param-{name}", value)
    page.click("#start-training")

    # Jobs: live progress to done, the curves and the latest sample grid.
    page.wait_for_url("**/#/jobs/job-*")
    page.wait_for_selector("#job-status[data-status=done]", timeout=120_000)
    _loaded(page, "#job-samples")
    assert page.locator("#job-samples").get_attribute("data-epoch") == "2"
    assert page.locator("#job-charts svg path[data-series=g_loss]").count() == 1
    assert page.locator("#job-charts svg path[data-series=d_loss]").count() == 1
    assert page.locator("#job-progress [role=progressbar]").get_attribute("aria-valuenow") == "100"
    page.shot("job-done")

    # Model: generate, walk, evaluate, download.
    page.click("#job-model")
    page.wait_for_selector("#generator-panel")
    model_id = page.locator("#model-id").inner_text()
    page.fill("#gen-count", "9")
    page.fill("#gen-seed", "3")
    page.click("#generate")
    _loaded(page, "#gen-image")
    page.click("#walk")
    _loaded(page, "#walk-image")
    page.click("#evaluate")
    page.wait_for_selector("#model-metrics dd[data-key=d_real]")
    assert page.locator("#model-download").is_visible()
    page.shot("model")
    with page.expect_download() as info:
        page.click("#model-download")
    saved = tmp_path / "model.zip"
    info.value.save_as(saved)
    assert info.value.suggested_filename == f"{model_id}.zip"
    assert {n.split("/")[-1] for n in zipfile.ZipFile(saved).namelist()} == {"model.json", "weights.safetensors"}

    # The models table compares models by their metrics and sorts by a column.
    page.click("#nav a[data-page=models]")
    page.wait_for_selector(f"#models-table tr[data-id='{model_id}']")
    page.click("#models-table th[data-key=d_real]")
    assert "sorted-asc" in page.locator("#models-table th[data-key=d_real]").get_attribute("class")
    page.shot("models")
    page.click("#nav a[data-page=jobs]")
    page.wait_for_selector("#jobs-table .badge[data-status=done]")
    page.shot("jobs")


def test_cancel_and_resume_a_running_job(server, page):
    api = httpx.Client(base_url=server.url, timeout=30)
    frame = api.post("/api/v1/frames", files={"file": ("c.npz", npz_bytes(n=32))}).json()["id"]
    job = api.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                         "parameters": {**{k: int(v) for k, v in TINY.items()}, "epochs": 2000}}).json()
    try:
        page.goto(f"{server.url}/#/jobs/{job['id']}")
        page.wait_for_selector("#job-status[data-status=running]", timeout=60_000)
        page.wait_for_function("() => parseFloat(document.querySelector('#job-speed').textContent) > 0")
        page.shot("running")
        page.click("#job-cancel")
        page.wait_for_selector("#job-status[data-status=cancelled]")
        page.click("#job-resume")
        page.wait_for_selector("#job-status[data-status=queued], #job-status[data-status=running]")
        assert page.locator("#job-cancel").is_visible()
        page.shot("resumed")
    finally:
        api.post(f"/api/v1/jobs/{job['id']}/cancel")


def test_broken_upload_shows_the_servers_error(server, page, tmp_path):
    page.goto(server.url + "/#/frames")
    page.wait_for_selector("#upload-form")
    broken = tmp_path / "broken.csv"
    broken.write_text("label,pixel0,pixel1\n1,0,3\n2,oops\n")
    page.set_input_files("#upload-file", str(broken))
    page.click("#upload-submit")
    error = page.locator("#upload-error")
    error.wait_for(state="visible")
    assert "broken.csv" in error.inner_text() or "line" in error.inner_text(), error.inner_text()
    page.shot("broken-upload")


def test_api_key_is_asked_once_and_kept_for_the_session(keyed_server, page):
    assert httpx.get(keyed_server.url + "/api/v1/frames").status_code == 401  # the API stays guarded
    page.goto(keyed_server.url + "/")
    dialog = page.locator("#key-dialog")
    dialog.wait_for(state="visible")
    page.shot("key-prompt")
    page.fill("#key-input", "wrong")
    page.click("#key-submit")
    page.wait_for_selector("#key-error:text('invalid API key')")
    page.shot("key-wrong")
    page.fill("#key-input", "s3cret-key")
    page.click("#key-submit")
    page.wait_for_selector("#upload-form")
    assert not dialog.is_visible()
    assert "key set" in page.locator("#server-info").inner_text()
    page.click("#nav a[data-page=train]")
    page.wait_for_selector("#algo-gan")
    page.reload()  # the key is kept for the session: no second prompt
    page.wait_for_selector("#algo-gan")
    assert not dialog.is_visible()
    page.shot("key-kept")
