"""The divergence guard in the web UI (real Chromium): its parameters are on the train form (from the
schema, on by default for GANs), a GAN trained from the form with an absurd learning rate is rolled back,
the job's curves show the rollbacks and the model page lists the guard's events."""

from __future__ import annotations

import pytest

from .conftest import Server, npz_bytes

ABSURD = {"epochs": "8", "batch_size": "8", "width": "8", "latent_dim": "8", "seed": "1", "g_lr": "1", "d_lr": "1",
          "guard_lr_factor": "0.1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of its own: the session's is shared by tests that count its frames and models."""
    srv = Server(tmp_path_factory.mktemp("webui-guard") / "data")
    yield srv
    srv.stop()


def test_a_diverging_gan_trained_from_the_form_shows_its_guard_events(server, page, tmp_path):
    page.goto(server.url + "/")
    page.wait_for_selector("#upload-form")
    data = tmp_path / "blobs.npz"
    data.write_bytes(npz_bytes(n=64, size=8))
    page.set_input_files("#upload-file", str(data))
    page.click("#upload-submit")
    page.wait_for_selector("#frame-detail h2:text('blobs.npz')")

    page.click("#train-on-frame")
    page.wait_for_selector("#param-form #param-divergence_guard")
    assert page.locator("#param-divergence_guard").get_attribute("type") == "checkbox"
    assert page.is_checked("#param-divergence_guard")  # on by default for GANs
    assert page.locator("#param-guard_lr_factor").input_value() == "0.5"
    page.fill("#param-guard_lr_factor", "1.5")  # out of range: the server's 422 shows at the field
    page.click("#start-training")
    page.wait_for_selector("#field-guard_lr_factor.invalid")
    assert "guard_lr_factor" in page.locator("#error-guard_lr_factor").inner_text()
    for name, value in ABSURD.items():
        page.fill(f"#param-{name}", value)
    page.click("#start-training")

    page.wait_for_url("**/#/jobs/job-*")
    page.wait_for_selector("#job-status[data-status=done]", timeout=120_000)
    assert page.locator("#job-charts svg path[data-series=guard_rollbacks]").count() == 1
    assert page.locator("#job-charts [data-chart^='Divergence guard']").count() == 1
    page.shot("job")

    page.click("#job-model")
    page.wait_for_selector("#model-guard")
    rows = page.locator("#model-guard-events tbody tr")
    assert rows.count() >= 1
    assert rows.first.get_attribute("data-kind") == "collapse" and rows.first.get_attribute("data-action") == "rollback"
    assert "spread" in rows.first.inner_text()
    page.shot("model")
