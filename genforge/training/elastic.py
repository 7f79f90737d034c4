"""Restarts under torchrun's elastic agent (``torchrun --max-restarts N``): a restarted group resumes from
the checkpoint its own run wrote, instead of training again from the first epoch.

When a rank dies, torchrun stops the other ranks and starts the whole group again with
``TORCHELASTIC_RESTART_COUNT`` one higher (same ``TORCHELASTIC_RUN_ID``). Rank 0 writes a checkpoint after
every epoch into ``run_dir/checkpoint`` (atomically), so the restarted group continues from the last one:
every epoch before it is kept, and the run ends with the weights an uninterrupted run would have (the data
order and every rank's noise stream are functions of the seed and the step, see ``distributed``).

A checkpoint counts as this run's only when the first attempt recorded the run id in ``run_dir`` and the
checkpoint was written after that: a ``run_dir`` that still holds an older run's checkpoint does not make a
new run skip epochs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from genforge.model_folder import META_FILE
from genforge.training.checkpoint import CHECKPOINT_DIR
from genforge.training.distributed import DistributedEnv

MARKER = "torchrun-run.json"  # in run_dir: the run id of the torchrun job that trains into it


def restart_count() -> int:
    """0 on torchrun's first attempt (and outside torchrun); n on the n-th restart."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def restart_checkpoint(params: dict, env: DistributedEnv | None) -> str | None:
    """The checkpoint a restarted torchrun group resumes from, or None (a first attempt, no ``run_dir``,
    or no checkpoint of this run yet). On the first attempt rank 0 records the run in ``run_dir``.

    Every rank calls this before joining the process group, so no rank can have written a newer checkpoint
    while another one is still deciding: all ranks decide alike.
    """
    if env is None or not params.get("run_dir"):
        return None
    run_dir = Path(params["run_dir"]).expanduser()
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "")
    marker = run_dir / MARKER
    if restart_count() == 0:
        if env.is_main_process:
            run_dir.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"run_id": run_id}))
        return None
    meta = run_dir / CHECKPOINT_DIR / META_FILE
    try:
        recorded = json.loads(marker.read_text()).get("run_id")
        fresh = meta.stat().st_mtime >= marker.stat().st_mtime
    except (OSError, ValueError, AttributeError):
        return None
    return str(run_dir / CHECKPOINT_DIR) if recorded == run_id and fresh else None
