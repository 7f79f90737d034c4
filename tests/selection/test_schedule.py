"""The successive-halving schedule, decided from study trials alone (no training here)."""

from __future__ import annotations

import datetime as dt

from genforge.selection.schedule import Schedule
from genforge.selection.study import TrialView

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def view(number, key, fid=None, status="ok", state=None, note=None, seconds=1.0):
    attrs = {"key": key}
    if note:
        attrs["note"] = note
    if fid is not None or status != "ok":
        attrs["row"] = {"status": status, "fid": fid}
    state = state or ("COMPLETE" if "row" in attrs else "RUNNING")
    done = T0 + dt.timedelta(seconds=seconds) if state != "RUNNING" else None
    return TrialView(number, number, state, attrs, T0, done)


def schedule(**kw):
    settings = dict(rungs=[1, 3, 9], round_size=9, reduction_factor=3, sort_metric="fid", max_models=9)
    settings.update(kw)
    return Schedule(**settings)


def test_a_round_fills_then_the_best_third_is_promoted_best_first():
    s = schedule()
    views = [view(i, f"c{i}/r0", fid=float(10 + (i * 7) % 9)) for i in range(8)]
    assert s.next(views, T0).key == "c8/r0"  # the round is not full yet
    views.append(view(8, "c8/r0", fid=99.0))
    # fids: c0 10, c1 17, c2 15, c3 13, c4 11, c5 18, c6 16, c7 14, c8 99 -> best three: c0, c4, c3
    first = s.next(views, T0)
    assert (first.candidate, first.rung) == (0, 1)
    views.append(view(9, "c0/r1"))  # running
    assert s.next(views, T0).key == "c4/r1"
    views += [view(10, "c4/r1", fid=5.0), view(11, "c3/r1", fid=7.0)]
    assert s.next(views, T0).kind == "wait"  # c0/r1 still running decides the next rung
    views[9] = view(9, "c0/r1", fid=6.0)
    assert s.next(views, T0).key == "c4/r2"  # best of the three at rung 1
    views.append(view(12, "c4/r2", fid=2.0))
    assert s.next(views, T0).kind == "done"  # max_models reached, everything promoted ran


def test_failed_collapsed_and_memorizing_candidates_are_not_promoted():
    s = schedule(max_models=3, round_size=3, rungs=[1, 3])
    views = [view(0, "c0/r0", status="failed"), view(1, "c1/r0", fid=1.0, status="memorizes"),
             view(2, "c2/r0", fid=50.0)]
    assert s.next(views, T0).key == "c2/r1"


def test_an_interrupted_unit_is_run_again_first_and_duplicates_do_not_count():
    s = schedule(max_models=3, round_size=3, rungs=[1, 3])
    views = [view(0, "c0/r0", fid=3.0), view(1, "c1/r0", state="FAIL", note="interrupted"),
             view(2, "c2/r0", fid=2.0), view(3, "c2/r0", state="FAIL", note="duplicate")]
    assert s.next(views, T0).key == "c1/r0"


def test_the_time_budget_counts_the_trials_work():
    s = schedule(max_models=None, max_runtime_secs=10.0)
    views = [view(0, "c0/r0", fid=3.0, seconds=6.0), view(1, "c1/r0", fid=3.0, seconds=3.0)]
    action = s.next(views, T0)
    assert action.key == "c2/r0" and action.seconds_left == 1.0
    views.append(view(2, "c2/r0", fid=3.0, seconds=1.5))
    assert s.next(views, T0).kind == "done"


def test_grid_early_stopping_after_rounds_without_improvement():
    s = Schedule(rungs=[None], round_size=1, reduction_factor=2, sort_metric="fid", total_candidates=10,
                 stopping_rounds=2, stopping_tolerance=0.01)
    views = [view(0, "c0/r0", fid=10.0), view(1, "c1/r0", fid=8.0), view(2, "c2/r0", fid=9.0)]
    assert s.next(views, T0).key == "c3/r0"
    views.append(view(3, "c3/r0", fid=8.5))
    assert s.next(views, T0).kind == "done"  # the last two did not beat 8.0


