"""``gf.init()`` and the session functions against a real ``genforge start`` subprocess (issue 16 item 8)."""

from __future__ import annotations


import numpy as np
import pytest

import genforge as gf
from genforge import session

from tests.conftest import free_port, make_frame

pytest.importorskip("httpx")



@pytest.fixture
def started(tmp_path):
    port = free_port()
    conn = gf.init(port=port, data_dir=tmp_path / "server", startup_timeout=120)
    yield conn, port
    gf.shutdown()


def test_init_starts_a_server_then_connects_to_it(started, tmp_path):
    conn, port = started
    process = session._started
    assert process is not None and process.poll() is None
    assert conn.url == f"http://127.0.0.1:{port}" and gf.connection() is conn
    assert (tmp_path / "server" / "server.log").is_file()
    again = gf.init(port=port)  # something answers now: connect, start nothing
    assert session._started is process and again is gf.connection()
    gf.shutdown()
    assert process.poll() is not None  # the server gf.init started is stopped
    with pytest.raises(gf.GenforgeError, match="no genforge server connection"):
        gf.ls()
    with pytest.raises(gf.GenforgeError, match="no genforge server answers"):
        gf.init(port=port, start=False)


def test_ls_get_and_remove(started, tmp_path):
    conn, _ = started
    local = make_frame(n=12, size=8)
    frame = conn.import_file(local, name="blobs")
    listed = gf.ls()
    assert frame.id in listed["id"] and "frame" in listed["kind"]
    remote = gf.get_frame(frame.id)
    # Remote and local frames answer alike.
    assert (remote.nrow, remote.ncol, remote.shape) == (local.nrow, local.ncol, local.shape)
    assert remote.image_shape == local.image_shape and remote.class_names == local.class_names
    assert remote.class_counts() == local.class_counts()

    gan = gf.GANEstimator(epochs=1, batch_size=8, width=8, latent_dim=8, seed=1, verbose=False).train(training_frame=local)
    uploaded = conn.upload_model(gf.save_model(gan, tmp_path / "models"))
    model = gf.get_model(uploaded.id)
    assert model.id in gf.ls()["id"]
    np.testing.assert_array_equal(model.predict(3, seed=4).images, gan.predict(3, seed=4).images)

    gf.remove(frame)            # an object
    gf.remove(model.id)         # an id
    ids = gf.ls()["id"]
    assert frame.id not in ids and model.id not in ids
    with pytest.raises(gf.GenforgeError, match="no frame or model 'nope'"):
        gf.remove("nope")
