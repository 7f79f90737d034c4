"""A throw-away PostgreSQL cluster for the test session, so that the server's job and model scenarios run on
PostgreSQL as well as SQLite.

Debian's ``postgresql`` package (``make test`` installs it where apt is usable, as root) provides initdb and
pg_ctl under /usr/lib/postgresql/<version>/bin. The cluster lives in a temporary folder, listens on a free
port on 127.0.0.1 and on a socket in that folder, and trusts local connections; it is stopped and deleted at
the end of the session. initdb and postgres refuse to run as root: as root the commands run as the
``postgres`` system user that the package creates. Where none of this is available, the PostgreSQL cases skip
with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from tests.conftest import free_port

SUPERUSER = "genforge"



def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class Cluster:
    """A running cluster: ``url(name)`` gives the SQLAlchemy URL of database ``name`` in it."""

    def __init__(self, bindir: Path, folder: Path, run_as: list[str]) -> None:
        self.bindir, self.folder, self.run_as = bindir, folder, run_as
        self.port = free_port()
        self.data = folder / "data"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self.run_as, str(self.bindir / tool), *args], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database (each test's server starts from an empty schema); returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_cluster() -> tuple[Cluster | None, str]:
    """Start a cluster, or say why there is none (the reason the PostgreSQL cases skip with)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "the PostgreSQL driver is missing: pip install 'genforge[postgres]' (psycopg[binary])"
    bindir = _bindir()
    if bindir is None:
        return None, ("PostgreSQL is not installed: install the Debian package postgresql "
                      "(make test does where it runs as root with apt)")
    folder = Path(tempfile.mkdtemp(prefix="genforge-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the package's postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            return None, "running as root and there is no 'postgres' system user to run PostgreSQL as"
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(bindir, folder, run_as)
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        log = folder / "server.log"
        detail = log.read_text()[-500:] if log.is_file() else ""
        shutil.rmtree(folder, ignore_errors=True)
        return None, f"could not start a PostgreSQL cluster: {error} {detail}".strip()
    return cluster, ""
