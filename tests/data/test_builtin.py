"""Datasets known by name: digits, fashion-mnist (when the Debian package is there), $GENFORGE_DATA."""

from __future__ import annotations

import numpy as np
import pytest

from genforge.data import FASHION_MNIST_CLASSES, builtin, import_file, list_datasets
from tests.data.helpers import pixels, write_png

FASHION = builtin.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"


def test_digits():
    frame = import_file("digits")
    assert len(frame) == 1797 and frame.image_shape == (8, 8, 1)
    assert frame.images.max() == 255 and frame.class_names == [str(i) for i in range(10)]
    assert sorted(set(frame.labels.tolist())) == list(range(10))


@pytest.mark.skipif(not FASHION.is_file(), reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_test_split():
    frame = import_file("fashion-mnist:test")
    assert len(frame) == 10000 and frame.image_shape == (28, 28, 1)
    assert frame.class_names == FASHION_MNIST_CLASSES
    assert set(frame.class_counts().values()) == {1000}
    assert frame.name == "fashion-mnist:test"
    assert len(import_file("Fashion_MNIST", limit=5)) == 5  # the train split, by a looser spelling


def test_genforge_data_folder(tmp_path, monkeypatch):
    data = tmp_path / "datasets"
    images = pixels(2, 4, 4)
    for i, image in enumerate(images):
        write_png(data / "shapes" / f"{i}.png", image)
    np.save(data / "noise.npy", pixels(3))
    monkeypatch.setenv("GENFORGE_DATA", str(data))
    frame = import_file("shapes")
    np.testing.assert_array_equal(frame.images, images)
    assert len(import_file("noise")) == 3 and len(import_file("noise.npy")) == 3
    listed = {d["name"]: d for d in list_datasets()}
    assert {"digits", "fashion-mnist", "fashion-mnist:test", "shapes", "noise"} <= set(listed)
    assert listed["shapes"]["available"] is True and listed["shapes"]["rows"] is None
    assert listed["digits"]["rows"] == 1797
    with pytest.raises(Exception, match="holds: noise, shapes"):
        import_file("../shapes")  # names only: nothing outside the data folder
