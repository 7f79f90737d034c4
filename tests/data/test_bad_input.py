"""Every reader fed broken input: each must raise a DataError whose message names the place and the fix."""

from __future__ import annotations

import gzip
import os
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from genforge.data import builtin, import_file
from genforge.errors import DataError, ParameterError
from tests.data.helpers import pixels, png_bytes, write_csv, write_idx, write_png


# ------------------------------------------------------------------------------------- image files
@pytest.mark.parametrize("keep", [0.5, 40])  # cut in the pixel data, or just after the header
def test_truncated_png(tmp_path, keep):
    good = write_png(tmp_path / "d" / "a.png", pixels(1, 16, 16)[0])
    data = good.read_bytes()
    (tmp_path / "d" / "b.png").write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    with pytest.raises(DataError, match=r"b\.png: .*truncated") as info:
        import_file(tmp_path / "d")
    assert "on_error='skip'" in str(info.value)


def test_text_file_named_png(tmp_path):
    write_png(tmp_path / "d" / "a.png", pixels(1)[0])
    (tmp_path / "d" / "notes.png").write_text("this is not an image\n")
    with pytest.raises(DataError, match=r"notes\.png: not an image"):
        import_file(tmp_path / "d")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images.*empty"):
        import_file(tmp_path / "empty")


def test_folder_of_other_files(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=r"holds no images.*readme\.txt"):
        import_file(tmp_path / "d")


def test_images_both_at_top_and_in_subfolders(tmp_path):
    write_png(tmp_path / "d" / "top.png", pixels(1)[0])
    write_png(tmp_path / "d" / "cats" / "a.png", pixels(1)[0])
    write_png(tmp_path / "d" / "dogs" / "b.png", pixels(1)[0])
    with pytest.raises(DataError, match=r"both directly inside it \(e\.g\. top\.png\)"):
        import_file(tmp_path / "d")


def test_folder_symlink_leading_outside(tmp_path):
    outside = write_png(tmp_path / "secret.png", pixels(1)[0])
    write_png(tmp_path / "d" / "a.png", pixels(1)[0])
    os.symlink(outside, tmp_path / "d" / "b.png")
    with pytest.raises(DataError, match=r"b\.png.*symbolic link"):
        import_file(tmp_path / "d")


def test_mixed_sizes_list_counts_and_an_example(tmp_path):
    for i in range(3):
        write_png(tmp_path / "d" / f"a{i}.png", pixels(1, 8, 8)[0])
    write_png(tmp_path / "d" / "z.png", pixels(1, 6, 4)[0])
    with pytest.raises(DataError) as info:
        import_file(tmp_path / "d")
    message = str(info.value)
    assert "8x8 (3 images)" in message and "6x4 (1 image, e.g." in message and "z.png" in message
    assert "image_size=" in message


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        import_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no such file, folder or dataset"):
        import_file("certainly-not-a-dataset")
    (tmp_path / "data.xyz").write_text("1,2,3")
    with pytest.raises(DataError, match=r"unknown file type '\.xyz'"):
        import_file(tmp_path / "data.xyz")


def test_near_miss_name_suggests_the_builtin():
    with pytest.raises(DataError, match="Did you mean 'fashion-mnist'"):
        import_file("fashion-mnst")


def test_bad_options(tmp_path):
    path = write_csv(tmp_path / "a.csv", ["label", "p1", "p2", "p3", "p4"], [[0, 1, 2, 3, 4]])
    with pytest.raises(ParameterError, match="Did you mean 'path_column'"):
        import_file(path, path_colum="x")
    with pytest.raises(ParameterError, match="on_error"):
        import_file(path, on_error="ignore")
    with pytest.raises(ParameterError, match="channels"):
        import_file(path, channels=4)
    with pytest.raises(ParameterError, match="image_size"):
        import_file(path, image_size=(0, 3))
    with pytest.raises(ParameterError, match="limit"):
        import_file(path, limit=0)


# ------------------------------------------------------------------------------------- pixel CSV
HEADER = ["label", "p1", "p2", "p3", "p4"]


