"""What to run next in a search: successive halving over rungs of epochs, decided from the study's trials.

Why rungs of our own on top of Optuna trials rather than Optuna's SuccessiveHalvingPruner: the pruner
decides *inside* one running trial whether it may go on, so a candidate lives in one process for its whole
life and a killed process loses it (Optuna re-runs a failed trial from scratch). Here each rung of a
candidate is its own trial that resumes the candidate from its checkpoint (exact resume), so a promotion is
a unit of work any worker can take, a killed one is re-run from the last epoch written, and the rung-0
trials, all trained for the same budget, are what Optuna's sampler learns from (promotion trials carry no
Optuna parameters, so longer training does not look like better settings).

Rungs are epochs (``rungs``) or, for a time budget, seconds of training (``rung_secs``: one round sized
so that it takes ``EXPLORE_SHARE`` of the budget, after which the leader is resumed once more for all the
time left, ``exploit``; when exploring overruns its share, say because scoring a slow sampler took long,
the round is cut short there and the leader gets the rest).

Candidates are numbered in order; round ``j`` holds candidates ``j*round_size ...``. When every candidate
of a round has a result at rung ``k``, the best ``max(1, n // reduction_factor)`` of those that are ``ok``,
and the best of each algorithm among them, go on to rung ``k + 1``, resumed from their checkpoints.
Re-runs of interrupted units come first, then promotions, then a new candidate while the budget
(``max_models``, ``max_runtime_secs`` of work summed over the trials) lasts.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, replace

from genforge.selection.leaderboard import HIGHER_IS_BETTER
from genforge.selection.study import TrialView

_KEY = re.compile(r"^c(\d+)/r(\d+)$")
LEADER_TIE = 0.03  # relative: scores this close to the best count as equal when the leader is chosen


def unit_key(candidate: int, rung: int) -> str:
    return f"c{candidate}/r{rung}"


def parse_key(key: str | None) -> tuple[int, int] | None:
    match = _KEY.match(key or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class Action:
    kind: str  # "run", "wait" (others are running what decides the next step) or "done"
    candidate: int = -1
    rung: int = 0
    seconds_left: float | None = None  # of the search's budget, for training (scoring time set aside)
    train_secs: float | None = None  # the candidate's training seconds to reach at this rung (time rungs)

    @property
    def key(self) -> str:
        return unit_key(self.candidate, self.rung)


@dataclass
class Schedule:
    """The search's budget and rungs, from its stored configuration."""

    rungs: list[int | None]  # epochs per rung; None: the candidate's own ``epochs`` (a grid's one rung)
    round_size: int
    reduction_factor: int
    sort_metric: str
    max_models: int | None = None
    max_runtime_secs: float | None = None
    total_candidates: int | None = None  # a grid's size
    stopping_rounds: int = 0
    stopping_tolerance: float = 1e-3
    rung_secs: list[float] | None = None
    exploit: bool = False
    explore_secs: float | None = None  # time rungs: past this much work, no more exploring, only the leader

    @classmethod
    def from_config(cls, config: dict) -> "Schedule":
        return cls(rungs=list(config["rungs"]), round_size=int(config["round_size"]),
                   reduction_factor=int(config["reduction_factor"]), sort_metric=config["sort_metric"],
                   max_models=config.get("max_models"), max_runtime_secs=config.get("max_runtime_secs"),
                   total_candidates=config.get("total_candidates"),
                   stopping_rounds=int(config.get("stopping_rounds") or 0),
                   stopping_tolerance=float(config.get("stopping_tolerance") or 0.0),
                   rung_secs=config.get("rung_secs"), exploit=bool(config.get("exploit")),
                   explore_secs=config.get("explore_secs"))

    def spent(self, views: list[TrialView], now: _dt.datetime | None = None) -> float:
        """Seconds of work the search's trials have taken (running ones so far)."""
        now = now or _dt.datetime.now()
        return sum(t.seconds(now) for t in views if t.key)

    def next(self, views: list[TrialView], now: _dt.datetime | None = None) -> Action:
        live: dict[str, TrialView] = {}
        for t in sorted(views, key=lambda v: v.number):
            if t.key and t.is_live and t.key not in live:
                live[t.key] = t
        results = {k: t.row for k, t in live.items() if t.row is not None}
        running = any(t.state == "RUNNING" for t in live.values())
        spent = self.spent(views, now)
        left = None if not self.max_runtime_secs else self.max_runtime_secs - spent
        if left is not None and left <= 0:
            return Action("done")
        raw_left = left
        if left is not None:
            left = max(1.0, left - self._overhead(views))
        if self.exploit and left is not None and self.explore_secs is not None and spent >= self.explore_secs:
            # Exploring took its share (slow scoring, say): what is left goes to the leader.
            action = self._exploitation(live, results, raw_left, views)
            return action or (Action("wait") if running else Action("done"))
        action = self._exploring(live, results, left)
        if action is not None and self.exploit and self.explore_secs is not None and action.train_secs is not None:
            # Exploring must end within its share: a unit gets only the room left there, and one that would
            # get under half its rung's seconds is not started; the leader gets the time instead.
            room = self.explore_secs - spent - self._overhead(views)
            before = self.rung_secs[action.rung - 1] if action.rung else 0.0
            if room < (action.train_secs - before) / 2:
                action = self._exploitation(live, results, raw_left, views) or (Action("wait") if running else None)
                return action or Action("done")
            action = replace(action, seconds_left=min(action.seconds_left or room, room))
        if action is not None:
            return action
        if self.exploit and left is not None:
            action = self._exploitation(live, results, raw_left, views)
            if action is not None:
                return action
        return Action("wait") if running else Action("done")

    def _exploring(self, live: dict, results: dict, left: float | None) -> Action | None:
        """The next unit of the search proper: an interrupted candidate, a promotion, else a new candidate
        while the budget allows one (None: nothing left to explore)."""
        count = 1 + max((parsed[0] for parsed in map(parse_key, live) if parsed), default=-1)
        more = self._more_candidates(count, results)
        first = self.rung_secs[0] if self.rung_secs else None
        for i in range(count):  # an interrupted candidate first
            if unit_key(i, 0) not in live:
                return Action("run", i, 0, left, first)
        for start in range(0, count, self.round_size):
            members = list(range(start, min(start + self.round_size, count)))
            if len(members) < self.round_size and more:
                continue  # the round is still filling up
            action = self._promotion(members, live, results, left)
            if action is not None:
                return action
        return Action("run", count, 0, left, first) if more else None

    def _promotion(self, members: list[int], live: dict, results: dict, left: float | None) -> Action | None:
        at = members
        for rung in range(len(self.rungs) - 1):
            keys = [unit_key(i, rung) for i in at]
            if not at or any(k not in results for k in keys):
                return None
            quota = max(1, len(at) // self.reduction_factor)
            ranked = sorted((i for i in at if self._score(results[unit_key(i, rung)]) is not None),
                            key=lambda i: self._order(results[unit_key(i, rung)]))
            chosen = ranked[:quota]
            # And the best of each algorithm: a GAN scores worse than a VAE after a few seconds and far
            # better after minutes, so a short rung must not decide between algorithms on its own.
            for i in ranked:
                algo = results[unit_key(i, rung)].get("algo")
                if all(results[unit_key(j, rung)].get("algo") != algo for j in chosen):
                    chosen.append(i)
            at = chosen
            for i in at:
                if unit_key(i, rung + 1) not in live:
                    secs = self.rung_secs[rung + 1] if self.rung_secs else None
                    return Action("run", i, rung + 1, left, secs)
        return None

    def _exploitation(self, live: dict, results: dict, left: float, views: list[TrialView]) -> Action | None:
        """Once every unit of the round has run: the leader, resumed for the time left. Again when the
        budget is raised later (each time one rung higher), never for less than the first rung's time."""
        last = len(self.rungs)
        if any(k not in results for k in live):
            return None  # units still running may change who leads
        done = [r for i, r in map(parse_key, live) if r >= last]
        if done and left - self._overhead(views) < (self.rung_secs or [0.0])[0]:
            return None
        rung = max(done, default=last - 1) + 1
        latest: dict[int, tuple[int, dict]] = {}  # each candidate's row at its highest rung, as ranked
        for key, row in results.items():
            i, r = parse_key(key)
            if i not in latest or r > latest[i][0]:
                latest[i] = (r, row)
        ranked = sorted((self._order(row), i) for i, (_, row) in latest.items() if self._score(row) is not None)
        if not ranked:
            return None
        # Scores within LEADER_TIE of the best are a tie, won by the earliest candidate: each algorithm's
        # tuned defaults come first (GAN first), and short rungs cannot tell apart what differs by less
        # than their own noise (a diffusion model 26.20 against the GAN's 26.31 after 100 s on
        # fashion-mnist; after 15 minutes the GAN is far ahead).
        best = ranked[0][0]
        leader = min(i for order, i in ranked if order <= best + LEADER_TIE * abs(best))
        own = [t for t in views if (parse_key(t.key) or (None,))[0] == leader]  # its own scoring time, set aside
        return Action("run", leader, rung, max(1.0, left - self._overhead(own)))

    @staticmethod
    def _overhead(views: list[TrialView]) -> float:
        """Seconds a unit spends besides training (set-up, scoring, saving): the mean over finished units,
        set aside from the budget so that the last unit's scoring fits in it."""
        now = _dt.datetime.now()
        extra = [t.seconds(now) - float(t.row.get("training_secs") or 0.0)
                 for t in views if t.row is not None and t.is_live and t.completed is not None]
        return max(0.0, sum(extra) / len(extra)) if extra else 0.0

    def _score(self, row: dict) -> float | None:
        value = row.get(self.sort_metric)
        if row.get("status") != "ok" or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return float(value)

    def _order(self, row: dict) -> float:
        value = self._score(row)
        return -value if self.sort_metric in HIGHER_IS_BETTER else value

    def _more_candidates(self, count: int, results: dict) -> bool:
        if self.max_models is not None and count >= self.max_models:
            return False
        if self.total_candidates is not None and count >= self.total_candidates:
            return False
        return not self._stopped_early(count, results)

    def _stopped_early(self, count: int, results: dict) -> bool:
        """A grid's early stop (H2O's stopping_rounds): the best score of the last ``stopping_rounds``
        candidates did not beat the best before them by ``stopping_tolerance`` (relative)."""
        rounds = self.stopping_rounds
        if not rounds:
            return False
        values = [self._order(results[unit_key(i, 0)]) for i in range(count)
                  if unit_key(i, 0) in results and self._score(results[unit_key(i, 0)]) is not None]
        if len(values) <= rounds:
            return False
        before, recent = min(values[:-rounds]), min(values[-rounds:])
        return not recent < before - self.stopping_tolerance * abs(before)
