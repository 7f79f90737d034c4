"""What a client may name on the server: paths inside the import roots, built-in evaluators, models by id.

Every route and job parameter that names something to read goes through here:

* ``confined_path``: a server-side import source. Anything but an existing, readable file or folder inside
  an import root gets one and the same 404, whether the path is outside the roots, missing, a link out,
  unreadable or not a path at all, so that a client cannot learn what exists on the server.
* ``resolve_evaluator`` / ``check_job_parameters``: a job's ``evaluator`` is a built-in evaluator name or
  the id of a CNN model stored on the server, never a folder; other parameters may not name files at all.
  The worker resolves the name or id to a folder when the job runs, as it does for ``checkpoint``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from genforge.server.errors import ApiError
from genforge.server.settings import Settings

# Ids of frames, jobs and models that come from outside: a plain name, never a path.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def valid_id(ident: str) -> bool:
    return bool(_ID.match(ident)) and ".." not in ident

# Parameters the server resolves itself (checkpoint: a model id, checked in routes_jobs; evaluator: here) or
# sets itself (run_dir). No other parameter may carry something that looks like a path.
RESOLVED_PARAMS = ("checkpoint", "evaluator", "run_dir")


def refusal(source: str) -> ApiError:
    return ApiError(404, f"{source[:200]!r}: no dataset by that name or path that this server may read. Server-side "
                         "imports read only existing files and folders inside the server's import folders (its "
                         "data dir's imports/ folder, where relative paths start, and any folder its operator "
                         "added with `genforge start --root`). Copy the data there, or upload it.")


def confined_path(settings: Settings, source: str) -> Path:
    """The real path of ``source`` (relative ones under the data dir's imports/) when it is an existing,
    readable file or folder inside an import root; otherwise ``refusal(source)``, the same in every case."""
    try:
        raw = Path(source).expanduser()
        path = (raw if raw.is_absolute() else settings.imports_dir / raw).resolve()
        inside = any(path == root or root in path.parents for root in settings.allowed_roots)
        if inside and (path.is_file() or path.is_dir()) and os.access(path, os.R_OK):
            return path
    except (OSError, RuntimeError, ValueError):  # too long, a symlink loop, a NUL byte, no such user for ~
        pass
    raise refusal(source)


def dataset_by_name(name: str, source: str) -> str:
    """A built-in name as is, a ``$GENFORGE_DATA`` name as its path there: never a path under the server's
    working folder, which ``import_file`` would look at first for a name that is not built in."""
    from genforge.data import builtin

    if builtin.canonical(name) is not None:
        return name
    found = builtin.find_in_data_dir(source.strip()) or builtin.find_in_data_dir(name)
    if found is None:
        raise refusal(source)
    return str(found)


def _evaluator_refusal(value: Any) -> ApiError:
    from genforge.metrics.domain import builtin_evaluators

    shown = repr(value)[:200]
    return ApiError(422, f"parameters.evaluator: {shown} is neither a built-in evaluator "
                         f"({', '.join(builtin_evaluators()) or 'none'}) nor the id of a CNN model on this server "
                         "(GET /api/v1/models). On a server the evaluator is never read from a path: upload the "
                         "CNN model (POST /api/v1/models) and name its id.")


def resolve_evaluator(db, value: Any) -> str | None:
    """The folder a job's or model's ``evaluator`` value stands for on this server: None for None/"auto", the
    package folder of a built-in evaluator, or the folder of a CNN model stored here (by id); else 422."""
    if value is None or value == "auto":
        return None
    if not isinstance(value, str) or not value.strip():
        raise _evaluator_refusal(value)
    from genforge.metrics.domain import builtin_evaluators, evaluator_folder
    from genforge.server.db import ModelRow

    key = value.strip()
    if key.split(":", 1)[0] in builtin_evaluators():  # the list, not the folder: no "../" into the package
        return str(evaluator_folder(key))
    if valid_id(key):
        with db.session() as session:
            row = session.get(ModelRow, key)
        if row is not None and row.algo == "cnn" and (row.format or "genforge") == "genforge":
            return row.path
    raise _evaluator_refusal(value)


def check_job_parameters(db, params: dict[str, Any], schema: dict[str, dict[str, Any]]) -> None:
    """Refuse job parameters that name a file: ``evaluator`` must resolve (see ``resolve_evaluator``), and a
    free-text parameter (one without choices) must not look like a path."""
    if "evaluator" in params:
        resolve_evaluator(db, params["evaluator"])
    for name, value in params.items():
        if name in RESOLVED_PARAMS or not isinstance(value, str) or schema.get(name, {}).get("choices"):
            continue
        if value.startswith(("/", "~", "./", "../", "\\")) or "/" in value or "\\" in value:
            raise ApiError(422, f"parameters.{name}: {value[:200]!r} looks like a path; job parameters cannot "
                                "name files on the server.")
