"""The server's database: frames, jobs and models through SQLAlchemy, with a versioned schema.

A SQLite file in the data dir by default (WAL mode, so that training workers write progress while the
server reads), any SQLAlchemy URL (PostgreSQL, ...) when given. The ``genforge_meta`` table records the
schema version: an older database is migrated step by step through ``MIGRATIONS``, a newer one or one
that genforge did not create is refused with a clear message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy import (
    JSON, Connection, DateTime, Float, Integer, String, Text, UniqueConstraint, create_engine, event, inspect, select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from genforge.errors import GenforgeError

SCHEMA_VERSION = 4
# from_version -> a function that upgrades a connection's schema to from_version + 1 (see the end of the file).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
MODEL_FORMATS = ("genforge", "onnx")  # a model folder (model.json + weights.safetensors) | an exported model.onnx

# a training run | model_performance of a model on a frame | a model's report | an AutoML or grid search (its
# trainings run inside it, one at a time) | one more process running trials of a search's study (started by the
# search, --max-jobs bound)
JOB_KINDS = ("train", "evaluate", "report", "automl", "grid", "search-worker")
MODEL_JOB_KINDS = ("evaluate", "report")  # jobs that read a model (no checkpoint to resume from)
SEARCH_KINDS = ("automl", "grid")
FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")
JOB_STATUSES = ("queued", "running", *FINAL_STATUSES)


class DatabaseError(GenforgeError, RuntimeError):
    """The database cannot be used: another program's, a newer genforge's, or unreachable."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "genforge_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class FrameRow(Base):
    __tablename__ = "frames"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(Text)  # the built-in name, server-side path or uploaded file name
    kind: Mapped[str] = mapped_column(String(16))  # builtin | path | upload
    path: Mapped[str] = mapped_column(Text)  # the .npz file in the data dir
    rows: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[Any] = mapped_column(JSON, nullable=True)
    class_counts: Mapped[Any] = mapped_column(JSON, nullable=True)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="train", server_default="train")  # JOB_KINDS
    algo: Mapped[str] = mapped_column(String(32))
    training_frame: Mapped[str] = mapped_column(String(64))
    validation_frame: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parameters: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[int] = mapped_column(Integer, default=0)
    images_per_sec: Mapped[float | None] = mapped_column(Float, nullable=True)
    eta_secs: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[Any] = mapped_column(JSON, nullable=True)  # the latest running means
    history: Mapped[Any] = mapped_column(JSON, nullable=True)
    model_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # made, or (evaluate) scored
    result: Mapped[Any] = mapped_column(JSON, nullable=True)  # an evaluate job's {"model_id", "frame", "metrics"}
    run_dir: Mapped[str] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # bumped by each start; stale workers lose
    resume: Mapped[int] = mapped_column(Integer, default=0)  # 1: continue from run_dir/checkpoint
    parent: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # a search-worker's search
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ModelRow(Base):
    __tablename__ = "models"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    algo: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    parameters: Mapped[Any] = mapped_column(JSON)
    frame_schema: Mapped[Any] = mapped_column(JSON, nullable=True)
    metrics: Mapped[Any] = mapped_column(JSON, nullable=True)
    history: Mapped[Any] = mapped_column(JSON, nullable=True)
    info: Mapped[Any] = mapped_column(JSON, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="job")  # job | upload
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    format: Mapped[str] = mapped_column(String(16), default="genforge", server_default="genforge")  # MODEL_FORMATS


