"""``find_events``: each kind of event found in a planted history, with its epoch and evidence, and none in a
healthy one."""

from __future__ import annotations

import math

from genforge.report import find_events


def _gan_history(n=12, changes=None):
    rows = [{"epoch": e, "step": 10 * e, "d_loss": 1.0 + 0.02 * (e % 3), "g_loss": 0.8 - 0.01 * (e % 2),
             "d_real": 0.7, "d_fake": 0.4, "seconds": 1.0, "images_per_sec": 900.0} for e in range(1, n + 1)]
    for (epoch, column), value in (changes or {}).items():
        rows[epoch - 1][column] = value
    return rows


def test_a_healthy_history_has_no_events():
    assert find_events(_gan_history()) == []
    assert find_events([]) == []


def test_nan_and_infinite_losses_are_found_at_their_epoch():
    events = find_events(_gan_history(changes={(5, "g_loss"): math.nan, (7, "d_loss"): math.inf}))
    assert [(e["epoch"], e["kind"], e["column"]) for e in events] == [(5, "nan", "g_loss"), (7, "nan", "d_loss")]
    assert "epoch 5" in events[0]["evidence"]
    # A history read back from JSON holds null where the number was NaN.
    assert find_events(_gan_history(changes={(4, "g_loss"): None}))[0]["kind"] == "nan"


def test_an_exploding_loss_is_divergence():
    events = find_events(_gan_history(changes={(8, "g_loss"): 45.0, (9, "g_loss"): 80.0}))
    assert [(e["epoch"], e["kind"]) for e in events] == [(8, "divergence")]
    assert "45" in events[0]["evidence"] and "median" in events[0]["evidence"]
    # Ordinary noise of a GAN's losses is not.
    wobbly = _gan_history(changes={(6, "g_loss"): 1.3, (9, "d_loss"): 1.6})
    assert find_events(wobbly) == []


def test_an_fid_that_climbs_back_is_divergence():
    rows = _gan_history(8)
    for row, fid in zip(rows, [80, 50, 30, 22, 20, 21, 34, 60]):
        row["fid"] = fid
    events = [e for e in find_events(rows) if e["kind"] == "divergence"]
    assert [(e["epoch"], e["column"]) for e in events] == [(7, "fid")]
    assert "best of 20" in events[0]["evidence"]


def test_a_diversity_collapse_is_mode_collapse():
    rows = _gan_history(10)
    for row, value in zip(rows, [0.2, 0.4, 0.5, 0.55, 0.6, 0.58, 0.5, 0.25, 0.1, 0.05]):
        row["recall"] = value
    events = find_events(rows)
    assert [(e["epoch"], e["kind"], e["column"]) for e in events] == [(8, "mode_collapse", "recall")]
    assert "0.6" in events[0]["evidence"]


def test_a_flat_loss_is_a_plateau():
    rows = [{"epoch": e, "loss": 100 / e if e <= 6 else 16.6 + 0.01 * (e % 2)} for e in range(1, 14)]
    events = find_events(rows)
    assert [(e["epoch"], e["kind"], e["column"]) for e in events] == [(9, "plateau", "loss")]
    improving = [{"epoch": e, "loss": 100 / e} for e in range(1, 14)]
    assert find_events(improving) == []


def test_the_main_curve_prefers_the_validation_loss():
    rows = [{"epoch": e, "loss": 100 / e, "valid_loss": 30.0} for e in range(1, 12)]
    assert [(e["kind"], e["column"]) for e in find_events(rows)] == [("plateau", "valid_loss")]


def test_odd_rows_do_not_break_it():
    rows = [{"epoch": 1, "loss": 2.0, "note": "warm-up"}, {"loss": 1.5, "flag": True}, {"epoch": "x", "loss": 1.2}]
    assert find_events(rows) == []
