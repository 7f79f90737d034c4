"""The decode cache: a memory-mapped .npy reused by later imports, rebuilt when the source changes."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from genforge.data import cache, import_file
from genforge.errors import DataError
from tests.data.helpers import pixels, write_png


def _entries(root):
    return sorted(p.name for p in (root / "frames").iterdir() if not p.name.startswith("."))


def test_second_import_reuses_the_memory_map(folder_of_classes, tmp_path):
    root, images, labels = folder_of_classes
    cache_dir = tmp_path / "c"
    first = import_file(root, cache_dir=cache_dir)
    assert isinstance(first.images, np.memmap) and not first.images.flags.writeable
    np.testing.assert_array_equal(first.images, images)
    (entry,) = _entries(cache_dir)
    stamp = (cache_dir / "frames" / entry / "pixels.npy").stat().st_mtime_ns

    second = import_file(root, cache_dir=cache_dir)
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, labels)
    assert second.class_names == ["cat", "dog"] and second.sources == first.sources
    assert _entries(cache_dir) == [entry]
    assert (cache_dir / "frames" / entry / "pixels.npy").stat().st_mtime_ns == stamp  # not rewritten


def test_changed_source_or_options_make_a_new_entry(tmp_path):
    write_png(tmp_path / "d" / "a.png", pixels(1, seed=1)[0])
    cache_dir = tmp_path / "c"
    import_file(tmp_path / "d", cache=True, cache_dir=cache_dir)
    time.sleep(0.01)
    changed = pixels(1, seed=2)[0]
    write_png(tmp_path / "d" / "a.png", changed)
    os.utime(tmp_path / "d" / "a.png", ns=(time.time_ns(), time.time_ns() + 10**9))
    frame = import_file(tmp_path / "d", cache_dir=cache_dir)
    np.testing.assert_array_equal(frame.images[0], changed)
    import_file(tmp_path / "d", cache_dir=cache_dir, channels=3)
    assert len(_entries(cache_dir)) == 3


def test_default_cache_location_and_arrays_source(tmp_path, monkeypatch):
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "env-cache"))
    np.save(tmp_path / "a.npy", pixels(4))
    frame = import_file(tmp_path / "a.npy", cache=True, image_size=2)
    assert isinstance(frame.images, np.memmap) and frame.image_shape == (2, 2, 1)
    assert len(_entries(tmp_path / "env-cache")) == 1
    again = import_file(tmp_path / "a.npy", cache=True, image_size=2)
    np.testing.assert_array_equal(again.images, frame.images)


def test_skipped_items_are_remembered(tmp_path):
    write_png(tmp_path / "d" / "a.png", pixels(1)[0])
    (tmp_path / "d" / "b.png").write_text("no")
    with pytest.warns(UserWarning):
        import_file(tmp_path / "d", on_error="skip", cache_dir=tmp_path / "c")
    with pytest.warns(UserWarning):
        frame = import_file(tmp_path / "d", on_error="skip", cache_dir=tmp_path / "c")
    assert len(frame) == 1 and frame.skipped[0][0].endswith("b.png")


def test_a_failed_import_leaves_no_entry(tmp_path):
    write_png(tmp_path / "d" / "a.png", pixels(1)[0])
    data = (tmp_path / "d" / "a.png").read_bytes()
    (tmp_path / "d" / "b.png").write_bytes(data[: len(data) // 2])  # fails after the memory map is allocated
    with pytest.raises(DataError):
        import_file(tmp_path / "d", cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "frames").iterdir()) == []


def test_a_half_written_entry_is_never_used(tmp_path):
    np.save(tmp_path / "a.npy", pixels(3))
    frame = import_file(tmp_path / "a.npy", cache_dir=tmp_path / "c")
    (entry,) = _entries(tmp_path / "c")
    (tmp_path / "c" / "frames" / entry / "meta.json").unlink()  # as if killed before the last write
    again = import_file(tmp_path / "a.npy", cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(again.images, frame.images)
    assert (tmp_path / "c" / "frames" / entry / "meta.json").is_file()


def test_stale_temporary_folders_are_cleared(tmp_path):
    stale = tmp_path / "c" / "frames" / ".tmp-abc-1"
    stale.mkdir(parents=True)
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    np.save(tmp_path / "a.npy", pixels(2))
    import_file(tmp_path / "a.npy", cache_dir=tmp_path / "c")
    assert not stale.exists()
    assert cache.cache_root(tmp_path / "x") == tmp_path / "x" / "frames"
