"""The documentation's Python examples run: each page's ```python blocks, top to bottom, in one namespace.

A block whose first line is ``# not run: <why>`` is skipped (it needs a running server or torchrun).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith("# not run")]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    namespace: dict = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, code in enumerate(blocks(page), 1):
            try:
                exec(compile(code, f"{page.name}, block {number}", "exec"), namespace)
            except Exception as error:  # name the block, so the page is easy to fix
                raise AssertionError(f"{page.name} block {number} failed: {error!r}\n{code}") from error
