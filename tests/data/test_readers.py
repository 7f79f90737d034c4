"""Every format round trip: write known pixels, import, get the same pixels, labels and class names back."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from genforge.data import import_file
from genforge.errors import DataError
from genforge.frame import Frame
from tests.data.helpers import pixels, png_bytes, write_csv, write_idx, write_png


def test_folder_with_class_subfolders(folder_of_classes):
    root, images, labels = folder_of_classes
    frame = import_file(root)
    assert isinstance(frame, Frame) and frame.name == "pets"
    np.testing.assert_array_equal(frame.images, images)
    np.testing.assert_array_equal(frame.labels, labels)
    assert frame.class_names == ["cat", "dog"]
    assert frame.sources[0].endswith("cat/00.png") and frame.skipped == []


def test_folder_without_classes_and_ignored_files(tmp_path):
    images = pixels(3, 5, 7)
    for i, image in enumerate(images):
        write_png(tmp_path / "d" / f"{i}.png", image)
    (tmp_path / "d" / "README.txt").write_text("not an image")
    (tmp_path / "d" / ".hidden.png").write_text("hidden files are ignored")
    frame = import_file(str(tmp_path / "d"))
    np.testing.assert_array_equal(frame.images, images)
    assert frame.labels is None


def test_wrapping_folder_is_looked_through(tmp_path):
    for i, cls in enumerate(["b", "a"]):
        write_png(tmp_path / "d" / "train" / cls / f"{i}.png", pixels(1, seed=i)[0])
    frame = import_file(tmp_path / "d")
    assert frame.class_names == ["a", "b"] and frame.labels.tolist() == [0, 1]


def test_one_image_file(tmp_path):
    image = pixels(1, 9, 4, 3)[0]
    frame = import_file(write_png(tmp_path / "one.png", image))
    np.testing.assert_array_equal(frame.images[0], image)


def test_zip_of_class_folders(tmp_path, folder_of_classes):
    root, images, labels = folder_of_classes
    path = tmp_path / "pets.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(root.rglob("*.png")):
            archive.write(file, f"pets/{file.relative_to(root)}")  # wrapped in a top folder, as zip -r does
        archive.writestr("pets/notes.txt", "ignored")
        archive.writestr("__MACOSX/pets/._00.png", "resource fork")
    frame = import_file(path)
    np.testing.assert_array_equal(frame.images, images)
    np.testing.assert_array_equal(frame.labels, labels)
    assert frame.class_names == ["cat", "dog"] and frame.sources[0].endswith("pets.zip/pets/cat/00.png")


def test_pixel_csv_with_header_and_labels(tmp_path):
    images = pixels(6, 3, 3)
    labels = [2, 0, 1, 2, 0, 1]
    rows = [[label, *image.ravel()] for label, image in zip(labels, images)]
    path = write_csv(tmp_path / "train.csv", ["label"] + [f"pixel{i}" for i in range(9)], rows)
    frame = import_file(path)
    np.testing.assert_array_equal(frame.images, images)
    assert frame.labels.tolist() == labels and frame.name == "train"
    assert import_file(path, limit=2).labels.tolist() == [2, 0]


def test_pixel_csv_headerless_mnist_style(tmp_path):
    images = pixels(4, 4, 4)
    path = write_csv(tmp_path / "mnist.csv", None, [[7, *image.ravel()] for image in images])
    frame = import_file(path)
    np.testing.assert_array_equal(frame.images, images)
    assert frame.labels.tolist() == [7] * 4
    no_labels = write_csv(tmp_path / "plain.csv", None, [image.ravel().tolist() for image in images])
    assert import_file(no_labels).labels is None


def test_pixel_csv_label_column_elsewhere_with_names(tmp_path):
    images = pixels(3, 2, 3)
    rows = [[*image.ravel(), name] for image, name in zip(images, ["dog", "cat", "dog"])]
    path = write_csv(tmp_path / "a.csv", [f"p{i}" for i in range(6)] + ["label"], rows)
    frame = import_file(path, image_size=(2, 3))
    np.testing.assert_array_equal(frame.images, images)
    assert frame.class_names == ["cat", "dog"] and frame.labels.tolist() == [1, 0, 1]


def test_pixel_csv_of_unit_floats(tmp_path):
    rows = [[0.0, 0.5, 1.0, 0.25]]
    frame = import_file(write_csv(tmp_path / "a.csv", ["a", "b", "c", "d"], rows))
    assert frame.images.ravel().tolist() == [0, 128, 255, 64] and frame.labels is None


def test_pixel_csv_from_pandas_with_its_index_and_quotes(tmp_path):
    (tmp_path / "a.csv").write_text(',label,p0,p1,p2,p3\n0,"1",10,"20",30,40\n1,0,50,60,70,80\n')
    frame = import_file(tmp_path / "a.csv")
    assert frame.images.reshape(2, 4).tolist() == [[10, 20, 30, 40], [50, 60, 70, 80]]
    assert frame.labels.tolist() == [1, 0]


def test_pixel_csv_resized_by_image_size(tmp_path):
    path = write_csv(tmp_path / "a.csv", None, [[9] * 16, [200] * 16])
    frame = import_file(path, image_size=2)
    assert frame.image_shape == (2, 2, 1) and frame.images[1].min() == 200


def test_path_csv_with_labels(tmp_path):
    images = pixels(3, 5, 5, 3)
    folder = tmp_path / "ds"
    for i, image in enumerate(images):
        write_png(folder / "img" / f"{i}.png", image)
    path = write_csv(folder / "list.csv", ["file", "species"],
                     [["img/0.png", "cat"], ["img/1.png", "dog"], ["./img/2.png", "cat"]])
    frame = import_file(path, label_column="species")
    np.testing.assert_array_equal(frame.images, images)
    assert frame.class_names == ["cat", "dog"] and frame.labels.tolist() == [0, 1, 0]
    assert import_file(path).labels is None  # no column named like a label, none asked for


def test_npy_and_npz(tmp_path):
    images = pixels(4, 3, 5)
    np.save(tmp_path / "a.npy", images[..., 0])
    frame = import_file(tmp_path / "a.npy")
    np.testing.assert_array_equal(frame.images, images)
    assert frame.sources[1] == f"{tmp_path / 'a.npy'}[1]"
    np.savez(tmp_path / "b.npz", x=images, y=np.array([1, 0, 1, 0]), class_names=np.array(["no", "yes"]))
    frame = import_file(tmp_path / "b.npz")
    np.testing.assert_array_equal(frame.images, images)
    assert frame.labels.tolist() == [1, 0, 1, 0] and frame.class_names == ["no", "yes"]
    np.savez(tmp_path / "c.npz", images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)  # arr_0, NCHW
    np.testing.assert_array_equal(import_file(tmp_path / "c.npz").images, images)


def test_idx_pair_gz_and_raw(tmp_path):
    images = pixels(5, 6, 4)[..., 0]
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    frame = import_file(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(frame.images[..., 0], images)
    assert frame.labels.tolist() == labels.tolist()
    raw = write_idx(tmp_path / "other.idx3", images)
    frame = import_file(raw, labels=tmp_path / "train-labels-idx1-ubyte.gz", limit=2)
    assert len(frame) == 2 and frame.labels.tolist() == [3, 1]


def test_parquet_bytes_and_hugging_face_structs(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    images = pixels(3, 4, 4, 3)
    blobs = [png_bytes(image) for image in images]
    pq.write_table(pa.table({"png": blobs, "label": ["b", "a", "b"]}), tmp_path / "plain.parquet")
    frame = import_file(tmp_path / "plain.parquet")
    np.testing.assert_array_equal(frame.images, images)
    assert frame.class_names == ["a", "b"] and frame.labels.tolist() == [1, 0, 1]

    structs = pa.array([{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(blobs)])
    meta = {"info": {"features": {"label": {"_type": "ClassLabel", "names": ["x", "y", "z"]}}}}
    table = pa.table({"image": structs, "label": pa.array([2, 0, 1], pa.int64())})
    table = table.replace_schema_metadata({b"huggingface": json.dumps(meta).encode()})
    pq.write_table(table, tmp_path / "hf.parquet")
    frame = import_file(tmp_path / "hf.parquet")
    np.testing.assert_array_equal(frame.images, images)
    assert frame.class_names == ["x", "y", "z"] and frame.labels.tolist() == [2, 0, 1]


def test_name_option_and_builtins_against_same_named_paths(tmp_path, monkeypatch):
    (tmp_path / "digits").mkdir()
    monkeypatch.chdir(tmp_path)
    # Issue 16: a built-in name that is also a local path is ambiguous, not silently the built-in.
    with pytest.raises(DataError, match="'./digits' for the path, or 'builtin:digits'"):
        import_file("digits", limit=3, name="d3")
    frame = import_file("builtin:digits", limit=3, name="d3")
    assert frame.name == "d3" and len(frame) == 3
    write_png(tmp_path / "digits" / "a.png", pixels(1)[0])
    assert len(import_file(f".{os.sep}digits")) == 1
