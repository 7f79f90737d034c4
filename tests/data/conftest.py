"""Fixtures for the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.data.helpers import pixels, write_png


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's $GENFORGE_DATA or writes to their cache."""
    monkeypatch.delenv("GENFORGE_DATA", raising=False)
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def folder_of_classes(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """``root/{cat,dog}/NN.png``: 3 cats then 2 dogs, with their pixels and labels in sorted order."""
    images = pixels(5, 6, 5)
    labels = np.array([0, 0, 0, 1, 1])
    root = tmp_path / "pets"
    for i, (image, label) in enumerate(zip(images, labels)):
        write_png(root / ("cat", "dog")[label] / f"{i:02d}.png", image)
    return root, images, labels
