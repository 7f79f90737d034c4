"""Decompression limits: max_image_pixels per image and max_frame_bytes per frame, checked before decoding."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from PIL import Image

from genforge.data import import_file
from genforge.data.limits import MAX_FRAME_BYTES, MAX_IMAGE_PIXELS, LimitError
from genforge.errors import DataError, ParameterError

from .helpers import blank_png, png_claiming


def test_defaults():
    assert MAX_IMAGE_PIXELS == 4096 * 4096 and MAX_FRAME_BYTES == 4 * 1024**3


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns past its own 89 M
def test_a_png_header_claiming_10000x10000_is_refused_before_decoding(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.png").write_bytes(blank_png(8))
    (tmp_path / "d" / "bomb.png").write_bytes(png_claiming(10_000, 10_000))
    assert len((tmp_path / "d" / "bomb.png").read_bytes()) < 100
    with pytest.raises(LimitError) as caught:
        import_file(tmp_path / "d")
    message = str(caught.value)
    assert "bomb.png" in message and "10000x10000" in message and "100,000,000 pixels" in message
    assert "max_image_pixels=100000000" in message  # names the limit and the value that would pass
    assert caught.value.option == "max_image_pixels" and caught.value.needed == 100_000_000
    with pytest.raises(LimitError, match="max_image_pixels"):  # one image file, not only folders
        import_file(tmp_path / "d" / "bomb.png")
    # Under on_error="skip" the bomb is left out with its reason; the good image stays.
    with pytest.warns(UserWarning, match="skipped 1"):
        frame = import_file(tmp_path / "d", on_error="skip")
    assert len(frame) == 1 and "past the limit" in frame.skipped[0][1]
    # A smaller limit refuses ordinary images too; a larger one lets the claim through to the decoder,
    # which then finds the pixels missing.
    with pytest.raises(LimitError, match="8x8 = 64 pixels, past the limit of 63"):
        import_file(tmp_path / "d" / "a.png", max_image_pixels=63)
    with pytest.raises(DataError, match="bomb.png") as later:
        import_file(tmp_path / "d" / "bomb.png", max_image_pixels=10**8)
    assert not isinstance(later.value, LimitError)


def test_a_zip_of_many_compressible_images_is_refused_by_decoded_bytes(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(200):
            archive.writestr(f"blank/{i:03d}.png", blank_png(256))
    path = tmp_path / "blank.zip"
    path.write_bytes(buffer.getvalue())
    decoded = 200 * 256 * 256
    assert path.stat().st_size * 10 < decoded  # the upload is small; its pixels are not
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as caught:
            import_file(path, max_frame_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < decoded / 2  # refused from the headers, before the frame was allocated
    assert caught.value.option == "max_frame_bytes" and caught.value.needed == decoded
    assert f"max_frame_bytes={decoded}" in str(caught.value) and "blank.zip" in str(caught.value)
    frame = import_file(path, max_frame_bytes=decoded)  # exactly enough
    assert frame.images.shape == (200, 256, 256, 1)
    assert len(import_file(path, max_frame_bytes=1_000_000, limit=10)) == 10  # or read fewer


def test_a_compressed_npz_is_checked_before_numpy_inflates_it(tmp_path):
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, images=np.zeros((400, 100, 100), np.uint8))
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(LimitError, match=r"'images'.*max_frame_bytes=4000000"):
            import_file(path, max_frame_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert import_file(path).images.shape == (400, 100, 100, 1)


def test_an_npz_member_header_declaring_terabytes(tmp_path):
    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 1000, 1000)})
    path = tmp_path / "claim.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", header.getvalue() + b"\0" * 16)
    with pytest.raises(LimitError, match=r"931322\.6 GiB|past the limit of 4\.0 GiB"):
        import_file(path)


def test_a_gzipped_idx_file_is_checked_before_its_body_is_allocated(tmp_path):
    body = struct.pack(">IIII", 0x00000803, 1000, 100, 100) + b"\0" * (1000 * 100 * 100)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(body))
    assert path.stat().st_size < 50_000
    with pytest.raises(LimitError, match="max_frame_bytes=10000000"):
        import_file(path, max_frame_bytes=5_000_000)
    assert import_file(path).images.shape == (1000, 100, 100, 1)


def test_resizing_and_channel_conversion_respect_the_frame_limit(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(LimitError, match="max_frame_bytes"):
        import_file(tmp_path / "x.npy", image_size=100_000)
    with pytest.raises(LimitError, match="max_frame_bytes"):
        import_file(tmp_path / "x.npy", channels=3, max_frame_bytes=4 * 8 * 8 * 2)
    assert import_file(tmp_path / "x.npy", channels=3, max_frame_bytes=4 * 8 * 8 * 3).images.shape == (4, 8, 8, 3)
    with pytest.raises(LimitError, match="max_frame_bytes"):  # even undecoded data (a plain .npy)
        import_file(tmp_path / "x.npy", max_frame_bytes=100)


def test_limit_options_are_checked(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.uint8))
    for bad in (0, -1, 1.5, True, "big"):
        with pytest.raises(ParameterError, match="positive int"):
            import_file(tmp_path / "x.npy", max_frame_bytes=bad)
        with pytest.raises(ParameterError, match="positive int"):
            import_file(tmp_path / "x.npy", max_image_pixels=bad)
    (tmp_path / "d").mkdir()
    Image.new("L", (64, 64)).save(tmp_path / "d" / "a.png")
    assert len(import_file(tmp_path / "d", max_image_pixels=None, max_frame_bytes=None)) == 1  # None: no limit


def test_a_parquet_files_columns_are_checked_before_they_are_inflated(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    png = blank_png(8) + b"\0" * 100_000  # PIL ignores what follows IEND; zstd squeezes it to nothing
    pq.write_table(pa.table({"image": [png] * 50, "label": list(range(50))}), tmp_path / "x.parquet",
                   compression="zstd")
    assert (tmp_path / "x.parquet").stat().st_size < 100_000
    with pytest.raises(LimitError, match="max_frame_bytes"):
        import_file(tmp_path / "x.parquet", max_frame_bytes=1_000_000)
    assert len(import_file(tmp_path / "x.parquet")) == 50
    structs = pa.array([{"bytes": png, "path": "a.png"}] * 50)  # Hugging Face's layout
    pq.write_table(pa.table({"image": structs}), tmp_path / "hf.parquet", compression="zstd")
    with pytest.raises(LimitError, match="max_frame_bytes"):
        import_file(tmp_path / "hf.parquet", max_frame_bytes=1_000_000)
