"""The server on PostgreSQL: its rows are in the PostgreSQL database it was given (not in a SQLite file), and
what PostgreSQL refuses to store (NUL characters) is a 422, not a 500. The job and model scenarios themselves
run on both databases in test_jobs, test_models and test_restart."""

from __future__ import annotations

import pytest

from .conftest import upload

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_rows_live_in_postgresql(make_client, db_url, tmp_path):
    import psycopg

    client = make_client()
    frame = upload(client)["id"]
    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id FROM frames").fetchall() == [(frame,)]
        assert conn.execute("SELECT value FROM genforge_meta WHERE key = 'schema_version'").fetchone()[0]
    assert not (tmp_path / "data" / "genforge.db").exists()


def test_what_postgresql_cannot_store_is_a_422(make_client):
    client = make_client()
    for path in ("/api/v1/models/a%00b", "/api/v1/frames/a%00b", "/api/v1/jobs/a%00b", "/v2/models/a%00b"):
        response = client.get(path)
        assert response.status_code == 422 and "NUL" in response.text, (path, response.text)
    named = client.post("/api/v1/frames", files={"file": ("t.npz", b"x")}, data={"name": "a\x00b"})
    assert 400 <= named.status_code < 500
    assert client.get("/api/v1/frames").json() == []