@pytest.mark.parametrize(
    "rows, pattern",
    [
        ([[0, 1, 2, 3, 4], [1, 1, 2, 3]], r"line 3: the row has 4 values where the header has 5"),
        ([[0, 1, 2, 3, 4], [1, 1, 2, 3, 4, 5]], r"line 3: the row has 6 values"),
        ([[0, 1, 2, 3, 4], [1, 1, "nan", 3, 4]], r"line 3, column 'p2': the value 'nan' is NaN"),
        ([[0, 1, 2, 300, 4]], r"line 2, column 'p3': the pixel value 300 is outside 0\.\.255"),
        ([[0, -1, 2, 3, 4]], r"line 2, column 'p1': the pixel value -1 is outside 0\.\.255"),
        ([[0, 1, "x", 3, 4]], r"line 2, column 'p2': the value 'x' is not a number"),
        ([[0, 1, "", 3, 4]], r"line 2, column 'p2': the cell is empty"),
        ([[0.5, 1, 2, 3, 4]], r"line 2, column 'label': the label '0.5' is not a class index"),
    ],
)
def test_bad_csv_rows(tmp_path, rows, pattern):
    path = write_csv(tmp_path / "a.csv", HEADER, rows)
    with pytest.raises(DataError, match=pattern):
        import_file(path)


def test_csv_row_length_not_square(tmp_path):
    path = write_csv(tmp_path / "a.csv", ["label", "p1", "p2", "p3"], [[0, 1, 2, 3]])
    with pytest.raises(DataError, match="rows have 3 pixel values.*not a square image.*image_size"):
        import_file(path)


def test_header_only_and_empty_csv(tmp_path):
    path = write_csv(tmp_path / "a.csv", HEADER, [])
    with pytest.raises(DataError, match="header but no data rows"):
        import_file(path)
    (tmp_path / "b.csv").write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        import_file(tmp_path / "b.csv")


