"""A ``.zip`` of images, laid out like a folder (sub-folders are classes), read in memory.

Nothing is extracted to disk. Before any member is inflated the archive is checked as a whole: member
names must stay inside the archive, the images' declared sizes must add up to less than
``max_inflated_bytes`` and no member may inflate more than ``max_ratio`` times its compressed size.
zipfile never inflates a member past its declared size (it stops there and fails the CRC check), so the
declared sizes bound the memory used. An archive that breaks these rules is rejected as a whole, even
under ``on_error="skip"``: it was made to attack, not by mistake.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from genforge.data.context import Loaded, ReadContext
from genforge.data.decode import decode_images
from genforge.data.limits import format_size
from genforge.data.paths import (
    IMAGE_EXTENSIONS,
    classes_from_layout,
    is_hidden,
    is_image_name,
    unsafe_reason,
)
from genforge.errors import DataError, ParameterError

OPTIONS = frozenset({"max_inflated_bytes", "max_ratio"})
MAX_INFLATED_BYTES = 2 * 1024**3
MAX_RATIO = 250.0
# Small members cannot inflate to much whatever their ratio; a blank 64x64 BMP legitimately deflates 100x.
_RATIO_FLOOR = 64 * 1024


def files(path: Path, ctx: ReadContext) -> list[Path]:
    return [path]


def read(path: Path, ctx: ReadContext) -> Loaded:
    """Read the images of a zip archive; ``max_inflated_bytes`` and ``max_ratio`` bound its inflation."""
    limit = _positive(ctx.option("max_inflated_bytes", MAX_INFLATED_BYTES), "max_inflated_bytes")
    max_ratio = _positive(ctx.option("max_ratio", MAX_RATIO), "max_ratio")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable zip archive ({exc}). Re-create the archive.") from None
    with archive:
        members = _image_members(archive, path)
        labels, class_names = classes_from_layout([m.filename for m in members], str(path))
        count = ctx.limited(len(members))
        members = members[:count]
        _check_inflation(members, path, limit, max_ratio)
        # The images' files are rarely bigger than their pixels: what passes the frame limit inflated does not
        # fit decoded either. Checked before any member is inflated.
        ctx.limits.check_frame((sum(m.file_size for m in members),), where=f"{path} (its {len(members)} members)")
        sources = [f"{path}/{m.filename}" for m in members]
        images, kept = decode_images(sources, lambda i: _open_member(archive, members[i]), ctx, str(path))
    return Loaded(
        images,
        labels[:count][kept] if labels is not None else None,
        class_names,
        [sources[i] for i in kept],
    )


def _image_members(archive: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    members, ignored = [], []
    for info in archive.infolist():
        reason = unsafe_reason(info.filename)
        if reason:
            raise DataError(
                f"{path}: the archive member {info.filename!r} is unsafe: {reason}. The archive is rejected; "
                "re-create it from a folder with relative paths only."
            )
        if info.is_dir() or any(is_hidden(part) for part in info.filename.split("/")):
            continue
        if is_image_name(info.filename):
            members.append(info)
        else:
            ignored.append(info.filename)
    if not members:
        others = f" It holds {len(ignored)} other files (e.g. {ignored[0]})." if ignored else " It is empty."
        raise DataError(
            f"{path} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)} members).{others} "
            "Zip a folder of images, one sub-folder per class."
        )
    return sorted(members, key=lambda m: m.filename)


def _check_inflation(members: list[zipfile.ZipInfo], path: Path, limit: float, max_ratio: float) -> None:
    total = sum(m.file_size for m in members)
    if total > limit:
        raise DataError(
            f"{path}: its {len(members)} images would inflate to {format_size(total)}, past the limit of "
            f"{format_size(limit)}. If you trust this archive, pass max_inflated_bytes={total} or more.",
            suggests={"max_inflated_bytes": total})
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _RATIO_FLOOR and ratio > max_ratio:
            raise DataError(
                f"{path}: the member {m.filename!r} inflates {ratio:.0f} times ({format_size(m.compress_size)} to "
                f"{format_size(m.file_size)}), past max_ratio={max_ratio:g}: it looks like a zip bomb. If you trust "
                "this archive, pass a larger max_ratio."
            )


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> io.BytesIO:
    if info.flag_bits & 0x1:
        raise DataError("the member is encrypted; genforge reads only unencrypted archives")
    # Bounded by the declared size that _check_inflation summed; zipfile also stops there.
    with archive.open(info) as member:
        return io.BytesIO(member.read(info.file_size))


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ParameterError(f"{name} must be a positive number, got {value!r}.")
    return float(value)
