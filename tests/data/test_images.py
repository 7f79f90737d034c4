"""Sizes and modes: image_size resizing, channel conversion, alpha, palettes, 16-bit and CMYK files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genforge.data import import_file
from tests.data.helpers import pixels, write_png


def test_image_size_resizes_mixed_sizes(tmp_path):
    write_png(tmp_path / "d" / "a.png", np.full((8, 8, 1), 100, np.uint8))
    write_png(tmp_path / "d" / "b.png", np.full((6, 10, 1), 50, np.uint8))
    frame = import_file(tmp_path / "d", image_size=(4, 5))
    assert frame.image_shape == (4, 5, 1)
    assert frame.images[0].min() == frame.images[0].max() == 100 and frame.images[1].max() == 50


def test_image_size_on_arrays(tmp_path):
    np.save(tmp_path / "a.npy", np.full((2, 8, 8), 77, np.uint8))
    frame = import_file(tmp_path / "a.npy", image_size=4)
    assert frame.image_shape == (4, 4, 1) and (frame.images == 77).all()


def test_default_channels_follow_the_majority(tmp_path):
    write_png(tmp_path / "d" / "a.png", pixels(1, 4, 4, 3)[0])
    write_png(tmp_path / "d" / "b.png", pixels(1, 4, 4, 1)[0])
    write_png(tmp_path / "d" / "c.png", pixels(1, 4, 4, 1)[0])
    frame = import_file(tmp_path / "d")
    assert frame.channels == 1
    assert import_file(tmp_path / "d", channels=3).channels == 3


def test_channels_conversion_matches_pil_luma(tmp_path):
    rgb = pixels(1, 4, 4, 3)[0]
    write_png(tmp_path / "d" / "a.png", rgb)
    frame = import_file(tmp_path / "d", channels=1)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(frame.images[0, :, :, 0], expected)
    grey = import_file(write_png(tmp_path / "g.png", pixels(1)[0]), channels=3)
    assert grey.channels == 3 and (grey.images[..., 0] == grey.images[..., 2]).all()


def test_channels_on_arrays(tmp_path):
    np.save(tmp_path / "a.npy", pixels(3, 4, 4, 3))
    assert import_file(tmp_path / "a.npy", channels=1).image_shape == (4, 4, 1)


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[1, 1] = (0, 0, 0, 0)  # fully transparent becomes white
    rgba[0, 1] = (0, 0, 0, 128)  # half-transparent black becomes mid grey
    frame = import_file(write_png(tmp_path / "a.png", rgba))
    assert frame.images[0, 0, 0].tolist() == [255, 0, 0]
    assert frame.images[0, 1, 1].tolist() == [255, 255, 255]
    assert frame.images[0, 0, 1].tolist() == [127, 127, 127]


def test_palette_16bit_la_and_cmyk(tmp_path):
    palette = Image.fromarray(pixels(1, 4, 4, 3)[0]).convert("P")
    palette.save(tmp_path / "p.png")
    expected = np.asarray(palette.convert("RGB"))
    np.testing.assert_array_equal(import_file(tmp_path / "p.png").images[0], expected)

    deep = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369)  # 0..65535
    Image.fromarray(deep).save(tmp_path / "deep.png")
    frame = import_file(tmp_path / "deep.png")
    assert frame.channels == 1 and frame.images.min() == 0 and frame.images.max() == 255

    Image.fromarray(np.dstack([np.full((3, 3), 0, np.uint8), np.full((3, 3), 0, np.uint8)]), "LA").save(
        tmp_path / "la.png")
    assert (import_file(tmp_path / "la.png").images == 255).all()  # transparent grey over white

    Image.new("CMYK", (3, 3), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    red = import_file(tmp_path / "c.jpg").images[0, 1, 1]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_exif_rotation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((4, 8, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    image.save(tmp_path / "r.jpg", exif=exif)
    assert import_file(tmp_path / "r.jpg").image_shape == (8, 4, 3)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".gif", ".webp", ".tif"])
def test_other_formats(tmp_path, suffix):
    image = np.full((5, 6, 3), 120, np.uint8)
    Image.fromarray(image).save(tmp_path / f"a{suffix}")
    frame = import_file(tmp_path / f"a{suffix}")
    assert frame.image_shape == (5, 6, 3)
    assert abs(int(frame.images.mean()) - 120) <= 3
