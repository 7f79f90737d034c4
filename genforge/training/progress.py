"""The tqdm progress bar of the training loop: images/s, ETA and the latest epoch means."""

from __future__ import annotations

from tqdm.auto import tqdm


class Progress:
    """A thin wrapper so the loop can run with or without a bar (``verbose=False``, non-zero ranks)."""

    REFRESH_STEPS = 20  # metrics shown every this many steps: each refresh costs one host-device sync

    def __init__(self, total_images: int, done_images: int = 0, enabled: bool = True) -> None:
        self.bar = (tqdm(total=total_images, initial=done_images, unit="img", unit_scale=True,
                         dynamic_ncols=True, leave=True) if enabled else None)

    def advance(self, images: int) -> None:
        if self.bar is not None:
            self.bar.update(images)

    def show(self, **values) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in values.items()},
                                 refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
