"""The Frame: construction from numpy, selection, splitting, transforms, PNG grids, counts, concatenation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genforge.errors import DataError
from genforge.frame import Frame


def _frame(n: int = 10, h: int = 4, w: int = 4, c: int = 1, classes: int = 3) -> Frame:
    images = np.arange(n * h * w * c, dtype=np.int64).reshape(n, h, w, c) % 256
    return Frame(images.astype(np.uint8), np.arange(n) % classes, [f"c{k}" for k in range(classes)], name="t")


# ------------------------------------------------------------------------------------- from_numpy
@pytest.mark.parametrize(
    "shape, expected",
    [
        ((5, 4, 6), (5, 4, 6, 1)),
        ((5, 4, 6, 1), (5, 4, 6, 1)),
        ((5, 4, 6, 3), (5, 4, 6, 3)),
        ((5, 16), (5, 4, 4, 1)),
        ((5, 3, 8, 8), (5, 8, 8, 3)),  # channels first, as PyTorch keeps it
        ((5, 1, 8, 8), (5, 8, 8, 1)),
    ],
)
def test_from_numpy_shapes(shape, expected):
    array = np.random.default_rng(0).integers(0, 256, size=shape).astype(np.uint8)
    frame = Frame.from_numpy(array)
    assert frame.images.shape == expected and frame.images.dtype == np.uint8
    if len(shape) == 4 and shape[1] in (1, 3) and shape[-1] not in (1, 3):
        np.testing.assert_array_equal(frame.images, array.transpose(0, 2, 3, 1))
    else:
        np.testing.assert_array_equal(frame.images.reshape(array.shape), array)


def test_from_numpy_flat_with_image_size_and_floats():
    frame = Frame.from_numpy(np.zeros((2, 12), np.uint8), image_size=(3, 4))
    assert frame.image_shape == (3, 4, 1)
    unit = Frame.from_numpy(np.array([[[0.0, 0.5], [1.0, 0.25]]]))
    assert unit.images.ravel().tolist() == [0, 128, 255, 64]
    tanh = Frame.from_numpy(np.array([[[-1.0, 0.0], [1.0, 1.0]]]))
    assert tanh.images.ravel().tolist() == [0, 128, 255, 255]
    levels = Frame.from_numpy(np.array([[[0.0, 12.0], [255.0, 3.0]]]))
    assert levels.images.ravel().tolist() == [0, 12, 255, 3]


@pytest.mark.parametrize(
    "array, pattern",
    [
        (np.zeros((2, 4, 4, 4), np.uint8), r"\(N, H, W, C\) with C of 1 or 3"),
        (np.zeros((4,), np.uint8), r"\(N, H, W, C\)"),
        (np.zeros((2, 15), np.uint8), "not a square image"),
        (np.zeros((0, 4, 4), np.uint8), "empty"),
        (np.full((2, 2, 2), np.nan), "NaN"),
        (np.full((2, 2, 2), 300), "300"),
        (np.full((2, 2, 2), -1), "-1"),
        (np.full((2, 2, 2), 2.5) * np.array([1, -1]), "pixels must lie in 0..255"),
        (np.zeros((2, 2, 2), bool), "dtype bool"),
    ],
)
def test_from_numpy_rejects(array, pattern):
    with pytest.raises(DataError, match=pattern):
        Frame.from_numpy(array)


def test_labels_are_checked():
    images = np.zeros((3, 2, 2, 1), np.uint8)
    with pytest.raises(DataError, match="one integer label per image"):
        Frame(images, [0, 1])
    with pytest.raises(DataError, match="negative"):
        Frame(images, [0, -1, 1])
    with pytest.raises(DataError, match="outside the 2 class names"):
        Frame(images, [0, 1, 2], ["a", "b"])
    assert Frame(images, np.array([0.0, 1.0, 2.0])).labels.dtype == np.int64
    assert Frame(images, [0, 2, 1]).class_names == ["0", "1", "2"]


# ------------------------------------------------------------------------------------- selection
def test_len_getitem_head_and_sources():
    frame = _frame()
    assert len(frame) == 10 and len(frame[3]) == 1 and len(frame[-1]) == 1
    assert len(frame[2:5]) == 3 and frame[np.arange(10) % 2 == 0].labels.tolist() == [0, 2, 1, 0, 2]
    head = frame.head(4)
    np.testing.assert_array_equal(head.images, frame.images[:4])
    assert len(frame.head(50)) == 10 and head.class_names == frame.class_names
    named = Frame(frame.images, sources="file.idx")
    assert named[[7, 2]].sources == ["file.idx[7]", "file.idx[2]"]


def test_split_frame_exact_sizes_disjoint_and_reproducible():
    frame = Frame(np.zeros((100, 2, 2, 1), np.uint8), np.arange(100) % 7)
    frame = Frame(frame.images, np.arange(100))  # labels as ids
    train, valid = frame.split_frame([0.8], seed=1)
    assert (len(train), len(valid)) == (80, 20)
    assert sorted(train.labels.tolist() + valid.labels.tolist()) == list(range(100))
    again, _ = frame.split_frame([0.8], seed=1)
    assert again.labels.tolist() == train.labels.tolist()
    other, _ = frame.split_frame([0.8], seed=2)
    assert other.labels.tolist() != train.labels.tolist()
    assert [len(p) for p in frame.split_frame([0.5, 0.3], seed=0)] == [50, 30, 20]
    with pytest.raises(DataError, match="ratios"):
        frame.split_frame([0.7, 0.6])
    with pytest.raises(DataError, match="ratios"):
        frame.split_frame([0.0])


def test_split_frame_sizes_survive_float_error():
    frame = Frame(np.zeros((100, 2, 2, 1), np.uint8))
    assert [len(p) for p in frame.split_frame([0.57], seed=0)] == [57, 43]


def test_split_frame_empty_part_message():
    with pytest.raises(DataError, match="split_frame"):
        Frame(np.zeros((3, 2, 2, 1), np.uint8)).split_frame([0.1])


# ------------------------------------------------------------------------------------- transforms
def test_resize_and_channels():
    frame = Frame(np.full((3, 8, 8, 1), 90, np.uint8))
    small = frame.resize(4)
    assert small.image_shape == (4, 4, 1) and (small.images == 90).all()
    assert frame.resize((8, 8)) is frame
    assert frame.resize((2, 6)).image_shape == (2, 6, 1)
    rgb = frame.to_channels(3)
    assert rgb.image_shape == (8, 8, 3) and rgb.to_channels(1).images.max() == 90
    with pytest.raises(DataError, match="size"):
        frame.resize(0)


def test_to_numpy_scales():
    frame = Frame(np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1))
    assert frame.to_numpy().dtype == np.uint8
    unit = frame.to_numpy((0, 1))
    assert unit.dtype == np.float32 and np.allclose(unit.ravel(), [0.0, 0.2, 1.0])
    assert np.allclose(frame.to_numpy("tanh").ravel(), [-1.0, -0.6, 1.0])
    assert frame.to_numpy(channels_first=True).shape == (1, 1, 1, 3)
    with pytest.raises(DataError, match="scale"):
        frame.to_numpy("percent")


def test_to_png_writes_a_grid_of_the_right_size(tmp_path):
    frame = _frame(n=5, h=4, w=6, c=3)
    path = frame.to_png(tmp_path / "out" / "grid.png")  # 3 columns, 2 rows, padding 2
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (3 * (6 + 2) + 2, 2 * (4 + 2) + 2)
    with Image.open(frame.to_png(tmp_path / "row.png", nrow=5, padding=0)) as image:
        assert image.size == (30, 4)
        np.testing.assert_array_equal(np.asarray(image)[:, 6:12], frame.images[1])


def test_class_counts_and_schema():
    frame = Frame(np.zeros((4, 2, 2, 1), np.uint8), [0, 2, 2, 0], ["a", "b", "c"])
    assert frame.class_counts() == {"a": 2, "b": 0, "c": 2}
    assert Frame(np.zeros((1, 2, 2, 1), np.uint8)).class_counts() == {}
    assert frame.schema() == {"height": 2, "width": 2, "channels": 1, "class_names": ["a", "b", "c"]}


def test_concat():
    a, b = _frame(n=3), _frame(n=2)
    both = Frame.concat([a, b])
    assert len(both) == 5 and both.labels.tolist() == [0, 1, 2, 0, 1]
    np.testing.assert_array_equal(both.images[3:], b.images)
    assert len(a + b) == 5
    unlabeled = Frame(b.images)
    assert Frame.concat([a, unlabeled]).labels is None
    with pytest.raises(DataError, match="different image shapes"):
        Frame.concat([a, _frame(n=2, h=5)])
    with pytest.raises(DataError, match="different class names"):
        Frame.concat([a, Frame(b.images, [0, 1], ["x", "y"])])
    with pytest.raises(DataError, match="no frames"):
        Frame.concat([])


def test_index_out_of_range_and_huge_unnamed_labels():
    frame = Frame(np.zeros((3, 2, 2, 1), np.uint8))
    assert len(frame[-1]) == 1
    with pytest.raises(IndexError):
        frame[3]
    with pytest.raises(DataError, match="class_names"):
        Frame(np.zeros((1, 2, 2, 1), np.uint8), labels=[10**12])
