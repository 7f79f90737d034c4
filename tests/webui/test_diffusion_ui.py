"""The web UI offers the diffusion estimator: its card and parameter form come from the schema, a tiny model
trains from the form, its job shows the sample grid and the model page generates from it (real Chromium)."""

from __future__ import annotations

import pytest

from .conftest import Server, npz_bytes

pytest.importorskip("diffusers")

TINY = {"epochs": "1", "batch_size": "8", "width": "8", "channel_mults": "[1, 2]", "seed": "1"}


def _loaded(page, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && !i.hidden && i.complete && i.naturalWidth > 0 }",
        arg=selector)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own: the session's is shared by tests that count its frames and models."""
    srv = Server(tmp_path_factory.mktemp("webui-diffusion") / "data")
    yield srv
    srv.stop()


def test_train_a_diffusion_model_from_the_form_and_generate(server, page, tmp_path):
    page.goto(server.url + "/")
    page.wait_for_selector("#upload-form")
    data = tmp_path / "tiny.npz"
    data.write_bytes(npz_bytes(n=32, size=8))
    page.set_input_files("#upload-file", str(data))
    page.click("#upload-submit")
    page.wait_for_selector("#frame-detail h2:text('tiny.npz')")

    page.click("#train-on-frame")
    page.wait_for_selector("#algo-diffusion")
    page.click("#algo-diffusion")
    page.wait_for_selector("#param-form #param-prediction_type")
    assert page.locator("#param-prediction_type").evaluate("el => el.tagName") == "SELECT"
    assert page.locator("#param-sampler").count() == 0  # a predict-time option, not a training parameter
    assert page.locator("#param-channel_mults").input_value() == "[1,2]"
    assert page.locator("#param-conditional").get_attribute("type") == "checkbox"
    for name, value in TINY.items():
        page.fill(f"#param-{name}", value)
    page.shot("train-diffusion")
    page.click("#start-training")

    page.wait_for_url("**/#/jobs/job-*")
    page.wait_for_selector("#job-status[data-status=done]", timeout=120_000)
    _loaded(page, "#job-samples")
    assert page.locator("#job-charts svg path[data-series=loss]").count() == 1

    page.click("#job-model")
    page.wait_for_selector("#generator-panel")
    page.fill("#gen-count", "4")
    page.fill("#gen-seed", "3")
    page.click("#generate")
    _loaded(page, "#gen-image")
    # The sampling fields reach the server: a valid choice generates, a refused one shows the server's error.
    page.fill("#gen-steps", "2")
    page.select_option("#gen-sampler", "ddim")
    before = page.get_attribute("#gen-image", "src")
    page.click("#generate")
    page.wait_for_function("prev => document.querySelector('#gen-image').src !== prev", arg=before)
    _loaded(page, "#gen-image")
    assert page.locator("#gen-error").inner_text() == ""
    page.fill("#gen-steps", "0")
    page.click("#generate")
    page.wait_for_selector("#gen-error:has-text('steps')")
    page.shot("model-diffusion")
