"""Server settings: where data lives, the database URL, the API key, limits. Read from ``genforge start``'s
options or from ``GENFORGE_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 54321  # H2O's port


@dataclass
class Settings:
    """Everything the app needs. ``roots`` are the folders server-side imports may read from (the data
    dir's ``imports/`` folder is always one); ``preload`` names built-in datasets registered at startup
    so that a fresh server has something to train on."""

    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("GENFORGE_SERVER_DATA", "genforge-data")))
    db_url: str | None = None  # None: a SQLite file in data_dir
    api_key: str | None = None
    max_jobs: int = 1
    roots: list[Path] = field(default_factory=list)
    max_upload_bytes: int = 256 * 1024 * 1024
    max_images: int = 250_000
    max_generate: int = 1024
    # Decompression limits of every import (genforge.data.limits), smaller than the Python API's 16.7 M / 4 GiB:
    # a server takes data from anyone with the key.
    max_image_pixels: int = 2048 * 2048
    max_frame_bytes: int = 1024**3
    preload: tuple[str, ...] = ("digits",)
    model_cache: int = 8  # loaded models kept in memory for generate / infer
    worker_threads: int = 0  # torch threads per training worker (0 = torch's default)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.roots = [Path(r).expanduser().resolve() for r in self.roots]
        if self.max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {self.max_jobs}.")
        if self.api_key == "":
            self.api_key = None
        if self.max_image_pixels < 1 or self.max_frame_bytes < 1:
            raise ValueError("max_image_pixels and max_frame_bytes must be positive.")

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Settings from ``GENFORGE_*`` variables, then ``overrides`` (None values are ignored). The API key
        comes from ``api_key``, else the file ``api_key_file`` names (``$GENFORGE_API_KEY_FILE``), else
        ``$GENFORGE_API_KEY``; a key file that is missing, empty or open to other users raises KeyFileError."""
        env = os.environ
        values: dict = {}
        key_file = overrides.pop("api_key_file", None)
        if key_file and overrides.get("api_key") is not None:
            raise ValueError("pass an API key or an API key file, not both.")
        if env.get("GENFORGE_SERVER_DATA"):
            values["data_dir"] = env["GENFORGE_SERVER_DATA"]
        if env.get("GENFORGE_DB"):
            values["db_url"] = env["GENFORGE_DB"]
        if env.get("GENFORGE_API_KEY"):
            values["api_key"] = env["GENFORGE_API_KEY"]
        if env.get("GENFORGE_MAX_JOBS"):
            values["max_jobs"] = int(env["GENFORGE_MAX_JOBS"])
        if env.get("GENFORGE_SERVER_ROOTS"):
            values["roots"] = [p for p in env["GENFORGE_SERVER_ROOTS"].split(os.pathsep) if p]
        values.update({k: v for k, v in overrides.items() if v is not None})
        key_file = key_file or (env.get("GENFORGE_API_KEY_FILE") if overrides.get("api_key") is None else None)
        if key_file:
            from genforge.server.keyfile import read_key_file

            values["api_key"] = read_key_file(key_file)
        return cls(**values)

    # ------------------------------------------------------------------------------ derived paths
    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'genforge.db'}"

    @property
    def frames_dir(self) -> Path:
        return self.data_dir / "frames"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def imports_dir(self) -> Path:
        return self.data_dir / "imports"

    @property
    def allowed_roots(self) -> list[Path]:
        return [self.imports_dir, *self.roots]

    def make_dirs(self) -> None:
        for folder in (self.data_dir, self.frames_dir, self.models_dir, self.runs_dir, self.imports_dir):
            folder.mkdir(parents=True, exist_ok=True)
