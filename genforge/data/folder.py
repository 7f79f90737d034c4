"""Image files on disk: a folder of images (sub-folders are classes), or one image file."""

from __future__ import annotations

from pathlib import Path

from genforge.data.context import Loaded, ReadContext
from genforge.data.decode import decode_images
from genforge.data.paths import IMAGE_EXTENSIONS, classes_from_layout, walk_images
from genforge.errors import DataError

OPTIONS: frozenset[str] = frozenset()


def files(path: Path, ctx: ReadContext) -> list[Path]:
    """The files whose size and time key the cache."""
    if path.is_file():
        return [path]
    return [path / relative for relative in walk_images(path)[0]]


def read(path: Path, ctx: ReadContext) -> Loaded:
    """Read a folder of images; sub-folder names (sorted) are the class names.

    Images directly in the folder give a frame without labels. Hidden files, ``__MACOSX`` and files
    without an image extension are ignored. ``limit`` keeps the first images in sorted path order.
    """
    if path.is_file():
        return _read_one(path, ctx)
    relative, escapes, ignored = walk_images(path)
    for name, reason in escapes:
        ctx.bad(str(path / name), reason, "Copy the files into the dataset folder, or import the link's target.")
    if not relative:
        others = f" It holds {len(ignored)} other files (e.g. {ignored[0]})." if ignored else " It is empty."
        raise DataError(
            f"{path} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)} files, also in sub-folders)."
            f"{others} Point import_file at a folder of images, one sub-folder per class."
        )
    labels, class_names = classes_from_layout(relative, str(path))
    count = ctx.limited(len(relative))
    sources = [str(path / name) for name in relative[:count]]
    images, kept = decode_images(sources, lambda i: open(sources[i], "rb"), ctx, str(path))
    return Loaded(
        images,
        labels[:count][kept] if labels is not None else None,
        class_names,
        [sources[i] for i in kept],
    )


def _read_one(path: Path, ctx: ReadContext) -> Loaded:
    images, _ = decode_images([str(path)], lambda i: open(path, "rb"), ctx, str(path))
    return Loaded(images, sources=[str(path)])
