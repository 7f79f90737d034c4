"""The current server connection, the H2O way: ``gf.init()``, ``gf.ls()``, ``gf.get_model``, ``gf.get_frame``,
``gf.remove`` and ``gf.shutdown()``.

    import genforge as gf
    conn = gf.init()                     # connect to http://127.0.0.1:54321, or start a local server there
    frame = conn.import_file("digits")
    print(gf.ls())                       # the server's frames and models
    gf.remove(frame)                     # or an id

``gf.init`` first tries to connect; when nothing answers at a local address it starts ``genforge start``
as a child process (on that address and port, with ``data_dir``), waits until ``/v2/health/live``
answers, and connects. A server that ``gf.init`` started is stopped by ``gf.shutdown()`` or when Python
exits, as H2O does with the cluster ``h2o.init`` starts. ``gf.connect(url)`` also makes its connection
the current one.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from genforge.errors import GenforgeError
from genforge.server.client import Connection, RemoteError, RemoteFrame, RemoteModel
from genforge.server.client import connect as _connect
from genforge.server.settings import DEFAULT_HOST, DEFAULT_PORT
from genforge.table import Table

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_current: Connection | None = None
_started: subprocess.Popen | None = None  # the server gf.init started, if any


def connect(url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", api_key: str | None = None, timeout: float = 120.0,
            client: Any = None) -> Connection:
    """Connect to a running genforge server and make it the current connection (see ``genforge.server.client``)."""
    global _current
    _current = _connect(url, api_key=api_key, timeout=timeout, client=client)
    return _current


def init(url: str | None = None, ip: str = DEFAULT_HOST, port: int = DEFAULT_PORT, data_dir: str | Path | None = None,
         api_key: str | None = None, start: bool = True, startup_timeout: float = 60.0) -> Connection:
    """Connect to the genforge server at ``url`` (default ``http://ip:port``), or, when nothing answers at a
    local address and ``start`` is True, start one there (``genforge start --host ip --port port
    --data-dir data_dir``; its log goes to ``<data_dir>/server.log``) and connect to it. Returns the
    connection, which becomes the current one."""
    global _started
    url = (url or f"http://{ip}:{port}").rstrip("/")
    if _live(url):
        return connect(url, api_key=api_key)
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if not start or host not in _LOCAL_HOSTS:
        raise GenforgeError(f"no genforge server answers at {url}; start one with `genforge start` (or call "
                            "gf.init() without url to start a local one).")
    if _started is not None and _started.poll() is None:
        raise GenforgeError(f"gf.init already started a server (pid {_started.pid}) that does not answer at {url}; "
                            "call gf.shutdown() first.")
    folder = Path(data_dir) if data_dir is not None else Path("genforge-data")
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "genforge", "start", "--host", host, "--port", str(url.rsplit(":", 1)[-1]),
               "--data-dir", str(folder)]
    if api_key:
        command += ["--api-key", api_key]
    log = open(folder / "server.log", "ab")
    try:
        _started = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + startup_timeout
    while not _live(url):
        if _started.poll() is not None:
            code, _started = _started.returncode, None
            raise GenforgeError(f"the genforge server exited with code {code} while starting; see "
                                f"{folder / 'server.log'}.")
        if time.monotonic() > deadline:
            shutdown()
            raise GenforgeError(f"the genforge server did not answer at {url} within {startup_timeout:.0f} s; see "
                                f"{folder / 'server.log'}.")
        time.sleep(0.2)
    return connect(url, api_key=api_key)


def connection() -> Connection:
    """The current connection (from ``gf.init`` or ``gf.connect``)."""
    if _current is None:
        raise GenforgeError("no genforge server connection; call gf.init() (or gf.connect(url)) first.")
    return _current


def shutdown() -> None:
    """Close the current connection and stop the server that ``gf.init`` started (a server started
    otherwise keeps running)."""
    global _current, _started
    if _current is not None:
        _current.close()
        _current = None
    process, _started = _started, None
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


atexit.register(shutdown)


def ls() -> Table:
    """The server's frames and models: one row each (``id``, ``kind``, ``name``, ``detail``)."""
    conn = connection()
    rows = [{"id": f.id, "kind": "frame", "name": f.record.get("name"),
             "detail": f"{f.record['rows']} images of {f.record['height']}x{f.record['width']}x{f.record['channels']}"}
            for f in conn.frames()]
    rows += [{"id": m.id, "kind": "model", "name": m.record.get("algo"), "detail": m.record.get("source") or ""}
             for m in conn.models()]
    return Table(rows, ["id", "kind", "name", "detail"])


def get_frame(frame_id: str) -> RemoteFrame:
    """The server's frame ``frame_id``."""
    return connection().get_frame(frame_id)


def get_model(model_id: str) -> RemoteModel:
    """The server's model ``model_id``."""
    return connection().get_model(model_id)


def remove(items: Any) -> None:
    """Delete frames and models from the server: a RemoteFrame, a RemoteModel, an id, or a list of them."""
    if isinstance(items, (str, RemoteFrame, RemoteModel)) or not isinstance(items, Iterable):
        items = [items]
    conn = connection()
    for item in items:
        if isinstance(item, (RemoteFrame, RemoteModel)):
            item.delete()
        elif isinstance(item, str):
            _remove_id(conn, item)
        elif getattr(item, "model", None) is not None and isinstance(item.model, RemoteModel):
            item.model.delete()  # a trained remote estimator: its model
        else:
            raise GenforgeError(f"gf.remove takes frames, models or their ids, got {type(item).__name__}.")


def _remove_id(conn: Connection, ident: str) -> None:
    for kind in ("frames", "models"):
        try:
            conn.request("DELETE", f"/api/v1/{kind}/{ident}")
            return
        except RemoteError as error:
            if error.status != 404:
                raise
    raise GenforgeError(f"the server has no frame or model {ident!r}; gf.ls() lists them.")


def _live(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/health/live", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