def test_time_rungs_then_the_leader_gets_the_time_left():
    s = schedule(max_models=None, round_size=3, rungs=[None, None], rung_secs=[2.0, 6.0], exploit=True,
                 total_candidates=3, max_runtime_secs=100.0)
    views = [view(0, "c0/r0", fid=3.0), view(1, "c1/r0", fid=1.0)]
    first = s.next(views, T0)
    assert first.key == "c2/r0" and first.train_secs == 2.0
    views.append(view(2, "c2/r0", fid=2.0))
    promoted = s.next(views, T0)
    assert promoted.key == "c1/r1" and promoted.train_secs == 6.0
    views.append(view(3, "c1/r1"))  # running: nothing else to do but wait for it
    assert s.next(views, T0).kind == "wait"
    views[3] = view(3, "c1/r1", fid=4.0)  # worse after longer training: c2 leads now, as on the leaderboard
    exploit = s.next(views, T0)
    assert exploit.key == "c2/r2" and exploit.train_secs is None
    assert 0 < exploit.seconds_left <= 100.0 - 4.0
    views.append(view(4, "c2/r2", fid=0.5, seconds=90.0))  # it took the time left
    assert s.next(views, T0).kind == "done"


def test_a_raised_time_budget_exploits_the_leader_again():
    s = schedule(max_models=None, round_size=1, rungs=[None], rung_secs=[5.0], exploit=True, total_candidates=1,
                 max_runtime_secs=20.0)
    views = [view(0, "c0/r0", fid=3.0, seconds=5.0), view(1, "c0/r1", fid=2.0, seconds=14.0)]
    assert s.next(views, T0).kind == "done"  # 1 s left: less than a first rung
    s.max_runtime_secs = 60.0
    again = s.next(views, T0)
    assert again.key == "c0/r2" and again.seconds_left > 30


def test_exploring_past_its_share_cuts_the_round_short_for_the_leader():
    s = schedule(max_models=None, round_size=3, rungs=[None, None], rung_secs=[2.0, 6.0], exploit=True,
                 total_candidates=3, max_runtime_secs=30.0, explore_secs=10.0)
    views = [view(0, "c0/r0", fid=3.0, seconds=2.0), view(1, "c1/r0", fid=9.0, seconds=9.0)]  # slow scoring
    action = s.next(views, T0)
    assert action.key == "c0/r2" and action.seconds_left > 10  # c2 never runs, nor c0 at rung 1


def test_the_best_of_each_algorithm_is_promoted_too():
    s = schedule(max_models=3, round_size=3, rungs=[1, 3])
    views = [view(0, "c0/r0", fid=30.0), view(1, "c1/r0", fid=10.0), view(2, "c2/r0", fid=20.0)]
    for v, algo in zip(views, ("gan", "vae", "vae")):
        v.row["algo"] = algo
    assert s.next(views, T0).key == "c1/r1"  # the best
    views.append(view(3, "c1/r1", fid=9.0))
    assert s.next(views, T0).key == "c0/r1"  # the best GAN, though worse than the second VAE
    views.append(view(4, "c0/r1", fid=5.0))
    assert s.next(views, T0).kind == "done"


def test_a_unit_near_the_end_of_exploring_gets_only_the_room_left_or_leaves_it_to_the_leader():
    # Each finished unit took 2 s and trained none of it (2 s of overhead each, set aside too).
    s = schedule(max_models=None, round_size=3, rungs=[None, None], rung_secs=[2.0, 6.0], exploit=True,
                 total_candidates=3, max_runtime_secs=100.0, explore_secs=10.0)
    views = [view(0, "c0/r0", fid=3.0, seconds=2.0), view(1, "c1/r0", fid=1.0, seconds=2.0)]
    fresh = s.next(views, T0)
    assert fresh.key == "c2/r0" and fresh.seconds_left == 4.0  # 10 - 4 spent - 2 overhead
    views.append(view(2, "c2/r0", fid=2.0, seconds=2.0))
    promoted = s.next(views, T0)
    assert promoted.key == "c1/r1" and promoted.seconds_left == 2.0  # half the 4 s it adds: still started
    s.explore_secs = 9.0
    leader = s.next(views, T0)
    assert leader.key == "c1/r2" and leader.seconds_left > 80  # under half: the leader gets the time


def test_a_leader_within_the_noise_of_an_earlier_candidate_loses_the_tie_to_it():
    s = schedule(max_models=None, round_size=3, rungs=[None], rung_secs=[2.0], exploit=True,
                 total_candidates=3, max_runtime_secs=100.0)
    views = [view(0, "c0/r0", fid=26.3), view(1, "c1/r0", fid=30.0), view(2, "c2/r0", fid=26.2)]
    assert s.next(views, T0).key == "c0/r1"  # 26.2 is within 3% of 26.3: the first candidate (GAN defaults)
    views[2] = view(2, "c2/r0", fid=24.0)
    assert s.next(views, T0).key == "c2/r1"  # clearly better: it leads
