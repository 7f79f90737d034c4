"""``on_error="skip"``: the frame keeps the good images, ``skipped`` names the bad ones, one warning."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from genforge.data import import_file
from genforge.errors import DataError
from tests.data.helpers import pixels, png_bytes, write_csv, write_png


def test_folder_skips_corrupt_and_fake_images(tmp_path):
    images = pixels(3, 4, 4)
    for i, image in enumerate(images):
        write_png(tmp_path / "d" / f"{i}.png", image)
    data = (tmp_path / "d" / "0.png").read_bytes()
    (tmp_path / "d" / "1b.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "d" / "2b.png").write_text("text")
    with pytest.warns(UserWarning, match="skipped 2 bad") as record:
        frame = import_file(tmp_path / "d", on_error="skip")
    assert len(record) == 1
    np.testing.assert_array_equal(frame.images, images)
    assert [os.path.basename(s) for s, _ in frame.skipped] == ["1b.png", "2b.png"]
    assert "truncated" in frame.skipped[0][1] and "not an image" in frame.skipped[1][1]
    assert frame.sources[1].endswith("1.png")


def test_csv_skips_bad_rows(tmp_path):
    rows = [[0, 1, 2, 3, 4], [1, 1, 2, 3], [2, 5, "nan", 7, 8], [0, 300, 0, 0, 0], [1, -1, 0, 0, 0],
            [2, 9, 9, 9, 9]]
    path = write_csv(tmp_path / "a.csv", ["label", "a", "b", "c", "d"], rows)
    with pytest.warns(UserWarning, match="skipped 4"):
        frame = import_file(path, on_error="skip")
    assert frame.images[:, :, :, 0].reshape(2, 4).tolist() == [[1, 2, 3, 4], [9, 9, 9, 9]]
    assert frame.labels.tolist() == [0, 2]
    assert [s for s, _ in frame.skipped] == [
        f"{path} line 3", f"{path} line 4, column 'b'", f"{path} line 5, column 'a'", f"{path} line 6, column 'a'"]
    assert frame.sources == [f"{path} line 2", f"{path} line 7"]


def test_path_csv_skips_escapes_and_missing(tmp_path):
    folder = tmp_path / "ds"
    write_png(folder / "ok.png", pixels(1)[0])
    write_png(tmp_path / "secret.png", pixels(1)[0])
    os.symlink(tmp_path / "secret.png", folder / "link.png")
    path = write_csv(folder / "list.csv", ["path"],
                     [["ok.png"], ["../secret.png"], ["/etc/passwd.png"], ["link.png"], ["gone.png"]])
    with pytest.warns(UserWarning):
        frame = import_file(path, on_error="skip")
    assert len(frame) == 1 and len(frame.skipped) == 4
    assert [s.split(" line ")[1][:1] for s, _ in frame.skipped] == ["3", "4", "5", "6"]


def test_zip_skips_a_corrupt_member(tmp_path):
    good = pixels(2, 4, 4)
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", png_bytes(good[0]))
        archive.writestr("b.png", png_bytes(good[1])[:30])
        archive.writestr("c.png", png_bytes(good[1]))
    with pytest.warns(UserWarning):
        frame = import_file(path, on_error="skip")
    np.testing.assert_array_equal(frame.images, good)
    assert frame.skipped[0][0].endswith("a.zip/b.png")


def test_everything_bad_is_still_an_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.png").write_text("no")
    with pytest.raises(DataError, match="None of the 1 images"):
        import_file(tmp_path / "d", on_error="skip")
