"""Run the network tests on one thread: their tensors are tiny, and on a busy shared machine OpenMP's
spinning worker threads make them several times slower than a single thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
