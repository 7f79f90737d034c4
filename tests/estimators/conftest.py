"""Run the estimator tests on one thread, as tests/nets does: their tensors are tiny, and on a busy shared
machine OpenMP's spinning worker threads make them many times slower (measured: the VAE/CNN tests took
90 s on 2 threads at load average 5, 10 s on one)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
