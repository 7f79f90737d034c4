"""The database: versioned schema (migrated or refused), and state that survives a restart."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from genforge.server import db as dbmod
from genforge.server.db import Database, DatabaseError

from .conftest import install_model, upload


def _set_version(url: str, version: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE genforge_meta SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    engine.dispose()


def test_newer_older_and_foreign_databases(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    Database(url).close()
    _set_version(url, dbmod.SCHEMA_VERSION + 1)
    with pytest.raises(DatabaseError, match="newer than this genforge"):
        Database(url)
    _set_version(url, 0)
    with pytest.raises(DatabaseError, match="cannot migrate"):
        Database(url)
    steps = []
    monkeypatch.setitem(dbmod.MIGRATIONS, 0, lambda conn: steps.append(conn.execute(text("SELECT 1")).scalar()))
    Database(url).close()  # migrated step by step, and the version recorded
    assert steps == [1]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM genforge_meta")).scalar() == str(dbmod.SCHEMA_VERSION)
    engine.dispose()
    foreign = f"sqlite:///{tmp_path / 'other.db'}"
    engine = create_engine(foreign)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="not created by genforge"):
        Database(foreign)


def test_a_restarted_server_finds_its_frames_and_models(make_client, saved_gan):
    first = make_client()
    frame = upload(first)
    model = install_model(first, saved_gan)
    first.__exit__(None, None, None)
    second = make_client()
    assert second.get(f"/api/v1/frames/{frame['id']}").json()["rows"] == frame["rows"]
    assert second.get(f"/api/v1/models/{model['id']}").status_code == 200
    assert second.post(f"/api/v1/models/{model['id']}/generate", json={"n": 2, "format": "json"}).status_code == 200


def test_a_schema_1_database_gains_the_model_format_column(make_client, saved_gan, tmp_path):
    """Version 1 had no ``models.format``: the migration adds it, and the old models are "genforge" folders."""
    first = make_client()
    model = install_model(first, saved_gan)
    first.__exit__(None, None, None)
    url = f"sqlite:///{tmp_path / 'data' / 'genforge.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE models DROP COLUMN format"))  # as a version-1 server left it
    engine.dispose()
    _set_version(url, 1)
    second = make_client()
    assert second.get(f"/api/v1/models/{model['id']}").json()["format"] == "genforge"
    assert second.post(f"/api/v1/models/{model['id']}/generate", json={"n": 2, "format": "json"}).status_code == 200
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM genforge_meta")).scalar() == str(dbmod.SCHEMA_VERSION) == "4"  # 1 -> 2 -> 3 -> 4
    engine.dispose()


def test_a_schema_2_database_gains_the_job_kind_and_result_columns(make_client, tmp_path):
    """Version 2 had no ``jobs.kind`` nor ``jobs.result``: the migration adds them; old jobs are "train" jobs."""
    first = make_client()
    frame = upload(first)["id"]
    job = first.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                           "parameters": {"epochs": 1, "batch_size": 8, "width": 8, "latent_dim": 8}}).json()
    first.post(f"/api/v1/jobs/{job['id']}/cancel")
    first.__exit__(None, None, None)
    url = f"sqlite:///{tmp_path / 'data' / 'genforge.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN kind"))  # as a version-2 server left it
        conn.execute(text("ALTER TABLE jobs DROP COLUMN result"))
    engine.dispose()
    _set_version(url, 2)
    second = make_client()
    migrated = second.get(f"/api/v1/jobs/{job['id']}").json()
    assert migrated["kind"] == "train" and migrated["result"] is None and migrated["status"] == "cancelled"
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM genforge_meta")).scalar() == str(dbmod.SCHEMA_VERSION)
        assert {"kind", "result"} <= {row[1] for row in conn.execute(text("PRAGMA table_info(jobs)"))}
    engine.dispose()


def test_a_schema_3_database_gains_the_search_tables_and_the_job_parent(make_client, tmp_path):
    """Version 3 had no leaderboard, no served names and no ``jobs.parent``: the migration adds them; old jobs
    have no parent, and the searches' routes work on the migrated database."""
    first = make_client()
    frame = upload(first)["id"]
    job = first.post("/api/v1/jobs", json={"algo": "gan", "training_frame": frame,
                                           "parameters": {"epochs": 1, "batch_size": 8, "width": 8, "latent_dim": 8}}).json()
    first.post(f"/api/v1/jobs/{job['id']}/cancel")
    first.__exit__(None, None, None)
    url = f"sqlite:///{tmp_path / 'data' / 'genforge.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # as a version-3 server left it
        conn.execute(text("DROP TABLE leaderboard"))
        conn.execute(text("DROP TABLE served"))
        conn.execute(text("DROP INDEX ix_jobs_parent"))
        conn.execute(text("ALTER TABLE jobs DROP COLUMN parent"))
    engine.dispose()
    _set_version(url, 3)
    second = make_client()
    migrated = second.get(f"/api/v1/jobs/{job['id']}").json()
    assert migrated["parent"] is None and migrated["status"] == "cancelled"
    assert second.get("/api/v1/automl").json() == [] and second.get("/api/v1/served").json() == []
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM genforge_meta")).scalar() == str(dbmod.SCHEMA_VERSION) == "4"
        assert "parent" in {row[1] for row in conn.execute(text("PRAGMA table_info(jobs)"))}
        assert {"leaderboard", "served"} <= {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
