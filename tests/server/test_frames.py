"""Frames: upload, built-in and server-side imports, details, preview, delete, confinement and limits."""

from __future__ import annotations

import numpy as np

from .conftest import npz_bytes, upload


def test_upload_list_details_preview_delete(client):
    frame = upload(client, name="tiny.npz")
    assert frame["rows"] == 64 and (frame["height"], frame["width"], frame["channels"]) == (8, 8, 1)
    assert frame["class_counts"] == {"class0": 16, "class1": 16, "class2": 16, "class3": 16}
    assert [f["id"] for f in client.get("/api/v1/frames").json()] == [frame["id"]]
    assert client.get(f"/api/v1/frames/{frame['id']}").json()["class_names"] == ["class0", "class1", "class2", "class3"]
    png = client.get(f"/api/v1/frames/{frame['id']}/preview.png", params={"n": 16})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert client.delete(f"/api/v1/frames/{frame['id']}").status_code == 204
    assert client.get(f"/api/v1/frames/{frame['id']}").status_code == 404
    assert client.get("/api/v1/frames").json() == []


def test_builtin_digits_by_name_and_preload(make_client):
    client = make_client(preload=("digits",))
    (digits,) = client.get("/api/v1/frames").json()  # registered at startup: ready to train on
    assert digits["source"] == "digits" and digits["rows"] == 1797 and digits["kind"] == "builtin"
    again = client.post("/api/v1/frames", json={"source": "digits", "name": "d", "image_size": 4})
    assert again.status_code == 201 and again.json()["height"] == 4
    assert any(d["name"] == "digits" for d in client.get("/api/v1/datasets").json())


def test_server_side_paths_are_confined_to_the_roots(client, tmp_path):
    imports = tmp_path / "data" / "imports"
    (imports / "tiny.npz").write_bytes(npz_bytes())
    ok = client.post("/api/v1/frames", json={"source": "tiny.npz"})
    assert ok.status_code == 201 and ok.json()["kind"] == "path"
    outside = tmp_path / "outside.npz"
    outside.write_bytes(npz_bytes())
    (imports / "link.npz").symlink_to(outside)  # a link out of the root is outside too
    (imports / "loop").symlink_to(imports / "loop")
    # Every refusal is the same 404 with the same text, whether the path exists or not: existing and missing
    # files outside the roots, a link out, a missing file inside, a link loop, a NUL byte.
    answers = set()
    for source in (str(outside), str(tmp_path / "missing.npz"), "../outside.npz", "../missing.npz", "/etc/passwd",
                   "/etc/no-such-file", "link.npz", "nothing-here.npz", "loop", "bad\0name", str(tmp_path)):
        response = client.post("/api/v1/frames", json={"source": source})
        assert response.status_code == 404, source
        detail = response.json()["detail"]
        assert "no dataset by that name or path that this server may read" in detail
        assert str(tmp_path) not in detail
        answers.add(detail.split(": ", 1)[1])
    assert len(answers) == 1, answers


def test_bad_uploads_get_clear_4xx_errors(client):
    broken = client.post("/api/v1/frames", files={"file": ("broken.npz", b"PK\x03\x04 not really a zip")})
    assert broken.status_code == 422
    assert "broken.npz" in broken.json()["detail"] and "Traceback" not in broken.text
    assert "upload-" not in broken.json()["detail"]  # the server's temporary folder stays private
    unknown = client.post("/api/v1/frames", files={"file": ("notes.txt", b"hello")})
    assert unknown.status_code == 422 and "unknown file type" in unknown.json()["detail"]
    nofile = client.post("/api/v1/frames", data={"name": "x"}, files={"other": ("a.npz", b"1")})
    assert nofile.status_code == 422 and "file" in nofile.json()["detail"]
    assert client.post("/api/v1/frames", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    bad_option = client.post("/api/v1/frames", json={"source": "digits", "colour": 3})
    assert bad_option.status_code == 422 and "colour" in bad_option.json()["detail"]
    bad_size = client.post("/api/v1/frames", files={"file": ("t.npz", npz_bytes())}, data={"image_size": "big"})
    assert bad_size.status_code == 422 and "image_size" in bad_size.json()["detail"]


def test_upload_size_and_image_count_limits(make_client):
    client = make_client(max_upload_bytes=20_000, max_images=50)
    big = client.post("/api/v1/frames", files={"file": ("big.npz", b"0" * 30_000)})
    assert big.status_code == 413 and "limit" in big.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(30):
            yield b"0" * 1000

    streamed = client.post("/api/v1/frames", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert streamed.status_code == 413
    many = client.post("/api/v1/frames", files={"file": ("many.npz", npz_bytes(n=64))})
    assert many.status_code == 413 and "50" in many.json()["detail"]
    assert client.post("/api/v1/frames", files={"file": ("few.npz", npz_bytes(n=40))}).status_code == 201


def test_uploaded_frame_keeps_pixels_and_labels(client, tmp_path):
    from genforge.server.store import read_frame

    record = upload(client)
    stored = read_frame(tmp_path / "data" / "frames" / f"{record['id']}.npz")
    data = np.load(__import__("io").BytesIO(npz_bytes()))
    assert np.array_equal(stored.images, data["images"]) and np.array_equal(stored.labels, data["labels"])
