"""Reading the API key from a file (``genforge start --api-key-file``, ``$GENFORGE_API_KEY_FILE``).

A key given as ``--api-key`` shows in ``ps`` to every user of the machine; a file does not, as long as
only its owner can read it. So the file is refused, with the fix, when it is missing, empty, not a regular
file, or open to the group or to others in any way (the check ssh makes of a private key).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class KeyFileError(ValueError):
    """The key file cannot be used; the message says why and how to fix it."""


def read_key_file(path: str | os.PathLike) -> str:
    """The key in ``path``: its first line, without surrounding whitespace."""
    file = Path(path).expanduser()
    try:
        info = file.stat()
    except FileNotFoundError:
        raise KeyFileError(f"the API key file {file} does not exist; write the key into it "
                           f"(e.g. `umask 077; openssl rand -hex 32 > {file}`).") from None
    except OSError as error:
        raise KeyFileError(f"the API key file {file} cannot be read ({error.strerror}).") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"the API key file {file} is not a regular file.")
    if info.st_mode & 0o077:
        raise KeyFileError(f"the API key file {file} is open to other users (mode {stat.S_IMODE(info.st_mode):03o}); "
                           f"make it readable by its owner only: chmod 600 {file}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"the API key file {file} cannot be read ({error}).") from None
    lines = text.strip().splitlines()
    key = lines[0].strip() if lines else ""
    if not key:
        raise KeyFileError(f"the API key file {file} is empty; write the key on its first line.")
    return key
