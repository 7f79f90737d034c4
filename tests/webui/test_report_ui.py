"""The model report in headless Chromium: a report file written by ``model.report`` opens offline with every
section, its images and plots, and no request outside the file; the web UI's Report tab writes a report as a
job and shows it; the latent walk follows a latent direction."""

from __future__ import annotations

import io
import zipfile

import httpx
import numpy as np

import genforge as gf

SECTIONS = ("samples", "copies", "bias", "health", "directions")


def _digits_gan(tmp_path):
    digits = gf.import_file("digits")
    train, test = digits.split_frame([0.7], seed=0)
    gan = gf.GANEstimator(epochs=3, batch_size=32, width=8, latent_dim=8, seed=1, verbose=False,
                          run_dir=str(tmp_path / "run")).train(training_frame=train)
    return gan, train, test


def _npz(frame) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))
    return buffer.getvalue()


def _check_sections(target) -> None:
    """Every section is there with at least one image or plot, every image decoded."""
    for name in SECTIONS:
        section = target.locator(f"section#{name}")
        assert section.count() == 1, name
        assert section.locator(".skipped").count() == 0, section.inner_text()
        assert section.locator("img, svg").count() >= 1, name
    broken = target.locator("img").evaluate_all("imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).length")
    assert broken == 0
    assert target.locator("section#health table.events, section#health p.ok").count() == 1


def test_a_report_file_opens_offline_with_every_section(page, tmp_path):
    gan, train, test = _digits_gan(tmp_path)
    result = gan.report(test, path=tmp_path / "report.html", samples=300, training_frame=train)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("file://", "data:")) else None)
    page.goto((tmp_path / "report.html").as_uri())
    _check_sections(page)
    assert page.locator("section#samples svg").count() == 3  # precision/recall, FID, the trade-off curve
    assert page.locator("section#copies figure.pair").count() == len(result["copies"]["pairs"])
    assert outside == []
    page.shot("report-file")


def test_report_tab_writes_and_shows_the_report_and_the_walk_follows_a_direction(server, page, tmp_path):
    gan, train, test = _digits_gan(tmp_path)
    folder = gf.save_model(gan, tmp_path / "models")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("model.json", "weights.safetensors"):
            archive.write(folder / name, name)
    api = httpx.Client(base_url=server.url, timeout=30)
    model = api.post("/api/v1/models", files={"file": ("m.zip", buffer.getvalue())}).json()
    held_out = api.post("/api/v1/frames", files={"file": ("digits-test.npz", _npz(test))}).json()["id"]
    training = api.post("/api/v1/frames", files={"file": ("digits-train.npz", _npz(train))}).json()["id"]

    page.goto(f"{server.url}/#/models/{model['id']}")
    page.wait_for_selector("#tab-report")
    assert page.locator("#report-panel").is_hidden()
    page.click("#tab-report")
    page.wait_for_selector("#report-none")  # no report yet
    page.select_option("#report-frame-select", held_out)
    page.select_option("#report-training", training)
    page.fill("#report-samples", "10")  # refused by the server, with its reason
    page.click("#report-make")
    page.wait_for_selector("#report-error:has-text('samples')")
    page.fill("#report-samples", "300")
    page.click("#report-make")
    page.wait_for_selector("#report-frame", timeout=180_000)
    frame = page.frame_locator("#report-frame")
    frame.locator("section#directions").wait_for()
    _check_sections(frame)
    assert page.locator("#report-status").get_attribute("data-status") == "done"
    page.shot("report-tab")

    page.click("#tab-overview")
    page.fill("#gen-truncation", "0.5")  # the Samples section's knob, on the generate panel
    page.click("#generate")
    page.wait_for_selector("#gen-image:not([hidden])")
    assert page.locator("#gen-error").inner_text() == ""
    page.select_option("#walk-follow", "load")
    page.wait_for_selector("#walk-follow option[value=pc1]", state="attached")
    page.select_option("#walk-follow", "pc1")
    page.fill("#walk-steps", "7")
    page.click("#walk")
    page.wait_for_selector("#walk-image:not([hidden])")
    assert page.locator("#walk-note").inner_text().startswith("directions from the model's report")
    assert page.locator("#walk-image").evaluate("i => i.naturalWidth") == 7 * 10 + 2
    classes = page.locator("#walk-follow option[value^='class:']").count()
    assert classes >= 5
    page.select_option("#walk-follow", "class:3")
    page.click("#walk")
    page.wait_for_function("() => document.querySelector('#walk-image').naturalWidth > 0")
    assert page.locator("#walk-error").inner_text() == ""
    page.shot("walk-direction")
