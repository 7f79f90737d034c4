"""Coming from H2O (issue 16 item 7): the README's snippet runs verbatim, and a Frame offers what it uses
(``Frame(source=...)``, ``head()``, ``np.asarray``, ``reshape``) and what H2O users look for next (item 8:
``shape``, ``nrow``, ``ncol``, ``describe()``, ``as_data_frame()``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import genforge as gf

from tests.conftest import make_frame

README = Path(__file__).resolve().parents[1] / "README.md"


def _h2o_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Coming from H2O"):]
    section = section[: section.index("\n## ", 4)]
    return re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)


def _write_dataset_csv(path: Path, n: int = 64) -> None:
    """An MNIST-style CSV: label, then 784 pixel columns."""
    frame = make_frame(n=n, size=28)
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = np.column_stack([frame.labels, frame.images.reshape(n, -1)])
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")


def test_the_readme_snippet_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    plt.close("all")  # the docs test may have drawn the README's figure already
    monkeypatch.chdir(tmp_path)
    _write_dataset_csv(tmp_path / "dataset.csv")
    (snippet,) = [b for b in _h2o_blocks() if "gf.Frame(source=" in b]
    assert 'gf.Frame(source="dataset.csv")' in snippet and "gan.predict(np.random.randn(100, 1))" in snippet
    namespace: dict = {"__name__": "__snippet__"}
    exec(compile(snippet, "README.md (Coming from H2O)", "exec"), namespace)
    assert namespace["data"].shape == (64, 784)
    assert isinstance(namespace["gan"], gf.GANEstimator) and namespace["gan"].loss == "mse"
    assert namespace["new_image"].nrow == 1 and namespace["new_image"].image_shape == (28, 28, 1)
    image = plt.gca().get_images()[-1].get_array()
    np.testing.assert_array_equal(np.asarray(image), namespace["new_image"].reshape(28, 28))
    plt.close("all")


def test_the_readme_block_that_writes_dataset_csv_gives_what_the_snippet_reads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (writer,) = [b for b in _h2o_blocks() if "np.savetxt" in b]
    exec(compile(writer, "README.md (dataset.csv)", "exec"), {"__name__": "__snippet__"})
    frame = gf.Frame(source="dataset.csv")
    assert frame.shape == (256, 784) and frame.image_shape == (28, 28, 1) and frame.num_classes == 10


def test_frame_source_takes_the_import_file_options(tmp_path):
    frame = gf.Frame(source="digits", limit=5, image_size=16)
    assert (frame.nrow, frame.image_shape) == (5, (16, 16, 1))
    with pytest.raises(gf.DataError, match="either images"):
        gf.Frame(np.zeros((1, 2, 2, 1), np.uint8), source="digits")
    with pytest.raises(gf.DataError, match="without source"):
        gf.Frame(limit=3)
    with pytest.raises(gf.DataError, match="needs images"):
        gf.Frame()


def test_head_shows_the_first_rows_readably():
    frame = make_frame(n=12, size=8)
    assert "\n" not in repr(frame)  # a larger frame: its summary line only
    text = repr(frame.head(3))
    lines = text.splitlines()
    assert lines[0] == "<Frame 'blobs': 3 images of 8x8x1, 4 classes>"
    assert lines[1].split() == ["row", "label", "source", "pixels", "mean", "min", "max"]
    assert len(lines) == 5 and "class1" in lines[3]
    first = frame.images[0].reshape(-1)
    assert " ".join(str(v) for v in first[:6]) in lines[2]
    assert frame.head(2)._repr_html_().startswith("<div><code>&lt;Frame")


def test_a_frame_is_an_array_and_a_table_of_pixel_columns():
    frame = make_frame(n=5, size=8, channels=1).to_channels(3)
    assert (frame.nrow, frame.ncol, frame.shape) == (5, 8 * 8 * 3, (5, 192))
    array = np.asarray(frame)
    assert array.shape == (5, 8, 8, 3) and array.dtype == np.uint8
    assert np.asarray(frame, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(frame.reshape(frame.shape), array.reshape(5, -1))
    np.testing.assert_array_equal(frame[0].reshape(8, 8, 3), array[0])


def test_describe_gives_per_channel_statistics_and_class_counts():
    frame = make_frame(n=8, size=8).to_channels(3)
    summary = frame.describe()
    values = frame.images.reshape(-1, 3).astype(float)
    assert [c["channel"] for c in summary["channels"]] == ["red", "green", "blue"]
    for i, channel in enumerate(summary["channels"]):
        assert channel["mean"] == pytest.approx(values[:, i].mean(), abs=1e-3)
        assert channel["std"] == pytest.approx(values[:, i].std(), abs=1e-3)
        assert (channel["min"], channel["max"]) == (values[:, i].min(), values[:, i].max())
    assert summary["class_counts"] == {"class0": 2, "class1": 2, "class2": 2, "class3": 2}
    assert (summary["nrow"], summary["ncol"]) == (8, 192)
    assert "8 images (rows)" in repr(summary) and "class0" in repr(summary)
    unlabelled = gf.Frame(frame.images).describe()
    assert unlabelled["class_counts"] == {} and "no labels" in repr(unlabelled)


def test_as_data_frame_is_one_row_per_image():
    pd = pytest.importorskip("pandas")
    frame = make_frame(n=4, size=8)
    table = frame.as_data_frame()
    assert isinstance(table, pd.DataFrame) and table.shape == (4, 1 + 64)
    assert list(table.columns[:3]) == ["label", "pixel0", "pixel1"]
    assert table["label"].tolist() == ["class0", "class1", "class2", "class3"]
    np.testing.assert_array_equal(table.iloc[:, 1:].to_numpy(), frame.images.reshape(4, -1))
