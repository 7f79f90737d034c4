"""The Leaderboard page in headless Chromium against a real ``genforge start``: the form refuses a bad budget
with the server's message and starts a search; the search's page shows rows while the search still runs,
sorts by a column, shows a sample thumbnail per model, and its Serve button makes a model the one served."""

from __future__ import annotations

import httpx
import pytest

from .conftest import npz_bytes

pytestmark = pytest.mark.slow


def _column(page, key: str) -> list[float]:
    return [float(t) for t in page.locator(f"#leaderboard-table tbody td[data-key={key}]").all_inner_texts() if t != "–"]


def test_leaderboard_page_live_rows_sort_thumbnails_and_serve(server, page):
    api = httpx.Client(base_url=server.url, timeout=30)
    frame = api.post("/api/v1/frames", files={"file": ("blobs.npz", npz_bytes(n=64))}).json()["id"]
    page.goto(f"{server.url}/#/leaderboard")
    page.wait_for_selector("#automl-form")
    page.select_option("#automl-frame", frame)
    page.fill("#automl-budget", "0")
    page.click("#automl-start")
    page.wait_for_selector("#automl-error:has-text('max_runtime_secs')")
    assert api.get("/api/v1/automl").json() == []

    page.fill("#automl-budget", "600")
    page.fill("#automl-max-models", "3")
    page.fill("#automl-project", "blobs-ui")
    page.click("details.advanced > summary")
    page.fill("#automl-evaluator", "digits")
    page.fill("#automl-min-epochs", "3")
    page.click("#automl-start")
    page.wait_for_selector("#leaderboard-table", state="attached")
    search_id = page.url.rsplit("/", 1)[-1]
    assert api.get(f"/api/v1/automl/{search_id}").json()["project_name"] == "blobs-ui"
    # A row shows while the search still runs (the page follows the search's event stream).
    page.wait_for_function("""() => document.querySelectorAll('#leaderboard-table tbody tr').length >= 1 &&
        document.querySelector('#search-status').dataset.status === 'running'""", timeout=180_000)
    page.shot("leaderboard-live")
    page.wait_for_selector("#search-status[data-status=done]", timeout=300_000)
    rows = page.locator("#leaderboard-table tbody tr")
    board = api.get(f"/api/v1/automl/{search_id}/leaderboard").json()
    assert rows.count() == len(board["rows"]) == 3

    fids = _column(page, "fid")  # best (lowest) FID first, as the search ranks
    assert fids == sorted(fids) and len(fids) >= 1
    page.click("#leaderboard-table th[data-key=fid]")
    assert _column(page, "fid") == sorted(fids, reverse=True)
    page.click("#leaderboard-table th[data-key=images_per_sec]")
    speeds = _column(page, "images_per_sec")
    assert speeds == sorted(speeds, reverse=True) and page.locator("th[data-key=images_per_sec].sorted-desc").count() == 1
    page.click("#leaderboard-table th[data-key=algo]")
    algos = page.locator("#leaderboard-table tbody tr").evaluate_all("rows => rows.map(r => r.children[2].innerText)")
    assert algos == sorted(algos)

    with_model = [r for r in board["rows"] if r["model_id"]]
    page.wait_for_function(f"() => document.querySelectorAll('img.thumb[data-loaded=true]').length === {len(with_model)}")
    assert page.locator("img.thumb").first.evaluate("img => img.naturalWidth") > 0

    served = api.get(f"/api/v1/automl/{search_id}").json()["served"]
    candidates = [r for r in with_model if r["status"] != "memorizes" and r["model_id"] != (served or {}).get("model_id")]
    assert candidates, board["rows"]
    choice = candidates[-1]["model_id"]
    page.locator(f"#leaderboard-table tr[data-model='{choice}'] button.serve").click()
    page.wait_for_selector(f"#served-model:has-text('{choice}')")
    assert page.locator(f"#leaderboard-table tr[data-model='{choice}'] .badge:has-text('served')").count() == 1
    assert {s["name"]: s["model_id"] for s in api.get("/api/v1/served").json()}["blobs-ui"] == choice
    assert api.get("/v2/models/blobs-ui/ready").json()["ready"] is True
    page.shot("leaderboard-served")

    page.click("#nav a[data-page=leaderboard]")  # the list shows the search and what it serves
    row = page.locator(f"#searches-table tr[data-id='{search_id}']")
    row.wait_for()
    assert choice in row.inner_text() and "blobs-ui" in row.inner_text()
    page.click("#nav a[data-page=jobs]")
    page.locator(f"#jobs-table tr[data-id='{search_id}']").click()  # a search job opens its leaderboard
    page.wait_for_selector("#leaderboard-table")
