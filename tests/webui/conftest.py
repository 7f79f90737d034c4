"""Fixtures of the browser tests: a real ``genforge start`` in a subprocess, Debian's Chromium driven by
Playwright (the Python package; no browser is downloaded), and a screenshot of every page a test visits.

Screenshots go to ``tests/_artifacts/webui/`` (git-ignored), or to ``$GENFORGE_WEBUI_SCREENSHOTS``.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import free_port, make_frame

CHROMIUM = os.environ.get("GENFORGE_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package (pip install playwright)")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-dev-shm-usage"]
SHOTS = Path(os.environ.get("GENFORGE_WEBUI_SCREENSHOTS", Path(__file__).parents[1] / "_artifacts" / "webui"))


def npz_bytes(n: int = 64, size: int = 8) -> bytes:
    frame = make_frame(n=n, size=size)
    buffer = io.BytesIO()
    np.savez(buffer, images=frame.images, labels=frame.labels, class_names=np.asarray(frame.class_names))
    return buffer.getvalue()



class Server:
    """``genforge start`` on a free port with its own data dir; ``url`` is its base URL."""

    def __init__(self, data: Path, api_key: str | None = None) -> None:
        self.port, self.log = free_port(), data.parent / f"{data.name}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "genforge", "start", "--port", str(self.port), "--data-dir", str(data),
                   "--max-jobs", "1", "--preload", "none", "--log-level", "warning"]
        if api_key:
            command += ["--api-key", api_key]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(command, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v2/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"genforge start exited: {self.log.read_text()}")
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"genforge start did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("webui") / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("webui-key") / "data", api_key="s3cret-key")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser tab (its own session storage) that fails the test on any uncaught page error;
    ``page.shot(name)`` saves a full-page screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    SHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"\W+", "_", request.node.name)
    counter = iter(range(1, 100))
    tab.shot = lambda name: tab.screenshot(path=str(SHOTS / f"{test}-{next(counter):02d}-{name}.png"), full_page=True)
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
