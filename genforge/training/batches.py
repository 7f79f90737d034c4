"""Batches for the training loop: uint8 images kept as one tensor, shuffled per epoch, scaled on the fly.

Keeping the pixels as uint8 (4x smaller than float) and converting one batch at a time is what makes the
loop tight. Frames on a memory map (larger than RAM) are read batch by batch instead of loaded whole.
The order of epoch ``e`` depends only on (seed, e), so a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from genforge.frame import Frame

# In-memory datasets up to this size (uint8 pixels, and at most 1/8 of the GPU's memory) are moved to the
# GPU whole when training there.
GPU_RESIDENT_BYTES = 2 << 30


class BatchSource:
    """Yields ``(images, labels)``: float images in [-1, 1], ``(B, C, H, W)``, on ``device``."""

    def __init__(self, frame: Frame, batch_size: int, seed: int, device: torch.device, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1) -> None:
        self.device = device
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        images = frame.images
        self.in_memory = not isinstance(images, np.memmap)
        # NCHW uint8: the layout convolutions want, converted once rather than per batch.
        self.images = (torch.from_numpy(_writeable(images)).permute(0, 3, 1, 2).contiguous()
                       if self.in_memory else images)
        self.labels = torch.from_numpy(frame.labels) if frame.labels is not None else None
        self.count = len(frame)
        # Each rank takes every world_size-th image of the shuffled order (DistributedSampler's split).
        self.per_rank = self.count // world_size
        self.batch_size = min(batch_size, self.per_rank)
        self.drop_last = drop_last
        self.pinned = False
        if device.type == "cuda" and self.in_memory:
            total = torch.cuda.get_device_properties(device).total_memory
            if self.images.numel() <= min(GPU_RESIDENT_BYTES, total // 8):
                # Small enough: keep the uint8 images on the GPU, so a batch is gathered there, no transfer.
                self.images = self.images.to(device)
                self.labels = self.labels.to(device) if self.labels is not None else None
            else:
                # Pinned host memory: batches are copied asynchronously (non_blocking) while the GPU works.
                self.images = self.images.pin_memory()
                self.pinned = True

    @property
    def images_per_step(self) -> int:
        """Images per optimisation step over all ranks: the global batch, batch_size x world_size."""
        return self.batch_size * self.world_size

    def __len__(self) -> int:
        if self.drop_last:
            return self.per_rank // self.batch_size
        return -(-self.per_rank // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.count, generator=generator)
        return order[self.rank : self.per_rank * self.world_size : self.world_size]

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        order = self.order(epoch)
        if self.in_memory and self.images.device != order.device:
            order = order.to(self.images.device)  # one copy per epoch, then batches index on the GPU
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self._images(index), (self.labels[index].to(self.device, non_blocking=True)
                                        if self.labels is not None else None)

    def _images(self, index: torch.Tensor) -> torch.Tensor:
        if self.in_memory:
            batch = self.images[index]
            if self.pinned:  # a gathered batch is pageable again; pinned (cached allocator) copies async
                batch = batch.pin_memory()
        else:
            # Sorted reads are sequential on disk; the permutation is re-applied in memory.
            sorted_index, inverse = torch.sort(index)
            rows = np.asarray(self.images[sorted_index.numpy()])
            batch = torch.from_numpy(rows).permute(0, 3, 1, 2)[torch.argsort(inverse)].contiguous()
        batch = batch.to(self.device, non_blocking=True)
        return batch.float().div_(127.5).sub_(1.0)


def _writeable(images: np.ndarray) -> np.ndarray:
    """torch.from_numpy warns on read-only arrays (a loaded .npy map); those are copied first."""
    return images if images.flags.writeable and images.flags.c_contiguous else np.array(images)
