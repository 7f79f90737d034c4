"""``genforge start``: serve the REST API (and later the web UI) under uvicorn."""

from __future__ import annotations

import os

import click

from genforge.server.settings import DEFAULT_HOST, DEFAULT_PORT


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to bind (127.0.0.1: this machine only).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option("--data-dir", default=None, help="Folder for the database, frames, models and runs "
              "[default: $GENFORGE_SERVER_DATA or ./genforge-data].")
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL [default: a SQLite file in the data dir; "
              "$GENFORGE_DB].")
@click.option("--api-key", default=None, help="Require this key (X-API-Key or Authorization: Bearer) on every "
              "route but /v2/health/live [default: $GENFORGE_API_KEY]. Visible to other users in `ps`: prefer "
              "--api-key-file or the variable.")
@click.option("--api-key-file", default=None, help="Read the API key from this file's first line; it must be "
              "readable by its owner only (chmod 600) [default: $GENFORGE_API_KEY_FILE].")
@click.option("--max-jobs", default=None, type=click.IntRange(min=1), help="Training jobs run at once; more queue "
              "[default: 1].")
@click.option("--root", "roots", multiple=True, help="A folder server-side imports may read (repeatable); the data "
              "dir's imports/ always is one.")
@click.option("--preload", multiple=True, help="Built-in datasets to register at startup (repeatable; "
              "'none' for none) [default: digits].")
@click.option("--max-upload-mb", default=None, type=click.IntRange(min=1), help="Largest request body [default: 256].")
@click.option("--max-image-pixels", default=None, type=click.IntRange(min=1), help="Most pixels one imported image may "
              "decode to, checked from its header [default: 4194304, 2048x2048].")
@click.option("--max-frame-mb", default=None, type=click.IntRange(min=1), help="Most MiB of pixels one imported frame "
              "may decode to, checked before decoding [default: 1024].")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def start(host: str, port: int, data_dir: str | None, db_url: str | None, api_key: str | None,
          api_key_file: str | None, max_jobs: int | None, roots: tuple[str, ...], preload: tuple[str, ...],
          max_upload_mb: int | None, max_image_pixels: int | None, max_frame_mb: int | None, log_level: str) -> None:
    """Start the genforge server: REST API under /api/v1, OpenAPI docs at /docs, inference at /v2."""
    try:
        import uvicorn

        from genforge.server.app import create_app
    except ImportError as error:
        raise click.ClickException(f"the server needs its extra packages ({error.name} is missing): "
                                   "pip install 'genforge[server]'") from None
    from genforge.server.db import safe_url
    from genforge.server.keyfile import KeyFileError
    from genforge.server.settings import Settings

    if api_key is not None and api_key_file:
        raise click.UsageError("pass --api-key or --api-key-file, not both.")

    overrides = {"data_dir": data_dir, "db_url": db_url, "api_key": api_key, "api_key_file": api_key_file,
                 "max_jobs": max_jobs,
                 "roots": list(roots) or None,
                 "preload": tuple(p for p in preload if p.lower() != "none") if preload else None,
                 "max_upload_bytes": max_upload_mb * 1024 * 1024 if max_upload_mb else None,
                 "max_image_pixels": max_image_pixels,
                 "max_frame_bytes": max_frame_mb * 1024 * 1024 if max_frame_mb else None}
    try:
        settings = Settings.from_env(**overrides)
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None
    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"genforge server: http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    click.echo(f"data: {settings.data_dir}  database: {safe_url(settings.database_url)}  max jobs: {settings.max_jobs}")
    if settings.api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host} without an API key; pass --api-key-file or set GENFORGE_API_KEY.", err=True)
    os.environ.setdefault("GENFORGE_SERVER_DATA", str(settings.data_dir))
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)

