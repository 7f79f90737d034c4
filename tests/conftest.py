"""Shared tiny fixtures: a few 8x8 / 16x16 images, so that every test trains in well under a second."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from genforge.frame import Frame


@pytest.fixture(autouse=True)
def _one_thread():
    """Run every test on one thread: the tensors are tiny, and on a busy machine OpenMP's spinning worker
    threads made them many times slower (the VAE/CNN tests: 90 s on 2 threads at load 5, 10 s on one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for servers and process groups under test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_frame(n: int = 32, size: int = 16, channels: int = 1, classes: int = 4, seed: int = 0) -> Frame:
    """Blobs whose position depends on the class: learnable, and different per class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, size, size, channels), np.uint8)
    for i, label in enumerate(labels):
        cy, cx = (size / 4) * (1 + label % 2 * 2), (size / 4) * (1 + label // 2 % 2 * 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 8) ** 2))
        noisy = np.clip(blob * 230 + rng.normal(0, 10, blob.shape), 0, 255)
        images[i] = noisy[..., None].astype(np.uint8)
    return Frame(images, labels, [f"class{k}" for k in range(classes)], name="blobs")


@pytest.fixture
def tiny_frame() -> Frame:
    return make_frame()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_npz(path, n: int = 16, size: int = 8):
    """``make_frame(n, size)`` saved as a labelled ``.npz`` dataset file at ``path``, as a user would hand the CLI."""
    frame = make_frame(n=n, size=size)
    np.savez(path, images=frame.images, labels=frame.labels)
    return path


@pytest.fixture
def npz(tmp_path):
    """A tiny labelled dataset file, as a user would hand the CLI."""
    return write_npz(tmp_path / "tiny.npz")
