"""``POST /api/v1/models/{id}/interpolate``: the latent walk of the web UI's model page."""

from __future__ import annotations

import io

from PIL import Image

from .conftest import install_model


def test_interpolate_gives_one_row_png_and_422s(client, saved_gan, saved_conditional_gan):
    plain = install_model(client, saved_gan)["id"]
    response = client.post(f"/api/v1/models/{plain}/interpolate", json={"seed_a": 1, "seed_b": 2, "steps": 5})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    width, height = Image.open(io.BytesIO(response.content)).size
    assert width > 4 * height  # one row of five 8x8 images
    again = client.post(f"/api/v1/models/{plain}/interpolate", json={"seed_a": 1, "seed_b": 2, "steps": 5})
    assert again.content == response.content  # seeds make it reproducible
    for body, field in [({"steps": 1}, "steps"), ({"seed_a": -1}, "seed_a"), ({"label": 1}, "label"), ({"x": 1}, "x")]:
        refused = client.post(f"/api/v1/models/{plain}/interpolate", json=body)
        assert refused.status_code == 422 and field in refused.json()["detail"], refused.text
    conditional = install_model(client, saved_conditional_gan)["id"]
    assert client.post(f"/api/v1/models/{conditional}/interpolate", json={"label": "class1"}).status_code == 200
    assert client.post(f"/api/v1/models/{conditional}/interpolate", json={"label": 99}).status_code == 422
    assert client.post("/api/v1/models/nope/interpolate", json={}).status_code == 404
