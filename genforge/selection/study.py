"""The Optuna study behind a search: where it is stored, its configuration, and who runs which trial.

Storage: ``None`` is a local SQLite file (``<out>/automl.db``); a SQLAlchemy URL (``sqlite:///x.db``,
``postgresql+psycopg://...``) is opened as Optuna's RDBStorage, so processes on several machines can run
trials of one study. The study's name is the search's ``project_name`` and its configuration (frames,
budget, search space) is kept in the study itself (user attribute ``genforge``), so that a worker started
with only the study name and the storage URL knows what to do.

Claims: each unit of work (candidate ``i`` at rung ``k``) has a key ``c<i>/r<k>``. A process takes one by
creating a new trial that carries the key from the start (one INSERT, atomic on any database); when a
lower-numbered *live* trial holds the same key (waiting, running or finished with a result), the new one
is a duplicate: it is closed at once, marked ``note="duplicate"``, and never runs. So no unit is run twice,
whatever the timing between processes. A trial whose process died (same host, pid gone) or whose heartbeat
stopped is marked ``note="interrupted"`` and failed; its key is live no more, so it is run again.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genforge.errors import ParameterError

CONFIG_ATTR = "genforge"
HEARTBEAT_SECS = 15.0
STALE_SECS = 120.0  # a running trial whose heartbeat is older than this is taken for dead
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ACTIVE: set[tuple[str, int]] = set()  # (study, trial number) that this process is running now


def optuna():
    """The optuna module, or a clear error saying how to install it."""
    try:
        import optuna as _optuna
    except ImportError:
        raise ParameterError("grid search and AutoML need Optuna: pip install 'genforge[automl]' "
                             "(or pip install optuna).") from None
    _optuna.logging.set_verbosity(_optuna.logging.WARNING)
    return _optuna


def check_name(name: str, what: str = "project_name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"{what} {name!r} is not a usable name: use 1-100 letters, digits, '_', '.' or '-', "
                             "starting with a letter or digit.")
    return name


def storage_url(storage: str | None, out: Path) -> str:
    """The SQLAlchemy URL of ``storage`` (None: ``<out>/automl.db``); refuses what is not a URL."""
    if storage is None:
        out.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(out / 'automl.db').resolve()}"
    if not isinstance(storage, str):
        raise ParameterError(f"storage must be a SQLAlchemy URL string, got {type(storage).__name__}.")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(storage)
    except ArgumentError:
        raise ParameterError(f"storage {storage!r} is not a database URL; pass a SQLAlchemy URL such as "
                             "sqlite:///study.db or postgresql+psycopg://user@host/db.") from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        parent = Path(url.database).expanduser().parent
        if not parent.is_dir():
            raise ParameterError(f"storage {storage!r}: the folder {str(parent)!r} does not exist.")
    elif url.get_backend_name() == "sqlite":
        raise ParameterError("storage: an in-memory SQLite database cannot be shared or resumed; name a file "
                             "(sqlite:///study.db).")
    return storage


def open_storage(url: str):
    """Optuna's RDBStorage on ``url``; SQLite waits for locks rather than failing (several processes)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    try:
        return optuna().storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as error:  # noqa: BLE001 - a bad URL or an unreachable server: say which
        raise ParameterError(f"cannot open the study storage {_safe(url)}: {type(error).__name__}: "
                             f"{str(error).splitlines()[0][:300]}") from None


