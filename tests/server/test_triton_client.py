"""Triton's own HTTP client (``tritonclient.http``) against a real ``genforge start``: liveness, readiness,
model metadata, and inference with JSON and with binary tensors, giving the pixels Python gives."""

from __future__ import annotations

import numpy as np
import pytest

import genforge as gf

from .conftest import zip_model
from .live import free_port, start_server, stop_server

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402



def key() -> dict[str, str]:
    """The API key header, fresh for each call (tritonclient adds its own headers to the dict it is given)."""
    return {"X-API-Key": "k"}


@pytest.fixture
def served(tmp_path, saved_gan, saved_conditional_gan):
    """A running server with the two saved GANs installed: (tritonclient, plain id, conditional id)."""
    import httpx

    port = free_port()
    server = start_server(tmp_path / "data", port, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=key(), timeout=30) as http:
            ids = [http.post("/api/v1/models", files={"file": ("m.zip", zip_model(folder))}).json()["id"]
                   for folder in (saved_gan, saved_conditional_gan)]
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        yield client, *ids
        client.close()
    finally:
        stop_server(server)


def _z_input(z: np.ndarray, binary: bool) -> "httpclient.InferInput":
    tensor = httpclient.InferInput("z", list(z.shape), "FP32")
    tensor.set_data_from_numpy(z, binary_data=binary)
    return tensor


def test_triton_client_health_metadata_and_infer(served, saved_gan, saved_conditional_gan):
    client, mid, cond = served
    assert client.is_server_live()
    assert client.is_server_ready(headers=key())
    assert not client.is_server_ready()  # the key guards readiness; only liveness is open
    assert client.is_model_ready(mid, headers=key())
    meta = client.get_model_metadata(mid, headers=key())
    assert meta["inputs"] == [{"name": "z", "datatype": "FP32", "shape": [-1, 8]}]
    assert meta["outputs"] == [{"name": "images", "datatype": "UINT8", "shape": [-1, 8, 8, 1]}]
    assert "binary_tensor_data" in client.get_server_metadata(headers=key())["extensions"]

    z = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    expected = gf.load_model(saved_gan).predict(z).images
    for binary_in in (False, True):
        for binary_out in (False, True, None):  # None: no outputs named, so the client asks for binary ones
            outputs = None if binary_out is None else [httpclient.InferRequestedOutput("images", binary_data=binary_out)]
            result = client.infer(mid, [_z_input(z, binary_in)], outputs=outputs, request_id="r7", headers=key())
            images = result.as_numpy("images")
            assert images.dtype == np.uint8 and images.shape == (5, 8, 8, 1), (binary_in, binary_out)
            assert np.array_equal(images, expected), (binary_in, binary_out)
            assert result.get_response()["id"] == "r7"
    gzipped = client.infer(mid, [_z_input(z, True)], headers=key(), request_compression_algorithm="gzip")
    assert np.array_equal(gzipped.as_numpy("images"), expected)

    labels = np.array([0, 1, 3, 2, 0], np.int64)
    label = httpclient.InferInput("label", [5], "INT64")
    label.set_data_from_numpy(labels, binary_data=True)
    result = client.infer(cond, [_z_input(z, True), label], headers=key())
    assert np.array_equal(result.as_numpy("images"), gf.load_model(saved_conditional_gan).predict(z, labels=labels).images)

    with pytest.raises(InferenceServerException, match=r"\[N, 8\]"):
        client.infer(mid, [_z_input(np.zeros((2, 4), np.float32), True)], headers=key())
    with pytest.raises(InferenceServerException, match="not found"):
        client.get_model_metadata("no-such-model", headers=key())
