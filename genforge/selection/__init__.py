"""Model selection: ``GridSearch`` and ``AutoML`` (H2O's), on Optuna studies kept in a database.

A search's units (a candidate trained to a rung of epochs) are Optuna trials; the leaderboard (one row per
candidate, ranked by FID or another score) is read back from the study, so several processes, or
machines sharing the study's database, build one search together (``run_worker``).
"""

from genforge.selection.automl import AutoML
from genforge.selection.grid import GridSearch
from genforge.selection.leaderboard import COLUMNS, STATUSES, Leaderboard
from genforge.selection.search import run_worker

__all__ = ["AutoML", "GridSearch", "Leaderboard", "COLUMNS", "STATUSES", "run_worker"]