def test_binary_file_named_csv(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(DataError, match="not a text CSV"):
        import_file(tmp_path / "a.csv")


# ------------------------------------------------------------------------------------- path CSV
def _paths_csv(folder: Path, values: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_png(folder / "ok.png", pixels(1)[0])
    return write_csv(folder / "list.csv", ["path", "label"], [[v, "cat"] for v in ["ok.png", *values]])


def test_path_column_absolute(tmp_path):
    outside = write_png(tmp_path / "secret.png", pixels(1)[0])
    path = _paths_csv(tmp_path / "ds", [str(outside)])
    with pytest.raises(DataError, match=r"line 3, column 'path': the path is refused: .*absolute path"):
        import_file(path)


def test_path_column_dotdot(tmp_path):
    write_png(tmp_path / "secret.png", pixels(1)[0])
    path = _paths_csv(tmp_path / "ds", ["../secret.png"])
    with pytest.raises(DataError, match=r"line 3.*climbs out with '\.\.'"):
        import_file(path)


def test_path_column_symlink_escape(tmp_path):
    outside = write_png(tmp_path / "secret.png", pixels(1)[0])
    path = _paths_csv(tmp_path / "ds", ["link.png"])
    os.symlink(outside, tmp_path / "ds" / "link.png")
    with pytest.raises(DataError, match=r"line 3.*leads outside .* through a symbolic link"):
        import_file(path)


def test_path_column_missing_file(tmp_path):
    path = _paths_csv(tmp_path / "ds", ["gone.png"])
    with pytest.raises(DataError, match=r"line 3, column 'path': 'gone\.png' does not exist"):
        import_file(path)


# ------------------------------------------------------------------------------------- zip
def test_zip_member_climbing_out(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.png", png_bytes(pixels(1)[0]))
        archive.writestr("../x.png", png_bytes(pixels(1)[0]))
    with pytest.raises(DataError, match=r"member '\.\./x\.png' is unsafe.*'\.\.'"):
        import_file(path)


def test_zip_absolute_member(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("ok.png")
        archive.writestr(info, png_bytes(pixels(1)[0]))
        info = zipfile.ZipInfo("x.png")
        info.filename = "/etc/x.png"  # zipfile strips a leading slash from names it is given
        archive.writestr(info, png_bytes(pixels(1)[0]))
    with pytest.raises(DataError, match="absolute path"):
        import_file(path)


def test_zip_inflating_past_the_limit(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"{i}.png", png_bytes(pixels(1, 16, 16, seed=i)[0]))
    with pytest.raises(DataError, match=r"would inflate to .*past the limit.*max_inflated_bytes="):
        import_file(path, max_inflated_bytes=100)


def test_zip_bomb_ratio(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.png", b"\0" * (4 * 1024 * 1024))
    with pytest.raises(DataError, match=r"'bomb\.png' inflates \d+ times.*zip bomb"):
        import_file(path)


def test_not_a_zip(tmp_path):
    (tmp_path / "a.zip").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable zip archive"):
        import_file(tmp_path / "a.zip")


# ------------------------------------------------------------------------------------- IDX
def test_idx_wrong_magic(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", pixels(2)[..., 0], magic=0x12345678)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: wrong magic number 0x12345678.*0x00000803"):
        import_file(path)


def test_idx_truncated_body(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", pixels(10, 4, 4)[..., 0], cut=40)
    with pytest.raises(DataError, match=r"ubyte\.gz: the IDX body is truncated.*\(160 bytes of images\).*only 120 bytes"):
        import_file(path)


def test_idx_truncated_gzip_stream(tmp_path):
    full = write_idx(tmp_path / "x-images-idx3-ubyte.gz", pixels(50, 8, 8)[..., 0])
    data = full.read_bytes()
    full.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated|cannot read"):
        import_file(full)


def test_idx_labels_that_do_not_match(tmp_path):
    images = write_idx(tmp_path / "train-images-idx3-ubyte", pixels(4)[..., 0])
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))
    with pytest.raises(DataError, match="holds 3 labels for the 4 images"):
        import_file(images)


def test_idx_labels_file_given_as_images(tmp_path):
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))
    with pytest.raises(DataError, match="labels file .*not images"):
        import_file(labels)


# ------------------------------------------------------------------------------------- numpy
def test_npz_without_images(tmp_path):
    np.savez(tmp_path / "a.npz", foo=np.zeros(3), bar=np.ones(3))
    with pytest.raises(DataError, match=r"a\.npz: no images array .*found foo, bar.*images_key"):
        import_file(tmp_path / "a.npz")


def test_npy_with_objects_is_never_unpickled(tmp_path):
    np.save(tmp_path / "a.npy", np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never unpickles"):
        import_file(tmp_path / "a.npy")


def test_npy_bad_values(tmp_path):
    np.save(tmp_path / "nan.npy", np.full((2, 4, 4), np.nan, np.float32))
    with pytest.raises(DataError, match=r"nan\.npy: images hold a NaN"):
        import_file(tmp_path / "nan.npy")
    np.save(tmp_path / "big.npy", np.full((2, 4, 4), 300, np.int32))
    with pytest.raises(DataError, match=r"big\.npy: .*300"):
        import_file(tmp_path / "big.npy")


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "a.npy", pixels(10))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[:200])
    with pytest.raises(DataError, match=r"a\.npy: not a readable \.npy"):
        import_file(tmp_path / "a.npy")


# ------------------------------------------------------------------------------------- built-ins, parquet
def test_fashion_mnist_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(builtin, "FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match=r"Debian package dataset-fashion-mnist.*apt-get install dataset-fashion-mnist"):
        import_file("fashion-mnist:test")
    listed = {d["name"]: d for d in builtin.list_datasets()}
    assert listed["fashion-mnist"]["available"] is False and listed["fashion-mnist"]["rows"] == 60000


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError, match=r"needs pyarrow.*pip install genforge\[parquet\]"):
        import_file(tmp_path / "a.parquet")


def test_parquet_without_image_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match="no column of image bytes"):
        import_file(tmp_path / "a.parquet")


def test_parquet_broken_image_bytes(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"image": [png_bytes(pixels(1)[0]), b"garbage"]}), tmp_path / "a.parquet")
    with pytest.raises(DataError, match=r"a\.parquet row 1: not an image"):
        import_file(tmp_path / "a.parquet")


# ------------------------------------------------------------------------------------- absurd sizes
def test_png_header_declaring_a_huge_image(tmp_path):
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")))
    # Refused from the header by max_image_pixels, before PIL inflates anything (see tests/data/test_limits.py).
    with pytest.raises(DataError, match=r"bomb\.png: the image is 100000x100000 .* past the limit"):
        import_file(tmp_path / "d")
    small = chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
    (tmp_path / "d" / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + small)  # and nothing after it
    with pytest.raises(DataError, match=r"bomb\.png: the PNG file is truncated or damaged"):
        import_file(tmp_path / "d")


def test_idx_header_declaring_more_than_the_file_holds(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 4_000_000_000, 28, 28) + b"\0" * 64))
    with pytest.raises(DataError, match="more than this .*-byte file can hold"):
        import_file(path)


def test_labels_that_are_ids_not_class_indices(tmp_path):
    np.savez(tmp_path / "a.npz", images=pixels(2), labels=np.array([3, 10**12]))
    with pytest.raises(DataError, match=r"label 1000000000000 \(item 1\) is no class index"):
        import_file(tmp_path / "a.npz")