def _safe(url: str) -> str:
    """``url`` without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "(unparseable URL)"


def create_or_load(storage, name: str, config: dict | None, sampler=None):
    """The study ``name`` with its stored configuration; created with ``config`` when it does not exist.
    With ``config=None`` the study must exist (a worker)."""
    op = optuna()
    names = {s.study_name for s in op.get_all_study_summaries(storage, include_best_trial=False)}
    if name not in names:
        if config is None:
            raise ParameterError(f"there is no study {name!r} in this storage; studies there: "
                                 f"{', '.join(sorted(names)) or 'none'}.")
        study = op.create_study(storage=storage, study_name=name, sampler=sampler, direction="minimize")
        study.set_user_attr(CONFIG_ATTR, config)
        return study, config
    study = op.load_study(study_name=name, storage=storage, sampler=sampler)
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise ParameterError(f"study {name!r} was not made by genforge (it has no {CONFIG_ATTR!r} attribute); "
                             "use another project_name.")
    return study, stored


def set_config(study, config: dict) -> None:
    study.set_user_attr(CONFIG_ATTR, config)


# ------------------------------------------------------------------------------------- trials
@dataclass
class TrialView:
    """What the schedule needs of one trial."""

    number: int
    trial_id: int
    state: str  # RUNNING, COMPLETE, FAIL, ...
    attrs: dict
    started: _dt.datetime | None
    completed: _dt.datetime | None

    @property
    def key(self) -> str | None:
        return self.attrs.get("key")

    @property
    def row(self) -> dict | None:
        return self.attrs.get("row")

    @property
    def is_live(self) -> bool:
        """Running, or finished with a result: its key needs no other trial."""
        if self.attrs.get("note") in ("duplicate", "interrupted"):
            return False
        return self.state == "RUNNING" or self.row is not None

    def seconds(self, now: _dt.datetime) -> float:
        if self.started is None or self.attrs.get("note") == "duplicate":
            return 0.0
        end = self.completed or (now if self.state == "RUNNING" else self.started)
        return max(0.0, (end - self.started).total_seconds())


def trials(study) -> list[TrialView]:
    return [TrialView(t.number, t._trial_id, t.state.name, dict(t.user_attrs), t.datetime_start, t.datetime_complete)
            for t in study.get_trials(deepcopy=False)]


def claim(study, key: str, attrs: dict, params: dict | None = None, distributions: dict | None = None):
    """A new running trial holding ``key`` (see the module docstring), or None when another live trial
    holds it already (the new one is then closed as a duplicate)."""
    op = optuna()
    TrialState = op.trial.TrialState
    storage = study._storage
    study_id = storage.get_study_id_from_name(study.study_name)
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time()}
    template = op.trial.create_trial(state=TrialState.RUNNING, params=params or {}, distributions=distributions or {},
                                     user_attrs={**attrs, "key": key, **owner})
    trial_id = storage.create_new_trial(study_id, template_trial=template)
    mine = storage.get_trial(trial_id)
    earlier = [t for t in trials(study) if t.key == key and t.number < mine.number and t.is_live]
    if earlier:
        storage.set_trial_user_attr(trial_id, "note", "duplicate")
        storage.set_trial_user_attr(trial_id, "duplicate_of", earlier[0].number)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        return None
    _ACTIVE.add((study.study_name, mine.number))
    return op.Trial(study, trial_id)


def release(study, trial) -> None:
    _ACTIVE.discard((study.study_name, trial.number))


def mark_stale(study, now: float | None = None) -> list[int]:
    """Fail the running trials whose process is gone (see the module docstring); returns their numbers."""
    op = optuna()
    now = time.time() if now is None else now
    host, storage, found = socket.gethostname(), study._storage, []
    for t in trials(study):
        if t.state != "RUNNING" or t.key is None:
            continue
        if _is_alive(t, study.study_name, host, now):
            continue
        try:
            storage.set_trial_user_attr(t.trial_id, "note", "interrupted")
            storage.set_trial_state_values(t.trial_id, op.trial.TrialState.FAIL)
            found.append(t.number)
        except Exception:  # noqa: BLE001 - another process finished or failed it first
            continue
    return found


def _is_alive(t: TrialView, study_name: str, host: str, now: float) -> bool:
    if t.attrs.get("host") == host:
        pid = t.attrs.get("pid")
        if pid == os.getpid():
            return (study_name, t.number) in _ACTIVE
        if not _pid_alive(pid):
            return False
    return now - float(t.attrs.get("heartbeat") or 0) < STALE_SECS


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Refreshes a running trial's ``heartbeat`` attribute from a daemon thread until stopped."""

    def __init__(self, storage, trial_id: int, every: float = HEARTBEAT_SECS) -> None:
        self.storage, self.trial_id, self.every = storage, trial_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="genforge-heartbeat")

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.storage.set_trial_user_attr(self.trial_id, "heartbeat", time.time())
            except Exception:  # noqa: BLE001 - the trial was finished meanwhile, or the database is busy
                pass