class LeaderboardRow(Base):
    """One candidate of a search (an AutoML or grid job): its scores as the selection API reported them."""

    __tablename__ = "leaderboard"
    __table_args__ = (UniqueConstraint("search_id", "candidate", name="uq_leaderboard_candidate"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    search_id: Mapped[str] = mapped_column(String(64), index=True)  # the search's job id
    candidate: Mapped[str] = mapped_column(String(128))  # the selection API's model_id for this candidate
    model_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the server's model (None: no model)
    algo: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # ok | failed | collapsed | diverged | memorizes
    reason: Mapped[str] = mapped_column(Text, default="")
    scores: Mapped[Any] = mapped_column(JSON)  # fid, kid, precision, ... (numbers or None)
    params: Mapped[Any] = mapped_column(JSON, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ServedRow(Base):
    """A served name: ``/v2/models/{name}`` answers with the model it points at (a search's project name
    points at the model chosen on its leaderboard, the leader until someone chooses)."""

    __tablename__ = "served"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(128), index=True)
    search_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chosen: Mapped[int] = mapped_column(Integer, default=0)  # 1: set by a user (the search's end keeps it)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Database:
    """An engine and a session factory over a checked (and if need be migrated) schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except Exception as error:  # noqa: BLE001 - bad URL, missing driver, unreachable or unwritable
            raise DatabaseError(f"cannot open the database {safe_url(url)}: {str(error).splitlines()[0]}") from None
        try:
            prepare_schema(self.engine)
        except DatabaseError:
            self.engine.dispose()
            raise
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - readiness only reports
            return False

    def close(self) -> None:
        self.engine.dispose()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not even a URL
        return "(an unparsable database URL)"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        # WAL (readers never wait for the workers' progress writes) is a property of the file: set it once.
        if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
            with engine.connect() as conn:
                if conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    return create_engine(url, pool_pre_ping=True)


def prepare_schema(engine: Engine) -> int:
    """Create a fresh schema, migrate an older one, or refuse; returns the version in force."""
    try:
        tables = set(inspect(engine).get_table_names())
    except Exception as error:  # noqa: BLE001 - any driver error means: cannot use this database
        raise DatabaseError(f"cannot open the database {engine.url!r}: {error}") from None
    ours = {t.name for t in Base.metadata.sorted_tables}
    if not tables:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        return SCHEMA_VERSION
    if "genforge_meta" not in tables:
        raise DatabaseError(
            f"the database {engine.url!r} has tables ({', '.join(sorted(tables)[:5])}) but no genforge_meta "
            "table: it was not created by genforge. Point --db at an empty or a genforge database."
        )
    with engine.connect() as conn:
        value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    try:
        version = int(value)
    except (TypeError, ValueError):
        raise DatabaseError(f"the database {engine.url!r} records no valid schema version ({value!r}).") from None
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"the database {engine.url!r} has schema version {version}, newer than this genforge reads "
            f"({SCHEMA_VERSION}); upgrade genforge, or start with another --data-dir / --db."
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise DatabaseError(
                f"the database {engine.url!r} has schema version {version}, which this genforge cannot migrate "
                f"to version {SCHEMA_VERSION}; export its models and start with a new --data-dir."
            )
        with engine.begin() as conn:
            step(conn)
            version += 1
            conn.execute(Meta.__table__.update().where(Meta.key == "schema_version").values(value=str(version)))
    missing = ours - set(inspect(engine).get_table_names())
    if missing:
        Base.metadata.create_all(engine)
    return version


def _add_model_format(conn: Connection) -> None:
    """1 -> 2: ``models.format`` ("genforge" for every model until then; "onnx" for uploaded exports)."""
    if "format" not in {c["name"] for c in inspect(conn).get_columns("models")}:
        conn.execute(text("ALTER TABLE models ADD COLUMN format VARCHAR(16) NOT NULL DEFAULT 'genforge'"))


MIGRATIONS[1] = _add_model_format


def _add_job_kind_and_result(conn: Connection) -> None:
    """2 -> 3: ``jobs.kind`` ("train" for every job until then; "evaluate" for evaluations run as jobs) and
    ``jobs.result`` (an evaluate job's scores)."""
    columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    if "kind" not in columns:
        conn.execute(text("ALTER TABLE jobs ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'train'"))
    if "result" not in columns:
        conn.execute(text("ALTER TABLE jobs ADD COLUMN result JSON"))


MIGRATIONS[2] = _add_job_kind_and_result


def _add_search_tables(conn: Connection) -> None:
    """3 -> 4: the ``leaderboard`` of AutoML and grid searches, the ``served`` names, and ``jobs.parent`` (the
    search a "search-worker" job runs trials of; NULL for every job until then)."""
    if "parent" not in {c["name"] for c in inspect(conn).get_columns("jobs")}:
        conn.execute(text("ALTER TABLE jobs ADD COLUMN parent VARCHAR(64)"))
        conn.execute(text("CREATE INDEX ix_jobs_parent ON jobs (parent)"))
    Base.metadata.create_all(conn, tables=[LeaderboardRow.__table__, ServedRow.__table__])


MIGRATIONS[3] = _add_search_tables
